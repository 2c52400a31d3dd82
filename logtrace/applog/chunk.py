"""A chunk of app-log lines → LINES rows (one per entry) and REJECTS rows (one per line).

Every line of the chunk ends up in exactly one place: it begins an entry that is read
(a LINES row), continues one (counted in that row's ``extra_lines``), is rejected (a
REJECTS row with the reason), or continues the previous chunk's last entry
(``AppChunk.leading``, for the ingest loop to hand to ``attach_leading``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from logtrace.applog.entries import Leading, split_entries
from logtrace.applog.events import LINES_APP_OUT, to_lines
from logtrace.applog.fields import entry_fields
from logtrace.applog.shapes import AppFormat, AppLogOptions
from logtrace.applog.times import ZONED, local_to_utc, parse_times, utc_to_local
from logtrace.applog.zone import followed
from logtrace.envelope import ENVELOPE_TIME
from logtrace.parse import BLANK, MAX_SAMPLES, AppEvents, EntrySample, ParsedChunk
from logtrace.schema import REJECTS

NO_TIMESTAMP = "no timestamp"
BAD_TIMESTAMP = "timestamp in no known format"
TIME_OF_DAY = "time of day without a date"
REJECTED_ENTRY = "continuation of a rejected line"
_CLOCK = r"^\d{1,2}:\d{2}:\d{2}"
_TIME_OF_DAY = r"^\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?$"  # and nothing else: no date, no zone
_ANSI = r"\x1b\[[0-9;?]*[A-Za-z]"


def _no_lines() -> pl.DataFrame:
    return pl.DataFrame(schema={"line_no": pl.UInt32(), **LINES_APP_OUT})


@dataclass(frozen=True)
class AppChunk(ParsedChunk):
    """A parsed chunk, plus the lines at its top that continue the previous chunk.

    ``untimed`` holds the entries rejected for want of a time (no timestamp, a time of day
    alone), read and classified all the same (``time`` null): what a user is told such a
    log would have given. ``events`` counts both by event and keeps a few unclassified
    entries.
    """

    leading: Leading = field(default_factory=Leading)
    untimed: pl.DataFrame = field(default_factory=_no_lines)
    events: AppEvents = field(default_factory=AppEvents)


def parse_app_chunk(
    lines: pl.DataFrame, fmt: AppFormat, options: AppLogOptions, *, text: bytes | None = None
) -> AppChunk:
    """Parse a frame of ``line_no``/``line`` of an app log of the given shape. ``text``:
    the bytes ``lines`` was read from, if at hand (lines.text_and_frame): JSON lines that
    are each an entry are read from them."""
    if lines["line"].str.contains("\x1b", literal=True).any():  # colours (werkzeug, morgan)
        lines = lines.with_columns(pl.col("line").str.replace_all(_ANSI, ""))
        text = None
    entries = split_entries(lines, fmt)
    whole = text if entries.starts.height == lines.height else None
    raw = entry_fields(entries.starts, fmt, options, text=whole)
    unreadable = raw.filter(pl.col("reason").is_not_null()).select("line_no", "reason")
    raw = raw.filter(pl.col("reason").is_null())
    enveloped = moved = 0
    if ENVELOPE_TIME in lines.columns:
        raw, enveloped = _envelope_times(raw, lines, options.timezone)
    if options.follow_envelope:  # each entry an hour or less off takes its envelope's offset
        raw, moved = followed(parse_times(raw, options.timezone, zoned=True), lines)
        raw = raw.drop(ZONED)
    else:
        raw = parse_times(raw, options.timezone)
    timed = pl.col("time").is_not_null()
    untimed = raw.filter(~timed).select(
        "line_no",
        pl.when(pl.col("time_raw").is_null())
        .then(pl.lit(NO_TIMESTAMP))
        .when(pl.col("time_raw").str.contains(_CLOCK))
        .then(pl.lit(TIME_OF_DAY))
        .otherwise(pl.lit(BAD_TIMESTAMP))
        .alias("reason"),
    )
    parsed = to_lines(raw.filter(timed), entries.attached)
    undated = raw.filter(
        ~timed & (pl.col("time_raw").is_null() | pl.col("time_raw").str.contains(_CLOCK))
    )
    unread = to_lines(undated, entries.attached) if undated.height else _no_lines()
    rejected = pl.concat([unreadable, untimed])
    rejects = [
        entries.blanks.select("line_no", pl.lit(BLANK).alias("reason"), "line"),
        rejected.join(entries.starts, on="line_no", how="left").select("line_no", "reason", "line"),
    ]
    if rejected.height and entries.attached_lines.height:
        followers = entries.attached_lines.join(
            rejected.select(pl.col("line_no").alias("entry")), on="entry", how="semi"
        )
        rejects.append(followers.select("line_no", pl.lit(REJECTED_ENTRY).alias("reason"), "line"))
    frame = (
        pl.concat(rejects)
        .with_columns(pl.col("line").fill_null(""))
        .cast(pl.Schema(REJECTS))
        .sort("line_no")
    )
    return AppChunk(
        parsed.cast({"line_no": lines.schema["line_no"]}),
        frame,
        entries.leading,
        unread.cast({"line_no": lines.schema["line_no"]}),
        _events(parsed, unread, lines, enveloped, moved),
    )


def _envelope_times(
    raw: pl.DataFrame, lines: pl.DataFrame, timezone: str
) -> tuple[pl.DataFrame, int]:
    """``raw`` with the time its envelope gave each entry that logs none of its own (a
    container runtime's: when it took the line down), and the date for each that logs a
    time of day only (logback's and log4j2's default ``HH:mm:ss.SSS``): the day, in the
    log's zone, that puts it nearest that time (a line written at 23:59:59.999 and taken
    down after midnight is of the day before); and how many were so given one."""
    time_raw = pl.col("time_raw")
    clock = time_raw.str.contains(_TIME_OF_DAY)
    wanting = raw.select((time_raw.is_null() | clock.fill_null(value=False)).sum()).item()
    if not wanting:
        return raw, 0
    taken = parse_times(
        lines.select("line_no", pl.col(ENVELOPE_TIME).alias("time_raw")), timezone
    ).select("line_no", pl.col("time_raw").alias("_envelope"), pl.col("time").alias("_taken"))
    joined = raw.join(taken, on="line_no", how="left", maintain_order="left")
    day = utc_to_local(pl.col("_taken"), timezone).dt.date()
    of_day = time_raw.str.replace(",", ".", literal=True)

    def on(date: pl.Expr) -> pl.Expr:  # the time of day on that date, in UTC
        text = pl.concat_str([date.dt.to_string("%Y-%m-%d"), pl.lit("T"), of_day])
        local = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False)
        return local_to_utc(local, timezone)

    ahead = on(day) - pl.col("_taken")
    half = pl.duration(hours=12)
    nearest = (
        pl.when(ahead > half)
        .then(day - pl.duration(days=1))
        .when(ahead < -half)
        .then(day + pl.duration(days=1))
        .otherwise(day)
    )
    dated = pl.concat_str([nearest.dt.to_string("%Y-%m-%d"), pl.lit("T"), of_day])
    given = time_raw.is_null() | clock
    out = joined.with_columns(
        pl.when(time_raw.is_null())
        .then(pl.col("_envelope"))  # as written: its digits say how precise it is
        .when(clock & pl.col("_taken").is_not_null())
        .then(dated)
        .otherwise(time_raw)
        .alias("time_raw"),
        (given & pl.col("_taken").is_not_null()).alias("_given"),
    )
    count = int(out.get_column("_given").sum())
    return out.drop("_envelope", "_taken", "_given"), count


def _events(
    parsed: pl.DataFrame,
    untimed: pl.DataFrame,
    lines: pl.DataFrame,
    enveloped: int = 0,
    moved: int = 0,
) -> AppEvents:
    """The chunk's entries by event and its first few unclassified ones, as logged; how
    many entries have the time of their envelope, and how many its offset."""
    first = (
        parsed.filter(pl.col("event") == "unclassified")
        .head(MAX_SAMPLES)
        .select("line_no")
        .join(lines.select("line_no", "line"), on="line_no", how="left", maintain_order="left")
    )
    return AppEvents(
        _by_event(parsed),
        _by_event(untimed),
        tuple(EntrySample(int(n), line or "") for n, line in first.iter_rows()),
        enveloped,
        envelope_offset=moved,
    )


def _by_event(lines: pl.DataFrame) -> Counter[str]:
    return Counter(dict(lines.group_by("event").len().iter_rows()))


def attach_leading(lines: pl.DataFrame, leading: Leading) -> pl.DataFrame:
    """The previous chunk's LINES with the next chunk's leading continuation lines added
    to its last entry (more ``extra_lines``; the error and exception of a traceback)."""
    if leading.lines == 0 or lines.is_empty():
        return lines
    last = pl.col("line_no") == pl.col("line_no").max()
    message = pl.col("message")
    if leading.exception is not None:
        text = pl.lit(leading.exception)
        message = pl.when(message.is_null()).then(text).otherwise(message + " | " + text)
    return lines.with_columns(
        pl.when(last)
        .then(pl.col("extra_lines") + leading.lines)
        .otherwise(pl.col("extra_lines"))
        .alias("extra_lines"),
        pl.when(last)
        .then(pl.col("error") | leading.traceback)
        .otherwise(pl.col("error"))
        .alias("error"),
        pl.when(last).then(message).otherwise(pl.col("message")).alias("message"),
    )


def service_from_line(lines: pl.DataFrame, *, host: str, service: str) -> pl.DataFrame:
    """Each entry's ``host`` and ``service``: the ones its line names, else the defaults
    (which come from the file name)."""
    return lines.with_columns(
        pl.coalesce(pl.col("host"), pl.lit(host)).alias("host"),
        pl.coalesce(pl.col("service"), pl.lit(service)).alias("service"),
    )
