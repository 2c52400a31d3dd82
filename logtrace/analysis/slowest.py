"""The slowest requests with every field their log line holds (for CSV export)."""

from __future__ import annotations

import polars as pl

from logtrace.analysis.analyze import Analysis
from logtrace.analysis.lacking import require
from logtrace.analysis.latency import slowest_first
from logtrace.parse import parse_chunk

_FIRST = (
    "time",
    "start",
    "request_id",
    "method",
    "route",
    "path",
    "query",
    "status",
    "request_time_s",
    "upstream_time_s",
    "nginx_time_s",
    "upstream_attempts",
)
_DERIVED = ("route", "upstream_time_s", "nginx_time_s", "upstream_attempts", "retry_cost_s")


def slowest_requests(analysis: Analysis) -> pl.DataFrame:
    """The N slowest requests, re-parsed with all columns of their format (NoMatchError
    when no format of the logs has ``$request_time``).

    ``analyze`` keeps only the analysis columns while streaming; the raw lines of the N
    slowest are kept (``keep_lines``) and parsed again here in full.
    """
    if analysis.latency.latency is None and analysis.latency.requests:
        require(analysis.ingest, ("request_time_s",), "no request time to rank requests by")
    slowest = analysis.latency.slowest
    if slowest.is_empty() or "line" not in slowest.columns:
        return slowest
    parts = []
    for (source,), rows in slowest.group_by("source", maintain_order=True):
        cf = analysis.ingest.formats[str(source)]
        full = parse_chunk(rows.select("line_no", "line"), cf, None).lines
        derived = [c for c in _DERIVED if c in rows.columns]
        parts.append(
            full.join(rows.select("line_no", "source", *derived, "line"), on="line_no", how="left")
        )
    merged = slowest_first(pl.concat(parts, how="diagonal_relaxed"))
    first = [c for c in _FIRST if c in merged.columns]
    last = [c for c in ("source", "line_no", "line") if c in merged.columns]
    middle = [c for c in merged.columns if c not in first and c not in last]
    return merged.select(*first, *middle, *last)
