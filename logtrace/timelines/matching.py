"""Who called whom: pair each SERVER span with the CLIENT span that called it.

The hop structure of a request is edge nginx → app → (internal nginx) → service. A
SERVER span's caller is a CLIENT span of the same request, logged by another source, for
the same method and path. When several fit:

* a proxy hop beats a direct one: an app span is preferably called by an nginx upstream
  attempt, an nginx span by an app's call (``tier``);
* the i-th call from a source pairs with the i-th served request of another source
  (ranks by start time; each source's ranks come from one clock, so skew does not
  reorder them);
* the attempt whose upstream status equals the served status wins (retries);
* then the nearest start time.

Pairs are assigned one to one, mutual best first, in a few vectorised rounds. The rest
of the parents (a call made inside a served request, spans nobody claims) come from time
containment in ``timelines.assemble`` and are flagged as guessed.
"""

from __future__ import annotations

import polars as pl

_KEYS = ["request_id", "path"]
_SLACK_US = 2000
MAX_ROUNDS = 8


def _line_ranks(spans: pl.DataFrame) -> pl.DataFrame:
    """``line_sid`` → the rank of its line among the lines of its (request, path, source).

    All upstream attempts of one nginx line are one call, so they share a rank. Ranked by
    sorting once: a rank window over many small groups is evaluated group by group.
    """
    keys = ["request_id", "path", "source"]
    # Only nginx lines have several spans (attempts); every other span is its own line.
    first = (
        spans.filter(pl.col("line_sid") != pl.col("sid"))
        .group_by("line_sid")
        .agg(pl.col("start").min().alias("_first"))
    )
    lines = (
        spans.filter(pl.col("line_sid") == pl.col("sid"))
        .select(*keys, "line_sid", "start")
        .join(first, on="line_sid", how="left")
        .select(*keys, "line_sid", pl.coalesce("_first", "start").alias("_line_start"))
    )
    attempts_only = spans.filter(pl.col("line_sid") != pl.col("sid")).join(
        lines.select("line_sid"), on="line_sid", how="anti"
    )
    if attempts_only.height:  # attempts whose line is not in this set of spans
        lines = pl.concat(
            [
                lines,
                attempts_only.group_by("line_sid")
                .agg(*(pl.col(k).first() for k in keys), pl.col("start").min().alias("_line_start"))
                .select(*keys, "line_sid", "_line_start"),
            ]
        )
    ranked = lines.sort([*keys, "_line_start", "line_sid"]).with_row_index("_i")
    return ranked.select(
        "line_sid", (pl.col("_i") - pl.col("_i").min().over(keys) + 1).alias("_rank")
    )


def _ranked(spans: pl.DataFrame, suffix: str) -> pl.DataFrame:
    spans = spans.join(_line_ranks(spans), on="line_sid", how="left")
    return spans.select(
        "request_id",
        "path",
        pl.col("sid").alias(f"sid{suffix}"),
        pl.col("source").alias(f"source{suffix}"),
        pl.col("host").alias(f"host{suffix}"),
        pl.col("origin").alias(f"origin{suffix}"),
        pl.col("method").alias(f"method{suffix}"),
        pl.col("status").alias(f"status{suffix}"),
        pl.col("start").alias(f"start{suffix}"),
        pl.col("end").alias(f"end{suffix}"),
        pl.col("precision_s").alias(f"precision{suffix}"),
        pl.col("_rank").alias(f"rank{suffix}"),
    )


def candidate_pairs(spans: pl.DataFrame) -> pl.DataFrame:
    """Every plausible (callee SERVER, caller CLIENT) pair with a cost; lower is better."""
    has_key = pl.col("request_id").is_not_null() & pl.col("path").is_not_null()
    callees = _ranked(spans.filter((pl.col("kind") == "SERVER") & has_key), "")
    callers = _ranked(spans.filter((pl.col("kind") == "CLIENT") & has_key), "_c")
    pairs = callees.join(callers, on=_KEYS, how="inner").filter(
        (pl.col("source") != pl.col("source_c"))
        & (
            pl.col("method").is_null()
            | pl.col("method_c").is_null()
            | (pl.col("method") == pl.col("method_c"))
        )
    )
    # An app served by an app directly is possible, but behind a proxy it is the proxy's.
    tier = (
        pl.when((pl.col("origin") == "app") & (pl.col("origin_c") == "app")).then(10).otherwise(0)
    )
    rank_gap = (pl.col("rank").cast(pl.Int64) - pl.col("rank_c").cast(pl.Int64)).abs()
    status_gap = (
        pl.when(pl.col("status").is_null() | pl.col("status_c").is_null())
        .then(0.0)
        .when(pl.col("status") == pl.col("status_c"))
        .then(0.0)
        .otherwise(0.5)
    )
    gap_s = ((pl.col("start") - pl.col("start_c")).dt.total_microseconds().abs() / 1e6).clip(
        upper_bound=5.0
    )
    # A caller waits at least as long as the work it called, unless it gave up (timeouts):
    # a 0 ms failed attempt did not carry an 11 ms request. Durations are exact even when
    # timestamps are coarse.
    duration = (pl.col("end") - pl.col("start")).dt.total_microseconds()
    duration_c = (pl.col("end_c") - pl.col("start_c")).dt.total_microseconds()
    too_short = pl.when(duration_c + _SLACK_US < duration).then(0.5).otherwise(0.0)
    return pairs.with_columns(
        (tier + rank_gap + status_gap + too_short + gap_s * 0.1).alias("cost")
    )


def assign(pairs: pl.DataFrame) -> pl.DataFrame:
    """One caller per callee and one callee per caller, mutual best first."""
    chosen: list[pl.DataFrame] = []
    remaining = pairs.sort("cost")
    for _ in range(MAX_ROUNDS):
        if remaining.is_empty():
            break
        best = remaining.group_by("sid", maintain_order=True).first()  # per callee
        mutual = best.group_by("sid_c", maintain_order=True).first()  # per caller
        chosen.append(mutual)
        remaining = remaining.join(mutual.select("sid"), on="sid", how="anti").join(
            mutual.select("sid_c"), on="sid_c", how="anti"
        )
    if not chosen:
        return pairs.clear()
    return pl.concat(chosen)
