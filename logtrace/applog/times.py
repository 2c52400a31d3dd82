"""Timestamps as logged → UTC ``Datetime("us")`` and how precisely each is known.

Every shape is a row of ``SHAPES``: a polars format (or epoch numbers) and whether the
text carries its zone. A chunk is parsed shape by shape, each shape only on the rows the
ones before it left, starting with the shapes its first rows use: a file uses one or two
shapes, so each row is parsed about once. (``cache=False``: log timestamps are nearly all
distinct, and polars' cache of converted values only costs then.)

A time of day without a date (logback's and log4j2's default ``HH:mm:ss.SSS``) is in no
shape: a date guessed from elsewhere (the file's mtime, another log) would be silently
wrong for every line before a midnight, so such entries are rejected with their own
reason (``chunk.TIME_OF_DAY``) and a date in the pattern is the fix.

Precision is read from the digits present: ``.490372`` → 1e-6, ``,506`` → 1e-3, none →
1.0; an epoch number in milliseconds → 1e-3 (see ``_precision_of``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from logtrace.schema import EARLIEST, LATEST, TIME

_PROBE_ROWS = 256


@dataclass(frozen=True)
class TimeShape:
    """One way of writing a timestamp."""

    name: str
    format: str | None  # a chrono format for str.to_datetime; None for epoch numbers
    zoned: bool  # the text carries an offset; otherwise it is in the options' zone


SHAPES: tuple[TimeShape, ...] = (
    TimeShape("iso8601 zoned", "%Y-%m-%dT%H:%M:%S%.f%#z", zoned=True),
    TimeShape("iso8601 space zoned", "%Y-%m-%d %H:%M:%S%.f%#z", zoned=True),
    TimeShape("iso8601", "%Y-%m-%dT%H:%M:%S%.f", zoned=False),
    TimeShape("iso8601 space", "%Y-%m-%d %H:%M:%S%.f", zoned=False),
    TimeShape("slashed", "%Y/%m/%d %H:%M:%S%.f", zoned=False),
    TimeShape("slashed zoned", "%Y/%m/%d %H:%M:%S%.f %#z", zoned=True),
    TimeShape("nginx time_local", "%d/%b/%Y:%H:%M:%S %z", zoned=True),
    TimeShape("werkzeug", "%d/%b/%Y %H:%M:%S", zoned=False),
    TimeShape("java.util.logging", "%b %d, %Y %I:%M:%S %p", zoned=False),
    TimeShape("epoch", None, zoned=True),
)


ZONED = "time_zoned"  # of parse_times(..., zoned=True): whether a time wrote its zone


def parse_times(frame: pl.DataFrame, timezone: str, *, zoned: bool = False) -> pl.DataFrame:
    """``frame`` (with ``time_raw``) plus ``time`` and ``time_precision_s``, in its order
    (``zoned``: and ``ZONED``, whether each time's text gave its zone, null for none).

    ``time`` is null where ``time_raw`` is null or in no known shape.
    """
    pending = frame.with_row_index("_row")
    if pending["time_raw"].head(_PROBE_ROWS).str.contains(",", literal=True).any():
        # logging writes a comma before the milliseconds: as a dot, the ISO formats
        # (``%.f``, any number of digits) read it
        pending = pending.with_columns(pl.col("time_raw").str.replace(r"(:\d\d),(\d)", "$1.$2"))
    done: list[pl.DataFrame] = []
    for shape in _order(pending.filter(pl.col("time_raw").is_not_null()), timezone):
        # Lazy, so that polars parses the text once (``_parse`` uses the time twice).
        parsed = pending.lazy().with_columns(_parse(shape, timezone).alias("time")).collect()
        hit = pl.col("time").is_not_null()
        hits = parsed.filter(hit)
        if hits.height:
            hits = hits.with_columns(pl.lit(_precision_of(hits)).alias("time_precision_s"))
            done.append(hits.with_columns(pl.lit(shape.zoned).alias(ZONED)) if zoned else hits)
            pending = parsed.filter(~hit).drop("time")
        if pending.filter(pl.col("time_raw").is_not_null()).is_empty():
            break
    if not done:
        return _untimed(frame, zoned=zoned)
    if len(done) == 1 and pending.is_empty():  # one shape read every row: order is kept
        return done[0].drop("_row")
    done.append(_untimed(pending, zoned=zoned))
    return pl.concat(done, how="vertical_relaxed").sort("_row").drop("_row")


def _untimed(frame: pl.DataFrame, *, zoned: bool = False) -> pl.DataFrame:
    out = frame.with_columns(
        pl.lit(None, TIME).alias("time"), pl.lit(None, pl.Float64).alias("time_precision_s")
    )
    return out.with_columns(pl.lit(None, pl.Boolean).alias(ZONED)) if zoned else out


def _order(rows: pl.DataFrame, timezone: str) -> list[TimeShape]:
    """Every shape, those that read most of the first rows first."""
    probe = rows.head(_PROBE_ROWS)
    if probe.is_empty():
        return []
    hits = (
        probe.lazy()
        .select(
            _parse(shape, timezone).is_not_null().sum().alias(str(i))
            for i, shape in enumerate(SHAPES)
        )
        .collect()
        .row(0)
    )
    return [shape for _, shape in sorted(zip(hits, SHAPES, strict=True), key=lambda p: -p[0])]


@lru_cache(maxsize=128)
def _parse(shape: TimeShape, timezone: str) -> pl.Expr:
    """The time in UTC; null out of schema.EARLIEST..LATEST (year 0, 9999: not a time).
    Built once per shape and zone (~0.2 ms of Python each, ten shapes a chunk)."""
    raw = pl.col("time_raw")
    if shape.format is None:
        utc = _epoch(raw)
    else:
        parsed = raw.str.to_datetime(shape.format, time_unit="us", strict=False, cache=False)
        utc = parsed.dt.convert_time_zone("UTC") if shape.zoned else local_to_utc(parsed, timezone)
    return pl.when(utc.is_between(EARLIEST, LATEST, closed="left")).then(utc)


# A fixed offset as when.app_timezone writes it: polars' zones take whole hours alone
_FIXED = re.compile(r"([+-])(\d{2}):(\d{2})")


def _fixed_minutes(timezone: str) -> int | None:
    found = _FIXED.fullmatch(timezone)
    if found is None:
        return None
    minutes = int(found[2]) * 60 + int(found[3])
    return -minutes if found[1] == "-" else minutes


def local_to_utc(local: pl.Expr, timezone: str) -> pl.Expr:
    """Times without a zone (``Datetime``), as a clock in ``timezone`` (an IANA name,
    UTC, or a fixed offset ``+05:30``) shows them, in UTC: of a time the clock shows twice
    the earlier; null for one it skips."""
    fixed = _fixed_minutes(timezone)
    if fixed is not None:
        return (local - pl.duration(minutes=fixed)).dt.replace_time_zone("UTC")
    zoned = local.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return zoned.dt.convert_time_zone("UTC")


def utc_to_local(utc: pl.Expr, timezone: str) -> pl.Expr:
    """Times in UTC as a clock in ``timezone`` shows them, without a zone."""
    fixed = _fixed_minutes(timezone)
    if fixed is not None:
        return utc.dt.replace_time_zone(None) + pl.duration(minutes=fixed)
    return utc.dt.convert_time_zone(timezone).dt.replace_time_zone(None)


def _epoch(raw: pl.Expr) -> pl.Expr:
    """Epoch seconds (``1795696633.49``), or an integer in ms/µs/ns told by its size."""
    is_int = raw.str.contains(r"^\d{9,19}$")
    is_float = raw.str.contains(r"^\d{9,13}\.\d+$")
    whole = raw.cast(pl.Int64, strict=False)
    micros_int = (
        pl.when(whole >= 10**17)
        .then(whole // 1000)
        .when(whole >= 10**14)
        .then(whole)
        .when(whole >= 10**11)
        .then(whole * 1000)
        .otherwise(whole * 1_000_000)
    )
    number = raw.cast(pl.Float64, strict=False)
    # A fractional number of the size of epoch ms (1795696633490.5) is ms.
    micros_float = pl.when(number >= 1e11).then(number * 1e3).otherwise(number * 1e6).round(0)
    # Not strict: the cast runs on every row, and a number too big for epoch µs (a row the
    # mask drops anyway) must not stop the chunk.
    micros_float = micros_float.cast(pl.Int64, strict=False)
    micros = pl.when(is_int).then(micros_int).when(is_float).then(micros_float)
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")


def _precision_of(rows: pl.DataFrame) -> float:
    """How precisely the times of one shape are known: the finest on its first rows.

    The finest, not each row's own: a logger that trims trailing zeros (Go's
    RFC3339Nano writes ``.1`` for ``.100000000``) is as precise on every line.
    """
    raw = rows.head(_PROBE_ROWS)["time_raw"]
    digits = raw.str.extract(r"\d[.,](\d+)").str.len_chars().max()
    whole = raw.str.extract(r"^(\d{9,19})$").str.len_chars().max()
    # Stored in microseconds, so a time is never known better than that.
    if isinstance(whole, int) and whole >= 15:
        return 1e-6
    if isinstance(whole, int) and whole >= 12:
        return 1e-3
    if isinstance(digits, int):
        return max(10.0**-digits, 1e-6)
    return 1.0
