"""``logtrace trace --json``: one request's spans, critical path and caveats as JSON."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from logtrace.analysis.trace_view import RequestTrace

SCHEMA = "logtrace.trace/1"


def _value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else None
    return v


def trace_dict(trace: RequestTrace) -> dict[str, Any]:
    """The trace as plain JSON-ready data; spans in tree order (parents first)."""
    spans = [{k: _value(v) for k, v in row.items()} for row in trace.spans.iter_rows(named=True)]
    for span in spans:
        lines = trace.lines.get(str(span["span_id"]))
        if lines:
            span["lines"] = list(lines)
    critical = [
        {
            "span_id": r["span_id"],
            "start": _value(r["section_start"]),
            "end": _value(r["section_end"]),
        }
        for r in trace.critical.iter_rows(named=True)
    ]
    return {
        "schema": SCHEMA,
        "request_id": trace.request_id,
        "duration_s": round(trace.duration_s, 6),
        "spans": spans,
        "critical_path": critical,
        "clock_offsets_s": {h: round(o, 6) for h, o in trace.skew_s.items()},
        "notes": list(trace.notes),
    }


def trace_json(trace: RequestTrace) -> str:
    # \u escapes for all non-ASCII: raw JSON on a terminal never carries a control or
    # bidi character from a log line
    return json.dumps(trace_dict(trace), indent=2, ensure_ascii=True)
