"""What exporters receive: whole traces, in batches, so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class TraceBatch:
    """Complete traces (every span of each request_id in the batch).

    ``spans`` follows ``schema.EXPORT_SPANS`` (ids as 16 hex digits) and may carry a ``line``
    column with each span's original log line; ``events`` follows ``schema.EVENTS``.
    """

    spans: pl.DataFrame
    events: pl.DataFrame


@dataclass(frozen=True)
class ExportInfo:
    """Facts about the run that exporters may record (tool version, offsets found)."""

    version: str
    skew_s: dict[str, float] = field(default_factory=dict)


Batches = Iterator[TraceBatch]
