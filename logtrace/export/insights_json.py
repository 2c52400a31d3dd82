"""``logtrace insights --json``: findings as a stable JSON document."""

from __future__ import annotations

import json
from typing import Any

from logtrace.analysis.insights import Insights

SCHEMA = "logtrace.insights/1"


def _round(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def insights_dict(insights: Insights, *, per_request: bool = False) -> dict[str, Any]:
    """Summary rows (and, when asked, every finding) as JSON-ready data."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "requests": insights.requests,
        "total_s": round(insights.total_s, 6),
        "findings": [
            {k: _round(v) for k, v in row.items()} for row in insights.summary.iter_rows(named=True)
        ],
        "hot_targets": [
            {k: _round(v) for k, v in row.items()}
            for row in insights.hot_targets.head(50).iter_rows(named=True)
        ],
    }
    if per_request:
        doc["requests_found"] = [
            {k: _round(v) for k, v in row.items()}
            for row in insights.findings.iter_rows(named=True)
        ]
    return doc


def insights_json(insights: Insights, *, per_request: bool = False) -> str:
    return json.dumps(insights_dict(insights, per_request=per_request), indent=2, ensure_ascii=True)
