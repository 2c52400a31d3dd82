"""Trace and span ids as tracing tools want them, and what every exporter shares.

Trace ids (W3C trace-context: 32 lowercase hex digits, not all zero), from a request id:

* 32 hex digits (nginx ``$request_id``, an OTel trace id): the id itself, lowercased;
* a UUID: its 32 hex digits without the dashes, lowercased;
* 1 to 31 hex digits: left-padded with zeros to 32 (the W3C advice for shorter ids);
* anything else (``req-42/abc``, Rails/Heroku ids), or a result that would be all zeros:
  the first 16 bytes of SHA-256 of the id's UTF-8 bytes, in hex. Stable across runs,
  machines and Python versions (polars' own hash is not).

The original id always travels with the span (``logtrace.request_id``), so nothing is lost.

Span ids arrive as 16 hex digits (schema.EXPORT_SPANS). One that is not 16 lowercase hex digits,
or is all zeros, is replaced by a stable id derived from the request id and the value, and
the same mapping is applied to ``parent_span_id`` and to events, so links stay intact.

The rest of this module is the exporters' common ground (it lives here, below every format
module, so they can share it without importing each other): :class:`ExportSummary`, the
:class:`Output` byte counter, :class:`Warnings`, and :func:`prepare`, which gives every
format the same ids and integer times, so one request looks the same in every format.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import polars as pl

from logtrace.export.batch import TraceBatch
from logtrace.schema import EVENTS, EXPORT_SPANS

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX_SHORT = re.compile(r"[0-9a-fA-F]{1,32}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SPAN = re.compile(r"[0-9a-f]{16}")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def _digest(text: str, size: int) -> str:
    """``size`` hex digits of SHA-256 of ``text``, never all zeros."""
    salt = 0
    while True:
        data = text.encode("utf-8", "surrogatepass") + (b"\0%d" % salt if salt else b"")
        value = hashlib.sha256(data).hexdigest()[:size]
        if value.strip("0"):
            return value
        salt += 1  # 2**-128 (or 2**-64) odds, but an all-zero id is invalid everywhere


def trace_id(request_id: str) -> str:
    """The 32-hex trace id of a request id (see the module docstring for the rules)."""
    if _UUID.fullmatch(request_id):
        candidate = request_id.replace("-", "").lower()
    elif _HEX_SHORT.fullmatch(request_id):
        candidate = request_id.lower().rjust(32, "0")
    else:
        return _digest(request_id, 32)
    return candidate if candidate != _ZERO_TRACE else _digest(request_id, 32)


def is_trace_id(value: str) -> bool:
    """32 lowercase hex digits, not all zero: valid in W3C, OTLP, Zipkin and Jaeger."""
    return bool(_HEX32.fullmatch(value)) and value != _ZERO_TRACE


def is_span_id(value: str) -> bool:
    """16 lowercase hex digits, not all zero."""
    return bool(_SPAN.fullmatch(value)) and value != _ZERO_SPAN


def span_id(value: str, request_id: str) -> str:
    """``value`` if it is a valid span id (lowercased), else a stable id derived from it."""
    lowered = value.lower()
    if is_span_id(lowered):
        return lowered
    return _digest(f"{request_id}\0{value}", 16)


def _mapped(series: pl.Series, convert: dict[str, str]) -> pl.Series:
    return series.replace_strict(convert, default=series, return_dtype=pl.String)


def _trace_ids(series: pl.Series) -> pl.Series:
    # The usual case (nginx $request_id, W3C ids): every id is a trace id already.
    if series.str.contains(r"^[0-9a-f]{32}$").all() and not (series == _ZERO_TRACE).any():
        return series
    lower = series.str.to_lowercase()
    fast = (
        pl.select(
            pl.when(lower.str.contains(r"^[0-9a-f]{32}$"))
            .then(lower)
            .when(lower.str.contains(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"))
            .then(lower.str.replace_all("-", "", literal=True))
            .when(lower.str.contains(r"^[0-9a-f]{1,31}$"))
            .then(lower.str.zfill(32))
        )
        .to_series()
        .alias(series.name)
    )
    slow = series.filter(fast.is_null() | (fast == _ZERO_TRACE)).drop_nulls().unique()
    if slow.is_empty():
        return fast
    convert = {v: _digest(v, 32) for v in slow.to_list()}
    hashed = series.replace_strict(convert, default=None, return_dtype=pl.String)
    return pl.select(pl.when(hashed.is_not_null()).then(hashed).otherwise(fast)).to_series()


def trace_id_expr(request_id: pl.Expr) -> pl.Expr:
    """:func:`trace_id` over a column; hashing runs only on the unique ids that need it."""
    return request_id.map_batches(_trace_ids, return_dtype=pl.String)


def span_id_expr(span: pl.Expr, request_id: pl.Expr) -> pl.Expr:
    """:func:`span_id` over a column, for ``span_id`` and ``parent_span_id`` alike."""

    def convert(pair: pl.Series) -> pl.Series:
        frame = pair.struct.unnest()
        ids, rids = frame.to_series(0), frame.to_series(1)
        if (ids.str.contains(r"^[0-9a-f]{16}$") & (ids != _ZERO_SPAN)).all():
            return ids  # every id is valid already (nulls are kept as they are)
        lower = ids.str.to_lowercase()
        bad = ids.is_not_null() & ~(lower.str.contains(r"^[0-9a-f]{16}$") & (lower != _ZERO_SPAN))
        if not bad.any():
            return lower
        fixes = {
            (rid, sid): span_id(sid, rid or "")
            for sid, rid in zip(ids.filter(bad).to_list(), rids.filter(bad).to_list(), strict=True)
        }
        fixed = [
            fixes.get((rid, sid), low)
            for sid, rid, low in zip(ids.to_list(), rids.to_list(), lower.to_list(), strict=True)
        ]
        return pl.Series(ids.name, fixed, dtype=pl.String)

    return pl.struct(span.alias("s"), request_id.alias("r")).map_batches(
        convert, return_dtype=pl.String
    )


# ---------------------------------------------------------------- shared by all exporters


@dataclass(frozen=True)
class ExportSummary:
    """What an exporter wrote: traces, spans, bytes, and anything it had to change."""

    traces: int
    spans: int
    bytes_written: int
    warnings: tuple[str, ...] = ()


LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}
"""Characters JSON allows raw in strings but some readers split lines on (Python's
``splitlines``), and their escapes. Escaping them anywhere in JSON text is safe: outside
strings they cannot occur."""
_ANY_LINE_BREAK = "[\u2028\u2029\x85]"


def escape_line_breaks(texts: pl.Series) -> pl.Series:
    """JSON texts with :data:`LINE_BREAKS` escaped (one fast scan when there are none)."""
    if not texts.str.contains(_ANY_LINE_BREAK).any():
        return texts
    for raw, escaped in LINE_BREAKS.items():
        texts = texts.str.replace_all(raw, escaped, literal=True)
    return texts


def has_line_breaks(frame: pl.DataFrame) -> bool:
    """Whether any text cell of ``frame`` holds one of :data:`LINE_BREAKS`."""
    found = frame.select(pl.col(pl.String).str.contains(_ANY_LINE_BREAK).any())
    return any(found.row(0)) if found.width else False


def escape_line_break_bytes(json_utf8: bytes) -> bytes:
    """:func:`escape_line_breaks` for UTF-8 JSON bytes (UTF-8 has no false matches)."""
    for raw, escaped in LINE_BREAKS.items():
        json_utf8 = json_utf8.replace(raw.encode(), escaped.encode())
    return json_utf8


class Output:
    """A binary stream that counts what is written to it.

    Every exporter writes bytes to a caller-owned binary stream (a file opened ``"wb"``,
    ``sys.stdout.buffer``, ``io.BytesIO``); it never opens, seeks or closes it.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.bytes_written = 0

    def position(self) -> int | None:
        """Where the stream is when it is a regular file, else None (a pipe, a terminal,
        ``/dev/null``, a ``BytesIO``: their position does not count the bytes)."""
        try:
            regular = stat.S_ISREG(os.fstat(self._out.fileno()).st_mode)
            return self._out.tell() if regular else None
        except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError
            return None

    @contextmanager
    def direct(self, start: int) -> Iterator[BinaryIO]:
        """The stream itself, for a writer that writes to it directly (polars' ``write_csv``
        on a file is ~40% faster than into a buffer); the bytes it wrote are counted by
        the stream's position, which must be ``start`` now."""
        yield self._out
        self.bytes_written += self._out.tell() - start

    def write(self, data: bytes | memoryview) -> int:
        self._out.write(data)
        self.bytes_written += len(data)
        return len(data)

    def text(self, text: str) -> None:
        self.write(text.encode("utf-8"))

    def flush(self) -> None:
        self._out.flush()


class Warnings:
    """Counts of things an exporter fixed or dropped; reported, never silent."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, message: str, count: int = 1) -> None:
        if count:
            self._counts[message] += count

    def summary(self) -> tuple[str, ...]:
        return tuple(f"{n} {message}" for message, n in self._counts.items())


@dataclass
class Tally:
    """Running totals an exporter turns into its :class:`ExportSummary`."""

    traces: int = 0
    spans: int = 0

    def count(self, spans: pl.DataFrame) -> None:
        self.spans += spans.height
        self.traces += spans.get_column("request_id").n_unique()

    def summary(self, out: Output, warnings: Warnings) -> ExportSummary:
        return ExportSummary(self.traces, self.spans, out.bytes_written, warnings.summary())


OPTIONAL: dict[str, pl.DataType] = {
    "line": pl.String(),  # the span's original log line
    "http_host": pl.String(),  # the Host the request was sent to, when logged
}
"""Columns a span frame may carry besides EXPORT_SPANS (null when absent)."""

EVENT_COLUMNS: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "span_id": pl.String(),
    "time_us": pl.Int64(),
    "level": pl.String(),
    "message": pl.String(),
    "line": pl.String(),
    "source": pl.String(),
    "line_no": pl.UInt64(),
}


@dataclass(frozen=True)
class Prepared:
    """One batch with checked ids and integer times, as every format reads it.

    ``spans`` has the EXPORT_SPANS and OPTIONAL columns plus ``trace_id``, ``start_us``,
    ``end_us`` and ``raw_start_us`` (Int64 epoch microseconds; ``end_us`` is never before
    ``start_us``). ``events`` (:data:`EVENT_COLUMNS`) holds the events whose span is in
    the batch, with ``time_us`` moved by that span's clock offset.
    """

    spans: pl.DataFrame
    events: pl.DataFrame


PART_SPANS = 8192
"""Most spans an exporter turns into text at once (whole traces; one bigger trace is kept
whole). Building JSON with polars expressions holds ~15 KB per span in flight, so a huge
batch is cut into parts of about this size: memory stays near 150 MB whatever the batch."""


def parts(batches: Iterable[TraceBatch], max_spans: int = PART_SPANS) -> Iterator[TraceBatch]:
    """The batches, each cut into parts of whole traces with at most ``max_spans`` spans."""
    for batch in batches:
        if batch.spans.height <= max_spans:
            yield batch
            continue
        sizes = batch.spans.group_by("request_id", maintain_order=True).len()
        # Greedy: a new part starts where the running count would pass max_spans.
        part, filled, numbers = 0, 0, []
        for size in sizes.get_column("len").to_list():
            if filled and filled + size > max_spans:
                part, filled = part + 1, 0
            filled += size
            numbers.append(part)
        owner = sizes.select("request_id", pl.Series("part", numbers, dtype=pl.UInt32))
        spans = batch.spans.join(owner, on="request_id", how="left", maintain_order="left")
        events = batch.events.join(owner, on="request_id", how="left", maintain_order="left")
        events = events.with_columns(pl.col("part").fill_null(0))  # orphans: counted later
        for n in range(part + 1):
            yield TraceBatch(
                spans.filter(pl.col("part") == n).drop("part"),
                events.filter(pl.col("part") == n).drop("part"),
            )


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with exactly the columns of ``schema`` (missing ones null), cast."""
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
        for c, t in schema.items()
    )


def prepare(batch: TraceBatch, warnings: Warnings) -> Prepared:
    """The batch's spans and events with valid ids and µs times (fixes are counted)."""
    spans = _conform(batch.spans, {**EXPORT_SPANS, **OPTIONAL})
    missing = spans.filter(pl.col("start").is_null() | pl.col("end").is_null()).height
    warnings.add("spans without a start or end time were left out", missing)
    spans = spans.filter(pl.col("start").is_not_null() & pl.col("end").is_not_null())
    valid = pl.col("span_id").str.contains(r"^[0-9a-f]{16}$") & (pl.col("span_id") != _ZERO_SPAN)
    warnings.add(
        "span ids were not 16 lowercase hex digits (or all zero); stable ones were derived",
        spans.filter(~valid.fill_null(value=False)).height,
    )
    start_us = pl.col("start").dt.epoch("us")
    end_us = pl.col("end").dt.epoch("us")
    warnings.add(
        "spans ended before they started; their end was set to their start",
        spans.filter(end_us < start_us).height,
    )
    rid = pl.col("request_id").fill_null("")
    span = pl.col("span_id")
    if spans.get_column("span_id").has_nulls():  # formatted only when needed: it is costly
        span = span.fill_null(pl.format("{}:{}", "source", "line_no"))
    spans = spans.with_columns(
        pl.col("request_id").fill_null(""),
        trace_id_expr(rid).alias("trace_id"),
        span_id_expr(span, rid).alias("span_id"),
        span_id_expr(pl.col("parent_span_id"), rid).alias("parent_span_id"),
        start_us.alias("start_us"),
        pl.max_horizontal(start_us, end_us).alias("end_us"),
        pl.col("raw_start").dt.epoch("us").alias("raw_start_us"),
    )
    shared = spans.group_by("trace_id").agg(pl.col("request_id").n_unique().alias("n"))
    warnings.add(
        "trace ids are shared by request ids that differ (e.g. 'abc' and '0abc')",
        shared.filter(pl.col("n") > 1).height,
    )
    dupes = int(spans.select("request_id", "span_id").is_duplicated().sum())
    warnings.add("spans share a span id with another span of their trace", dupes)
    return Prepared(spans, _events(batch.events, spans, warnings))


def _events(events: pl.DataFrame, spans: pl.DataFrame, warnings: Warnings) -> pl.DataFrame:
    if events.is_empty():
        return pl.DataFrame(schema=EVENT_COLUMNS)
    rid = pl.col("request_id").fill_null("")
    frame = _conform(events, EVENTS).with_columns(
        rid, span_id_expr(pl.col("span_id"), rid).alias("span_id")
    )
    unowned = frame.filter(pl.col("span_id").is_null() | pl.col("time").is_null())
    warnings.add("events without a span id or time were left out", unowned.height)
    frame = frame.filter(pl.col("span_id").is_not_null() & pl.col("time").is_not_null())
    # EVENTS times are as logged: move them by the same clock offset as their span.
    joined = frame.join(
        spans.select("request_id", "span_id", pl.col("skew_s").fill_null(0.0)).unique(
            ["request_id", "span_id"]
        ),
        on=["request_id", "span_id"],
        how="left",
        coalesce=True,
        maintain_order="left",
    )
    owned = joined.filter(pl.col("skew_s").is_not_null())
    warnings.add(
        "events refer to no span of their trace and were left out", joined.height - owned.height
    )
    moved_us = (pl.col("skew_s") * 1e6).round(0).cast(pl.Int64)
    return owned.select(
        "request_id",
        "span_id",
        (pl.col("time").dt.epoch("us") - moved_us).alias("time_us"),
        "level",
        "message",
        "line",
        pl.col("source").fill_null(""),
        pl.col("line_no"),
    )
