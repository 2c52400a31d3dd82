"""``logtrace insights``: what to fix, ranked by the time it would save.

Every detector (one per pattern; the rule, thresholds and known false positives are in
each module's docstring) returns one finding per request that shows the pattern, with an
estimated saving in seconds. Findings are then summed per pattern and entry route: how
many requests, their share of all request time, the saving (median per request and
total), every request id behind it (``request_ids``, the most to save first) and the first
few of them as examples for ``logtrace trace``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from logtrace.analysis.insights import calls as call_detectors
from logtrace.analysis.insights import clients, failures
from logtrace.analysis.insights.model import FINDING, InsightOptions
from logtrace.analysis.lacking import require_spans

PATTERNS: dict[str, str] = {
    "n_plus_one": "N+1 calls: batch them",
    "sequential": "independent calls in sequence: run them in parallel",
    "repeated": "identical calls repeated: cache or reuse the answer",
    "retry": "retries: fix the failing upstream",
    "abandoned": "work after a timeout or a client gave up: cancel it",
    "slow_client": "slow client or big body: nginx-side time dominates",
    "swallowed_error": "downstream errors swallowed: the request succeeded anyway",
}

SUMMARY = {
    "pattern": pl.String(),
    "route": pl.String(),  # the entry's method and route, "GET /api/users/{id}"
    "requests": pl.UInt32(),
    "share": pl.Float64(),  # these requests' whole duration, of all request time
    "saving_p50_s": pl.Float64(),
    "saving_total_s": pl.Float64(),
    "examples": pl.List(pl.String()),  # the first few of request_ids
    "detail": pl.String(),  # of the request with the most to save
    "advice": pl.String(),
    "request_ids": pl.List(pl.String()),  # every request behind the row, most to save first
}
"""A summary row per (pattern, route): the columns and their order."""

__all__ = [
    "PATTERNS",
    "SUMMARY",
    "InsightOptions",
    "InsightPart",
    "Insights",
    "find_insights",
    "insight_part",
    "insights_of",
]


@dataclass(frozen=True)
class Insights:
    """Findings per request, their summary per pattern and route, and hot targets."""

    # one row per (request, pattern): request_id, pattern, saving_s, detail, method, route,
    # duration_s; the most to save first
    findings: pl.DataFrame
    # one row per (pattern, route), ranked by total saving, with its request_ids
    summary: pl.DataFrame
    hot_targets: pl.DataFrame
    requests: int
    total_s: float


def roots_of(spans: pl.DataFrame) -> pl.DataFrame:
    """Each request's entry span with its route and duration."""
    return (
        spans.filter(pl.col("parent_sid").is_null())
        .select(
            "request_id",
            "sid",
            "origin",
            "status",
            "start",
            "end",
            pl.coalesce("route", "path").fill_null("(no route)").alias("route"),
            pl.col("method").fill_null(""),
            ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s"),
        )
        .unique("request_id", keep="first")
    )


def find_insights(
    spans: pl.DataFrame, options: InsightOptions | None = None, *, required: bool = True
) -> Insights:
    """Run every detector over all traces and rank what they found.

    ``required``: raise NoMatchError when there is nothing to look at (no trace, or none
    lasting any time: the logs have no request ids or request times), rather than finding
    nothing in it.
    """
    if required:
        require_spans(spans, "no trace to look at")
    options = options or InsightOptions()
    return insights_of([insight_part(spans, options)], options)


@dataclass(frozen=True)
class InsightPart:
    """What the detectors found in some traces, before it is ranked: parts of disjoint
    requests add up (every detector looks inside one request)."""

    per_request: pl.DataFrame  # as Insights.findings, in no order
    targets: pl.DataFrame  # calls.target_sums
    requests: int
    total_s: float


def insight_part(spans: pl.DataFrame, options: InsightOptions) -> InsightPart:
    """Every detector run over these traces."""
    roots = roots_of(spans)
    c = call_detectors.calls(spans)
    detectors: list[Callable[[], pl.DataFrame]] = [
        lambda: call_detectors.n_plus_one(c, options),
        lambda: call_detectors.sequential(c, options),
        lambda: call_detectors.repeated(c, options),
        lambda: failures.upstream_retries(spans, options),
        lambda: failures.app_retries(c, options),
        lambda: failures.abandoned(spans, roots, options),
        lambda: failures.swallowed(c, roots, options),
        lambda: clients.slow_clients(spans, roots, options),
    ]
    found = pl.concat([d().cast(FINDING) for d in detectors], how="vertical")  # type: ignore[arg-type]
    # One finding per request and pattern: a request with two N+1 groups saves both.
    per_request = (
        found.group_by("request_id", "pattern")
        .agg(
            # to the microsecond: a sum's last bits depend on the order polars adds in,
            # and orders (most to save first) must not
            pl.col("saving_s").sum().round(6),
            pl.col("detail").sort_by(["saving_s", "detail"], descending=[True, False]).first(),
        )
        .join(
            roots.select("request_id", "method", "route", "duration_s"), on="request_id", how="left"
        )
    )
    return InsightPart(
        per_request=per_request,
        targets=call_detectors.target_sums(c),
        requests=roots.height,
        total_s=float(roots.get_column("duration_s").sum() or 0.0),
    )


def insights_of(parts: list[InsightPart], options: InsightOptions) -> Insights:
    """The findings of every part, ranked."""
    per_request = pl.concat([p.per_request for p in parts])
    total = sum(p.total_s for p in parts)
    return Insights(
        findings=per_request.sort(
            ["saving_s", "request_id", "pattern"], descending=[True, False, False]
        ),
        summary=_summary(per_request, total, options),
        hot_targets=call_detectors.hot_of([p.targets for p in parts], options),
        requests=sum(p.requests for p in parts),
        total_s=total,
    )


def _summary(per_request: pl.DataFrame, total: float, options: InsightOptions) -> pl.DataFrame:
    if per_request.is_empty():
        return pl.DataFrame(schema=SUMMARY)
    most_first = [pl.col("saving_s"), pl.col("request_id")]
    return (
        per_request.with_columns(
            pl.concat_str([pl.col("method"), pl.col("route")], separator=" ")
            .str.strip_chars()
            .alias("route")
        )
        .group_by("pattern", "route")
        .agg(
            pl.len().alias("requests"),
            (pl.col("duration_s").sum() / (total or 1.0)).alias("share"),
            pl.col("saving_s").quantile(0.5, "nearest").alias("saving_p50_s"),
            pl.col("saving_s").sum().round(6).alias("saving_total_s"),
            pl.col("request_id").sort_by(most_first, descending=[True, False]).alias("request_ids"),
            pl.col("detail").sort_by(most_first, descending=[True, False]).first(),
        )
        .with_columns(
            pl.col("request_ids").list.head(options.top_examples).alias("examples"),
            pl.col("pattern").replace_strict(PATTERNS, default=None).alias("advice"),
        )
        .select(list(SUMMARY))
        .sort(["saving_total_s", "pattern", "route"], descending=[True, False, False])
    )
