"""Slow clients and big bodies (``slow_client``).

nginx's request time minus the time spent in upstream attempts is time nginx spent with
the client: reading the request (an upload, with request buffering on) and sending the
response. When it is at least ``slow_client_share`` of the request and at least
``slow_client_min_s``, the client or the body size, not the backend, is what is slow.
The "saving" is that nginx-side time (what a faster client or a smaller body would cut).
False positives: long-polling and streaming responses.
"""

from __future__ import annotations

import polars as pl

from logtrace.analysis.insights.model import InsightOptions, finding_frame


def slow_clients(spans: pl.DataFrame, roots: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    upstream = (
        spans.filter((pl.col("origin") == "nginx") & (pl.col("kind") == "CLIENT"))
        .group_by("line_sid")
        .agg(((pl.col("end") - pl.col("start")).dt.total_microseconds().sum() / 1e6).alias("up"))
    )
    edge = (
        roots.filter(pl.col("origin") == "nginx")
        .join(upstream, left_on="sid", right_on="line_sid", how="left")
        .with_columns(
            (pl.col("duration_s") - pl.col("up").fill_null(0.0))
            .clip(lower_bound=0.0)
            .alias("nginx_s")
        )
        .filter(
            (pl.col("nginx_s") >= options.slow_client_min_s)
            & (pl.col("nginx_s") >= options.slow_client_share * pl.col("duration_s"))
        )
    )
    return finding_frame(
        edge,
        "slow_client",
        saving=pl.col("nginx_s"),
        detail=pl.format(
            "nginx-side {} s of {} s", pl.col("nginx_s").round(3), pl.col("duration_s").round(3)
        ),
    )
