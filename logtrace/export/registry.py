"""Every export format by name: what the CLI offers and what the library calls.

An exporter is ``write(batches, out, info) -> ExportSummary``:

* ``batches``: an iterable of :class:`~logtrace.export.batch.TraceBatch` (whole traces),
  consumed once, in order; nothing is kept after a batch is written.
* ``out``: a binary stream the caller opened and will close (``open(path, "wb")``,
  ``sys.stdout.buffer``, ``io.BytesIO``); the exporter only writes to it. Text formats
  are UTF-8. :func:`export` opens a path (``-`` for stdout) for you.
* ``info``: the run's :class:`~logtrace.export.batch.ExportInfo` (tool version, offsets).

The result says how many traces and spans were written, the bytes, and warnings about
anything the exporter had to fix (an invalid span id, an event without its span).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, get_args

from logtrace.errors import UsageError
from logtrace.export import jaeger, otlp, zipkin
from logtrace.export.batch import ExportInfo, TraceBatch
from logtrace.export.ids import ExportSummary
from logtrace.export.tabular import TableWriter, What

__all__ = ["EXPORTERS", "WHAT", "ExportFn", "ExportSummary", "Exporter", "export", "exporter"]


class ExportFn(Protocol):
    """The signature every exporter shares."""

    def __call__(
        self, batches: Iterable[TraceBatch], out: BinaryIO, info: ExportInfo, /
    ) -> ExportSummary: ...


@dataclass(frozen=True)
class Exporter:
    """A format: its span writer, default file extension, one-line description, and for
    tabular formats the per-request writer (``--what requests``)."""

    write: ExportFn
    extension: str
    description: str
    requests: ExportFn | None = None


EXPORTERS: dict[str, Exporter] = {
    "otlp": Exporter(
        otlp.write,
        ".jsonl",
        "OpenTelemetry OTLP/JSON Lines, one TracesData per line (collector, Tempo, Jaeger UI)",
    ),
    "otlp-json": Exporter(
        otlp.write_document,
        ".json",
        "OpenTelemetry OTLP/JSON, one request body (curl to :4318/v1/traces, Jaeger UI)",
    ),
    "zipkin": Exporter(
        zipkin.write, ".json", "Zipkin v2 JSON list of spans (POST /api/v2/spans, Lens upload)"
    ),
    "jaeger": Exporter(jaeger.write, ".json", "Jaeger UI JSON, opens with no backend (upload)"),
    "csv": Exporter(
        TableWriter("csv", "spans"),
        ".csv",
        "spreadsheet-safe CSV, a row per span (or per request)",
        TableWriter("csv", "requests"),
    ),
    "json": Exporter(
        TableWriter("json", "spans"),
        ".json",
        "a JSON array of rows, one per span (or per request)",
        TableWriter("json", "requests"),
    ),
    "ndjson": Exporter(
        TableWriter("ndjson", "spans"),
        ".ndjson",
        "JSON lines, one per span (or per request)",
        TableWriter("ndjson", "requests"),
    ),
    "parquet": Exporter(
        TableWriter("parquet", "spans"),
        ".parquet",
        "Apache Parquet, a row per span (or per request)",
        TableWriter("parquet", "requests"),
    ),
}

WHAT: tuple[What, ...] = get_args(What)
"""The tables ``--what`` chooses between (tabular formats only)."""


def exporter(name: str, what: What = "spans") -> ExportFn:
    """The writer of format ``name`` for ``what`` (``spans`` or ``requests``)."""
    entry = EXPORTERS.get(name)
    if entry is None:
        raise UsageError(f"unknown export format {name!r}", f"choose one of {', '.join(EXPORTERS)}")
    if what == "spans":
        return entry.write
    if what == "requests" and entry.requests is not None:
        return entry.requests
    tables = [n for n, e in EXPORTERS.items() if e.requests is not None]
    raise UsageError(
        f"format {name!r} writes traces; it has no {what!r} table",
        f"use --what spans, or one of {', '.join(tables)} for a table of {what}",
    )


def export(
    name: str,
    batches: Iterable[TraceBatch],
    path: str | Path,
    info: ExportInfo,
    *,
    what: What = "spans",
) -> ExportSummary:
    """Write ``batches`` in format ``name`` to ``path`` (``-`` is stdout)."""
    write = exporter(name, what)
    if str(path) == "-":
        summary = write(batches, sys.stdout.buffer, info)
        sys.stdout.buffer.flush()
        return summary
    with Path(path).open("wb") as out:
        return write(batches, out, info)
