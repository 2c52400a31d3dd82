"""``logtrace compare``: request times before and after (a deploy, a config change), per
route and overall, with whether each change is beyond noise.

Each side is analysed as ``analyze`` does (the same exact counts per millisecond of
``$request_time`` per route); the comparison works on those counts, never on lines:

- counts and nearest-rank p50/p95/p99 on each side, and their change in ms and %;
- a two-sided Mann–Whitney U test of the request times of a route before against after:
  midranks of the pooled counts (ties share their mean rank), U of the after side, the
  normal approximation with the tie correction and a continuity correction. A change is
  beyond noise when p < ``alpha`` and both sides have at least ``min_count`` requests;
  the direction is the sign of U - n1*n2/2 (after slower or faster, as a whole
  distribution, not one percentile).

Routes seen on one side only are listed as new or vanished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from logtrace.analysis.percentiles import percentiles

ALL = "(all)"  # the overall row's route
SHOWN = ("p50_s", "p95_s", "p99_s")
MIN_COUNT = 20
ALPHA = 0.01


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    ``routes``: one row per route seen on both sides, and the overall row (route ALL),
    columns route, before, after (counts), {p50,p95,p99}_s_before/_after/_change (s),
    {p50,p95,p99}_change_pct, u (of the after side), z, p_value, effect (the share of
    before/after pairs in which the after request is slower, ties counting half),
    verdict: "slower", "faster", "no change" (within noise) or "too few". Slower routes
    first (by their p99 change), then faster, then the rest.
    """

    overall: dict[str, object]
    routes: pl.DataFrame
    new_routes: pl.DataFrame  # route, count, p50_s, p95_s, p99_s (after only)
    vanished_routes: pl.DataFrame  # the same, of before
    min_count: int
    alpha: float


def _tagged(hist: pl.DataFrame | None, side: str) -> pl.DataFrame:
    schema = {"route": pl.String, "ms": pl.Int64, side: pl.Int64}
    if hist is None or hist.is_empty():
        return pl.DataFrame(schema=schema)
    return hist.select(
        pl.col("route").cast(pl.String),
        pl.col("ms").cast(pl.Int64),
        pl.col("count").cast(pl.Int64).alias(side),
    )


def mann_whitney(pooled: pl.DataFrame) -> pl.DataFrame:
    """Per route, from (route, ms, before, after) counts: n1, n2, U of the after side, z and
    the two-sided p-value (normal approximation, tie and continuity corrections)."""
    t = pl.col("before") + pl.col("after")
    ranked = pooled.sort("route", "ms").with_columns(
        # the midrank of a tie group: the ranks before it, plus (t + 1) / 2
        (t.cum_sum().over("route") - t + (t + 1) / 2).alias("midrank"),
        t.alias("t"),
    )
    stats = ranked.group_by("route").agg(
        pl.col("before").sum().alias("n1"),
        pl.col("after").sum().alias("n2"),
        (pl.col("after") * pl.col("midrank")).sum().alias("r2"),
        (pl.col("t").cast(pl.Float64) ** 3 - pl.col("t")).sum().alias("ties"),
    )
    n1, n2 = pl.col("n1").cast(pl.Float64), pl.col("n2").cast(pl.Float64)
    n = n1 + n2
    mean = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - pl.col("ties") / (n * (n - 1)))
    u = pl.col("r2") - n2 * (n2 + 1) / 2
    dev = (u - mean).abs() - 0.5  # continuity correction
    z = (pl.when(var > 0).then(dev.clip(lower_bound=0) / var.sqrt()).otherwise(0.0)) * (
        (u - mean).sign()
    )
    out = stats.with_columns(u.alias("u"), z.alias("z")).with_columns(
        (pl.col("u") / (n1 * n2)).alias("effect")
    )
    # erfc per route (a few rows), not per line: polars has no erfc
    p = [math.erfc(abs(v) / math.sqrt(2)) for v in out.get_column("z").to_list()]
    return out.with_columns(pl.Series("p_value", p, dtype=pl.Float64)).drop("r2", "ties")


def _figures(hist: pl.DataFrame, side: str) -> pl.DataFrame:
    """count and percentiles per route of one side's (route, ms, <side>) counts."""
    if hist.is_empty():
        return pl.DataFrame(
            schema={"route": pl.String, side: pl.Int64, **dict.fromkeys(SHOWN, pl.Float64)}
        )
    per = percentiles(hist.rename({side: "count"}), "route")
    return per.select("route", pl.col("count").alias(side), *(pl.col(c) for c in SHOWN))


def compare(
    before: pl.DataFrame | None,
    after: pl.DataFrame | None,
    *,
    min_count: int = MIN_COUNT,
    alpha: float = ALPHA,
) -> Comparison:
    """Compare two (route, ms, count) histograms of request times (LatencyReport.route_hist)."""
    b, a = _tagged(before, "before"), _tagged(after, "after")
    both = b.join(a, on=["route", "ms"], how="full", coalesce=True, nulls_equal=True).fill_null(0)
    every = pl.concat(
        [
            both,
            both.group_by("ms")
            .agg(pl.col("before", "after").sum())
            .with_columns(pl.lit(ALL).alias("route"))
            .select(both.columns),
        ],
        how="vertical_relaxed",
    )
    stats = mann_whitney(every)
    fb = _figures(every.filter(pl.col("before") > 0).select("route", "ms", "before"), "before")
    fa = _figures(every.filter(pl.col("after") > 0).select("route", "ms", "after"), "after")
    shared = stats.filter((pl.col("n1") > 0) & (pl.col("n2") > 0)).select(
        "route", "u", "z", "p_value", "effect"
    )
    rows = (
        shared.join(fb, on="route", nulls_equal=True)
        .join(fa, on="route", nulls_equal=True, suffix="_after")
        .rename({c: f"{c}_before" for c in SHOWN})
    )
    enough = (pl.col("before") >= min_count) & (pl.col("after") >= min_count)
    verdict = (
        pl.when(~enough)
        .then(pl.lit("too few"))
        .when(pl.col("p_value") >= alpha)
        .then(pl.lit("no change"))
        .when(pl.col("z") > 0)
        .then(pl.lit("slower"))
        .otherwise(pl.lit("faster"))
    )
    changes = []
    for c in SHOWN:
        change = pl.col(f"{c}_after") - pl.col(f"{c}_before")
        changes += [
            change.round(6).alias(f"{c}_change"),
            pl.when(pl.col(f"{c}_before") > 0)
            .then(change / pl.col(f"{c}_before"))
            .alias(f"{c.removesuffix('_s')}_change_pct"),
        ]
    order = pl.col("verdict").replace_strict(
        {"slower": 0, "faster": 1, "no change": 2, "too few": 3}, return_dtype=pl.Int8
    )
    rows = rows.with_columns(*changes, verdict.alias("verdict")).sort(
        order, pl.col("p99_s_change").abs(), "route", descending=[False, True, False]
    )
    columns = ["route", "before", "after"]
    for c in SHOWN:
        columns += [
            f"{c}_before",
            f"{c}_after",
            f"{c}_change",
            f"{c.removesuffix('_s')}_change_pct",
        ]
    columns += ["u", "z", "p_value", "effect", "verdict"]
    rows = rows.select(columns)
    overall = rows.filter(pl.col("route") == ALL)
    one_side = stats.filter(pl.col("route") != ALL)
    new = one_side.filter(pl.col("n1") == 0).select("route").join(fa, on="route")
    gone = one_side.filter(pl.col("n2") == 0).select("route").join(fb, on="route")
    return Comparison(
        overall=overall.row(0, named=True) if overall.height else {},
        routes=rows.filter(pl.col("route") != ALL),
        new_routes=new.rename({"after": "count"}).sort("count", "route", descending=[True, False]),
        vanished_routes=gone.rename({"before": "count"}).sort(
            "count", "route", descending=[True, False]
        ),
        min_count=min_count,
        alpha=alpha,
    )
