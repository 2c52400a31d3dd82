"""Slow-path summary: for the slowest requests, what their critical paths are made of."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import polars as pl

from logtrace.analysis.critical_path import critical_path, critical_share
from logtrace.analysis.latency import slowest_first
from logtrace.timelines.assemble import MAX_TRACE_SPANS


@dataclass(frozen=True)
class SlowPath:
    """The critical path of one slow request, summarised."""

    request_id: str
    name: str  # the root's operation
    duration_s: float
    status: int | None
    path: str  # services along the critical path: "edge → api → inventory ×12"
    top: tuple[tuple[str, str, float], ...]  # (service, operation, seconds on the path)


def _operation(row: dict[str, Any]) -> str:
    method = row.get("method") or ""
    route = row.get("route") or row.get("path") or ""
    return f"{method} {route}".strip() or str(row.get("kind", "")).lower()


def _hops(spans_on_path: list[dict[str, Any]]) -> str:
    """Services in the order the path reaches them, with how many of their server spans
    it runs through: ``edge → api → mesh ×12 → inventory ×12``."""
    order: list[str] = []
    seen: dict[str, set[object]] = {}
    for row in spans_on_path:
        service = str(row["service"])
        if service not in seen:
            order.append(service)
            seen[service] = set()
        if row["kind"] == "SERVER":
            seen[service].add(row["sid"])
    return " → ".join(f"{s} ×{len(seen[s])}" if len(seen[s]) > 1 else s for s in order)


def _most(seconds: dict[tuple[str, str], float]) -> list[tuple[tuple[str, str], float]]:
    return sorted(seconds.items(), key=lambda kv: (-kv[1], kv[0]))


def _slowest_roots(spans: pl.DataFrame, top: int) -> pl.DataFrame:
    """The root spans of the ``top`` slowest requests, slowest first, with ``duration_s``."""
    # An id on more spans than one request has (reused by clients) has no critical path
    # worth walking, and walking it would cost the square of its spans.
    reused = spans.group_by("request_id").len().filter(pl.col("len") > MAX_TRACE_SPANS).drop("len")
    roots = (
        spans.filter(pl.col("parent_sid").is_null())
        .join(reused, on="request_id", how="anti")
        .with_columns(
            ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s")
        )
    )
    # ties in the order of analyze's slowest requests: a root's raw end is its line's time
    return slowest_first(roots.with_columns(time=pl.col("raw_end")), top, duration="duration_s")


def slowest_traces(spans: pl.DataFrame, top: int) -> pl.DataFrame:
    """The spans of the ``top`` slowest requests (whose critical paths :func:`slow_paths`
    walks): of parts of disjoint requests, the slowest of all are among theirs."""
    if spans.is_empty():
        return spans
    wanted = _slowest_roots(spans, top).select("request_id")
    return spans.join(wanted, on="request_id", how="semi", maintain_order="left")


def slow_paths(spans: pl.DataFrame, top: int = 10) -> tuple[list[SlowPath], pl.DataFrame]:
    """The ``top`` slowest requests' critical paths, and what dominates them overall.

    The overall frame has ``service``, ``operation``, ``seconds`` and ``share`` of the time
    all these critical paths add up to.
    """
    if spans.is_empty():
        return [], pl.DataFrame()
    slowest = _slowest_roots(spans, top)
    wanted = slowest.get_column("request_id").to_list()
    subset = spans.filter(pl.col("request_id").is_in(wanted))
    overall: defaultdict[tuple[str, str], float] = defaultdict(float)  # seconds on the paths
    result: list[SlowPath] = []
    for root in slowest.iter_rows(named=True):
        rows = subset.filter(pl.col("request_id") == root["request_id"]).to_dicts()
        by_id = {r["sid"]: r for r in rows}
        tuples = [
            (
                str(r["sid"]),
                None if r["parent_sid"] is None else str(r["parent_sid"]),
                r["start"],
                r["end"],
            )
            for r in rows
        ]
        sections = critical_path(tuples, str(root["sid"]))
        share = critical_share(sections)
        per_op: defaultdict[tuple[str, str], float] = defaultdict(float)
        for sid, seconds in share.items():
            span = by_id[int(sid)]
            per_op[(str(span["service"]), _operation(span))] += seconds
        for key, seconds in per_op.items():
            overall[key] += seconds
        # A span on the path brings its ancestors: the hops that led to it.
        chain: dict[int, dict[str, Any]] = {}
        for section in sections:
            hop: dict[str, Any] | None = by_id[int(section.span_id)]
            while hop is not None and hop["sid"] not in chain:
                chain[hop["sid"]] = hop
                hop = by_id.get(hop["parent_sid"])
        on_path = sorted(chain.values(), key=lambda r: (r["depth"], r["start"]))
        result.append(
            SlowPath(
                request_id=str(root["request_id"]),
                name=_operation(root),
                duration_s=float(root["duration_s"]),
                status=root.get("status"),
                path=_hops(on_path),
                top=tuple((svc, op, sec) for (svc, op), sec in _most(per_op)[:3]),
            )
        )
    total = sum(overall.values()) or 1.0
    summary = pl.DataFrame(
        [
            {"service": svc, "operation": op, "seconds": sec, "share": sec / total}
            for (svc, op), sec in _most(overall)
        ],
        schema={
            "service": pl.String,
            "operation": pl.String,
            "seconds": pl.Float64,
            "share": pl.Float64,
        },
    )
    return result, summary
