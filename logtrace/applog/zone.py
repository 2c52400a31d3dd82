"""The zone an app log writes its times in, told by its envelope's times.

A time written without a zone (Python logging's ``2026-11-26 14:37:13,506``, logback's
``yyyy-MM-dd HH:mm:ss.SSS``) is read in ``--timezone`` (UTC unless given). A program in a
container whose ``TZ`` is another zone writes its clock's time, and every span of the log
is off by whole hours, out of the trees it belongs in. When the log is in a container
runtime's envelope that gives the time in UTC (CRI, Docker's json-file, ``--timestamps``,
the journal), each entry says both when it was written, by the program's clock in its
zone, and when the runtime took it down, within milliseconds: if the entries' own times
are nearly all a whole number of quarter hours (every UTC offset is one) from those, the
log is in that offset. Decided once a log, on its first lines, as ``ingest`` decides
whether envelope times refine nginx's whole seconds. Such a log, taken down as it was
written, then follows its envelope entry by entry for changes of an hour or less
(daylight saving time, a restart in another zone), whichever chunk they fall in.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtrace.applog.entries import split_entries
from logtrace.applog.fields import entry_fields
from logtrace.applog.shapes import AppFormat, AppLogOptions
from logtrace.applog.times import ZONED, parse_times, utc_to_local
from logtrace.envelope import ENVELOPE_TIME

STEP_S = 900  # UTC offsets are whole quarter hours (+05:45, +12:45)
# A runtime takes a line down milliseconds after it is written; a line written a minute
# or more before (a buffer flushed late) is no evidence of the zone
SLACK_S = 60
SHARE = 0.9  # of the entries that must be within SLACK_S of a whole offset
MIN_ENTRIES = 10  # with fewer, a log's zone is not told from its envelope
MAX_OFFSET_S = 14 * 3600  # UTC-12:00 to UTC+14:00: a log further off is not in a zone


@dataclass(frozen=True)
class EnvelopeZone:
    """The offset most of a log's zoneless times are in (``timezone``: as ``--timezone``
    takes it), the one they would have been read in, and how many entries told."""

    timezone: str
    offset_s: int
    assumed_s: int
    entries: int
    off: int  # of them, how many are off the zone they would have been read in

    def describe(self, path: str, envelope: str | None, option: str) -> str | None:
        """The warning a source's report carries; None when most entries are in the
        zone they are read in (those that are not follow their envelope, and are said)."""
        if self.offset_s == self.assumed_s:
            return None
        ahead = self.offset_s - self.assumed_s
        return (
            f"{path}: its times carry no zone, and read in {option} (--timezone) they are "
            f"{_span(ahead)} {'ahead of' if ahead > 0 else 'behind'} the times its "
            f"{envelope or 'container runtime'} envelope gives ({self.entries:,} entries of "
            f"its first lines agree): read in {self.timezone} instead"
        )


def envelope_zone(
    lines: pl.DataFrame, fmt: AppFormat, options: AppLogOptions
) -> EnvelopeZone | None:
    """The zone most of an app log's first lines (with ``ENVELOPE_TIME``) write their
    zoneless times in, when nine in ten are within ``SLACK_S`` of a whole offset from
    their envelope's (taken down as written: from then on, an entry an hour or less off
    it follows its envelope, :func:`followed`); None when they do not say."""
    if ENVELOPE_TIME not in lines.columns:
        return None
    raw = entry_fields(split_entries(lines, fmt).starts, fmt, options)
    own = parse_times(raw.filter(pl.col("reason").is_null()), options.timezone, zoned=True)
    own = own.filter(pl.col("time").is_not_null() & ~pl.col(ZONED))
    if own.height < MIN_ENTRIES:
        return None
    envelope = lines.select("line_no", pl.col(ENVELOPE_TIME).alias("time_raw"))
    taken = parse_times(envelope, "UTC", zoned=True).filter(
        pl.col("time").is_not_null() & pl.col(ZONED)  # a zoneless envelope tells nothing
    )
    pairs = own.select("line_no", "time").join(
        taken.select("line_no", pl.col("time").alias("taken")), on="line_no", how="inner"
    )
    if pairs.height < MIN_ENTRIES:
        return None
    delta = pairs.select(
        ((pl.col("time") - pl.col("taken")).dt.total_microseconds() / 1e6).alias("d")
    ).to_series()
    at = pairs.get_column("taken").median()
    assumed = _offset_s(options.timezone, at)
    steps = (delta / STEP_S).round(0)
    whole = ((delta - steps * STEP_S).abs() <= SLACK_S) & (
        (steps * STEP_S + assumed).abs() <= MAX_OFFSET_S  # days off: no zone is that far
    )
    if _number(whole.mean()) < SHARE:  # buffered, replayed, or a clock wrong: not zones
        return None
    clean = steps.filter(whole)
    off = int((clean != 0).sum())
    mode = int(_number(clean.mode().sort().first()))
    if mode == 0:  # read in the right zone: entries that leave it later follow the envelope
        return EnvelopeZone(options.timezone, assumed, assumed, pairs.height, off)
    offset = assumed + mode * STEP_S
    return EnvelopeZone(_name(offset), offset, assumed, pairs.height, off)


FOLLOW_STEPS = 4  # quarter hours: an entry an hour or less off its log's offset follows


def followed(raw: pl.DataFrame, lines: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """``raw`` (parsed with ``zoned``: ``time``, ``ZONED``) with each zoneless time that is
    one to ``FOLLOW_STEPS`` quarter hours (within ``SLACK_S``) off the time its envelope
    gives it moved by them, in a log whose zone its envelope told; and how many moved."""
    if ENVELOPE_TIME not in lines.columns or raw.is_empty():
        return raw, 0
    envelope = lines.select("line_no", pl.col(ENVELOPE_TIME).alias("time_raw"))
    taken = parse_times(envelope, "UTC", zoned=True).select(
        "line_no",
        pl.when(pl.col(ZONED)).then(pl.col("time")).alias("_taken"),  # zoneless: no truth
    )
    joined = raw.join(taken, on="line_no", how="left", maintain_order="left")
    off_s = (pl.col("time") - pl.col("_taken")).dt.total_microseconds() / 1e6
    steps = (off_s / STEP_S).round(0)
    moves = (
        ~pl.col(ZONED).fill_null(value=True)
        & (steps != 0)
        & (steps.abs() <= FOLLOW_STEPS)
        & ((off_s - steps * STEP_S).abs() <= SLACK_S)
    ).fill_null(value=False)
    shift = pl.duration(seconds=(steps * STEP_S).cast(pl.Int64))
    out = joined.with_columns(
        pl.when(moves).then(pl.col("time") - shift).otherwise(pl.col("time")).alias("time"),
        moves.alias("_moved"),
    )
    moved = int(out.get_column("_moved").sum())
    return out.drop("_taken", "_moved"), moved


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _offset_s(timezone: str, at: object) -> int:
    """The UTC offset of ``timezone`` at the instant ``at``, in seconds."""
    moment = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    offset = pl.select(utc_to_local(moment, timezone) - moment.dt.replace_time_zone(None)).item()
    return int(offset.total_seconds())


def _name(offset_s: int) -> str:
    """``+02:00``, ``-03:30``; UTC for none."""
    if offset_s == 0:
        return "UTC"
    sign = "+" if offset_s > 0 else "-"
    minutes = abs(offset_s) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _span(seconds: int) -> str:
    minutes = abs(seconds) // 60
    hours, rest = divmod(minutes, 60)
    if not rest:
        return f"{hours} h"
    return f"{hours} h {rest} min" if hours else f"{rest} min"
