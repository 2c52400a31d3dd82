"""Exact percentiles from counts per millisecond: what every latency figure of analyze
(overall, per route, per time bucket) is computed with.

Percentiles are nearest-rank: p is the smallest logged value v such that at least
ceil(p * n) requests took v or less. Every reported value is one that was logged.
"""

from __future__ import annotations

import math

import polars as pl

QUANTILES = (0.5, 0.9, 0.95, 0.99)
PERCENTILE_COLUMNS = ("p50_s", "p90_s", "p95_s", "p99_s")


def _seconds(ms: pl.Expr) -> pl.Expr:
    # Rounded so 9 ms reads 0.009, not 0.009000000000000001.
    return (ms / 1000).round(6)


def _rank(n: pl.Expr, q: float) -> pl.Expr:
    # The epsilon keeps float noise (0.95 * 20 = 19.000000000000004) from bumping a rank.
    return (n * q - 1e-9).ceil().clip(lower_bound=1)


def percentiles(hist: pl.DataFrame, by: str | None) -> pl.DataFrame:
    """Nearest-rank percentiles and max (seconds) from a ``(by, ms, count)`` histogram."""
    keys = [by] if by else []
    h = hist.sort([*keys, "ms"]).with_columns(
        pl.col("count").cum_sum().over(keys or pl.lit(1)).alias("cum"),
        pl.col("count").sum().over(keys or pl.lit(1)).alias("n"),
    )
    aggs = [
        _seconds(pl.col("ms").filter(pl.col("cum") >= _rank(pl.col("n"), q)).first()).alias(name)
        for q, name in zip(QUANTILES, PERCENTILE_COLUMNS, strict=True)
    ]
    aggs += [
        _seconds(pl.col("ms").max()).alias("max_s"),
        ((pl.col("ms") * pl.col("count")).sum() / pl.col("count").sum() / 1000).alias("mean_s"),
        pl.col("count").sum().alias("count"),
    ]
    if keys:
        return h.group_by(keys).agg(aggs)
    return h.select(aggs)


def nearest_rank(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a plain list; the definition the histogram implements."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))
    return ordered[rank - 1]
