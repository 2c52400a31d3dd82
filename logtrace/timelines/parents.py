"""Parents and depth: which span called which, once clocks are corrected.

The rules, in order (each parent carries ``parent_guessed``):

1. An nginx upstream attempt's parent is the nginx line it was logged on (certain).
2. A SERVER span's parent is the CLIENT span that called it (matching.py; certain).
3. An app's CLIENT span's parent is the SERVER span of the same app and request that
   contains it in time (certain: one process logged both); with none containing it, the
   nearest one (guessed).
4. Any other span's parent is the shortest span of the request that contains it after
   clock correction (guessed); the request's root is its earliest, longest SERVER span,
   and whatever is still without a parent hangs under the root (guessed).

Depth follows the parents up to the root; a loop of parents (possible only through
guesses) is cut at the root.
"""

from __future__ import annotations

import polars as pl

from logtrace.timelines import band

TOL_US = 1000  # nesting tolerance beyond the timestamps' own precision
_MAX_DEPTH = 64


def us(seconds: pl.Expr) -> pl.Expr:
    """Seconds (float) as a duration, rounded to the microsecond."""
    return pl.duration(microseconds=(seconds * 1e6).round(0).cast(pl.Int64))


def client_parents(spans: pl.DataFrame) -> pl.DataFrame:
    """App CLIENT spans → the SERVER span of the same source and request around them: of
    those that contain a call (within ``TOL_US``), the one that started last; with none,
    the one that started last of all (guessed). The parent's id breaks ties (two
    identical lines: a log read twice), so that the same input always gives the same
    parents.

    The spans around a call are found by an inequality join (band.py): a request served
    hundreds of times in a loop, each making a call, would pair each with each.
    """
    clients = spans.filter((pl.col("kind") == "CLIENT") & (pl.col("origin") == "app")).select(
        "sid", "request_id", "source", "start", "end"
    )
    # Only a source that made calls can hold their callers' SERVER spans.
    servers = spans.filter(
        (pl.col("kind") == "SERVER")
        & pl.col("source").is_in(clients.get_column("source").unique().implode())
    ).select(
        "request_id",
        "source",
        pl.col("sid").alias("parent_sid"),
        pl.col("start").alias("p_start"),
        pl.col("end").alias("p_end"),
    )
    keys = ["request_id", "source"]
    around = (
        band.containing(clients, servers, keys, ("start", "end", "p_start", "p_end"), TOL_US)
        .sort(["p_start", "parent_sid"], descending=[True, False])
        .filter(pl.col("sid").is_first_distinct())
        .select("sid", "parent_sid", pl.lit(value=False).alias("parent_guessed"))
    )
    last = (
        servers.sort(["p_start", "parent_sid"], descending=[True, False])
        .filter(pl.struct(keys).is_first_distinct())
        .select(*keys, "parent_sid")
    )
    outside = (
        clients.join(around, on="sid", how="anti")
        .join(last, on=keys, how="inner")
        .select("sid", "parent_sid", pl.lit(value=True).alias("parent_guessed"))
    )
    return pl.concat([around, outside])


def containment_parents(spans: pl.DataFrame, orphans: pl.DataFrame) -> pl.DataFrame:
    """Orphan spans → the shortest longer span of the request that contains them."""
    if orphans.is_empty():
        return pl.DataFrame(
            schema={"sid": pl.UInt64, "parent_sid": pl.UInt64, "parent_guessed": pl.Boolean}
        )
    dur = (pl.col("end") - pl.col("start")).dt.total_microseconds()
    cands = spans.select(
        "request_id",
        pl.col("sid").alias("parent_sid"),
        pl.col("start").alias("p_start"),
        pl.col("end").alias("p_end"),
        dur.alias("p_dur"),
        pl.col("line_sid").alias("p_line"),
        pl.col("source").alias("p_source"),
        pl.col("kind").alias("p_kind"),
        pl.col("origin").alias("p_origin"),
    )
    joined = band.containing(
        orphans.select("sid", "request_id", "source", "start", "end", dur.alias("dur")),
        cands,
        ["request_id"],
        ("start", "end", "p_start", "p_end"),
        TOL_US,
    ).filter(
        (pl.col("parent_sid") != pl.col("sid"))
        # never a span's own children: its upstream attempts or its app's calls
        & (pl.col("p_line") != pl.col("sid"))
        & ~(
            (pl.col("p_source") == pl.col("source"))
            & (pl.col("p_kind") == "CLIENT")
            & (pl.col("p_origin") == "app")
        )
        # Strictly longer, or as long and a SERVER span earlier in a fixed order: an
        # order that never points back, so containment alone cannot make a cycle.
        & (
            (pl.col("p_dur") > pl.col("dur"))
            | (
                (pl.col("p_dur") == pl.col("dur"))
                & (pl.col("p_kind") == "SERVER")
                & (pl.col("parent_sid") < pl.col("sid"))
            )
        )
    )
    return (
        joined.sort(["p_dur", "parent_sid"])
        .filter(pl.col("sid").is_first_distinct())
        .select("sid", "parent_sid", pl.lit(value=True).alias("parent_guessed"))
    )


def inner_sources(spans: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """``source``, ``_inner``: whether most SERVER spans of each source have a caller."""
    called = pairs.get_column("sid")
    return (
        spans.filter(pl.col("kind") == "SERVER")
        .select("source", pl.col("sid").is_in(called.implode()).alias("_c"))
        .group_by("source")
        .agg((pl.col("_c").mean() > 0.5).alias("_inner"))
    )


def parents(
    spans: pl.DataFrame, pairs: pl.DataFrame, inner: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every span's parent from the assigned ``pairs``, the upstream attempts and the
    app calls around; one root per request. ``inner`` (:func:`inner_sources`) is learnt
    from every request; given, it is used as it is."""
    attempts = spans.filter((pl.col("origin") == "nginx") & (pl.col("kind") == "CLIENT")).select(
        "sid", pl.col("line_sid").alias("parent_sid"), pl.lit(value=False).alias("parent_guessed")
    )
    how = pl.col("guessed") if "guessed" in pairs.columns else pl.lit(value=False)
    called = pairs.select("sid", pl.col("sid_c").alias("parent_sid"), how.alias("parent_guessed"))
    known = pl.concat([attempts, called, client_parents(spans)], how="vertical_relaxed")
    known = known.unique("sid", keep="first")
    # Roots: a SERVER span without a caller, of a source whose spans mostly have one (an
    # internal proxy, an app behind nginx) only when no other is free; then the one that
    # may have started first (a whole-second line may have started up to a second before
    # its placed start), then the longest.
    dur = (pl.col("end") - pl.col("start")).dt.total_microseconds()
    # how far off a start can be: its timestamp's precision, or, once placed, the window
    # it was placed in
    off = pl.col("within_s") if "within_s" in spans.columns else pl.col("precision_s")
    earliest = pl.col("start") - us(pl.col("_off").fill_null(0.0))
    free = spans.select(
        "sid", "request_id", "source", "kind", "start", "end", off.alias("_off")
    ).join(known.select("sid"), on="sid", how="anti")
    inner = inner_sources(spans, pairs) if inner is None else inner
    free = free.join(inner, on="source", how="left").with_columns(pl.col("_inner").fill_null(False))
    roots = (
        free.sort(
            [pl.col("kind") != "SERVER", "_inner", earliest, dur, "sid"],
            descending=[False, False, False, True, False],
        )
        .filter(pl.col("request_id").is_first_distinct())
        .select("request_id", pl.col("sid").alias("root_sid"))
    )
    orphans = free.join(roots, left_on="sid", right_on="root_sid", how="anti")
    contained = containment_parents(spans, orphans)
    # Orphans are spans without a known parent: the two never share a span.
    guessed = pl.concat([known, contained], how="vertical_relaxed")
    links = (
        spans.select("sid", "request_id")
        .join(guessed, on="sid", how="left", maintain_order="left")
        .join(roots, on="request_id", how="left", maintain_order="left")
    )
    is_root = pl.col("sid") == pl.col("root_sid")
    found = links.select(
        pl.when(is_root)
        .then(None)
        .otherwise(pl.col("parent_sid").fill_null(pl.col("root_sid")))
        .alias("parent_sid"),
        pl.when(is_root)
        .then(pl.lit(value=False))
        .otherwise(pl.col("parent_guessed").fill_null(value=True))
        .alias("parent_guessed"),
    )
    return spans.with_columns(found)


def depth(spans: pl.DataFrame) -> pl.DataFrame:
    """Depth below the root by repeated parent lookups (bounded; cycles end at the cap).

    The lookups follow row numbers, found once: each step is a gather, not a join.
    """
    links = spans.select("sid", "parent_sid")
    rows = links.select(pl.col("sid").alias("parent_sid")).with_row_index("_row")
    if rows.get_column("parent_sid").n_unique() < rows.height:
        rows = rows.unique("parent_sid", keep="first")
    # A parent that is not among the spans is one step more, then the walk ends: it is
    # the extra row after the last, which has no parent.
    missing = spans.height
    parent_row = (
        links.join(rows, on="parent_sid", how="left", maintain_order="left")
        .select(pl.when(pl.col("parent_sid").is_not_null()).then(pl.col("_row").fill_null(missing)))
        .to_series()
        .extend_constant(None, 1)
    )
    up = parent_row.head(missing)
    depth = pl.zeros(missing, pl.UInt32, eager=True)
    for _ in range(_MAX_DEPTH):
        if up.null_count() == up.len():
            break
        depth = depth + up.is_not_null().cast(pl.UInt32)
        up = parent_row.gather(up)
    return spans.with_columns(depth.alias("depth"))


def break_cycles(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans that never reach a root (a loop in bad input) hang under their request's root."""
    looped = pl.col("depth") >= _MAX_DEPTH
    if spans.filter(looped).is_empty():
        return spans
    roots = spans.filter(pl.col("parent_sid").is_null()).select(
        "request_id", pl.col("sid").alias("_root")
    )
    fixed = spans.join(roots, on="request_id", how="left").with_columns(
        pl.when(looped).then(pl.col("_root")).otherwise(pl.col("parent_sid")).alias("parent_sid"),
        (looped | pl.col("parent_guessed")).alias("parent_guessed"),
    )
    return depth(fixed.drop("_root", "depth"))


def flat_spans(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans of oversized ids, in linear time: upstream attempts under their nginx line,
    everything else under the id's root (guessed); no matching, no clock correction."""
    dur = (pl.col("end") - pl.col("start")).dt.total_microseconds()
    roots = (
        spans.sort(
            [pl.col("kind") != "SERVER", "start", dur, "sid"],
            descending=[False, False, True, False],
        )
        .filter(pl.col("request_id").is_first_distinct())
        .select("request_id", pl.col("sid").alias("_root"))
    )
    is_root = pl.col("sid") == pl.col("_root")
    attempt = (pl.col("origin") == "nginx") & (pl.col("kind") == "CLIENT")
    return (
        spans.join(roots, on="request_id", how="left")
        .with_columns(
            pl.when(is_root)
            .then(None)
            .when(attempt)
            .then(pl.col("line_sid"))
            .otherwise(pl.col("_root"))
            .alias("parent_sid"),
            (~is_root & ~attempt).alias("parent_guessed"),
            pl.when(is_root)
            .then(0)
            .when(attempt & (pl.col("line_sid") != pl.col("_root")))
            .then(2)
            .otherwise(1)
            .cast(pl.UInt32)
            .alias("depth"),
        )
        .drop("_root")
    )
