"""``analyze --json``: the report as a stable, documented JSON document.

The shape is versioned (``"schema": "logtrace.analyze/1"``); fields are only ever added.
README's "JSON output" section documents every field. Serialisation goes through
``json.dumps``, never string concatenation, so log content cannot break the document.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

import polars as pl

from logtrace.analysis.analyze import Analysis
from logtrace.analysis.latency import Latency
from logtrace.parse import SourceStats
from logtrace.schema import APP_EVENTS

SCHEMA = "logtrace.analyze/1"


def _value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, float):
        return round(v, 6)
    return v


def _rows(frame: pl.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    present = [c for c in columns if c in frame.columns]
    return [
        {k: _value(v) for k, v in row.items()}
        for row in frame.select(present).iter_rows(named=True)
    ]


def _source(s: SourceStats) -> dict[str, Any]:
    return {
        "path": s.path,
        "host": s.host,
        "service": s.service,
        "kind": s.kind,
        "format": s.format,
        "format_detected": s.detected is not None,
        "envelope": s.envelope,
        "lines_total": s.lines_total,
        "lines_parsed": s.lines_parsed,
        "lines_rejected": s.lines_rejected,
        "rejected_reasons": dict(s.reasons.most_common()),
        "rejected_samples": [
            {"line_no": r.line_no, "reason": r.reason, "line": r.line, "column": r.column}
            for r in s.samples
        ],
        "app_events": _events(s.app_events) if s.kind == "app" else None,
        "app_events_untimed": _events(s.app_events_untimed) if s.kind == "app" else None,
        "entries_timed_by_envelope": s.envelope_timed,
        "envelope_time_precision_s": s.envelope_precision_s,
        "unclassified_samples": [{"line_no": u.line_no, "line": u.line} for u in s.unclassified],
        "warnings": list(s.warnings),
    }


def _events(counts: Counter[str]) -> dict[str, int]:
    """Every event of APP_EVENTS with its count (0 included)."""
    return {event: counts[event] for event in APP_EVENTS}


def _latency(lat: Latency | None) -> dict[str, Any] | None:
    return None if lat is None else {k: _value(v) for k, v in asdict(lat).items()}


ROUTE_FIELDS = [
    "route",
    "count",
    "p50_s",
    "p90_s",
    "p95_s",
    "p99_s",
    "max_s",
    "mean_s",
    "total_s",
    "upstream_total_s",
    "nginx_total_s",
    "upstream_p50_s",
    "upstream_p99_s",
    "retried",
    "retry_cost_s",
    "2xx",
    "3xx",
    "4xx",
    "5xx",
]
SLOWEST_FIELDS = [
    "time",
    "request_id",
    "method",
    "route",
    "path",
    "status",
    "request_time_s",
    "upstream_time_s",
    "nginx_time_s",
    "upstream_attempts",
    "source",
    "line_no",
]


def analysis_dict(analysis: Analysis) -> dict[str, Any]:
    """The analyze report as plain JSON-ready data."""
    rep = analysis.latency
    ingest = analysis.ingest
    return {
        "schema": SCHEMA,
        "partial": ingest.partial_notes(),
        "sources": [_source(s) for s in ingest.sources],
        "lines": {
            "total": ingest.lines_total,
            "parsed": ingest.lines_parsed,
            "rejected": sum(s.lines_rejected for s in ingest.sources),
        },
        "time_range": (
            {"start": _value(rep.time_min), "end": _value(rep.time_max)} if rep.time_min else None
        ),
        "requests": rep.requests,
        "bytes_sent": rep.bytes_sent,
        "bytes_per_s": _value(rep.bytes_per_s),
        "error_rate": round(rep.error_rate, 6),
        "client_error_rate": round(rep.client_error_rate, 6),
        "statuses": {str(k): v for k, v in rep.statuses.items()},
        "latency": _latency(rep.latency),
        "upstream_latency": _latency(rep.upstream_latency),
        "breakdown": None
        if rep.breakdown is None
        else {k: _value(v) for k, v in asdict(rep.breakdown).items()},
        "routes": _rows(rep.routes, ROUTE_FIELDS),
        "collapsed_routes": [
            {"route": route, "position": position, "distinct_values": values}
            for route, position, values in rep.collapsed.iter_rows()
        ],
        "route_max_values": rep.route_values,
        "slowest": _rows(rep.slowest, SLOWEST_FIELDS),
        "filters": _filters(analysis),
        **_buckets(analysis),
        **_breakdowns(analysis),
        **_gate(analysis),
        **_cross_host(analysis),
    }


def _gate(analysis: Analysis) -> dict[str, Any]:
    """With --fail-if: each rule, what was measured, and whether it is broken."""
    if analysis.gate is None:
        return {}
    return {
        "gate": [
            {
                "rule": v.rule.text,
                "metric": v.rule.metric,
                "op": v.rule.op,
                "threshold": _value(v.rule.threshold),
                "kind": v.rule.kind,
                "route": v.rule.route,
                "value": _value(v.value),
                "requests": v.requests,
                "broken": v.broken,
            }
            for v in analysis.gate
        ]
    }


def _buckets(analysis: Analysis) -> dict[str, Any]:
    """With --every: the bucket size and one entry per bucket (none without --every)."""
    buckets = analysis.latency.buckets
    if buckets is None:
        return {}
    return {
        "bucket_size_s": buckets.size_s,
        "bucket_size_auto": buckets.auto,
        "bucket_untimed_requests": buckets.untimed,
        "buckets": _rows(buckets.frame, list(buckets.frame.columns)),
    }


BREAKDOWN_FIELDS = ["value", "requests", "share", "bytes", "p50_s", "p99_s", "error_rate"]


def _breakdowns(analysis: Analysis) -> dict[str, Any]:
    """With --by: per field, the top values and one entry for the others (none without)."""
    tables = analysis.latency.breakdowns
    if tables is None:
        return {}
    return {
        "breakdowns": [
            {
                "by": t.dimension,
                "top": t.top,
                "distinct_values": t.distinct,
                "requests": t.requests,
                "rows": _rows(t.rows, BREAKDOWN_FIELDS),
                "other": None
                if t.other is None
                else _rows(t.other, [*BREAKDOWN_FIELDS[1:], "values"])[0],
            }
            for t in tables
        ]
    }


def _filters(analysis: Analysis) -> dict[str, Any] | None:
    """The filters given, and the requests they were applied to (null: no filters)."""
    seen = analysis.unfiltered
    if seen is None:
        return None
    f = analysis.filters
    return {
        "since": _value(f.since),
        "until": _value(f.until),
        "route": f.route,
        "path": f.path,
        "status": [list(r) for r in f.status],
        "zone": f.zone,
        "requests_before": seen.requests,
        "time_range_before": (
            {"start": _value(seen.time_min), "end": _value(seen.time_max)}
            if seen.time_min
            else None
        ),
    }


def _cross_host(analysis: Analysis) -> dict[str, Any]:
    cross = analysis.cross_host
    if cross is None:
        return {}
    return {
        "traces": cross.traces,
        "entry_sources": cross.entry_sources,
        "hosts": _rows(cross.hosts, list(cross.hosts.columns)),
        "services": _rows(cross.services, list(cross.services.columns)),
        "clock_offsets": [
            {
                "host": h,
                "offset_s": round(o.offset_s, 6),
                "pairs": o.pairs,
                "spread_s": round(o.spread_s, 6),
                "method": o.method,
            }
            for h, o in sorted(cross.offsets.items())
        ],
        "corrected_requests": cross.corrected_requests,
        "path_mappings": [
            {
                "caller_source": a,
                "callee_source": b,
                "caller_prefix": pc,
                "callee_prefix": p,
                "requests": n,
                "configured": conf,
            }
            for a, b, pc, p, n, conf in cross.mappings.frame.iter_rows()
        ],
        "slow_paths": [
            {
                "request_id": p.request_id,
                "name": p.name,
                "duration_s": round(p.duration_s, 6),
                "status": p.status,
                "path": p.path,
                "top": [
                    {"service": s, "operation": o, "seconds": round(sec, 6)} for s, o, sec in p.top
                ],
            }
            for p in cross.slow_paths
        ],
    }


def analysis_json(analysis: Analysis) -> str:
    # \u escapes for all non-ASCII: raw JSON on a terminal never carries a control or
    # bidi character from a log line
    return json.dumps(analysis_dict(analysis), indent=2, ensure_ascii=True)
