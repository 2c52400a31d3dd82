"""Spans → traces: parents, clock offsets, whole-second placement, depth.

The rules, in order (each parent carries ``parent_guessed``):

1. An nginx upstream attempt's parent is the nginx line it was logged on (certain).
2. A SERVER span's parent is the CLIENT span that called it (matching.py; certain).
3. An app's CLIENT span's parent is the SERVER span of the same app and request that
   contains it in time (certain: one process logged both); with none containing it, the
   nearest one (guessed).
4. Any other span's parent is the shortest span of the request that contains it after
   clock correction (guessed); the request's root is its earliest, longest SERVER span,
   and whatever is still without a parent hangs under the root (guessed).

Clocks: one offset per host from every matched pair (skew.py). A host with a significant
offset keeps its logged times in a request where all its spans already nest with their
callers and callees on other hosts; where one sticks out, or nothing can be checked, the
offset is applied. Lines with whole-second
timestamps are placed inside their second by the precise spans nested under them.
``raw_start``/``raw_end`` always keep the logged times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from logtrace.timelines import matching, skew
from logtrace.timelines.skew import HostOffset

COARSE_S = 0.5  # timestamps this coarse (or worse) are placed, not trusted
_TOL_US = 1000  # nesting tolerance beyond the timestamps' own precision
_MAX_DEPTH = 64
# More spans than this under one request id is not one request but an id that clients
# reuse (a hard-coded X-Request-ID): joining them would cost the square of their number.
MAX_TRACE_SPANS = 1000


@dataclass(frozen=True)
class Timelines:
    """All spans of all requests, with parents and corrected times, and the offsets found."""

    spans: pl.DataFrame
    offsets: dict[str, HostOffset]
    corrected_requests: int = 0
    notes: list[str] = field(default_factory=list)
    oversized: dict[str, int] = field(default_factory=dict)  # request id -> spans, not joined


def _us(seconds: pl.Expr) -> pl.Expr:
    return pl.duration(microseconds=(seconds * 1e6).round(0).cast(pl.Int64))


def _offset_frame(offsets: dict[str, HostOffset]) -> pl.DataFrame:
    return pl.DataFrame(
        {"host": list(offsets), "offset_s": [o.offset_s for o in offsets.values()]},
        schema={"host": pl.String, "offset_s": pl.Float64},
    )


SIGNIFICANT_S = 0.001  # smaller offsets are within the noise of the estimate


def _nesting(pairs: pl.DataFrame, offsets: dict[str, HostOffset]) -> pl.DataFrame:
    """(request, host) pairs where the host's spans nest with every precise caller and
    callee on another host as logged: its offset is not applied there.

    Anywhere else (a span sticks out, or there is no precise pair to check) a host with a
    significant offset is corrected.
    """
    hosts = [h for h, o in offsets.items() if abs(o.offset_s) >= SIGNIFICANT_S]
    schema = {"request_id": pl.String, "host": pl.String}
    if not hosts:
        return pl.DataFrame(schema=schema)
    tol = pl.duration(microseconds=_TOL_US)
    outside = (pl.col("start") < pl.col("start_c") - tol) | (pl.col("end") > pl.col("end_c") + tol)
    checked = pairs.filter(
        (pl.col("host") != pl.col("host_c"))
        & (pl.col("precision") < COARSE_S)
        & (pl.col("precision_c") < COARSE_S)
    ).with_columns(outside.alias("outside"))
    by_host = pl.concat(
        [
            checked.select("request_id", "host", "outside"),
            checked.select("request_id", pl.col("host_c").alias("host"), "outside"),
        ]
    )
    return (
        by_host.group_by("request_id", "host")
        .agg(pl.col("outside").any().alias("bad"))
        .filter(~pl.col("bad"))
        .select("request_id", "host")
    )


def _apply_offsets(
    spans: pl.DataFrame, offsets: dict[str, HostOffset], pairs: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    significant = {h: o for h, o in offsets.items() if abs(o.offset_s) >= SIGNIFICANT_S}
    if not significant:
        times = pl.col("raw_start").alias("start"), pl.col("raw_end").alias("end")
        return spans.with_columns(pl.lit(0.0).alias("skew_s"), *times), 0
    nested = _nesting(pairs, offsets).with_columns(pl.lit(value=True).alias("_nested"))
    applied = (
        pl.when(
            pl.col("offset_s").is_not_null()
            & ~pl.col("_nested").fill_null(value=False)
            & (pl.col("precision_s") < COARSE_S)
        )
        .then(pl.col("offset_s"))
        .otherwise(0.0)
    )
    skew = (
        spans.select("request_id", "host", "precision_s")
        .join(_offset_frame(significant), on="host", how="left", maintain_order="left")
        .join(nested, on=["request_id", "host"], how="left", maintain_order="left")
        .select(applied)
        .to_series()
    )
    out = spans.with_columns(skew.alias("skew_s")).with_columns(
        (pl.col("raw_start") - _us(pl.col("skew_s"))).alias("start"),
        (pl.col("raw_end") - _us(pl.col("skew_s"))).alias("end"),
    )
    corrected = out.filter(pl.col("skew_s") != 0).get_column("request_id").n_unique()
    return out, corrected


def _place_coarse(
    spans: pl.DataFrame, pairs: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, HostOffset]]:
    """Move whole-second nginx lines (and their attempts) inside their second.

    The end of a line is where its matched precise callee started plus the upstream time
    from that attempt on; the host's window offset keeps every placement inside the second
    the host logged.
    """
    coarse = spans.filter((pl.col("precision_s") >= COARSE_S) & (pl.col("origin") == "nginx"))
    if coarse.is_empty():
        return spans, {}
    attempts = coarse.filter(pl.col("kind") == "CLIENT").with_columns(
        (pl.col("raw_end") - pl.col("raw_start")).alias("_urt"),
    )
    # Upstream time from attempt k to the end of the line: its own and every later one,
    # summed from the last attempt back (sorted once: no window per line).
    attempts = attempts.sort("line_sid", "attempt", descending=[False, True])
    summed = pl.col("_urt").cum_sum()
    new_line = pl.col("line_sid").ne_missing(pl.col("line_sid").shift(1))
    before_line = pl.when(new_line).then(summed - pl.col("_urt")).forward_fill()
    attempts = attempts.with_columns((summed - before_line).alias("_to_end"))
    # The callee's start as corrected so far (pairs hold the times they were matched on).
    precise = (
        pairs.filter(pl.col("precision") < COARSE_S)
        .select(pl.col("sid_c").alias("sid"), pl.col("sid").alias("_callee"))
        .join(
            spans.select(pl.col("sid").alias("_callee"), pl.col("start").alias("_callee_start")),
            on="_callee",
        )
        .drop("_callee")
    )
    anchored = (
        attempts.join(precise, on="sid", how="inner")
        .with_columns((pl.col("_callee_start") + pl.col("_to_end")).alias("true_end"))
        .group_by("line_sid")
        .agg(pl.col("true_end").max(), pl.col("host").first())
    )
    lines = coarse.filter(pl.col("kind") == "SERVER").select(
        pl.col("sid").alias("line_sid"), "host", pl.col("raw_end").alias("logged_end")
    )
    anchors = lines.join(anchored.drop("host"), on="line_sid", how="inner")
    windows = skew.window_offsets(anchors)
    offs = _offset_frame(windows)
    placed = (
        lines.join(offs, on="host", how="left")
        .join(anchored.select("line_sid", "true_end"), on="line_sid", how="left")
        .with_columns((pl.col("logged_end") - _us(pl.col("offset_s").fill_null(0.0))).alias("_lo"))
        .with_columns(
            pl.when(pl.col("true_end").is_not_null())
            .then(
                pl.max_horizontal(
                    pl.col("_lo"),
                    pl.min_horizontal(pl.col("true_end"), pl.col("_lo") + _us(pl.lit(0.999999))),
                )
            )
            .otherwise(pl.col("_lo") + _us(pl.lit(0.5)))  # unanchored: the middle of its second
            .alias("_end")
        )
        .select("line_sid", (pl.col("_end") - pl.col("logged_end")).alias("_shift"), "offset_s")
    )
    shifts = spans.select("line_sid").join(placed, on="line_sid", how="left", maintain_order="left")
    out = spans.with_columns(
        shifts.get_column("_shift"), shifts.get_column("offset_s")
    ).with_columns(
        pl.when(pl.col("_shift").is_not_null())
        .then(pl.col("raw_start") + pl.col("_shift"))
        .otherwise(pl.col("start"))
        .alias("start"),
        pl.when(pl.col("_shift").is_not_null())
        .then(pl.col("raw_end") + pl.col("_shift"))
        .otherwise(pl.col("end"))
        .alias("end"),
        pl.when(pl.col("_shift").is_not_null())
        .then(pl.col("offset_s").fill_null(0.0))
        .otherwise(pl.col("skew_s"))
        .alias("skew_s"),
    )
    return out.drop("_shift", "offset_s"), windows


def _client_parents(spans: pl.DataFrame) -> pl.DataFrame:
    """App CLIENT spans → the SERVER span of the same source and request around them."""
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
    tol = pl.duration(microseconds=_TOL_US)
    # Joined on the request alone (one string key hashes faster), then the source compared.
    joined = (
        clients.join(servers, on="request_id", how="inner")
        .filter(pl.col("source") == pl.col("source_right"))
        .drop("source_right")
    )
    joined = joined.with_columns(
        (
            (pl.col("p_start") <= pl.col("start") + tol) & (pl.col("p_end") >= pl.col("end") - tol)
        ).alias("inside"),
        (pl.col("start") - pl.col("p_start")).dt.total_microseconds().abs().alias("gap"),
    )
    return (
        joined.sort(["inside", "p_start", "gap"], descending=[True, True, False])
        .group_by("sid", maintain_order=True)
        .first()
        .select("sid", "parent_sid", (~pl.col("inside")).alias("parent_guessed"))
    )


def _containment_parents(spans: pl.DataFrame, orphans: pl.DataFrame) -> pl.DataFrame:
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
    tol = pl.duration(microseconds=_TOL_US)
    joined = (
        orphans.select("sid", "request_id", "source", "start", "end", dur.alias("dur"))
        .join(cands, on="request_id", how="inner")
        .filter(
            (pl.col("parent_sid") != pl.col("sid"))
            # never a span's own children: its upstream attempts or its app's calls
            & (pl.col("p_line") != pl.col("sid"))
            & ~(
                (pl.col("p_source") == pl.col("source"))
                & (pl.col("p_kind") == "CLIENT")
                & (pl.col("p_origin") == "app")
            )
            & (pl.col("p_start") <= pl.col("start") + tol)
            & (pl.col("p_end") >= pl.col("end") - tol)
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
    )
    return (
        joined.sort(["p_dur", "parent_sid"])
        .group_by("sid", maintain_order=True)
        .first()
        .select("sid", "parent_sid", pl.lit(value=True).alias("parent_guessed"))
    )


def _parents(spans: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    attempts = spans.filter((pl.col("origin") == "nginx") & (pl.col("kind") == "CLIENT")).select(
        "sid", pl.col("line_sid").alias("parent_sid"), pl.lit(value=False).alias("parent_guessed")
    )
    called = pairs.select(
        "sid", pl.col("sid_c").alias("parent_sid"), pl.lit(value=False).alias("parent_guessed")
    )
    known = pl.concat([attempts, called, _client_parents(spans)], how="vertical_relaxed")
    known = known.unique("sid", keep="first")
    # Roots: the SERVER span without a caller that may have started first (a whole-second
    # line may have started up to a second before its placed start), then the longest.
    dur = (pl.col("end") - pl.col("start")).dt.total_microseconds()
    earliest = pl.col("start") - _us(pl.col("precision_s").fill_null(0.0))
    free = spans.select("sid", "request_id", "source", "kind", "start", "end", "precision_s").join(
        known.select("sid"), on="sid", how="anti"
    )
    roots = (
        free.sort([pl.col("kind") != "SERVER", earliest, dur], descending=[False, False, True])
        .group_by("request_id", maintain_order=True)
        .first()
        .select("request_id", pl.col("sid").alias("root_sid"))
    )
    orphans = free.join(roots, left_on="sid", right_on="root_sid", how="anti")
    contained = _containment_parents(spans, orphans)
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


def _depth(spans: pl.DataFrame) -> pl.DataFrame:
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


def _break_cycles(spans: pl.DataFrame) -> pl.DataFrame:
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
    return _depth(fixed.drop("_root", "depth"))


def _flat(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans of oversized ids, in linear time: upstream attempts under their nginx line,
    everything else under the id's root (guessed); no matching, no clock correction."""
    dur = (pl.col("end") - pl.col("start")).dt.total_microseconds()
    roots = (
        spans.sort([pl.col("kind") != "SERVER", "start", dur], descending=[False, False, True])
        .group_by("request_id", maintain_order=True)
        .first()
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


def assemble(spans: pl.DataFrame, *, skew_correction: bool = True) -> Timelines:
    """Parents, corrected times and depth for spans of any number of requests.

    Ids with more than ``MAX_TRACE_SPANS`` spans are not joined (see :func:`_flat`);
    ``Timelines.oversized`` lists them, so that callers can say so.
    """
    spans = spans.with_columns(
        pl.col("raw_start").alias("start"),
        pl.col("raw_end").alias("end"),
        pl.lit(0.0).alias("skew_s"),
    )
    sizes = spans.group_by("request_id").len().filter(pl.col("len") > MAX_TRACE_SPANS)
    oversized = {str(rid): int(n) for rid, n in sizes.iter_rows()}
    flat = None
    if oversized:
        big = sizes.select("request_id")
        flat = _flat(spans.join(big, on="request_id", how="semi"))
        spans = spans.join(big, on="request_id", how="anti")
    candidates = matching.candidates(spans)
    pairs = matching.assign(matching.costed(candidates, spans))
    offsets = skew.estimate_offsets(pairs)
    corrected = 0
    notes: list[str] = []
    if skew_correction:
        spans, corrected = _apply_offsets(spans, offsets, pairs)
        spans, windows = _place_coarse(spans, pairs)
        offsets = {**offsets, **windows}
        pairs = matching.assign(matching.costed(candidates, spans))
    spans = _break_cycles(_depth(_parents(spans, pairs)))
    if flat is not None:
        spans = pl.concat([spans, flat.select(spans.columns)], how="vertical_relaxed")
    if spans.filter(pl.col("precision_s") >= COARSE_S).height:
        notes.append(
            "some nginx lines have whole-second timestamps ($time_local): they were placed "
            "inside their second using the precise spans under them"
        )
    return Timelines(
        spans=spans,
        offsets=offsets,
        corrected_requests=corrected,
        notes=notes,
        oversized=oversized,
    )
