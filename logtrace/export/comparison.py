"""``compare --json``: the comparison as a stable JSON document
(``"schema": "logtrace.compare/1"``; fields are only ever added)."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from logtrace.analysis.compare import Comparison
from logtrace.analysis.gate import ChangeVerdict
from logtrace.analysis.latency import LatencyReport
from logtrace.export.report import _value

SCHEMA = "logtrace.compare/1"


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: _value(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


def _side(rep: LatencyReport, files: list[str]) -> dict[str, Any]:
    return {
        "files": files,
        "requests": rep.requests,
        "time_range": (
            {"start": _value(rep.time_min), "end": _value(rep.time_max)} if rep.time_min else None
        ),
    }


def comparison_dict(
    comparison: Comparison,
    before: tuple[LatencyReport, list[str]],
    after: tuple[LatencyReport, list[str]],
    gate: tuple[ChangeVerdict, ...] | None = None,
) -> dict[str, Any]:
    """The comparison as plain JSON-ready data."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "test": {
            "name": "Mann-Whitney U, two-sided, normal approximation, tie and continuity corrected",
            "alpha": comparison.alpha,
            "min_count": comparison.min_count,
        },
        "before": _side(*before),
        "after": _side(*after),
        "overall": {k: _value(v) for k, v in comparison.overall.items()} or None,
        "routes": _rows(comparison.routes),
        "new_routes": _rows(comparison.new_routes),
        "vanished_routes": _rows(comparison.vanished_routes),
    }
    if gate is not None:
        doc["gate"] = [
            {
                "rule": v.rule.text,
                "metric": v.rule.metric,
                "threshold": v.rule.threshold,
                "kind": v.rule.kind,
                "route": v.rule.route,
                "before": _value(v.before),
                "after": _value(v.after),
                "change": _value(v.change),
                "broken": v.broken,
            }
            for v in gate
        ]
    return doc


def comparison_json(*args: Any, **kwargs: Any) -> str:
    return json.dumps(comparison_dict(*args, **kwargs), indent=2, ensure_ascii=True)
