"""What reading the sources found: per-source counts, samples and warnings, and whether
anything could be read at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from logtrace import errorlog
from logtrace.errors import InputError, NoMatchError
from logtrace.log_format.compiler import CompiledFormat
from logtrace.parse import BLANK, NO_MATCH, SourceStats
from logtrace.plural import plural

if TYPE_CHECKING:
    from logtrace.resolve import FormatResolver


@dataclass
class IngestReport:
    """Per-source statistics and warnings gathered while reading."""

    sources: list[SourceStats] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    formats: dict[str, CompiledFormat] = field(default_factory=dict)  # by source label
    text_bytes: int = 0  # of text read, gzip'd sources' inflated

    @property
    def lines_parsed(self) -> int:
        return sum(s.lines_parsed for s in self.sources)

    @property
    def lines_total(self) -> int:
        return sum(s.lines_total for s in self.sources)

    @property
    def truncated(self) -> bool:
        """Whether the results are partial: a source was damaged, or none of the lines of
        a source could be read while others' could."""
        return any(s.damaged for s in self.sources) or bool(self.unread)

    @property
    def unread(self) -> list[SourceStats]:
        """Sources none of whose lines could be read, among sources that were: the
        results (and the traces) lack them."""
        if not self.lines_parsed:
            return []
        return [
            s
            for s in self.sources
            if s.lines_total and not s.lines_parsed and s.kind != errorlog.KIND
        ]

    def partial_notes(self) -> list[str]:
        """What the results lack, one line per source: the head of a report."""
        return [
            f"{s.path}: not one of its {s.lines_total:,} lines could be read (format "
            f"{s.format}): the results lack this source, and traces its hop"
            for s in self.unread
        ]


PRETTY_JSON = (
    "JSON objects printed over many lines each (as `journalctl -o json-pretty` or `jq .` "
    "print them), not one a line"
)
PRETTY_JSON_HINT = "print one object a line: `journalctl -o json`, `jq -c .`"


def require_parsed(report: IngestReport, resolver: FormatResolver) -> None:
    """Raise an InputError when the sources hold no line at all, and a NoMatchError
    (with the first line that failed and a caret where) when none could be parsed."""
    if not report.lines_total:
        damage = next((s.warnings[-1] for s in report.sources if s.damaged and s.warnings), None)
        names = ", ".join(s.path for s in report.sources[:3])
        if damage is not None:
            raise InputError(damage, "not a single line could be read: check the file")
        raise InputError(
            f"{names}: empty, not a single line to read",
            "nothing to analyse: a log that was just rotated is empty; its predecessor "
            "(access.log.1) holds the lines",
        )
    if report.lines_parsed:
        return
    if any(s.lines_skipped for s in report.sources) and not any(
        s.lines_rejected for s in report.sources
    ):
        return  # every line left unparsed on purpose (trace: other requests'), none failed
    if all(s.kind == errorlog.KIND for s in report.sources if s.lines_total):
        names = ", ".join(s.path for s in report.sources if s.lines_total)
        raise NoMatchError(
            f"{names}: an nginx error log, not an access log: no request to analyse",
            "give the access log too (nginx.conf's access_log says where it is)",
        )
    shaped = next((s for s in report.sources if s.unreadable and s.lines_total), None)
    if shaped is not None and resolver.forced is None:
        raise NoMatchError(f"{shaped.path}: {shaped.unreadable}", PRETTY_JSON_HINT)
    first = next((s for s in report.sources if s.samples), None)
    sample = first.samples[0] if first and first.samples else None
    better = next((s.better for s in report.sources if s.better), [])
    where = ""
    if sample is not None and sample.column is not None:
        expected = f", expected {sample.expected}" if sample.expected else ""
        where = f"; line {sample.line_no} stops matching at column {sample.column}{expected}"
    if resolver.forced is not None:
        raise NoMatchError(
            f"the format {resolver.forced.name!r} matched none of the "
            f"{plural(report.lines_total, 'line')}{where}",
            f"try {' or '.join(better)}"
            if better
            else "try without --log-format/--preset to detect the format, or `logtrace formats`",
            source_text=sample.line if sample else None,
            column=sample.column if sample else None,
        )
    unread = f" (line {sample.line_no}: {sample.reason})" if sample else ""
    if sample is not None and sample.reason not in (NO_MATCH, BLANK):  # a known shape
        raise NoMatchError(
            f"none of the {plural(report.lines_total, 'line')} could be read{unread}",
            "`logtrace analyze --json` lists the reasons lines were rejected",
        )
    raise NoMatchError(
        f"no known log format matches the {plural(report.lines_total, 'line')}{unread}",
        "give the format with --log-format '...' or --nginx-conf /etc/nginx/nginx.conf",
    )


def hold_unfinished(stats: SourceStats, rejects: pl.DataFrame, line_no: int | None) -> pl.DataFrame:
    """The rejected lines but the last one of a file that is being written, when it has
    no end yet: the first half of a line, held (not counted) rather than rejected."""
    if line_no is None or rejects.is_empty():
        return rejects
    held = rejects.get_column("line_no") == line_no
    if not held.any():
        return rejects
    stats.lines_total -= 1
    stats.warnings.append(
        f"{stats.path}: line {line_no:,} has no end yet (the file is being written): held, "
        "not counted; it is read whole next time"
    )
    return rejects.filter(~held)


def skip_error_log(stats: SourceStats, frame: pl.DataFrame) -> None:
    """Count a chunk of an nginx error log as skipped lines, and what they hold."""
    stats.lines_rejected += frame.height
    stats.reasons[errorlog.REASON] += frame.height
    stats.error_log.update(errorlog.tally(frame))


def note_error_log(stats: SourceStats) -> None:
    """Say what a skipped nginx error log held."""
    if stats.kind == errorlog.KIND:
        stats.warnings.append(errorlog.note(stats.path, stats.lines_total, dict(stats.error_log)))


def count_chunk(
    stats: SourceStats, parsed: int, rejects: pl.DataFrame, cf: CompiledFormat | None
) -> None:
    stats.lines_parsed += parsed
    stats.lines_rejected += rejects.height
    stats.add_rejects(rejects, cf)


def reject_all(stats: SourceStats, frame: pl.DataFrame) -> None:
    rejects = frame.select(
        "line_no",
        pl.when(pl.col("line").is_null())
        .then(pl.lit(BLANK))
        .otherwise(pl.lit(NO_MATCH))
        .alias("reason"),
        pl.col("line").fill_null(""),
    ).cast({"line_no": pl.UInt64})
    stats.lines_rejected += rejects.height
    stats.add_rejects(rejects, None)
