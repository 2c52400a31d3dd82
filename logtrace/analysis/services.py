"""Where the time goes across hosts and services: total and self time per service.

Self time is a span's duration minus the union of its children's intervals (clamped to
the span), as Jaeger's trace statistics compute it: the time a service spent on its own
rather than waiting for calls it made. For a CLIENT span it is the time between sending
a call and the callee starting or after it finished: the wire, queues, proxies.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    return services_of([service_part(spans)])


@dataclass(frozen=True)
class ServicePart:
    """The service table of some traces before its percentiles: sums per service and
    kind, and how many spans lasted each duration (parts of disjoint requests add up)."""

    sums: pl.DataFrame
    durations: pl.DataFrame


def service_part(spans: pl.DataFrame) -> ServicePart:
    """What :func:`services_of` needs of these spans."""
    if spans.is_empty():
        return ServicePart(pl.DataFrame(), pl.DataFrame())
    timed = spans.join(self_times(spans), on="sid", how="left").with_columns(
        ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s")
    )
    sums = timed.group_by("service", "kind").agg(
        pl.len().alias("spans"),
        pl.col("request_id").n_unique().alias("requests"),
        pl.col("duration_s").sum().alias("total_s"),
        pl.col("self_s").sum().alias("self_s"),
        (pl.col("status").fill_null(0) >= 500).sum().alias("errors"),
        pl.col("host").unique().alias("hosts"),
    )
    durations = timed.group_by("service", "kind", "duration_s").agg(pl.len().alias("n"))
    return ServicePart(sums, durations)


def _nearest(q: float) -> pl.Expr:
    """The value at quantile ``q`` (polars' "nearest") of ``duration_s`` counted ``n``
    times, per service and kind, the durations sorted."""
    within = ["service", "kind"]
    rank = ((pl.col("n").sum().over(within) - 1) * q + 0.5).floor()
    return pl.col("duration_s").filter(pl.col("n").cum_sum().over(within) > rank).first()


def merged_services(parts: list[ServicePart]) -> ServicePart:
    """Service parts of disjoint requests added up into one (the durations' counts summed
    per value)."""
    parts = [p for p in parts if not p.sums.is_empty()]
    if len(parts) <= 1:
        return parts[0] if parts else ServicePart(pl.DataFrame(), pl.DataFrame())
    sums = (
        pl.concat([p.sums for p in parts])
        .group_by("service", "kind", maintain_order=True)
        .agg(
            pl.col("spans").sum(),
            pl.col("requests").sum(),
            pl.col("total_s").sum(),
            pl.col("self_s").sum(),
            pl.col("errors").sum(),
            pl.col("hosts").explode().unique(),
        )
    )
    durations = (
        pl.concat([p.durations for p in parts])
        .group_by("service", "kind", "duration_s")
        .agg(pl.col("n").sum())
    )
    return ServicePart(sums, durations)


def services_of(parts: list[ServicePart]) -> pl.DataFrame:
    """The service table of the traces of every part (each request in one part)."""
    merged = merged_services(parts)
    if merged.sums.is_empty():
        return pl.DataFrame()
    table = merged.sums.with_columns(pl.col("hosts").list.sort().list.join(", "))
    counted = merged.durations.sort("service", "kind", "duration_s")
    quantiles = counted.group_by("service", "kind").agg(
        _nearest(0.5).alias("p50_s"), _nearest(0.99).alias("p99_s")
    )
    table = table.join(quantiles, on=["service", "kind"], how="left").select(
        "service",
        "kind",
        "spans",
        "requests",
        "total_s",
        "self_s",
        "p50_s",
        "p99_s",
        "errors",
        "hosts",
    )
    grand = float(table.get_column("self_s").sum() or 0.0)
    return table.with_columns(
        (pl.col("self_s") / grand if grand else pl.lit(0.0)).alias("self_share")
    ).sort(  # ties by name: the same table however the spans were grouped
        ["self_s", "service", "kind"], descending=[True, False, False], nulls_last=True
    )


def host_table(spans: pl.DataFrame, offsets: dict[str, object]) -> pl.DataFrame:
    """Per host: its service(s), spans, requests, time precision and clock offset found."""
    return hosts_of([host_part(spans)], offsets)


def host_part(spans: pl.DataFrame) -> pl.DataFrame:
    """What :func:`hosts_of` needs of these spans: their counts per host."""
    if spans.is_empty():
        return pl.DataFrame()
    return spans.group_by("host").agg(
        pl.col("service").unique().alias("services"),
        pl.col("origin").first().alias("origin"),
        pl.len().alias("spans"),
        pl.col("request_id").n_unique().alias("requests"),
        pl.col("precision_s").max().alias("precision_s"),
        (pl.col("skew_s") != 0).sum().alias("corrected_spans"),
    )


def hosts_of(parts: list[pl.DataFrame], offsets: dict[str, object]) -> pl.DataFrame:
    """The host table of the traces of every part (each request in one part)."""
    parts = [p for p in parts if not p.is_empty()]
    if not parts:
        return pl.DataFrame()
    table = (
        pl.concat(parts)
        .group_by("host", maintain_order=True)
        .agg(
            pl.col("services").explode().unique().sort().str.join(", "),
            pl.col("origin").first(),
            pl.col("spans").sum(),
            pl.col("requests").sum(),
            pl.col("precision_s").max(),
            pl.col("corrected_spans").sum(),
        )
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
