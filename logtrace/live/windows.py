"""Rolling windows of the last 1, 5 and 15 minutes of requests, in bounded memory.

Time is the log's own: each request counts in the second its line was written (nginx
writes it when the request ENDS, to the second), and "now" is the newest second seen. A
replayed file gives the numbers it gave live; an idle log's windows stay where its last
line left them. What is kept, per second of the last 15 minutes:

- requests, 4xx and 5xx;
- a histogram of request times: one bin per millisecond under 1 s (nginx logs
  milliseconds, so percentiles under 1 s are exact and equal ``analyze``'s), bins 1%
  wide above (a percentile there is within 0.5% of the logged value);
- per route: requests, total and max time, 5xx (the ``ROUTES_PER_SECOND`` heaviest
  routes of a second; the others of that second summed as ``OTHER_ROUTES``);
- the ``SLOW_PER_SECOND`` slowest requests.

However many lines come, a second holds at most ~1,700 bins, so the state is bounded by
15 minutes of them whatever the traffic. Everything is polars: a batch is aggregated by
second before it meets the state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from logtrace.analysis.percentiles import percentiles

SPAN_S = 15 * 60  # the longest window
WINDOWS_S = (60, 5 * 60, 15 * 60)
EXACT_MS = 1000  # one bin per millisecond below this
GROWTH = 1.01  # above it, each bin 1% wider than the one before
ROUTES_PER_SECOND = 50
OTHER_ROUTES = "(other routes)"
SLOW_PER_SECOND = 5

_HIST: dict[str, pl.DataType] = {"second": pl.Int64(), "bin": pl.Int32(), "count": pl.UInt32()}
_COUNTS: dict[str, pl.DataType] = {
    "second": pl.Int64(),
    "requests": pl.UInt32(),
    "s4xx": pl.UInt32(),
    "s5xx": pl.UInt32(),
}
_ROUTES: dict[str, pl.DataType] = {
    "second": pl.Int64(),
    "route": pl.String(),
    "requests": pl.UInt32(),
    "timed": pl.UInt32(),  # requests with a logged request time
    "total_s": pl.Float64(),
    "max_s": pl.Float64(),
    "s5xx": pl.UInt32(),
}
_SLOW: dict[str, pl.DataType] = {
    "second": pl.Int64(),
    "time": pl.Datetime("us", "UTC"),
    "request_time_s": pl.Float64(),
    "status": pl.UInt16(),
    "method": pl.String(),
    "path": pl.String(),
    "request_id": pl.String(),
}


def bin_of(seconds: pl.Expr) -> pl.Expr:
    """The histogram bin of a duration in seconds (see the module's docstring)."""
    ms = seconds * 1000
    log_bin = EXACT_MS + ((ms / EXACT_MS).log() / math.log(GROWTH)).floor()
    return pl.when(ms < EXACT_MS - 0.5).then(ms.round(0)).otherwise(log_bin).cast(pl.Int32)


def ms_of(bin_: pl.Expr) -> pl.Expr:
    """The value a bin stands for, in ms: its millisecond, or the middle of a wide bin."""
    wide = EXACT_MS * pl.lit(GROWTH).pow(bin_ - EXACT_MS) * (1 + GROWTH) / 2
    return pl.when(bin_ < EXACT_MS).then(bin_.cast(pl.Float64)).otherwise(wide)


@dataclass(frozen=True)
class WindowStats:
    """One window's numbers; the percentiles are None without a timed request."""

    seconds: int  # the window's length
    covered_s: int  # of it, what the log has covered so far (rates are per covered second)
    requests: int
    s4xx: int
    s5xx: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None

    @property
    def rate(self) -> float:
        return self.requests / self.covered_s if self.covered_s else 0.0


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


@dataclass
class Windows:
    """Per-second aggregates of the last ``SPAN_S`` seconds of log time, and the
    histogram of every request seen (for the summary)."""

    now: int | None = None  # newest second seen (epoch seconds, UTC)
    first: int | None = None  # oldest second seen
    hist: pl.DataFrame = field(default_factory=lambda: _empty(_HIST))
    counts: pl.DataFrame = field(default_factory=lambda: _empty(_COUNTS))
    routes: pl.DataFrame = field(default_factory=lambda: _empty(_ROUTES))
    slow: pl.DataFrame = field(default_factory=lambda: _empty(_SLOW))
    overall: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_HIST).drop("second"))
    requests: int = 0  # every request seen
    untimed: int = 0  # requests without a request time

    def add(self, lines: pl.DataFrame) -> None:
        """Count a batch of nginx LINES with ``time`` (and ``request_time_s``, ``status``,
        ``route``, ``method``, ``path`` when the format logs them)."""
        if lines.is_empty() or "time" not in lines.columns:
            return
        frame = _complete(lines.filter(pl.col("time").is_not_null()))
        if frame.is_empty():
            return
        frame = frame.with_columns(pl.col("time").dt.epoch("s").alias("second"))
        newest, oldest = frame.get_column("second").max(), frame.get_column("second").min()
        assert isinstance(newest, int) and isinstance(oldest, int)
        self.now = newest if self.now is None else max(self.now, newest)
        self.first = oldest if self.first is None else min(self.first, oldest)
        self.requests += frame.height
        timed = frame.filter(pl.col("request_time_s").is_not_null())
        self.untimed += frame.height - timed.height
        bins = timed.with_columns(bin_of(pl.col("request_time_s")).alias("bin"))
        self.overall = _sum(
            self.overall, bins.group_by("bin").agg(pl.len().cast(pl.UInt32).alias("count")), "bin"
        )
        start = self.now - SPAN_S
        frame = frame.filter(pl.col("second") > start)
        bins = bins.filter(pl.col("second") > start)
        keep = pl.col("second") > start
        self.hist = _sum(
            self.hist.filter(keep),
            bins.group_by("second", "bin").agg(pl.len().cast(pl.UInt32).alias("count")),
            "second",
            "bin",
        )
        status = pl.col("status")
        batch_counts = frame.group_by("second").agg(
            pl.len().cast(pl.UInt32).alias("requests"),
            status.is_between(400, 499).sum().cast(pl.UInt32).alias("s4xx"),
            status.is_between(500, 599).sum().cast(pl.UInt32).alias("s5xx"),
        )
        self.counts = _sum(self.counts.filter(keep), batch_counts, "second")
        self.routes = _cap_routes(pl.concat([self.routes.filter(keep), _routes(frame)]))
        slow = timed.filter(pl.col("second") > start).select(list(_SLOW)).cast(_SLOW)  # type: ignore[arg-type]
        self.slow = _slowest(pl.concat([self.slow.filter(keep), slow]))

    def state_rows(self) -> int:
        """Rows held by the windows: bounded by ``SPAN_S`` seconds, whatever was fed."""
        return sum(f.height for f in (self.hist, self.counts, self.routes, self.slow))

    def _since(self, frame: pl.DataFrame, seconds: int) -> pl.DataFrame:
        assert self.now is not None
        return frame.filter(pl.col("second") > self.now - seconds)

    def window(self, seconds: int) -> WindowStats:
        """The last ``seconds`` of log time, ending with the newest second seen."""
        if self.now is None or self.first is None:
            return WindowStats(seconds, 0, 0, 0, 0, None, None, None, None)
        covered = min(seconds, self.now - self.first + 1)
        totals = self._since(self.counts, seconds).select(
            pl.col("requests").sum(), pl.col("s4xx").sum(), pl.col("s5xx").sum()
        )
        requests, s4xx, s5xx = (int(v or 0) for v in totals.row(0))
        p = _percentiles(self._since(self.hist, seconds))
        return WindowStats(seconds, covered, requests, s4xx, s5xx, *p)

    def overall_percentiles(self) -> tuple[float | None, float | None, float | None, float | None]:
        """p50, p95, p99 and max of every timed request seen."""
        return _percentiles(self.overall)

    def top_routes(self, seconds: int, n: int) -> pl.DataFrame:
        """The ``n`` routes that took the most time in the last ``seconds``: route,
        requests, total_s, mean_s, max_s, s5xx, share (of all time)."""
        if self.now is None:
            return _empty(_ROUTES).drop("second")
        window = self._since(self.routes, seconds)
        total = window.get_column("total_s").sum() or 0.0
        return (
            window.group_by("route")
            .agg(
                pl.col("requests").sum(),
                pl.col("timed").sum(),
                pl.col("total_s").sum(),
                pl.col("max_s").max(),
                pl.col("s5xx").sum(),
            )
            .with_columns(
                # no request time logged: no mean and no share, rather than zeros
                pl.when(pl.col("timed") > 0)
                .then(pl.col("total_s") / pl.col("timed"))
                .alias("mean_s"),
                (pl.col("total_s") / total if total else pl.lit(None, pl.Float64)).alias("share"),
            )
            .sort(["total_s", "requests", "route"], descending=[True, True, False])
            .head(n)
        )

    def slowest(self, seconds: int, n: int) -> pl.DataFrame:
        """The ``n`` slowest requests that ended in the last ``seconds``, slowest first."""
        if self.now is None:
            return self.slow
        return (
            self._since(self.slow, seconds)
            .sort(["request_time_s", "time"], descending=True)
            .head(n)
        )


def _complete(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns the windows read, null where the format does not log them."""
    wanted: dict[str, pl.DataType] = {
        "time": pl.Datetime("us", "UTC"),
        "request_time_s": pl.Float64(),
        "status": pl.UInt16(),
        "method": pl.String(),
        "path": pl.String(),
        "route": pl.String(),
        "request_id": pl.String(),
    }
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in wanted.items() if c not in frame.columns]
    return frame.with_columns(missing).select(list(wanted))


def _sum(state: pl.DataFrame, batch: pl.DataFrame, *keys: str) -> pl.DataFrame:
    """``state`` with ``batch`` added, one row per key."""
    both = pl.concat([state, batch.cast(state.schema)])
    values = [c for c in state.columns if c not in keys]
    return both.group_by(*keys).agg(pl.col(c).sum() for c in values).sort(list(keys))


def _routes(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.group_by("second", pl.col("route").fill_null("(no route)"))
        .agg(
            pl.len().cast(pl.UInt32).alias("requests"),
            pl.col("request_time_s").count().cast(pl.UInt32).alias("timed"),
            pl.col("request_time_s").sum().alias("total_s"),
            pl.col("request_time_s").max().alias("max_s"),
            pl.col("status").is_between(500, 599).sum().cast(pl.UInt32).alias("s5xx"),
        )
        .cast(_ROUTES)  # type: ignore[arg-type]
    )


def _cap_routes(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per second and route; past ``ROUTES_PER_SECOND`` routes in a second, the
    lighter ones summed as ``OTHER_ROUTES``."""
    aggs = (
        pl.col("requests").sum(),
        pl.col("timed").sum(),
        pl.col("total_s").sum(),
        pl.col("max_s").max(),
        pl.col("s5xx").sum(),
    )
    merged = frame.group_by("second", "route").agg(*aggs)
    rank = pl.col("total_s").rank("ordinal", descending=True).over("second")
    route = pl.when(rank > ROUTES_PER_SECOND).then(pl.lit(OTHER_ROUTES)).otherwise("route")
    capped = merged.with_columns(route.alias("route")).group_by("second", "route").agg(*aggs)
    return capped.select(list(_ROUTES)).sort("second", "route")


def _slowest(frame: pl.DataFrame) -> pl.DataFrame:
    rank = pl.col("request_time_s").rank("ordinal", descending=True).over("second")
    return frame.filter(rank <= SLOW_PER_SECOND).sort("second", "time")


def _percentiles(
    hist: pl.DataFrame,
) -> tuple[float | None, float | None, float | None, float | None]:
    if hist.is_empty():
        return None, None, None, None
    by_bin = hist.group_by("bin").agg(pl.col("count").sum().cast(pl.Int64))
    values = by_bin.select(ms_of(pl.col("bin")).alias("ms"), "count")
    row = percentiles(values, None).row(0, named=True)
    return row["p50_s"], row["p95_s"], row["p99_s"], row["max_s"]
