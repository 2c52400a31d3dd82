"""Who called whom: pair each SERVER span with the CLIENT span that called it.

A SERVER span's caller is a CLIENT span of the same request, logged by another source,
for the same path as it reached the callee (a proxy may strip, add or replace a prefix:
``paths.py`` learns how each hop rewrites paths) and, where both know it, the same
method. When several fit, the cost of a pair decides, lowest first:

* a proxy hop beats a direct one: an app span is preferably called by an nginx upstream
  attempt, not by the app whose call reached that proxy (``tier``);
* the i-th call from a source pairs with the i-th served request of another source
  (``rank``: precise spans ranked by their logged start, whole-second lines by the order
  they were written, which is the order they ended; each source's ranks come from one
  clock, so skew does not reorder them);
* the attempt whose upstream status equals the served status wins (retries);
* a caller waits at least as long as the work it called (unless it gave up), and a real
  hop waits little longer than its callee: the closest durations win (durations are exact
  even when timestamps are whole seconds); an app that logs its end late outlasts every
  candidate, and then the one it outlasts least (not an attempt that failed at once);
* a call that names its callee (``peer``) prefers spans of a service, host or proxy
  prefix of that name;
* an identical path beats a rewritten one; then the nearest start time.

Pairs are assigned one to one, mutual best first, in a few vectorised rounds. The rest
of the parents (a call made inside a served request, spans nobody claims) come from
``timelines.parents``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtrace.timelines import band, names
from logtrace.timelines.paths import PathMappings, mapped_paths

SLACK_US = 2000
MAX_ROUNDS = 8
COARSE_S = 0.5  # timestamps this coarse (or worse) are placed, not trusted
_SEED = 0x6D61746368696E67  # "matching"
# What pairs carry on from each side (``_c`` for the caller's).
_SIDE = ("sid", "host", "precision")

# Cost terms (see the module docstring). Ranks are whole numbers and dominate; the rest
# break ties between candidates of equal rank.
TIER = 10.0
STATUS_DIFFERS = 0.5
TOO_SHORT = 0.5
WAITED_MORE = 0.3  # per second the caller waited beyond its callee (capped at 1 s)
MAPPED = 0.1
NAME_FITS = -0.3
NAME_DIFFERS = 0.5
START_GAP = 0.1  # per second between the starts (capped at 5 s)
ADDRESS_DIFFERS = 3.0  # an upstream attempt to the address of another source's instance
ADDRESS_SHARE = 0.6  # of the callees an address reached: a majority (ranks mislead the rest)
# Pairs further apart in rank are no candidates: the other terms add up to at most
# TIER + ADDRESS_DIFFERS + 2.4, so such a pair loses to its callee's pair of equal rank
# whatever either costs otherwise. A callee without one (a log that lost lines) would be
# paired by ranks that far apart, a guess: it is left to the later steps (leftovers.py).
RANK_BAND = 16


@dataclass(frozen=True)
class Candidates:
    """Every plausible (callee SERVER, caller CLIENT) pair with the part of its cost that
    does not depend on clock corrections (everything but the start gap)."""

    pairs: pl.DataFrame  # request_id, sid, host, precision, *_c, _base, _ri, _rj
    rows: pl.Series  # the sids of the spans the pairs index (``_ri``/``_rj``)
    mappings: PathMappings


def _key(*columns: str) -> pl.Expr:
    return pl.struct(*columns).hash(seed=_SEED)


def _rank_times(side: pl.DataFrame) -> pl.Series:
    """When each row's line starts, for ranking: a precise line's first logged start, a
    whole-second line's logged end (its order in the file breaks ties: nginx writes a
    line when the request ends, so equal seconds keep the order they ended)."""
    coarse = pl.col("precision") >= COARSE_S
    own = side.select(pl.when(coarse).then("raw_end").otherwise("raw_start").alias("t"))
    attempts = side.filter(pl.col("line_sid") != pl.col("sid"))
    if attempts.is_empty():
        return own.to_series()
    per_line = side.group_by("line_sid").agg(
        pl.when(coarse.first())
        .then(pl.col("raw_end").max())
        .otherwise(pl.col("raw_start").min())
        .alias("t")
    )
    return (
        side.select("line_sid")
        .join(per_line, on="line_sid", how="left", maintain_order="left")
        .get_column("t")
    )


def _ranked(side: pl.DataFrame, by_peer: bool = False) -> pl.DataFrame:
    """``side`` with the ``rank`` of each row's line among the lines of its group
    (request, path, source; and peer for calls): by :func:`_rank_times`, then line number.

    All upstream attempts of one nginx line are one call, so they share a rank. Ranked by
    sorting once: a rank window over many small groups is evaluated group by group. A
    group is one hash of its columns, unless two groups share one (then a dense rank of
    the columns): equal hashes are next to each other once sorted, so one pass over the
    sorted rows tells.
    """
    # Calls are ranked per peer too: a proxy that balances identical calls over instances
    # sends the i-th call to an instance, not the i-th call, to its i-th served request.
    group = ["request_id", "path", "source", *(["peer"] if by_peer else [])]
    frame = side.select(
        _key(*group).alias("_g"), "line_sid", "line_no", _rank_times(side), *group
    ).with_row_index("_pos")
    order = ("_g", "t", "line_no", "line_sid")
    ordered = frame.sort(order)
    same = pl.col("_g") == pl.col("_g").shift(1)
    differ = pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in group)
    if ordered.select((same & differ).any()).item():
        dense = pl.struct(*group).rank("dense").cast(pl.UInt64).alias("_g")
        ordered = frame.with_columns(dense).sort(order)
    new_group = pl.col("_g").ne_missing(pl.col("_g").shift(1))
    new_line = new_group | pl.col("line_sid").ne_missing(pl.col("line_sid").shift(1))
    lines_so_far = new_line.cum_sum()
    before_group = pl.when(new_group).then(lines_so_far - 1).forward_fill()
    ranks = ordered.select("_pos", (lines_so_far - before_group).cast(pl.UInt32).alias("rank"))
    return side.with_columns(ranks.sort("_pos").get_column("rank"))


_COLUMNS = (
    "request_id",
    "path",
    "source",
    "sid",
    "line_sid",
    "line_no",
    "kind",
    "host",
    "service",
    "origin",
    "method",
    "status",
    "peer",
    "raw_start",
    "raw_end",
)


# What a candidate pair's cost is made of (_static_cost), from either side.
_CALLEE = (
    "request_id", *_SIDE, "_row", "origin", "service", "status", "rank", "raw_start", "raw_end"
)  # fmt: skip
_CALLER = (
    *(f"{c}_c" for c in (*_SIDE, "_row", "origin", "status", "rank", "raw_start", "raw_end")),
    "peer_c", "_serving_us_c", "via", "via_c", "mapped",
)  # fmt: skip


def candidates(spans: pl.DataFrame, mappings: PathMappings | None = None) -> Candidates:
    """Pairs of a SERVER span and a CLIENT span of another source, same request, the same
    path once the hop's rewrite is undone, and (where both know it) the same method.

    Joined on one 64-bit hash of (request, path); the request and path themselves are
    compared after the join, so a hash collision cannot pair spans of different requests.
    """
    mappings = mappings or PathMappings.empty()
    has_key = pl.col("request_id").is_not_null() & pl.col("path").is_not_null()
    base = (
        spans.select(*_COLUMNS, pl.col("precision_s").alias("precision"))
        .with_row_index("_row")
        .filter(has_key & pl.col("kind").is_in(["SERVER", "CLIENT"]))
    )
    if base.get_column("source").n_unique() < 2:  # a pair's spans are of two sources
        return Candidates(_empty_pairs(), spans.get_column("sid"), mappings)
    # Each request as an integer code, to compare the rows a join on a hash finds before
    # they are gathered in full: a key shared by many rows (a collision) stays cheap.
    code = base.select(pl.col("request_id").unique(maintain_order=True)).with_row_index("_rq")
    base = base.join(code, on="request_id", how="left", maintain_order="left")
    callees = _ranked(base.filter(pl.col("kind") == "SERVER")).drop("kind")
    callers = _ranked(base.filter(pl.col("kind") == "CLIENT"), by_peer=True).drop("kind")
    callers = callers.join(_serving(spans), on="sid", how="left")
    variants = pl.concat(
        [
            callers.with_columns(
                pl.lit(None, pl.String).alias("to_source"),
                pl.lit(None, pl.String).alias("via"),
                pl.lit(None, pl.String).alias("via_c"),
                pl.lit(value=False).alias("mapped"),
            ),
            mapped_paths(callers, mappings).with_columns(pl.lit(value=True).alias("mapped")),
        ],
        how="diagonal_relaxed",
    )
    # Joined on the hash alone, then the request compared as its code and only the rows
    # left gathered in full (their paths compared then).
    callees = callees.with_row_index("_i")
    variants = variants.with_row_index("_v")
    keys = callees.select(_key("request_id", "path").alias("_k"), "_i", "_rq", "rank")
    keys_c = variants.select(
        _key("request_id", "path").alias("_k"),
        "_v",
        pl.col("_rq").alias("_rq_c"),
        pl.col("rank").alias("rank_c"),
    )
    hits = _hits(keys, keys_c).filter(pl.col("_rq") == pl.col("_rq_c"))
    caller_side = variants.drop("_rq").rename(
        lambda c: c if c in ("_v", "to_source", "via", "via_c", "mapped") else f"{c}_c"
    )
    # The rows are gathered by position (``_i``, ``_v``): first the columns that decide
    # whether a hit is a candidate, then every column of the hits that are.
    callees = callees.drop("_rq")
    tested = pl.concat(
        [
            callees.select("path", "source", "method")[hits.get_column("_i")],
            caller_side.select("path_c", "source_c", "to_source", "method_c")[
                hits.get_column("_v")
            ],
        ],
        how="horizontal",
    )
    candidate = tested.select(
        (pl.col("path") == pl.col("path_c"))
        & (pl.col("source") != pl.col("source_c"))
        & (pl.col("to_source").is_null() | (pl.col("to_source") == pl.col("source")))
        & (
            pl.col("method").is_null()
            | pl.col("method_c").is_null()
            | (pl.col("method") == pl.col("method_c"))
        )
    ).to_series()
    hits = hits.filter(candidate)
    joined = pl.concat(
        [
            callees.select(_CALLEE)[hits.get_column("_i")],
            caller_side.select(_CALLER)[hits.get_column("_v")],
        ],
        how="horizontal",
    )
    # A callee cannot outlast the request its caller was serving, unless the caller gave
    # up (a timeout: the callee may go on): an edge request "called" by an app's call that
    # merely shares an id in its path outlasts the app's own request.
    duration = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    gave_up = pl.col("status_c").is_null() | pl.col("status_c").is_in([408, 499, 504])
    outlasts = duration > pl.col("_serving_us_c") + 2 * SLACK_US
    joined = joined.filter(~(outlasts.fill_null(value=False) & ~gave_up))
    if joined.is_empty():
        return Candidates(_empty_pairs(), spans.get_column("sid"), mappings)
    fitting = names.fit_table(joined, "peer_c", "service", "host", "via")
    joined = joined.join(
        fitting, on=["peer_c", "service", "host", "via"], how="left", nulls_equal=True
    )
    # A prefix a proxy strips often names the service behind it (/users-svc/ → users).
    prefixed = names.fit_table(joined, "via_c", "service", "host").rename({"_fits": "_via_fits"})
    joined = joined.join(prefixed, on=["via_c", "service", "host"], how="left", nulls_equal=True)
    return Candidates(_static_cost(joined), spans.get_column("sid"), mappings)


def _hits(keys: pl.DataFrame, keys_c: pl.DataFrame) -> pl.DataFrame:
    """``_i``, ``_v`` and both sides' ``_rq`` of the callees (``keys``) and callers
    (``keys_c``) of one key ``_k`` whose ranks are at most ``RANK_BAND`` apart.

    A key of ``RANK_BAND`` rows or fewer a side is joined whole (its ranks cannot be
    further apart); a larger one (identical calls in a loop) by band of ranks (band.py).
    """
    columns = ["_i", "_v", "_rq", "_rq_c"]
    large = pl.concat(band.common(f.get_column("_k"), RANK_BAND) for f in (keys, keys_c))
    if large.is_empty():
        return keys.join(keys_c, on="_k", how="inner").select(columns)
    banded = pl.col("_k").is_in(large.implode())
    small = keys.filter(~banded).join(keys_c.filter(~banded), on="_k", how="inner")
    near = band.near(
        keys.filter(banded), keys_c.filter(banded), ["_k"], ("rank", "rank_c"), RANK_BAND
    )
    return pl.concat([small.select(columns), near.select(columns)])


def _serving(spans: pl.DataFrame) -> pl.DataFrame:
    """``sid``, ``_serving_us``: how long the request a CLIENT span was made for lasted
    (an upstream attempt's nginx line; an app call's SERVER span of the same source and
    request around it, the shortest)."""
    duration = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    lines = spans.filter((pl.col("origin") == "nginx") & (pl.col("kind") == "SERVER")).select(
        pl.col("sid").alias("line_sid"), duration.alias("_serving_us")
    )
    attempts = (
        spans.filter((pl.col("origin") == "nginx") & (pl.col("kind") == "CLIENT"))
        .select("sid", "line_sid")
        .join(lines, on="line_sid", how="inner")
        .select("sid", "_serving_us")
    )
    calls = spans.filter((pl.col("origin") == "app") & (pl.col("kind") == "CLIENT")).select(
        "sid", "request_id", "source", "raw_start", "raw_end"
    )
    served = spans.filter((pl.col("origin") == "app") & (pl.col("kind") == "SERVER")).select(
        "request_id",
        "source",
        pl.col("raw_start").alias("_s"),
        pl.col("raw_end").alias("_e"),
        duration.alias("_serving_us"),
    )
    around = (
        band.containing(
            calls, served, ["request_id", "source"], ("raw_start", "raw_end", "_s", "_e"), SLACK_US
        )
        .group_by("sid")
        .agg(pl.col("_serving_us").min())
    )
    return pl.concat([attempts, around], how="vertical_relaxed")


def _empty_pairs() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"request_id": pl.String()}
    for suffix in ("", "_c"):
        schema |= {f"sid{suffix}": pl.UInt64(), f"host{suffix}": pl.String()}
        schema[f"precision{suffix}"] = pl.Float64()
    schema |= {"_base": pl.Float64(), "_ri": pl.UInt32(), "_rj": pl.UInt32()}
    return pl.DataFrame(schema=schema)


def _static_cost(joined: pl.DataFrame) -> pl.DataFrame:
    # An app served by an app directly is possible, but behind a proxy it is the proxy's.
    tier = pl.when((pl.col("origin") == "app") & (pl.col("origin_c") == "app")).then(TIER)
    status_gap = (
        pl.when(pl.col("status").is_null() | pl.col("status_c").is_null())
        .then(0.0)
        .when(pl.col("status") == pl.col("status_c"))
        .then(0.0)
        .otherwise(STATUS_DIFFERS)
    )
    rank_gap = (pl.col("rank").cast(pl.Int64) - pl.col("rank_c").cast(pl.Int64)).abs()
    # A caller waits at least as long as the work it called, unless it gave up (timeouts):
    # a 0 ms failed attempt did not carry an 11 ms request. A real hop waits little more.
    duration = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    duration_c = (pl.col("raw_end_c") - pl.col("raw_start_c")).dt.total_microseconds()
    waited = ((duration_c - duration) / 1e6).clip(0.0, 1.0)
    overran = ((duration - duration_c) / 1e6).clip(0.0, 1.0)
    wait_cost = (
        pl.when(duration_c + SLACK_US < duration)
        .then(TOO_SHORT + overran * WAITED_MORE)
        .otherwise(waited * WAITED_MORE)
    )
    name_cost = (
        pl.when(pl.col("_fits") | pl.col("_via_fits"))
        .then(NAME_FITS)
        .when(~pl.col("_fits") & (pl.col("origin") == "app"))
        .then(NAME_DIFFERS)
        .otherwise(0.0)
    )
    mapped = pl.when(pl.col("mapped")).then(MAPPED).otherwise(0.0)
    cost = tier.otherwise(0.0) + rank_gap + status_gap + wait_cost + name_cost + mapped
    return (
        joined.select(
            "request_id",
            *_SIDE,
            *(f"{c}_c" for c in _SIDE),
            cost.alias("_base"),
            pl.col("_row").alias("_ri"),
            pl.col("_row_c").alias("_rj"),
        )
        # The same pair found twice (two mappings): the cheaper one.
        .sort("_base")
        .unique(["sid", "sid_c"], keep="first", maintain_order=True)
    )


def addresses(pairs: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """``peer``, ``_at``: the source each upstream address leads to, from the pairs found
    (an address whose attempts nearly all reached one source's spans is that instance)."""
    info = spans.select("sid", "source")
    peer = spans.filter((pl.col("origin") == "nginx") & pl.col("peer").is_not_null()).select(
        pl.col("sid").alias("sid_c"), "peer"
    )
    seen = pairs.select("sid", "sid_c").join(peer, on="sid_c").join(info, on="sid")
    counts = seen.group_by("peer", "source").len()
    return (
        counts.with_columns(pl.col("len").sum().over("peer").alias("_all"))
        .filter((pl.col("len") >= 3) & (pl.col("len") >= ADDRESS_SHARE * pl.col("_all")))
        .select("peer", pl.col("source").alias("_at"))
    )


def costed(cands: Candidates, spans: pl.DataFrame, at: pl.DataFrame | None = None) -> pl.DataFrame:
    """The candidate pairs with each span's current times and a cost; lower is better.

    ``spans`` are those the candidates were found in, in the same order, with their
    times as corrected so far. ``at`` (:func:`addresses`) says which source an upstream
    address leads to: an attempt to another instance's address pays ``ADDRESS_DIFFERS``
    (identical calls spread over instances: the i-th call is not the i-th an instance got).
    """
    if not spans.get_column("sid").equals(cands.rows):  # reordered since: find them again
        cands = candidates(spans, cands.mappings)
    start, end = spans.get_column("start"), spans.get_column("end")
    p = cands.pairs
    p = p.with_columns(
        start.gather(p.get_column("_ri")).alias("start"),
        end.gather(p.get_column("_ri")).alias("end"),
        start.gather(p.get_column("_rj")).alias("start_c"),
        end.gather(p.get_column("_rj")).alias("end_c"),
    )
    gap_s = ((pl.col("start") - pl.col("start_c")).dt.total_microseconds().abs() / 1e6).clip(
        upper_bound=5.0
    )
    cost = pl.col("_base") + gap_s * START_GAP
    if at is not None and at.height:
        p = p.with_columns(
            spans.get_column("peer").gather(p.get_column("_rj")).alias("peer"),
            spans.get_column("source").gather(p.get_column("_ri")).alias("_source"),
        ).join(at, on="peer", how="left")
        cost = cost + pl.when(pl.col("_at") != pl.col("_source")).then(ADDRESS_DIFFERS).otherwise(
            0.0
        )
    return p.select(
        "request_id",
        *_SIDE,
        "start",
        "end",
        *(f"{c}_c" for c in _SIDE),
        "start_c",
        "end_c",
        cost.alias("cost"),
        pl.lit(value=False).alias("guessed"),
    )


def assign(pairs: pl.DataFrame) -> pl.DataFrame:
    """One caller per callee and one callee per caller, mutual best first."""
    order = pairs.select(pl.arg_sort_by("cost", "sid", "sid_c")).to_series()
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
