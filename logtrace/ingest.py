"""Sources in, LINES chunks out: choose each source's format, parse it, count everything.

The format of a source comes from, in order: ``--log-format``, ``--preset``,
``--nginx-conf`` with ``--format-name``, the ``access_log`` directive that writes a file
of that name, and otherwise detection: the candidate formats are tried on the first
lines and the one that matches most wins (and is named in the report).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import polars as pl

from logtrace.errors import FormatError, NoMatchError
from logtrace.log_format.compiler import CompiledFormat, compile_format
from logtrace.log_format.grammar import LogFormat, parse_log_format
from logtrace.log_format.nginx_conf import NginxConfig, read_nginx_conf
from logtrace.log_format.presets import PRESETS, get_preset
from logtrace.parse import NO_MATCH, SourceStats, parse_chunk
from logtrace.sources import ReadReport, Source, iter_frames

DETECT_LINES = 1000
DETECT_MIN_SHARE = 0.5


@dataclass(frozen=True)
class FormatOptions:
    """How the user chose the log format (all optional)."""

    log_format: str | None = None
    preset: str | None = None
    nginx_confs: tuple[str, ...] = ()
    format_name: str | None = None


@dataclass(frozen=True)
class Detection:
    """The result of trying candidate formats on a source's first lines."""

    format: CompiledFormat | None
    matched: int
    tried: int
    scores: tuple[tuple[str, int], ...]  # every candidate's matches, best first


@dataclass
class FormatResolver:
    """Decides the format of each source from the options; compiled once, reused."""

    options: FormatOptions
    forced: CompiledFormat | None = None
    configs: list[NginxConfig] = field(default_factory=list)
    candidates: list[CompiledFormat] = field(default_factory=list)

    @classmethod
    def from_options(cls, options: FormatOptions) -> FormatResolver:
        resolver = cls(options)
        resolver.configs = [read_nginx_conf(p) for p in options.nginx_confs]
        if options.log_format is not None:
            resolver.forced = compile_format(parse_log_format(options.log_format, name="custom"))
        elif options.preset is not None:
            resolver.forced = get_preset(options.preset).compiled()
        elif options.format_name is not None:
            if not resolver.configs:
                raise FormatError(
                    "--format-name needs --nginx-conf", "give the nginx.conf that defines it"
                )
            resolver.forced = compile_format(_find_format(resolver.configs, options.format_name))
        seen: set[str] = set()
        for config in resolver.configs:
            for fmt in config.formats.values():
                if fmt.text not in seen:
                    seen.add(fmt.text)
                    resolver.candidates.append(compile_format(fmt))
        for preset in PRESETS.values():
            if preset.format not in seen:
                seen.add(preset.format)
                resolver.candidates.append(preset.compiled())
        return resolver

    def for_source(self, source: Source) -> CompiledFormat | None:
        """The format fixed for this source by the options, or None to detect it."""
        if self.forced is not None:
            return self.forced
        for config in self.configs:
            fmt = config.format_for_log(source.path)
            if fmt is not None:
                return compile_format(fmt)
        return None

    def detect(self, lines: pl.DataFrame) -> Detection:
        """Try every candidate format on the first non-blank lines of a source."""
        sample = lines.lazy().filter(pl.col("line").is_not_null()).head(DETECT_LINES).collect()
        plans: list[pl.Expr] = []
        for cf in self.candidates:
            strict = cf.strict_regex(frozenset())
            lenient = cf.lenient_regex(frozenset())
            hit = pl.col("line").str.contains(lenient)
            if strict is not None:
                hit = pl.col("line").str.contains(strict) | hit
            plans.append(hit.sum().alias(str(len(plans))))
        counts = sample.select(plans).row(0) if plans and sample.height else [0] * len(plans)
        ranked = sorted(
            zip(self.candidates, counts, strict=True),
            key=lambda pair: (-pair[1], -len(pair[0].fields)),
        )
        scores = tuple((cf.name, int(n)) for cf, n in ranked)
        best, matched = ranked[0] if ranked else (None, 0)
        if sample.height == 0 or matched < DETECT_MIN_SHARE * sample.height:
            return Detection(None, int(matched), sample.height, scores)
        return Detection(best, int(matched), sample.height, scores)


def _find_format(configs: list[NginxConfig], name: str) -> LogFormat:
    errors = []
    for config in configs:
        try:
            return config.format(name)
        except Exception as exc:
            errors.append(str(exc))
    raise FormatError(
        errors[0] if errors else f"no log_format named {name!r}",
        "check --format-name against the log_format directives",
    )


@dataclass
class IngestReport:
    """Per-source statistics and warnings gathered while reading."""

    sources: list[SourceStats] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    formats: dict[str, CompiledFormat] = field(default_factory=dict)  # by source label

    @property
    def lines_parsed(self) -> int:
        return sum(s.lines_parsed for s in self.sources)

    @property
    def lines_total(self) -> int:
        return sum(s.lines_total for s in self.sources)

    @property
    def truncated(self) -> bool:
        return any("truncated" in w or "damaged" in w for s in self.sources for w in s.warnings)


def _label(frame: pl.DataFrame, source: Source) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(source.label).alias("source"),
        pl.lit(source.host).alias("host"),
        pl.lit(source.service).alias("service"),
        pl.col("line_no").cast(pl.UInt64),
    )


def iter_lines(
    sources: Sequence[Source],
    resolver: FormatResolver,
    report: IngestReport,
    columns: frozenset[str] | None = None,
    *,
    keep_line: bool = False,
) -> Iterator[pl.DataFrame]:
    """LINES chunks of every source, in order; ``report`` collects counts and samples."""
    for source in sources:
        stats = SourceStats(path=source.label, host=source.host, service=source.service)
        report.sources.append(stats)
        read = ReadReport()
        cf = resolver.for_source(source)
        if cf is not None:
            stats.format = cf.name
            report.formats[source.label] = cf
        for frame in iter_frames(source, read):
            stats.lines_total += frame.height
            if cf is None:
                detection = resolver.detect(frame)
                if detection.format is None:
                    stats.format = "unknown"
                    _reject_all(stats, frame, detection)
                    continue
                cf = detection.format
                stats.format = cf.name
                report.formats[source.label] = cf
                stats.detected = f"{detection.matched}/{detection.tried} sample lines"
            parsed = parse_chunk(frame, cf, columns, keep_line=keep_line)
            stats.lines_parsed += parsed.lines.height
            stats.lines_rejected += parsed.rejects.height
            stats.add_rejects(parsed.rejects, cf)
            if parsed.lines.height:
                yield _label(parsed.lines, source)
        stats.warnings.extend(read.warnings)


def _reject_all(stats: SourceStats, frame: pl.DataFrame, detection: Detection) -> None:
    rejects = frame.select(
        "line_no", pl.lit(NO_MATCH).alias("reason"), pl.col("line").fill_null("")
    ).cast({"line_no": pl.UInt64})
    stats.lines_rejected += rejects.height
    stats.add_rejects(rejects, None)
    best = ", ".join(f"{name} {n}" for name, n in detection.scores[:3])
    note = (
        f"no known format matches {stats.path} (lines matched per candidate, of "
        f"{detection.tried}: {best})"
    )
    if note not in stats.warnings:
        stats.warnings.append(note)


def require_parsed(report: IngestReport, resolver: FormatResolver) -> None:
    """Raise a NoMatchError when not a single line could be parsed."""
    if report.lines_parsed or not report.lines_total:
        return
    first = next((s for s in report.sources if s.samples), None)
    detail = ""
    if first and first.samples and first.samples[0].column is not None:
        detail = f" (first line diverges at column {first.samples[0].column})"
    if resolver.forced is not None:
        raise NoMatchError(
            f"the format {resolver.forced.name!r} matched none of "
            f"{report.lines_total} lines{detail}",
            "try without --log-format/--preset to detect the format, or `logtrace formats`",
        )
    raise NoMatchError(
        f"no known log format matches these {report.lines_total} lines",
        "give the format with --log-format '...' or --nginx-conf /etc/nginx/nginx.conf",
    )
