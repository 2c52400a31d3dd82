"""``logtrace insights --format json|ndjson``: findings as one JSON document or JSON lines.

The document (``"schema": "logtrace.insights/1"``; fields are only ever added, never
removed or renamed):

* ``findings``: one object per pattern and entry route (``"GET /api/users/{id}"``),
  ranked by total saving: requests, share, saving (median and total), ``examples`` (the
  first few ids), ``detail``, ``advice``, and ``request_ids``, every request behind it
  with the most to save first;
* ``requests_found``: one object per request and pattern (:data:`REQUEST_FINDING`), the
  most to save first, so that each can be checked with ``logtrace trace``;
* ``hot_targets``: the same GET in many requests (the top 50).

JSON lines (``ndjson``) hold only the ``requests_found`` objects, one a line in the same
order, written as they are formatted: for ``jq``, ``grep`` or a loop over the ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from logtrace.analysis.insights import Insights

SCHEMA = "logtrace.insights/1"
REQUEST_FINDING = ("request_id", "pattern", "saving_s", "detail", "method", "route", "duration_s")
"""The fields of a ``requests_found`` object and of an ndjson line, in this order.
``route`` is the entry's route and ``method`` its method (a ``findings`` row's ``route``
holds both); ``saving_s`` is this request's estimated saving, ``duration_s`` its whole
duration."""


def _round(v: Any) -> Any:
    return round(v, 6) if isinstance(v, float) else v


def _rows(frame_rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in frame_rows:
        yield {k: _round(v) for k, v in row.items()}


def request_findings(insights: Insights) -> Iterator[dict[str, Any]]:
    """One JSON-ready object per request and pattern, the most to save first."""
    return _rows(insights.findings.select(REQUEST_FINDING).iter_rows(named=True))


def insights_dict(insights: Insights, *, per_request: bool = True) -> dict[str, Any]:
    """The whole document as JSON-ready data (``per_request=False`` leaves out
    ``requests_found``, for a caller that only wants the summary)."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "requests": insights.requests,
        "total_s": round(insights.total_s, 6),
        "findings": list(_rows(insights.summary.iter_rows(named=True))),
        "hot_targets": list(_rows(insights.hot_targets.head(50).iter_rows(named=True))),
    }
    if per_request:
        doc["requests_found"] = list(request_findings(insights))
    return doc


def insights_json(insights: Insights, *, per_request: bool = True) -> str:
    """The document as indented, ASCII-only JSON text."""
    return json.dumps(insights_dict(insights, per_request=per_request), indent=2, ensure_ascii=True)


def write_json(insights: Insights, out: TextIO) -> None:
    """The document, then a newline."""
    out.write(insights_json(insights) + "\n")


def write_ndjson(insights: Insights, out: TextIO) -> None:
    """One ``requests_found`` object a line (ASCII only: no raw control character)."""
    for row in request_findings(insights):
        out.write(json.dumps(row, ensure_ascii=True, separators=(",", ":")) + "\n")


WRITERS: dict[str, Callable[[Insights, TextIO], None]] = {
    "json": write_json,
    "ndjson": write_ndjson,
}
"""Every machine-readable format of ``logtrace insights`` by name (``table``, the
terminal view, is ``render.insights``)."""
