"""The document a report page carries: the numbers of ``analyze --json``, unchanged, and
what only the page shows (insights, the slowest requests' waterfalls), bounded in size.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from logtrace import __version__
from logtrace.analysis.analyze import Analysis
from logtrace.analysis.trace_view import RequestTrace
from logtrace.export.insights_json import insights_dict
from logtrace.export.report import analysis_dict
from logtrace.html.traces import Traced

SCHEMA = "logtrace.report/1"
MAX_TRACE_SPANS = 400  # spans drawn per waterfall (a parent is always before its children)
MAX_SPANS = 2500  # spans drawn in all waterfalls together (about 460 bytes each)
MAX_FINDINGS = 30
MAX_HOT_TARGETS = 15
SPAN_FIELDS = (
    "span_id",
    "parent_span_id",
    "parent_guessed",
    "host",
    "service",
    "kind",
    "name",
    "peer",
    "status",
    "error",
    "attempt",
    "depth",
    "precision_s",
    "skew_s",
    "source",
    "line_no",
)


def _seconds(value: Any, t0: datetime) -> float | None:
    return round((value - t0).total_seconds(), 6) if isinstance(value, datetime) else None


def _round(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def trace_data(trace: RequestTrace, max_spans: int) -> dict[str, Any]:
    """One waterfall: spans in tree order with times in seconds from the trace's start."""
    spans = trace.spans
    t0 = spans.get_column("start").min()
    if not isinstance(t0, datetime):
        t0 = datetime.min
    shown = spans.head(max_spans)
    rows = []
    for span in shown.iter_rows(named=True):
        row = {k: _round(span.get(k)) for k in SPAN_FIELDS}
        row["start_s"] = _seconds(span["start"], t0)
        row["duration_s"] = _round(span["duration_s"])
        rows.append(row)
    kept = set(shown.get_column("span_id").to_list())
    critical = [
        {
            "span_id": r["span_id"],
            "start_s": _seconds(r["section_start"], t0),
            "end_s": _seconds(r["section_end"], t0),
        }
        for r in trace.critical.iter_rows(named=True)
        if r["span_id"] in kept
    ]
    return {
        "request_id": trace.request_id,
        "start": t0.isoformat(),
        "duration_s": round(trace.duration_s, 6),
        "spans_total": spans.height,
        "spans": rows,
        "critical_path": critical,
        "clock_offsets_s": {h: round(o, 6) for h, o in trace.skew_s.items()},
        "notes": list(trace.notes),
    }


def _insights(analysis: Analysis) -> dict[str, Any] | None:
    """The findings by pattern and route (examples, not every id) and the hot targets."""
    cross = analysis.cross_host
    if cross is None:
        return None
    doc = insights_dict(cross.insights, per_request=False)
    findings = doc["findings"]
    for row in findings:
        row.pop("request_ids", None)
    doc["findings_total"] = len(findings)
    doc["findings"] = findings[:MAX_FINDINGS]
    doc["hot_targets_total"] = len(doc["hot_targets"])
    doc["hot_targets"] = doc["hot_targets"][:MAX_HOT_TARGETS]
    return doc


def report_data(analysis: Analysis, traced: Traced, *, inputs: list[str]) -> dict[str, Any]:
    """Everything the page shows. ``analysis`` is exactly ``analyze --json``'s document."""
    traces = []
    budget = MAX_SPANS
    left_out = 0
    for t in traced.traces:
        if budget <= 0:
            left_out += 1
            continue
        data = trace_data(t, min(MAX_TRACE_SPANS, budget))
        budget -= len(data["spans"])
        traces.append(data)
    notes = list(traced.notes)
    if left_out:
        notes.append(
            f"{left_out} more requests (slowest, or examples of insights) have no waterfall "
            f"here: the page holds at most "
            f"{MAX_SPANS:,} spans (`logtrace trace ID` shows any request)"
        )
    return {
        "schema": SCHEMA,
        "version": __version__,
        "inputs": inputs,
        "analysis": analysis_dict(analysis),
        "insights": _insights(analysis),
        "traces": traces,
        "trace_notes": notes,
        "limits": {"trace_spans": MAX_TRACE_SPANS, "spans": MAX_SPANS},
    }
