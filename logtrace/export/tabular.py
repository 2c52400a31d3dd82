"""Tables of spans or of requests: CSV, JSON, NDJSON and Parquet, streamed batch by batch.

``--what spans`` (the default) writes one row per span; ``--what requests`` one row per
request. Both tables have the same columns in every format; times are UTC. In CSV, JSON
and NDJSON they are ISO 8601 text (``2025-08-19T10:00:00.123000+00:00``); in Parquet,
microsecond timestamps. CSV is spreadsheet-safe (``export/csv.py``): a text cell starting
with ``= + - @`` TAB or CR gets a leading ``'`` (and reads back with it). JSON is one
array of row objects, NDJSON one object per line; null is ``null`` there, empty in CSV.

Spans (:data:`SPAN_TABLE`): the ``schema.EXPORT_SPANS`` columns plus ``trace_id`` and ``line``:

=================  ========  ====================================================
request_id         text      the request id as logged
trace_id           text      its 32-hex trace id (``export/ids.py``)
span_id            text      16 hex
parent_span_id     text      16 hex; empty for the root
host, service      text      where the span was logged
kind               text      SERVER, CLIENT or INTERNAL
name               text      ``GET /api/orders/{id}``
start, end         time      after clock-skew correction
duration_s         float     seconds
status             int       HTTP status
error              bool      the span failed (5xx)
method, route,     text      request method, templated route, path and query as sent,
target, peer                 and for CLIENT spans what was called
parent_guessed     bool      the parent was chosen by time containment alone
attempt            int       upstream attempt number (1 = first try)
depth              int       0 for the root
raw_start, raw_end time      as the logs say
precision_s        float     how exactly start/end are known
skew_s             float     clock offset applied to the span's host
source, line_no    text/int  the log file and line the span comes from
line               text      the original log line, when kept
=================  ========  ====================================================

Requests (:data:`REQUEST_TABLE`): one row per request, from its spans:

=======================  =====  ==================================================
request_id, trace_id     text
service, host, name,     text   of the root span (no parent; if several, the earliest)
route
status, error            int,   of the root span: what the client saw
                         bool
start, end               time   earliest start and latest end of all spans
duration_s               float  end - start
spans, services, hosts   int    counts (distinct services and hosts)
errors                   int    spans that failed (a retried 502 counts here)
guessed_parents          int    spans whose parent was guessed
critical_span_id,        text   the span that is longest on the critical path (self
critical_service,               time the request waited on it; Jaeger's algorithm,
critical_name                   ``analysis/critical_path.py``)
critical_s               float  seconds that span is on the critical path
=======================  =====  ==================================================

Streaming: each batch is turned into its table and written before the next is read.
Parquet goes through polars' streaming engine (pyarrow is not needed): the batches are a
polars IO source (``register_io_source``) sunk with ``sink_parquet``, which writes a row
group whenever enough rows have arrived, so memory is bounded by a row group rather than
by the input, and the result is one ordinary Parquet file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import BinaryIO, Literal, cast

import polars as pl
from polars.io.plugins import register_io_source

from logtrace.analysis.critical_path import critical_shares
from logtrace.export.batch import ExportInfo, TraceBatch
from logtrace.export.csv import iso_text, spreadsheet_safe
from logtrace.export.ids import (
    OPTIONAL,
    ExportSummary,
    Output,
    Prepared,
    Tally,
    Warnings,
    escape_line_break_bytes,
    has_line_breaks,
    prepare,
)
from logtrace.schema import EXPORT_SPANS, TIME
from logtrace.write_behind import WriteBehind

TableFormat = Literal["csv", "json", "ndjson", "parquet"]
What = Literal["spans", "requests"]

_FIRST = ["request_id", "trace_id", "span_id", "parent_span_id", "host", "service", "kind",
          "name", "start", "end", "duration_s", "status", "error"]  # fmt: skip
SPAN_TABLE: dict[str, pl.DataType] = {
    **{c: EXPORT_SPANS.get(c, pl.String()) for c in _FIRST},
    **{c: t for c, t in EXPORT_SPANS.items() if c not in _FIRST},
    "line": OPTIONAL["line"],
}

REQUEST_TABLE: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "trace_id": pl.String(),
    "service": pl.String(),
    "host": pl.String(),
    "name": pl.String(),
    "route": pl.String(),
    "status": pl.UInt16(),
    "error": pl.Boolean(),
    "start": TIME,
    "end": TIME,
    "duration_s": pl.Float64(),
    "spans": pl.UInt32(),
    "services": pl.UInt32(),
    "hosts": pl.UInt32(),
    "errors": pl.UInt32(),
    "guessed_parents": pl.UInt32(),
    "critical_span_id": pl.String(),
    "critical_service": pl.String(),
    "critical_name": pl.String(),
    "critical_s": pl.Float64(),
}


def spans_table(prepared: Prepared) -> pl.DataFrame:
    """One row per span (:data:`SPAN_TABLE`)."""
    return prepared.spans.select(pl.col(c).cast(t) for c, t in SPAN_TABLE.items())


def _critical(spans: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """Per request, the span longest on its critical path, and for how long."""
    shares = critical_shares(
        spans.select("request_id", "span_id", "parent_span_id", "start", "end"),
        roots.select("request_id", "span_id"),
    )
    # The longest; of equals, the one the walk reached first (as critical_share orders them).
    top = (
        shares.sort(["critical_s", "first"], descending=[True, False])
        .unique("request_id", keep="first")
        .select("request_id", pl.col("span_id").alias("critical_span_id"), "critical_s")
    )
    names = spans.select(
        "request_id",
        pl.col("span_id").alias("critical_span_id"),
        pl.col("service").alias("critical_service"),
        pl.col("name").alias("critical_name"),
    ).unique(["request_id", "critical_span_id"], keep="first")
    return top.join(names, on=["request_id", "critical_span_id"], how="left")


def requests_table(prepared: Prepared) -> pl.DataFrame:
    """One row per request (:data:`REQUEST_TABLE`)."""
    spans = prepared.spans
    # The root: no parent, shallowest, earliest (a request normally has exactly one).
    roots = (
        spans.sort(
            "request_id",
            pl.col("parent_span_id").is_not_null(),
            pl.col("depth").fill_null(1 << 30),
            "start",
        )
        .group_by("request_id", maintain_order=True)
        .first()
    )
    totals = spans.group_by("request_id", maintain_order=True).agg(
        pl.col("trace_id").first(),
        pl.col("start").min(),
        pl.col("end").max(),
        pl.len().alias("spans"),
        pl.col("service").drop_nulls().n_unique().alias("services"),
        pl.col("host").drop_nulls().n_unique().alias("hosts"),
        pl.col("error").fill_null(value=False).sum().alias("errors"),
        pl.col("parent_guessed").fill_null(value=False).sum().alias("guessed_parents"),
    )
    root_columns = ["request_id", "service", "host", "name", "route", "status", "error"]
    table = (
        totals.join(roots.select(root_columns), on="request_id", how="left", maintain_order="left")
        .join(_critical(spans, roots), on="request_id", how="left", maintain_order="left")
        .with_columns(
            ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s")
        )
    )
    return table.select(pl.col(c).cast(t) for c, t in REQUEST_TABLE.items())


Table = Callable[[Prepared], pl.DataFrame]
_TABLES: dict[What, tuple[Table, dict[str, pl.DataType]]] = {
    "spans": (spans_table, SPAN_TABLE),
    "requests": (requests_table, REQUEST_TABLE),
}


def _frames(
    batches: Iterable[TraceBatch], table: Table, warnings: Warnings, tally: Tally
) -> Iterator[pl.DataFrame]:
    # Flat rows cost far less in flight than JSON documents: whole batches, not parts.
    for batch in batches:
        prepared = prepare(batch, warnings)
        if prepared.spans.is_empty():
            continue
        tally.count(prepared.spans)
        yield table(prepared)


def _iso(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        iso_text(pl.col(name), dtype)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
    )


def _ndjson_rows(frame: pl.DataFrame, line_breaks: bool | None = None) -> bytes:
    """One JSON object per row and line (UTF-8), times as ISO 8601 text."""
    buffer = io.BytesIO()
    _iso(frame).write_ndjson(buffer)
    rows = buffer.getvalue()
    if line_breaks is None:
        line_breaks = has_line_breaks(frame)
    return escape_line_break_bytes(rows) if line_breaks else rows


# Text columns of the tables that hold only hex ids: no cell of theirs can start a formula.
_HEX_IDS = ("trace_id", "span_id", "parent_span_id", "critical_span_id")


WRITES_AHEAD = 1  # tables made and waiting for the writing thread, at most


def _write_behind(frames: Iterator[pl.DataFrame], write: Callable[[pl.DataFrame], None]) -> None:
    """``write`` each frame, in order, in a thread of its own while the next frames are
    made (joined, batched, tabled): the two overlap. An error of either is raised here;
    on one (or Ctrl-C) the frames not yet written are dropped."""
    writer = WriteBehind(WRITES_AHEAD, "export")
    try:
        for frame in frames:
            writer.submit(partial(write, frame))
        writer.wait()
    finally:
        writer.close()


def _csv(frames: Iterator[pl.DataFrame], sink: Output, schema: dict[str, pl.DataType]) -> None:
    sink.text(pl.DataFrame(schema=schema).write_csv())
    buffer = io.BytesIO()  # for a stream that cannot tell its position (a pipe)

    def write(frame: pl.DataFrame) -> None:
        cells = spreadsheet_safe(frame, inert=_HEX_IDS)
        start = sink.position()
        if start is not None:  # a file: polars writes into it, ~40% faster than via a buffer
            with sink.direct(start) as out:
                cells.write_csv(out, include_header=False)
            return
        buffer.seek(0)
        buffer.truncate()
        cells.write_csv(buffer, include_header=False)
        with buffer.getbuffer() as rows:
            sink.write(rows)

    _write_behind(frames, write)


def _ndjson(frames: Iterator[pl.DataFrame], sink: Output, schema: dict[str, pl.DataType]) -> None:
    def write(frame: pl.DataFrame) -> None:
        start = sink.position()
        line_breaks = has_line_breaks(frame)
        if start is None or line_breaks:
            sink.write(_ndjson_rows(frame, line_breaks))
            return
        with sink.direct(start) as out:  # a file: polars writes into it
            _iso(frame).write_ndjson(out)

    _write_behind(frames, write)


def _json(frames: Iterator[pl.DataFrame], sink: Output, schema: dict[str, pl.DataType]) -> None:
    sink.write(b"[")
    first = True

    def write(frame: pl.DataFrame) -> None:
        nonlocal first
        # A row's JSON has no raw newline, so the lines are the rows.
        rows = _ndjson_rows(frame).rstrip(b"\n").replace(b"\n", b",\n")
        if rows:
            sink.write(b"\n" if first else b",\n")  # apart: rows is tens of MB, not copied
            sink.write(rows)
            first = False

    _write_behind(frames, write)
    sink.write(b"\n]\n")


def _parquet(frames: Iterator[pl.DataFrame], sink: Output, schema: dict[str, pl.DataType]) -> None:
    def source(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        yield from frames

    # polars only calls write() and flush() on the stream; Output counts the bytes.
    register_io_source(source, schema=schema).sink_parquet(cast(BinaryIO, sink))


_WRITERS = {"csv": _csv, "json": _json, "ndjson": _ndjson, "parquet": _parquet}


class TableWriter:
    """An exporter for one (format, table): ``write(batches, out, info)``."""

    def __init__(self, fmt: TableFormat, what: What) -> None:
        self.fmt = fmt
        self.what = what
        self.__name__ = f"write_{what}_{fmt}"

    def __call__(
        self, batches: Iterable[TraceBatch], out: BinaryIO, info: ExportInfo
    ) -> ExportSummary:
        sink, warnings, tally = Output(out), Warnings(), Tally()
        table, schema = _TABLES[self.what]
        _WRITERS[self.fmt](_frames(batches, table, warnings, tally), sink, schema)
        return tally.summary(sink, warnings)

    def __repr__(self) -> str:
        return f"TableWriter({self.fmt!r}, {self.what!r})"
