"""Where the time goes across hosts and services: total and self time per service.

Self time is a span's duration minus the union of its children's intervals (clamped to
the span), as Jaeger's trace statistics compute it: the time a service spent on its own
rather than waiting for calls it made. For a CLIENT span it is the time between sending
a call and the callee starting or after it finished: the wire, queues, proxies.
"""

from __future__ import annotations

import polars as pl

from logtrace.frames import max_before


def self_times(spans: pl.DataFrame) -> pl.DataFrame:
    """``sid`` and ``self_s`` for every span (vectorised interval union per parent)."""
    parents = spans.select(
        pl.col("sid").alias("parent_sid"),
        pl.col("start").alias("p_start"),
        pl.col("end").alias("p_end"),
    )
    children = (
        spans.filter(pl.col("parent_sid").is_not_null())
        .select("parent_sid", "start", "end")
        .join(parents, on="parent_sid", how="inner")
        .with_columns(
            pl.max_horizontal("start", "p_start").alias("start"),
            pl.min_horizontal("end", "p_end").alias("end"),
        )
        .filter(pl.col("end") > pl.col("start"))
    )
    # Swept in order of start: each child adds what it reaches past the children before it.
    reached = max_before(children, ["parent_sid"], "start", "end")
    added = pl.col("end") - pl.max_horizontal("start", pl.col("_reached"))
    covered = (
        children.with_columns(reached.alias("_reached"))
        .group_by("parent_sid")
        .agg((added.dt.total_microseconds().clip(lower_bound=0).sum() / 1e6).alias("covered_s"))
    )
    duration = (pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6
    return (
        spans.select("sid", duration.alias("duration_s"))
        .join(covered.rename({"parent_sid": "sid"}), on="sid", how="left")
        .select(
            "sid",
            (pl.col("duration_s") - pl.col("covered_s").fill_null(0.0))
            .clip(lower_bound=0.0)
            .alias("self_s"),
        )
    )


def service_table(spans: pl.DataFrame) -> pl.DataFrame:
    """Per service and span kind: spans, requests, total and self time, errors, hosts."""
    if spans.is_empty():
        return pl.DataFrame()
    timed = spans.join(self_times(spans), on="sid", how="left").with_columns(
        ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s")
    )
    table = timed.group_by("service", "kind").agg(
        pl.len().alias("spans"),
        pl.col("request_id").n_unique().alias("requests"),
        pl.col("duration_s").sum().alias("total_s"),
        pl.col("self_s").sum().alias("self_s"),
        pl.col("duration_s").quantile(0.5, "nearest").alias("p50_s"),
        pl.col("duration_s").quantile(0.99, "nearest").alias("p99_s"),
        (pl.col("status").fill_null(0) >= 500).sum().alias("errors"),
        pl.col("host").unique().sort().str.join(", ").alias("hosts"),
    )
    grand = float(table.get_column("self_s").sum() or 0.0)
    return table.with_columns(
        (pl.col("self_s") / grand if grand else pl.lit(0.0)).alias("self_share")
    ).sort("self_s", descending=True)


def host_table(spans: pl.DataFrame, offsets: dict[str, object]) -> pl.DataFrame:
    """Per host: its service(s), spans, requests, time precision and clock offset found."""
    if spans.is_empty():
        return pl.DataFrame()
    table = spans.group_by("host").agg(
        pl.col("service").unique().sort().str.join(", ").alias("services"),
        pl.col("origin").first().alias("origin"),
        pl.len().alias("spans"),
        pl.col("request_id").n_unique().alias("requests"),
        pl.col("precision_s").max().alias("precision_s"),
        (pl.col("skew_s") != 0).sum().alias("corrected_spans"),
    )
    rows = []
    for host in table.get_column("host").to_list():
        off = offsets.get(host)
        rows.append(
            {
                "host": host,
                "offset_s": getattr(off, "offset_s", None),
                "offset_pairs": getattr(off, "pairs", None),
                "offset_spread_s": getattr(off, "spread_s", None),
                "offset_method": getattr(off, "method", None),
            }
        )
    extra = pl.DataFrame(
        rows,
        schema={
            "host": pl.String,
            "offset_s": pl.Float64,
            "offset_pairs": pl.Int64,
            "offset_spread_s": pl.Float64,
            "offset_method": pl.String,
        },
    )
    return table.join(extra, on="host", how="left").sort("host")
