"""Spans → traces: clock offsets, whole-second placement, then parents and depth.

Which span called which is decided in two places: ``matching.py`` pairs each SERVER span
with the CLIENT span that called it, and ``parents.py`` holds every rule for parents
(with ``parent_guessed`` where time containment alone decided).

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
from logtrace.timelines.parents import TOL_US, break_cycles, depth, flat_spans, parents, us
from logtrace.timelines.skew import HostOffset

COARSE_S = 0.5  # timestamps this coarse (or worse) are placed, not trusted
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
    tol = pl.duration(microseconds=TOL_US)
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
        (pl.col("raw_start") - us(pl.col("skew_s"))).alias("start"),
        (pl.col("raw_end") - us(pl.col("skew_s"))).alias("end"),
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
        .with_columns((pl.col("logged_end") - us(pl.col("offset_s").fill_null(0.0))).alias("_lo"))
        .with_columns(
            pl.when(pl.col("true_end").is_not_null())
            .then(
                pl.max_horizontal(
                    pl.col("_lo"),
                    pl.min_horizontal(pl.col("true_end"), pl.col("_lo") + us(pl.lit(0.999999))),
                )
            )
            .otherwise(pl.col("_lo") + us(pl.lit(0.5)))  # unanchored: the middle of its second
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


def assemble(spans: pl.DataFrame, *, skew_correction: bool = True) -> Timelines:
    """Parents, corrected times and depth for spans of any number of requests.

    Ids with more than ``MAX_TRACE_SPANS`` spans are not joined (see :func:`parents.flat_spans`);
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
        flat = flat_spans(spans.join(big, on="request_id", how="semi"))
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
    spans = break_cycles(depth(parents(spans, pairs)))
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
