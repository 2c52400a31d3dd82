"""Which format each source is in: forced by the options, named by an nginx.conf's
``access_log``, or detected by trying the candidate formats on its first lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from logtrace.applog import AppFormat
from logtrace.errors import NotFoundError, UsageError
from logtrace.log_format.compiler import CompiledFormat, compile_format
from logtrace.log_format.grammar import LogFormat, parse_log_format
from logtrace.log_format.infer import infer_format
from logtrace.log_format.nginx_conf import NginxConfig, read_nginx_conf
from logtrace.log_format.presets import PRESETS, get_preset
from logtrace.sources import Source

DETECT_LINES = 1000
DETECT_MIN_SHARE = 0.5


@dataclass(frozen=True)
class FormatOptions:
    """How the user chose the log format (all optional)."""

    log_format: str | None = None
    preset: str | None = None
    nginx_confs: tuple[str, ...] = ()
    format_name: str | None = None
    app_format: str | None = None  # json | logfmt | python-logging | text: skip detection
    timezone: str = "UTC"  # for app timestamps written without a zone


@dataclass(frozen=True)
class Detection:
    """The result of trying candidate formats on a source's first lines."""

    format: CompiledFormat | None
    matched: int
    tried: int
    scores: tuple[tuple[str, int], ...]  # every candidate's matches, best first
    best: CompiledFormat | None = None  # the candidate matching most, even under half


@dataclass
class FormatResolver:
    """Decides the format of each source from the options; compiled once, reused."""

    options: FormatOptions
    forced: CompiledFormat | None = None
    configs: list[NginxConfig] = field(default_factory=list)
    candidates: list[CompiledFormat] = field(default_factory=list)
    app_format: AppFormat | None = None

    @property
    def timezone(self) -> str:
        return self.options.timezone

    @classmethod
    def from_options(cls, options: FormatOptions) -> FormatResolver:
        resolver = cls(options)
        resolver.configs = [read_nginx_conf(p) for p in options.nginx_confs]
        if options.app_format is not None:
            try:
                resolver.app_format = AppFormat(options.app_format)
            except ValueError:
                names = ", ".join(f.value for f in AppFormat)
                raise NotFoundError(
                    f"unknown app log format {options.app_format!r}", f"choose one of {names}"
                ) from None
        if options.log_format is not None:
            resolver.forced = compile_format(parse_log_format(options.log_format, name="custom"))
        elif options.preset is not None:
            resolver.forced = get_preset(options.preset).compiled()
        elif options.format_name is not None:
            if not resolver.configs:
                raise UsageError(
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

    def detect(
        self, lines: pl.DataFrame, candidates: list[CompiledFormat] | None = None
    ) -> Detection:
        """Try the candidate formats on the first non-blank lines of a source."""
        candidates = self.candidates if candidates is None else candidates
        sample = lines.lazy().filter(pl.col("line").is_not_null()).head(DETECT_LINES).collect()
        plans: list[pl.Expr] = []
        for cf in candidates:
            strict = cf.strict_regex(frozenset())
            lenient = cf.lenient_regex(frozenset())
            hit = pl.col("line").str.contains(lenient)
            if strict is not None:
                hit = pl.col("line").str.contains(strict) | hit
            plans.append(hit.sum().alias(str(len(plans))))
        counts = sample.select(plans).row(0) if plans and sample.height else [0] * len(plans)
        ranked = sorted(
            zip(candidates, counts, strict=True),
            key=lambda pair: (-pair[1], -len(pair[0].fields)),
        )
        scores = tuple((cf.name, int(n)) for cf, n in ranked)
        best, matched = ranked[0] if ranked else (None, 0)
        if sample.height == 0 or matched < DETECT_MIN_SHARE * sample.height:
            return Detection(None, int(matched), sample.height, scores, best)
        return Detection(best, int(matched), sample.height, scores, best)


INFERRED_MIN_SHARE = 0.9


def infer(resolver: FormatResolver, lines: pl.DataFrame) -> Detection | None:
    """A format guessed from the first lines (log_format/infer.py), when it matches at
    least ``INFERRED_MIN_SHARE`` of them."""
    del resolver
    sample = lines.lazy().filter(pl.col("line").is_not_null()).head(DETECT_LINES).collect()
    guess = infer_format(sample.get_column("line").head(200).to_list())
    if guess is None:
        return None
    cf = compile_format(guess.format)
    strict, lenient = cf.strict_regex(frozenset()), cf.lenient_regex(frozenset())
    hit = pl.col("line").str.contains(lenient)
    if strict is not None:
        hit = hit | pl.col("line").str.contains(strict)
    matched = int(sample.select(hit.sum()).item())
    if matched < INFERRED_MIN_SHARE * sample.height:
        return None
    return Detection(cf, matched, sample.height, ((cf.name, matched),), cf)


def _find_format(configs: list[NginxConfig], name: str) -> LogFormat:
    """The format called ``name`` in the first nginx.conf that defines it."""
    for config in configs:
        try:
            return config.format(name)
        except NotFoundError:
            continue
    where = ", ".join(str(c.path) for c in configs)
    defined = ", ".join(dict.fromkeys(n for c in configs for n in c.formats)) or "none"
    raise NotFoundError(
        f"{where}: no log_format named {name!r}",
        f"check --format-name; the log_format names there: {defined}",
    )
