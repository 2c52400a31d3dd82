"""One request as a trace: what ``logtrace trace`` renders and exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl


@dataclass(frozen=True)
class RequestTrace:
    """The spans of one request, in tree order, with its critical path.

    ``spans`` follows ``schema.EXPORT_SPANS`` and is sorted depth-first (a parent before its
    children, siblings by start), so row order is display order. ``critical`` follows
    ``schema.CRITICAL``. ``lines`` maps ``span_id`` to the original log lines of that
    span (filled only when asked for). ``notes`` are caveats to show with the trace:
    guessed parents, clock offsets applied, one-second timestamps.
    """

    request_id: str
    spans: pl.DataFrame
    critical: pl.DataFrame
    skew_s: dict[str, float] = field(default_factory=dict)  # host -> offset applied
    notes: tuple[str, ...] = ()
    lines: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def root(self) -> dict[str, object]:
        return self.spans.row(0, named=True)

    @property
    def duration_s(self) -> float:
        start = self.spans.get_column("start").min()
        end = self.spans.get_column("end").max()
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            return 0.0
        return (end - start).total_seconds()
