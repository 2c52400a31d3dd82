"""One clock offset per host, from every caller/callee pair of every request.

For a call seen by the caller as ``[cs, ce]`` and by the callee as ``[ss, se]`` on
another clock, ``((ss - cs) + (se - ce)) / 2`` is the NTP estimate of the callee's clock
minus the caller's, assuming the request and the reply take equally long on the wire
(Jaeger's and Zipkin's centring rule is the same formula). One request is a noisy
estimate; the median over all pairs between two hosts is a good one.

Offsets are relative, so a reference is needed: with three or more hosts the consensus
(the median host offset is zero: most clocks are taken to be right); with two, the
caller's side. Hosts that only log whole seconds (nginx's ``$time_local``) cannot be
measured this way; their offset is bounded instead: each line's true end time lies in
``[T, T + 1)`` of its own clock, and the precise spans nested under it pin down where;
intersecting those windows over many requests narrows the offset to a few milliseconds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import polars as pl

PRECISE_S = 0.01  # timestamps at least this precise take part in NTP estimates
MIN_PAIRS = 3
WINDOW_SLACK_S = 0.02


@dataclass(frozen=True)
class HostOffset:
    """How far a host's clock is ahead of the reference (negative: behind)."""

    host: str
    offset_s: float
    pairs: int  # caller/callee pairs the estimate rests on
    spread_s: float  # interquartile range of the per-pair estimates (or window width)
    method: str  # "ntp", "window" (1 s timestamps) or "reference"


def _pair_estimates(pairs: pl.DataFrame) -> pl.DataFrame:
    precise = (pl.col("precision") <= PRECISE_S) & (pl.col("precision_c") <= PRECISE_S)
    delta = (
        (pl.col("start") - pl.col("start_c")).dt.total_microseconds()
        + (pl.col("end") - pl.col("end_c")).dt.total_microseconds()
    ) / 2e6
    return (
        pairs.filter(precise & (pl.col("host") != pl.col("host_c")))
        .group_by(pl.col("host_c").alias("caller"), pl.col("host").alias("callee"))
        .agg(
            delta.median().alias("delta"),
            pl.len().alias("n"),
            (delta.quantile(0.75) - delta.quantile(0.25)).alias("iqr"),
        )
        .filter(pl.col("n") >= MIN_PAIRS)
    )


def estimate_offsets(pairs: pl.DataFrame) -> dict[str, HostOffset]:
    """Offsets of the hosts connected by precise pairs (NTP medians, consensus reference)."""
    est = _pair_estimates(pairs)
    if est.is_empty():
        return {}
    edges: dict[str, list[tuple[str, float, int, float]]] = defaultdict(list)
    for caller, callee, delta, n, iqr in est.iter_rows():
        edges[caller].append((callee, delta, n, iqr))
        edges[callee].append((caller, -delta, n, iqr))
    offsets: dict[str, HostOffset] = {}
    # Components grow from their best-connected host along the best-supported edges.
    for start in sorted(edges, key=lambda h: -sum(e[2] for e in edges[h])):
        if start in offsets:
            continue
        component = {start: HostOffset(start, 0.0, 0, 0.0, "reference")}
        frontier = [start]
        while frontier:
            host = frontier.pop()
            for other, delta, n, iqr in sorted(edges[host], key=lambda e: -e[2]):
                if other not in component:
                    base = component[host].offset_s
                    component[other] = HostOffset(other, base + delta, n, iqr, "ntp")
                    frontier.append(other)
        offsets.update(_rebase(component, est))
    return offsets


def _rebase(component: dict[str, HostOffset], est: pl.DataFrame) -> dict[str, HostOffset]:
    """Make the consensus (or, between two hosts, the caller) the zero of a component."""
    if len(component) >= 3:
        values = sorted(h.offset_s for h in component.values())
        mid = len(values) // 2
        zero = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    else:
        callers = set(est.get_column("caller").to_list())
        zero = next(
            (h.offset_s for h in component.values() if h.host in callers),
            next(iter(component.values())).offset_s,
        )
    return {
        name: HostOffset(name, h.offset_s - zero, h.pairs, h.spread_s, h.method)
        for name, h in component.items()
    }


def window_offsets(anchors: pl.DataFrame) -> dict[str, HostOffset]:
    """Offsets of whole-second hosts from ``host``, ``logged_end`` and ``true_end`` rows.

    ``true_end`` is where precise (already corrected) spans place the end of a line that
    the host logged as ``logged_end`` (the start of its second). The offset o satisfies
    ``logged_end <= true_end + o < logged_end + 1`` for every line.
    """
    out: dict[str, HostOffset] = {}
    if anchors.is_empty():
        return out
    gap = (pl.col("logged_end") - pl.col("true_end")).dt.total_microseconds() / 1e6
    bounds = anchors.group_by("host").agg(
        gap.max().alias("lo"),
        (gap + 1.0).min().alias("hi"),
        gap.quantile(0.98).alias("lo_robust"),
        (gap + 1.0).quantile(0.02).alias("hi_robust"),
        pl.len().alias("n"),
    )
    for host, lo_all, hi_all, lo_r, hi_r, n in bounds.iter_rows():
        # The anchors are themselves only exact to a millisecond or so, which can cross the
        # bounds by that much; outliers (slow responses after the upstream finished) by more.
        if lo_all <= hi_all or lo_all - hi_all <= WINDOW_SLACK_S:
            lo, hi = lo_all, hi_all
        else:
            lo, hi = lo_r, hi_r
        if n < MIN_PAIRS or lo - hi > WINDOW_SLACK_S:
            continue
        out[host] = HostOffset(host, (lo + hi) / 2, int(n), abs(hi - lo), "window")
    return out


def through_proxies(pairs: pl.DataFrame, spans: pl.DataFrame, coarse_s: float) -> pl.DataFrame:
    """Caller/callee pairs across whole-second proxies: the call that reached a proxy line
    and the span that line's upstream attempt reached, as one pair.

    A host whose callers and callees are all nginx with ``$time_local`` has no precise
    pair, but the proxy in between only adds its own small, nearly symmetric time (reading
    the request, sending the reply): the app's call and the service's span still centre on
    each other. Only lines with one attempt count (a retry would put the first attempt's
    time on one side). Chains of several such proxies are followed.
    """
    columns = pairs.columns
    nginx = spans.filter(pl.col("origin") == "nginx")
    lines = nginx.filter((pl.col("kind") == "SERVER") & (pl.col("precision_s") >= coarse_s))
    attempts = nginx.filter(pl.col("kind") == "CLIENT")
    single = attempts.group_by("line_sid").len().filter(pl.col("len") == 1).drop("len")
    attempt_of = attempts.join(single, on="line_sid", how="semi").select(
        pl.col("sid").alias("sid_c"), pl.col("line_sid").alias("_line")
    )
    line_ids = lines.select(pl.col("sid").alias("_line"))
    callee_side = [c for c in columns if not c.endswith("_c")]
    caller_side = [c for c in columns if c.endswith("_c")]
    known = pairs
    for _ in range(3):
        below = known.join(attempt_of, on="sid_c", how="inner").select(*callee_side, "_line")
        above = known.join(line_ids, left_on="sid", right_on="_line", how="semi").select(
            pl.col("sid").alias("_line"), *caller_side
        )
        composed = below.join(above, on="_line", how="inner").select(columns)
        fresh = composed.join(known, on=["sid", "sid_c"], how="anti")
        if fresh.is_empty():
            break
        known = pl.concat([known, fresh])
    composed = known.slice(pairs.height)
    return composed.filter(pl.col("host") != pl.col("host_c"))
