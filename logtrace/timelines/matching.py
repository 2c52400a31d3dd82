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
containment in ``timelines.parents`` and are flagged as guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

_SLACK_US = 2000
MAX_ROUNDS = 8
_SEED = 0x6D61746368696E67  # "matching"
# What pairs carry on from each side (``_c`` for the caller's).
_SIDE = ("sid", "host", "precision")


@dataclass(frozen=True)
class Candidates:
    """Every plausible (callee SERVER, caller CLIENT) pair, before the part of its cost that
    depends on times: which spans can pair does not change when clocks are corrected."""

    pairs: pl.DataFrame  # request_id, sid, host, precision, *_c, _base, _i, _j, _ri, _rj
    callees: pl.DataFrame  # _row (in spans), sid, line_sid, _g (exact rank group), _shared
    callers: pl.DataFrame


def _key(*columns: str) -> pl.Expr:
    return pl.struct(*columns).hash(seed=_SEED)


def _shared(side: pl.DataFrame) -> pl.Expr:
    """Whether a row's group holds more than one line (the others' lines all rank first)."""
    by_group = side.select("_g", "line_sid").sort("_g")
    same_group = pl.col("_g") == pl.col("_g").shift(1)
    several = by_group.filter(
        same_group & pl.col("line_sid").ne_missing(pl.col("line_sid").shift(1))
    )
    return pl.col("_g").is_in(several.get_column("_g").implode()).alias("_shared")


def _rank_groups(side: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``_g``: one integer per distinct value of ``columns``, and ``_shared``.

    ``_g`` is a hash, unless two values share one (then a dense rank). A collision can only
    merge groups, so it is among the shared ones; there, equal hashes of different values
    sort next to each other, and comparing neighbours finds it.
    """
    side = side.with_columns(_key(*columns).alias("_g"))
    side = side.with_columns(_shared(side))
    by_hash = side.filter("_shared").select("_g", *columns).sort("_g")
    same_hash = pl.col("_g") == pl.col("_g").shift(1)
    differ = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in columns)
    if by_hash.select((same_hash & differ).any()).item():
        side = side.with_columns(pl.struct(*columns).rank("dense").cast(pl.UInt64).alias("_g"))
        side = side.with_columns(_shared(side))
    return side


def _ranks(side: pl.DataFrame, start: pl.Series) -> pl.Series:
    """The rank of each row's line among the lines of its group (request, path, source),
    in row order, by the line's start (its first attempt's) and then its id.

    All upstream attempts of one nginx line are one call, so they share a rank. Ranked by
    sorting once: a rank window over many small groups is evaluated group by group.
    """
    ranks = pl.repeat(1, side.height, dtype=pl.UInt32, eager=True).alias("rank")
    rows = side.get_column("_shared").arg_true()
    if rows.is_empty():
        return ranks
    side = side.filter("_shared")
    frame = side.select("sid", "line_sid", "_g", start.gather(side.get_column("_row")))
    # Only nginx lines have several spans (attempts); every other span is its own line.
    attempts = frame.filter(pl.col("line_sid") != pl.col("sid"))
    if attempts.height:
        first = attempts.group_by("line_sid").agg(pl.col("start").min().alias("_first"))
        frame = frame.join(first, on="line_sid", how="left", maintain_order="left")
        frame = frame.with_columns(pl.coalesce("_first", "start").alias("start"))
    order = frame.select(pl.arg_sort_by("_g", "start", "line_sid")).to_series()
    new_group = pl.col("_g").ne_missing(pl.col("_g").shift(1))
    new_line = new_group | pl.col("line_sid").ne_missing(pl.col("line_sid").shift(1))
    lines_so_far = new_line.cum_sum()
    before_group = pl.when(new_group).then(lines_so_far - 1).forward_fill()
    ranked = frame.select("_g", "line_sid").gather(order).select(lines_so_far - before_group)
    return ranks.scatter(rows.gather(order), ranked.to_series())


def candidates(spans: pl.DataFrame) -> Candidates:
    """Pairs of a SERVER span and a CLIENT span of another source, same request, path and
    (where both know it) method.

    Joined on one 64-bit hash of (request, path); the request and path themselves are
    compared after the join, so a hash collision cannot pair spans of different requests.
    """
    has_key = pl.col("request_id").is_not_null() & pl.col("path").is_not_null()
    base = (
        spans.select(
            "request_id",
            "path",
            "source",
            "sid",
            "line_sid",
            "kind",
            "host",
            "origin",
            "method",
            "status",
            pl.col("precision_s").alias("precision"),
        )
        .with_row_index("_row")
        .filter(has_key & pl.col("kind").is_in(["SERVER", "CLIENT"]))
        .with_columns(_key("request_id", "path").alias("_k"))
    )
    sides = {
        kind: _rank_groups(base.filter(pl.col("kind") == kind), ["request_id", "path", "source"])
        .drop("kind")
        .with_row_index(index)
        for kind, index in (("SERVER", "_i"), ("CLIENT", "_j"))
    }
    callees, callers = sides["SERVER"], sides["CLIENT"]
    caller_side = callers.drop("line_sid", "_g", "_shared").rename(
        lambda c: c if c in ("_k", "_j") else f"{c}_c"
    )
    joined = (
        callees.drop("line_sid", "_g", "_shared")
        .join(caller_side, on="_k", how="inner")
        .filter(
            (pl.col("request_id") == pl.col("request_id_c"))
            & (pl.col("path") == pl.col("path_c"))
            & (pl.col("source") != pl.col("source_c"))
            & (
                pl.col("method").is_null()
                | pl.col("method_c").is_null()
                | (pl.col("method") == pl.col("method_c"))
            )
        )
    )
    # An app served by an app directly is possible, but behind a proxy it is the proxy's.
    tier = (
        pl.when((pl.col("origin") == "app") & (pl.col("origin_c") == "app")).then(10).otherwise(0)
    )
    status_gap = (
        pl.when(pl.col("status").is_null() | pl.col("status_c").is_null())
        .then(0.0)
        .when(pl.col("status") == pl.col("status_c"))
        .then(0.0)
        .otherwise(0.5)
    )
    pairs = joined.select(
        "request_id",
        *_SIDE,
        *(f"{c}_c" for c in _SIDE),
        (tier + status_gap).alias("_base"),
        "_i",
        "_j",
        pl.col("_row").alias("_ri"),
        pl.col("_row_c").alias("_rj"),
    )
    rank_columns = ["_row", "sid", "line_sid", "_g", "_shared"]
    return Candidates(pairs, callees.select(rank_columns), callers.select(rank_columns))


def _aligned(cands: Candidates, spans: pl.DataFrame) -> bool:
    sid = spans.get_column("sid")
    return all(
        sid.gather(side.get_column("_row")).equals(side.get_column("sid"))
        for side in (cands.callees, cands.callers)
    )


def costed(cands: Candidates, spans: pl.DataFrame) -> pl.DataFrame:
    """The candidate pairs with each span's current times and a cost; lower is better.

    ``spans`` are those the candidates were found in, in the same order, with their
    times as corrected so far.
    """
    if not _aligned(cands, spans):
        cands = candidates(spans)
    start, end = spans.get_column("start"), spans.get_column("end")
    p = cands.pairs
    p = p.with_columns(
        start.gather(p.get_column("_ri")).alias("start"),
        end.gather(p.get_column("_ri")).alias("end"),
        start.gather(p.get_column("_rj")).alias("start_c"),
        end.gather(p.get_column("_rj")).alias("end_c"),
        _ranks(cands.callees, start).gather(p.get_column("_i")).alias("rank"),
        _ranks(cands.callers, start).gather(p.get_column("_j")).alias("rank_c"),
    )
    rank_gap = (pl.col("rank").cast(pl.Int64) - pl.col("rank_c").cast(pl.Int64)).abs()
    gap_s = ((pl.col("start") - pl.col("start_c")).dt.total_microseconds().abs() / 1e6).clip(
        upper_bound=5.0
    )
    # A caller waits at least as long as the work it called, unless it gave up (timeouts):
    # a 0 ms failed attempt did not carry an 11 ms request. Durations are exact even when
    # timestamps are coarse.
    duration = (pl.col("end") - pl.col("start")).dt.total_microseconds()
    duration_c = (pl.col("end_c") - pl.col("start_c")).dt.total_microseconds()
    too_short = pl.when(duration_c + _SLACK_US < duration).then(0.5).otherwise(0.0)
    # Every term but the last is a small integer or a half: their sum is exact in any order.
    cost = pl.col("_base") + rank_gap + too_short + gap_s * 0.1
    return p.select(
        "request_id",
        *_SIDE,
        "start",
        "end",
        *(f"{c}_c" for c in _SIDE),
        "start_c",
        "end_c",
        cost.alias("cost"),
    )


def assign(pairs: pl.DataFrame) -> pl.DataFrame:
    """One caller per callee and one callee per caller, mutual best first."""
    order = pairs.select(pl.arg_sort_by("cost")).to_series()
    chosen: list[pl.Series] = []
    remaining = pairs.select("sid", "sid_c").with_row_index("_p").gather(order)
    for _ in range(MAX_ROUNDS):
        if remaining.is_empty():
            break
        best = remaining.filter(pl.col("sid").is_first_distinct())  # per callee
        mutual = best.filter(pl.col("sid_c").is_first_distinct())  # per caller
        chosen.append(mutual.get_column("_p"))
        remaining = remaining.filter(
            ~pl.col("sid").is_in(mutual.get_column("sid").implode())
            & ~pl.col("sid_c").is_in(mutual.get_column("sid_c").implode())
        )
    if not chosen:
        return pairs.clear()
    return pairs.gather(pl.concat(chosen))
