"""Spans → traces: who called whom, clock offsets, whole-second placement, parents, depth.

In order:

1. ``paths.py`` learns how each hop rewrites paths (and reads nginx.conf's rewrites);
   ``matching.py`` pairs each SERVER span with the CLIENT span that called it;
2. ``skew.py``: one offset per host from every matched pair (through whole-second
   proxies too). A host with a significant offset keeps its logged times in a request
   where all its spans already nest with their callers and callees on other hosts;
   where one sticks out, or nothing can be checked, the offset is applied;
3. ``placement.py``: whole-second lines are placed inside their second by the spans
   around them;
4. the pairs are costed again on the corrected times (and the upstream addresses learnt),
   ``leftovers.py`` has a second look at what the paths could not pair, ``parents.py``
   holds every rule for parents (``parent_guessed`` where time alone decided) and
   ``ambiguous.py`` marks the pairs the logs cannot decide (``parent_ambiguous``).

``raw_start``/``raw_end`` always keep the logged times; ``within_s`` says how exactly
``start``/``end`` are known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from logtrace.schema import SPANS
from logtrace.timelines import ambiguous, leftovers, matching, paths, placement, skew
from logtrace.timelines.facts import Facts
from logtrace.timelines.matching import COARSE_S
from logtrace.timelines.parents import (
    TOL_US,
    break_cycles,
    depth,
    flat_spans,
    inner_sources,
    parents,
    us,
)
from logtrace.timelines.paths import PathMappings
from logtrace.timelines.skew import HostOffset

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
    mappings: PathMappings = field(default_factory=PathMappings.empty)  # path rewrites per hop
    facts: Facts | None = None  # the global quantities used (see facts.py)


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


def assemble(
    spans: pl.DataFrame,
    *,
    skew_correction: bool = True,
    configured: PathMappings | None = None,
    facts: Facts | None = None,
) -> Timelines:
    """Parents, corrected times and depth for spans of any number of requests.

    Ids with more than ``MAX_TRACE_SPANS`` spans are not joined (see :func:`parents.flat_spans`);
    ``Timelines.oversized`` lists them, so that callers can say so. What is learnt from all
    the requests together comes back in ``Timelines.facts``; given ``facts`` (learnt on
    all the requests), a part of them is assembled exactly as it would be among all.
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
    if facts is None:
        mappings = paths.learn(spans).plus(configured or PathMappings.empty())
    else:
        mappings = facts.mappings
    candidates = matching.candidates(spans, mappings)
    pairs = matching.assign(matching.costed(candidates, spans))
    evidence = pl.concat([pairs, skew.through_proxies(pairs, spans, COARSE_S)])
    ntp = skew.estimate_offsets(evidence) if facts is None else facts.offsets
    offsets = ntp
    corrected = 0
    notes: list[str] = []
    seen: list[dict[str, HostOffset]] = []
    at = pl.DataFrame(schema={"peer": pl.String, "_at": pl.String})
    if skew_correction:
        spans, corrected = _apply_offsets(spans, offsets, evidence)
        given = None if facts is None else facts.windows
        spans, windows = placement.place(spans, pairs, given, seen)
        offsets = {**offsets, **windows}
        at = matching.addresses(pairs, spans) if facts is None else facts.addresses
        pairs = matching.assign(matching.costed(candidates, spans, at))
    if facts is None:
        called = leftovers.called_sources(spans, pairs)
        links = leftovers.hops(spans, pairs)
    else:
        called, links = facts.called, facts.links
    pairs = pl.concat([pairs, leftovers.leftovers(spans, pairs, called, links)])
    inner = inner_sources(spans, pairs) if facts is None else facts.inner
    spans = break_cycles(depth(parents(spans, pairs, inner)))
    if facts is None:
        facts = Facts(mappings, ntp, tuple(seen), at, called, links, inner)
    undecided = ambiguous.swappable(pairs, spans)
    spans = spans.with_columns(pl.col("sid").is_in(undecided.implode()).alias("parent_ambiguous"))
    if "within_s" not in spans.columns:  # no skew correction: nothing was placed
        spans = spans.with_columns(pl.col("precision_s").alias("within_s"))
    if flat is not None:
        flat = flat.with_columns(
            pl.lit(value=False).alias("parent_ambiguous"), pl.col("precision_s").alias("within_s")
        )
        spans = pl.concat([spans, flat.select(spans.columns)], how="vertical_relaxed")
    if spans.filter(pl.col("precision_s") >= COARSE_S).height:
        notes.append(
            "some lines have whole-second timestamps ($time_local, or an app logging whole "
            "seconds): they were placed inside their second using the precise spans around them"
        )
    return Timelines(
        spans=spans.select(list(SPANS)).cast(pl.Schema(SPANS)),
        offsets=offsets,
        corrected_requests=corrected,
        notes=notes,
        oversized=oversized,
        mappings=mappings,
        facts=facts,
    )
