"""Requests over time (``analyze --every``): per time bucket, requests, req/s, 4xx/5xx
rates and exact request-time (and upstream-time) percentiles.

Buckets are by the time nginx logged each line, which is when the request ENDED (nginx
writes the line at the end; ``$time_local`` has whole seconds): a request that took 3 s
and ended at 12:01:01 counts in the bucket of 12:01:01. Buckets start at whole multiples
of their size since the Unix epoch as the clocks of the zone shown read it
(``offset_s``): an hour's bucket starts at a whole hour, a day's at midnight, of the
times the report shows, whatever their offset from UTC (-03:30 included).

Like the overall percentiles (latency.py), each chunk of lines is reduced to counts per
(bucket, millisecond) that merge exactly, and the percentiles are nearest-rank over those
counts. With ``auto`` the size is only known at the end, so chunks are counted in base
buckets that divide every size ``auto`` may pick; the base grows with the time range so
the counts stay small, and merging base buckets into the chosen size is exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from logtrace.analysis.percentiles import percentiles
from logtrace.errors import UsageError

# What `auto` picks from: the smallest with at most AUTO_MAX buckets over the time range.
AUTO_SIZES = (1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400)
AUTO_MAX = 60
# Base sizes for `auto`, each dividing the next and every AUTO_SIZES entry at least as
# large (10 min is the one auto size that 15 min does not divide; it is never picked once
# the base is 15 min: the base keeps BASE_MIN buckets, auto at most AUTO_MAX).
BASE_SIZES = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400)
BASE_MIN = 120
MAX_BUCKETS = 10_000  # beyond this a table (and its chart) says nothing a person can read

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"(\d+)\s*([smhd])")

BUCKET = "bucket_s"  # the bucket's start, in seconds since the epoch, shifted by offset_s


Every = int | Literal["auto"]  # a bucket size in seconds, or auto


def parse_every(text: str) -> Every:
    """``1m``, ``5m``, ``30s``, ``1h``, ``1d`` as seconds; or ``auto``."""
    value = text.strip().lower()
    if value == "auto":
        return "auto"
    found = _EVERY.fullmatch(value)
    seconds = int(found.group(1)) * _UNITS[found.group(2)] if found else 0
    if not seconds:
        raise UsageError(
            f"--every {text!r} is not a bucket size",
            "use a whole number of s, m, h or d (30s, 1m, 5m, 1h, 1d), or auto",
        )
    return seconds


def auto_size(lo: int, hi: int, base: int = 1) -> int:
    """The smallest round size (a multiple of ``base``) giving at most AUTO_MAX buckets
    from second ``lo`` to second ``hi``."""
    for size in AUTO_SIZES:
        if size % base == 0 and hi // size - lo // size + 1 <= AUTO_MAX:
            return size
    days = math.ceil((hi - lo + 1) / (AUTO_MAX * 86400))  # longer than 60 days: whole days
    return max(days, 1) * 86400


def _base_for(lo: int, hi: int) -> int:
    """The largest base size that still gives BASE_MIN buckets over the range."""
    fitting = [b for b in BASE_SIZES if (hi - lo + 1) / b >= BASE_MIN]
    return fitting[-1] if fitting else 1


def _rebucket(frame: pl.DataFrame, size: int, keys: list[str], sums: list[str]) -> pl.DataFrame:
    """Counts merged into buckets of ``size`` (a multiple of the ones they are in)."""
    return (
        frame.with_columns((pl.col(BUCKET) // size * size).alias(BUCKET))
        .group_by(keys)
        .agg(pl.col(sums).sum())
    )


COUNT_KEYS = [BUCKET]
COUNT_SUMS = ["requests", "4xx", "5xx"]
HIST_KEYS = [BUCKET, "ms"]
SECOND = "second"
# Lines are kept as they come (second, ms, upstream ms, status: 18 bytes a line) and
# counted when the buckets are made, or once this many have come since the last count:
# one count over many lines costs less than one per chunk (and auto's size is then known),
# and memory stays bounded.
RAW_LINES = 1_000_000
_SCHEMA = {SECOND: pl.Int64, "ms": pl.Int32, "ums": pl.Int32, "status": pl.UInt16}


def _ms32(column: str, cols: list[str]) -> pl.Expr:
    if column not in cols:
        return pl.lit(None, pl.Int32)
    return (pl.col(column) * 1000).round(0).cast(pl.Int32)


@dataclass
class BucketPartials:
    """Mergeable per-bucket counts of the lines seen so far."""

    every: int | None  # seconds; None: auto
    base: int = 1  # the size the counts below are in
    counts: list[pl.DataFrame] = field(default_factory=list)  # bucket, requests, 4xx, 5xx
    hist: list[pl.DataFrame] = field(default_factory=list)  # bucket, ms, count
    upstream_hist: list[pl.DataFrame] = field(default_factory=list)
    untimed: int = 0  # requests without a logged time: in no bucket
    lo: int | None = None  # first and last base bucket counted
    hi: int | None = None
    first: int | None = None  # first and last second counted (epoch, shifted by offset_s)
    last: int | None = None
    offset_s: int = 0  # the UTC offset of the zone shown: buckets start at its whole hours
    lines: list[pl.DataFrame] = field(default_factory=list)  # not counted yet (_SCHEMA)
    line_count: int = 0
    has_latency: bool = False  # some lines logged a request time
    has_upstream: bool = False  # ... an upstream time

    def __post_init__(self) -> None:
        if self.every is not None:
            self.base = self.every

    @classmethod
    def of(cls, every: Every, offset_s: int = 0) -> BucketPartials:
        return cls(None if every == "auto" else every, offset_s=offset_s)

    def plans(self, lf: pl.LazyFrame, cols: list[str]) -> list[pl.LazyFrame]:
        """The query that reduces one chunk to its lines (run with the report's own)."""
        self.has_latency |= "request_time_s" in cols
        self.has_upstream |= "upstream_time_s" in cols
        status = pl.col("status") if "status" in cols else pl.lit(None, pl.UInt16)
        return [
            lf.select(
                (pl.col("time").dt.epoch("s") + self.offset_s).alias(SECOND),
                _ms32("request_time_s", cols).alias("ms"),
                _ms32("upstream_time_s", cols).alias("ums"),
                status.cast(pl.UInt16).alias("status"),
            )
        ]

    def take(self, results: list[pl.DataFrame], cols: list[str]) -> None:
        """Keep one chunk's results (in the order of :meth:`plans`)."""
        self.lines.append(results[0])
        self.line_count += results[0].height
        if self.line_count > RAW_LINES:
            self.count()

    def count(self, final: bool = False) -> None:
        """Count the lines kept so far into the buckets. ``final``: no line comes after,
        so with ``auto`` they are counted in the size it picks, not a base."""
        if not self.lines:
            return
        lines = pl.concat([pl.DataFrame(schema=_SCHEMA), *self.lines], how="vertical_relaxed")
        self.lines, self.line_count = [], 0
        timed = lines.filter(pl.col(SECOND).is_not_null())
        self.untimed += lines.height - timed.height
        first, last = timed.select(
            pl.col(SECOND).min().alias("first"), pl.col(SECOND).max().alias("last")
        ).row(0)
        if first is None or last is None:
            return
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        if self.every is None:  # the base (or, at the end, the size) for the range so far
            lo, hi = self.first // self.base * self.base, self.last // self.base * self.base
            size = (
                auto_size(lo, hi + self.base - 1, self.base)
                if final
                else max(self.base, _base_for(lo, hi + self.base - 1))
            )
            if size != self.base:
                self._merge(size)
        self._count(timed.lazy())
        self._compact()

    def _count(self, timed: pl.LazyFrame) -> None:
        key = (pl.col(SECOND) // self.base * self.base).alias(BUCKET)
        status = pl.col("status")
        by_ms, upstream, span = pl.collect_all(
            [
                timed.group_by(key, "ms").agg(
                    pl.len().alias("requests"),
                    status.is_between(400, 499).sum().alias("4xx"),
                    status.is_between(500, 599).sum().alias("5xx"),
                ),
                timed.filter(pl.col("ums").is_not_null())
                .group_by(key, pl.col("ums").alias("ms"))
                .agg(pl.len().alias("count")),
                timed.select(key.min().alias("lo"), key.max().alias("hi")),
            ]
        )
        sums = [pl.col(c).sum().cast(pl.Int64) for c in COUNT_SUMS]
        self.counts.append(by_ms.group_by(BUCKET).agg(sums))
        hist = by_ms.filter(pl.col("ms").is_not_null())
        self.hist.append(hist.select(BUCKET, "ms", pl.col("requests").alias("count")))
        self.upstream_hist.append(upstream)
        lo, hi = span.row(0)
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)

    def _compact(self) -> None:
        """Merge the partial counts now and then so their number stays small."""
        if len(self.counts) > 8:
            self._merge(self.base)

    def _merge(self, size: int) -> None:
        self.base = size
        self.counts = _merged(self.counts, size, COUNT_KEYS, COUNT_SUMS)
        self.hist = _merged(self.hist, size, HIST_KEYS, ["count"])
        self.upstream_hist = _merged(self.upstream_hist, size, HIST_KEYS, ["count"])
        if self.lo is not None and self.hi is not None:
            self.lo, self.hi = self.lo // size * size, self.hi // size * size


def _merged(
    frames: list[pl.DataFrame], size: int, keys: list[str], sums: list[str]
) -> list[pl.DataFrame]:
    if not frames:
        return []
    return [_rebucket(pl.concat(frames, how="vertical_relaxed"), size, keys, sums)]


@dataclass(frozen=True)
class Buckets:
    """Requests over time: one row per bucket from the first to the last (empty ones too).

    ``frame`` columns: start (UTC), requests, req_per_s (over the seconds of the bucket
    the logs cover: the first and last bucket may be partly covered), rate_4xx, rate_5xx,
    p50_s, p95_s, p99_s, max_s, and with upstream times upstream_p50_s, upstream_p95_s,
    upstream_p99_s, upstream_max_s. Percentiles are null in a bucket without a timed request.
    """

    size_s: int
    auto: bool
    frame: pl.DataFrame
    untimed: int  # requests without a logged time: in no bucket


LATENCY = ("p50_s", "p95_s", "p99_s", "max_s")


def finish_buckets(p: BucketPartials) -> Buckets:
    """Merge the partial counts into the buckets of the chosen size."""
    p.count(final=True)
    if p.lo is None or p.hi is None or p.first is None or p.last is None:
        empty = pl.DataFrame(schema={"start": pl.Datetime("us", "UTC"), "requests": pl.Int64})
        return Buckets(p.every or 1, p.every is None, empty, p.untimed)
    size = p.every if p.every is not None else auto_size(p.lo, p.hi + p.base - 1, p.base)
    lo, hi = p.lo // size * size, p.hi // size * size
    n = (hi - lo) // size + 1
    if n > MAX_BUCKETS:
        raise UsageError(
            f"--every {size} s makes {n:,} buckets over these logs' time range",
            f"use a larger --every (at most {MAX_BUCKETS:,} buckets), or --every auto",
        )
    p._merge(size)
    frame = pl.DataFrame({BUCKET: pl.int_range(lo, hi + 1, size, eager=True)})
    counts = p.counts[0] if p.counts else pl.DataFrame(schema={BUCKET: pl.Int64})
    frame = frame.join(counts, on=BUCKET, how="left").with_columns(
        pl.col(c).fill_null(0) for c in COUNT_SUMS if c in counts.columns
    )
    if p.has_latency:
        lat = percentiles(p.hist[0], BUCKET).select(BUCKET, *LATENCY)
        frame = frame.join(lat, on=BUCKET, how="left")
    if p.has_upstream:
        up = percentiles(p.upstream_hist[0], BUCKET).select(
            BUCKET, *(pl.col(c).alias(f"upstream_{c}") for c in LATENCY)
        )
        frame = frame.join(up, on=BUCKET, how="left")
    requests = pl.col("requests")
    rate = pl.when(requests > 0)
    # the first and last bucket count the seconds the logs cover: 120 requests logged in
    # the last 2 s of a 1m bucket are 60 req/s, not 2
    covered = pl.min_horizontal(pl.col(BUCKET) + size, p.last + 1) - pl.max_horizontal(
        pl.col(BUCKET), p.first
    )
    frame = (
        frame.sort(BUCKET)
        .with_columns(
            pl.from_epoch(pl.col(BUCKET) - p.offset_s, time_unit="s")
            .dt.replace_time_zone("UTC")
            .alias("start"),
            (requests / covered).alias("req_per_s"),
            rate.then(pl.col("4xx") / requests).alias("rate_4xx"),
            rate.then(pl.col("5xx") / requests).alias("rate_5xx"),
        )
        .drop(BUCKET, "4xx", "5xx")
    )
    first = ["start", "requests", "req_per_s", "rate_4xx", "rate_5xx"]
    return Buckets(
        size,
        p.every is None,
        frame.select(*first, pl.exclude(first)),
        p.untimed,
    )


def size_label(seconds: int) -> str:
    """A bucket size as --every takes it: ``30s``, ``5m``, ``1h``, ``1d``."""
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % n == 0:
            return f"{seconds // n}{unit}"
    return f"{seconds}s"
