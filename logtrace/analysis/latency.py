"""Where the time goes: latency percentiles per route, nginx vs upstream time, retries.

Works chunk by chunk so memory does not grow with the input: each chunk of LINES is
reduced to small partial aggregates (a histogram of request times in milliseconds per
route, sums, status counts, the N slowest lines) that merge exactly. nginx logs
``$request_time`` in whole milliseconds, so percentiles from the millisecond histogram
are exact, not approximations.

Percentiles are nearest-rank (percentiles.py). Every reported value is one that was logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import polars as pl

from logtrace.analysis.breakdowns import (
    BreakdownPartials,
    BreakdownTable,
    bytes_expr,
    finish_breakdowns,
)
from logtrace.analysis.buckets import BucketPartials, Buckets, finish_buckets
from logtrace.analysis.percentiles import PERCENTILE_COLUMNS, percentiles
from logtrace.analysis.route_guard import MAX_VALUES, RouteGuard

SLOWEST_COLUMNS = (
    "time",
    "request_id",
    "method",
    "route",
    "path",
    "status",
    "request_time_s",
    "upstream_time_s",
    "nginx_time_s",
    "upstream_attempts",
    "source",
    "line_no",
)


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def slowest_first(
    frame: Frame, n: int | None = None, *, duration: str = "request_time_s", time: str = "time"
) -> Frame:
    """The ``n`` slowest rows (all when None) in the one order every report shows them:
    longest first; ties by time (earliest first), then request id, then where they were
    logged. A total order: the first 5 of ``--top 10`` are ``--top 5``."""
    names = frame.collect_schema().names()
    keys = [(duration, True), (time, False), ("request_id", False), ("source", False)]
    keys += [("line_no", False), ("sid", False)]
    present = [(c, d) for c, d in keys if c in names]
    ordered = frame.sort(
        [c for c, _ in present], descending=[d for _, d in present], nulls_last=True
    )
    return ordered if n is None else ordered.head(n)


@dataclass
class Partials:
    """Mergeable aggregates of the lines seen so far."""

    top: int
    hist: list[pl.DataFrame] = field(default_factory=list)
    upstream_hist: list[pl.DataFrame] = field(default_factory=list)
    routes: list[pl.DataFrame] = field(default_factory=list)
    statuses: list[pl.DataFrame] = field(default_factory=list)
    slowest: list[pl.DataFrame] = field(default_factory=list)
    time_min: datetime | None = None
    time_max: datetime | None = None
    requests: int = 0
    has_latency: bool = False
    has_upstream: bool = False
    buckets: BucketPartials | None = None  # with --every: the counts per time bucket
    breakdowns: BreakdownPartials | None = None  # with --by: the counts per value
    route_values: int = MAX_VALUES  # a route position with more values becomes {*}
    guard: RouteGuard = field(init=False)

    def __post_init__(self) -> None:
        self.guard = RouteGuard(self.route_values)

    def add(self, lines: pl.DataFrame) -> None:
        """Reduce one chunk of derived LINES into the partial aggregates."""
        if lines.is_empty():
            return
        lines = self._guarded(lines)
        cols = lines.columns
        self.requests += lines.height
        self.has_latency |= "request_time_s" in cols
        self.has_upstream |= "upstream_time_s" in cols
        ms = (pl.col("request_time_s") * 1000).round(0).cast(pl.Int64).alias("ms")
        lf = lines.lazy()
        plans = [
            lf.group_by(
                "route", "status" if "status" in cols else pl.lit(None).alias("status")
            ).agg(pl.len().alias("count"))
        ]
        if "request_time_s" in cols:  # timed lines: an app's request may have no duration
            timed = lf.filter(pl.col("request_time_s").is_not_null())
            plans.append(timed.group_by("route", ms).agg(pl.len().alias("count")))
        if "upstream_time_s" in cols:
            ums = (pl.col("upstream_time_s") * 1000).round(0).cast(pl.Int64).alias("ms")
            plans.append(
                lf.filter(pl.col("upstream_time_s").is_not_null())
                .group_by("route", ums)
                .agg(pl.len().alias("count"))
            )
        plans.append(lf.group_by("route").agg(*_route_sums(cols)))
        if "time" in cols:
            first = pl.col("start").min() if "start" in cols else pl.col("time").min()
            plans.append(lf.select(first.alias("min"), pl.col("time").max().alias("max")))
        if "request_time_s" in cols:
            slow_cols = [c for c in (*SLOWEST_COLUMNS, "line") if c in cols]
            plans.append(slowest_first(lf.select(slow_cols), self.top))
        timed_buckets = self.buckets is not None and "time" in cols
        if self.buckets is not None and not timed_buckets:
            self.buckets.untimed += lines.height  # the format logs no time
        bucket_plans = self.buckets.plans(lf, cols) if self.buckets and timed_buckets else []
        by_plans = self.breakdowns.plans(lf, cols) if self.breakdowns is not None else []
        collected = pl.collect_all(plans + bucket_plans + by_plans)
        if self.buckets is not None and bucket_plans:
            self.buckets.take(collected[len(plans) : len(plans) + len(bucket_plans)], cols)
        if self.breakdowns is not None:
            self.breakdowns.take(collected[len(plans) + len(bucket_plans) :])
        results = iter(collected[: len(plans)])
        self.statuses.append(next(results))
        if "request_time_s" in cols:
            self.hist.append(next(results))
        if "upstream_time_s" in cols:
            self.upstream_hist.append(next(results))
        self.routes.append(next(results))
        if "time" in cols:
            lo, hi = next(results).row(0)
            if lo is not None:
                self.time_min = lo if self.time_min is None else min(self.time_min, lo)
            if hi is not None:
                self.time_max = hi if self.time_max is None else max(self.time_max, hi)
        if "request_time_s" in cols:
            self.slowest.append(next(results))
        self._compact()

    def _guarded(self, lines: pl.DataFrame) -> pl.DataFrame:
        """The chunk with its routes under the cardinality guard; the partials so far
        rewritten when routes seen before collapse now."""
        if "route" not in lines.columns:
            return lines
        routes, collapsed = self.guard.guarded(lines.get_column("route"))
        if collapsed:
            self._rewrite()
        return lines.with_columns(routes)

    def _rewrite(self) -> None:
        """Routes that collapsed: their partials merge under the new name."""
        route = self.guard.expr(pl.col("route")).alias("route")
        renamed = [
            [f.with_columns(route) for f in frames]
            for frames in (self.hist, self.upstream_hist, self.statuses, self.routes)
        ]
        self.hist = [_sum_counts(renamed[0], ["route", "ms"])] if renamed[0] else []
        self.upstream_hist = [_sum_counts(renamed[1], ["route", "ms"])] if renamed[1] else []
        self.statuses = [_sum_counts(renamed[2], ["route", "status"])] if renamed[2] else []
        self.routes = [_merge_route_sums(renamed[3])] if renamed[3] else []
        self.slowest = [f.with_columns(route) for f in self.slowest]

    def _compact(self) -> None:
        """Merge partials now and then so their number stays small."""
        if len(self.hist) > 8:
            self.hist = [_sum_counts(self.hist, ["route", "ms"])]
        if len(self.upstream_hist) > 8:
            self.upstream_hist = [_sum_counts(self.upstream_hist, ["route", "ms"])]
        if len(self.statuses) > 8:
            self.statuses = [_sum_counts(self.statuses, ["route", "status"])]
        if len(self.routes) > 8:
            self.routes = [_merge_route_sums(self.routes)]
        if len(self.slowest) > 8:
            self.slowest = [_top(self.slowest, self.top)]


def _micros(seconds: pl.Expr) -> pl.Expr:
    return (seconds * 1e6).round(0).cast(pl.Int64)


def _route_sums(cols: list[str]) -> list[pl.Expr]:
    """Per-route sums. Request time and its parts are summed in whole microseconds, the
    upstream part counted at most up to the request time: nginx truncates the upstream
    time (monotonic clock) and the request time (wall clock) separately, so the upstream
    time can be 1 ms over; the parts then add up to the total exactly."""
    out = [pl.len().alias("count")]
    if "request_time_s" in cols:
        out.append(_micros(pl.col("request_time_s")).sum().alias("total_us"))
    if "upstream_time_s" in cols:
        out += [
            pl.col("upstream_time_s").is_not_null().sum().alias("proxied"),
            (pl.col("upstream_attempts") > 1).sum().alias("retried"),
            (pl.col("upstream_attempts") - 1).clip(lower_bound=0).sum().alias("extra_attempts"),
            pl.col("retry_cost_s").sum().alias("retry_cost_s"),
        ]
        if "request_time_s" in cols:
            total = _micros(pl.col("request_time_s"))
            inside = pl.min_horizontal(_micros(pl.col("upstream_time_s")).fill_null(0), total)
            out += [inside.sum().alias("upstream_us"), (total - inside).sum().alias("nginx_us")]
    size = bytes_expr(cols)
    if size is not None:
        out.append(size.sum().alias("bytes"))
    return out


def _in_seconds(routes: pl.DataFrame) -> pl.DataFrame:
    """The microsecond sums as seconds: total_s, upstream_total_s, nginx_total_s."""
    names = {"total_us": "total_s", "upstream_us": "upstream_total_s", "nginx_us": "nginx_total_s"}
    return routes.with_columns(
        (pl.col(us) / 1e6).alias(s) for us, s in names.items() if us in routes.columns
    ).drop(us for us in names if us in routes.columns)


def _sum_counts(frames: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    return pl.concat(frames, how="vertical_relaxed").group_by(keys).agg(pl.col("count").sum())


def _merge_route_sums(frames: list[pl.DataFrame]) -> pl.DataFrame:
    merged = pl.concat(frames, how="diagonal_relaxed")
    return merged.group_by("route").agg(pl.exclude("route").sum())


def _top(frames: list[pl.DataFrame], n: int) -> pl.DataFrame:
    return slowest_first(pl.concat(frames, how="diagonal_relaxed"), n)


@dataclass(frozen=True)
class Latency:
    """Percentiles of a set of requests, in seconds."""

    count: int
    p50_s: float
    p90_s: float
    p95_s: float
    p99_s: float
    max_s: float
    mean_s: float


@dataclass(frozen=True)
class Breakdown:
    """Where the request time went, summed over all requests."""

    total_s: float  # upstream_s + nginx_s, exactly (summed in whole microseconds)
    upstream_s: float  # all attempts, each request's counted at most up to its request time
    nginx_s: float  # request time outside any upstream: reading, queueing, slow clients
    proxied: int  # requests that went upstream
    retried: int  # requests that needed more than one attempt
    extra_attempts: int
    retry_cost_s: float  # time spent in attempts that failed


@dataclass(frozen=True)
class LatencyReport:
    """The merged result of :class:`Partials`."""

    requests: int
    time_min: datetime | None
    time_max: datetime | None
    statuses: dict[int, int]
    latency: Latency | None
    upstream_latency: Latency | None
    routes: pl.DataFrame  # one row per route, sorted by total time
    breakdown: Breakdown | None
    slowest: pl.DataFrame
    # route positions that became {*}: route, position (from 1), values (distinct)
    collapsed: pl.DataFrame = field(default_factory=lambda: RouteGuard().collapsed())
    route_values: int = MAX_VALUES  # the most distinct values a position keeps
    buckets: Buckets | None = None  # with --every
    # what the per-route figures are made of, to measure any set of routes exactly (the
    # gate): (route, ms, count) of request and upstream times, (route, status, count)
    route_hist: pl.DataFrame | None = None
    route_upstream_hist: pl.DataFrame | None = None
    route_statuses: pl.DataFrame | None = None
    breakdowns: tuple[BreakdownTable, ...] | None = None  # with --by: one table each

    @property
    def bytes_sent(self) -> int | None:
        """Bytes sent to clients ($body_bytes_sent, else $bytes_sent); None when the
        format logs neither."""
        if "bytes" not in self.routes.columns:
            return None
        return int(self.routes.get_column("bytes").sum() or 0)

    @property
    def bytes_per_s(self) -> float | None:
        """Bytes sent per second over the time range (None without bytes, or a range
        of no length)."""
        sent = self.bytes_sent
        if sent is None or self.time_min is None or self.time_max is None:
            return None
        seconds = (self.time_max - self.time_min).total_seconds()
        return sent / seconds if seconds > 0 else None

    @property
    def error_rate(self) -> float:
        """Share of requests answered with a 5xx."""
        errors = sum(n for s, n in self.statuses.items() if 500 <= s <= 599)
        return errors / self.requests if self.requests else 0.0

    @property
    def client_error_rate(self) -> float:
        errors = sum(n for s, n in self.statuses.items() if 400 <= s <= 499)
        return errors / self.requests if self.requests else 0.0


def _latency(row: dict[str, float] | None) -> Latency | None:
    if not row or not row.get("count"):
        return None
    return Latency(
        count=int(row["count"]),
        **{k: float(row[k]) for k in (*PERCENTILE_COLUMNS, "max_s", "mean_s")},
    )


def finish(p: Partials) -> LatencyReport:
    """Merge the partial aggregates into the report."""
    statuses_by_route = (
        _sum_counts(p.statuses, ["route", "status"]) if p.statuses else pl.DataFrame()
    )
    statuses: dict[int, int] = {}
    route_status = pl.DataFrame({"route": []}, schema={"route": pl.String})
    if not statuses_by_route.is_empty():
        for status, count in (
            statuses_by_route.group_by("status").agg(pl.col("count").sum()).iter_rows()
        ):
            if status is not None:
                statuses[int(status)] = int(count)
        route_status = statuses_by_route.group_by("route").agg(
            *[
                pl.col("count")
                .filter(pl.col("status").is_between(lo, lo + 99))
                .sum()
                .alias(f"{lo // 100}xx")
                for lo in (200, 300, 400, 500)
            ]
        )
    routes = (
        _merge_route_sums(p.routes)
        if p.routes
        else pl.DataFrame(schema={"route": pl.String, "count": pl.UInt32})  # no line (kept)
    )
    exact = routes.select(
        pl.col(c).sum() if c in routes.columns else pl.lit(0, pl.Int64).alias(c)
        for c in ("total_us", "upstream_us", "nginx_us")
    ).row(0)
    routes = _in_seconds(routes)
    latency = upstream = None
    hist = uhist = None
    if p.hist:
        hist = _sum_counts(p.hist, ["route", "ms"])
        latency = _latency(percentiles(hist, None).row(0, named=True))
        routes = routes.join(
            percentiles(hist, "route").drop("count"), on="route", how="left", nulls_equal=True
        )
    if p.upstream_hist:
        uhist = _sum_counts(p.upstream_hist, ["route", "ms"])
        upstream = _latency(percentiles(uhist, None).row(0, named=True))
        up_routes = percentiles(uhist, "route").select(
            "route",
            pl.col("p50_s").alias("upstream_p50_s"),
            pl.col("p99_s").alias("upstream_p99_s"),
        )
        routes = routes.join(up_routes, on="route", how="left", nulls_equal=True)
    routes = routes.join(route_status, on="route", how="left", nulls_equal=True)
    sort_by = "total_s" if "total_s" in routes.columns else "count"
    routes = routes.sort([sort_by, "route"], descending=[True, False], nulls_last=True)
    breakdown = None
    if {"upstream_total_s", "total_s"} <= set(routes.columns):
        sums = routes.select(
            pl.col("proxied").sum(),
            pl.col("retried").sum(),
            pl.col("extra_attempts").sum(),
            pl.col("retry_cost_s").sum(),
        ).row(0)
        total_us, upstream_us, nginx_us = (int(v or 0) for v in exact)
        breakdown = Breakdown(
            total_s=total_us / 1e6,
            upstream_s=upstream_us / 1e6,
            nginx_s=nginx_us / 1e6,
            proxied=int(sums[0] or 0),
            retried=int(sums[1] or 0),
            extra_attempts=int(sums[2] or 0),
            retry_cost_s=float(sums[3] or 0),
        )
    slowest = _top(p.slowest, p.top) if p.slowest else pl.DataFrame()
    return LatencyReport(
        requests=p.requests,
        time_min=p.time_min,
        time_max=p.time_max,
        statuses=dict(sorted(statuses.items())),
        latency=latency,
        upstream_latency=upstream,
        routes=routes,
        breakdown=breakdown,
        slowest=slowest,
        collapsed=p.guard.collapsed(),
        route_values=p.route_values,
        buckets=finish_buckets(p.buckets) if p.buckets is not None else None,
        route_hist=hist,
        route_upstream_hist=uhist,
        route_statuses=statuses_by_route if not statuses_by_route.is_empty() else None,
        breakdowns=finish_breakdowns(p.breakdowns) if p.breakdowns is not None else None,
    )
