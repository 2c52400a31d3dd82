"""OTLP/JSON: traces for OpenTelemetry collectors, Tempo and Jaeger (the span model
they are made of is in ``model``).

Two files, both streamed batch by batch:

* ``otlp`` (``.jsonl``): one ``TracesData`` (= ``ExportTraceServiceRequest``) per line,
  one line per batch (a batch of more than ``ids.PART_SPANS`` spans becomes several lines
  of whole traces): the OTel file-exporter format. Jaeger UI's "JSON File" upload takes
  it (it posts the file to a running Jaeger backend's ``/api/transform``); to ingest it,
  POST each line to ``:4318/v1/traces``, or use ``push``.
* ``otlp-json`` (``.json``): one ``ExportTraceServiceRequest`` document for the whole run,
  ready for ``curl --data @file``. Its ``resourceSpans`` are written one batch at a time,
  so a (service, host) resource appears once per batch (OTLP allows repeats).

OTLP/JSON rules followed (opentelemetry-proto's JSON encoding): hex ids (not base64),
integer enums, lowerCamelCase keys, 64-bit integers (``*UnixNano``, ``intValue``) as
decimal strings, ``parentSpanId`` left out on roots, empty fields left out.

Speed: spans are turned into JSON by polars expressions (``jsontext``), a whole batch at a
time (about 40 000 spans/s, where ``json.dumps`` per span managed 6 000).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import BinaryIO

import polars as pl

from logtrace.export.batch import ExportInfo, TraceBatch
from logtrace.export.ids import ExportSummary, Output, Tally, Warnings, parts, prepare
from logtrace.export.jsontext import (
    SLOT,
    AttrType,
    arr,
    const,
    grouped,
    joined,
    js,
    obj,
    scalar,
    template,
)
from logtrace.export.model import (
    EVENT_ATTRIBUTES,
    FAILED,
    KINDS,
    SCOPE,
    SPAN_ATTRIBUTES,
    STATUS_ERROR,
    Attribute,
    Model,
    model,
    per_span,
    resource_attributes,
)

# ------------------------------------------------------------------------- OTLP/JSON

_VALUE_KEY: dict[AttrType, str] = {
    "string": "stringValue",
    "int": "intValue",
    "double": "doubleValue",
    "bool": "boolValue",
}


def otlp_attributes(attributes: Sequence[Attribute]) -> pl.Expr:
    """An OTLP ``attributes`` array (int64 as a decimal string, as OTLP/JSON wants)."""
    items = []
    for a in attributes:
        if a.type == "int":
            value = js(a.value.cast(pl.Int64).cast(pl.String))
        else:
            value = scalar(a.value, a.type)
        items.append(template({"key": a.key, "value": {_VALUE_KEY[a.type]: SLOT}}, value))
    return arr(items)


def _nanos(micros: str) -> pl.Expr:
    return js((pl.col(micros) * 1000).cast(pl.String))


def otlp_spans(m: Model) -> pl.DataFrame:
    """Columns ``trace_id``, ``service``, ``host`` and ``json`` (one OTLP span each), in
    batch order."""
    events = m.events.select(
        "request_id",
        "span_id",
        obj(
            [
                ("timeUnixNano", _nanos("time_us")),
                ("name", const("log")),
                ("attributes", otlp_attributes(EVENT_ATTRIBUTES)),
            ]
        ).alias("json"),
    )
    # The attributes apart, in their own column: polars builds columns in parallel.
    spans = m.spans.with_columns(
        per_span(events, pl.col("json"), m.spans).alias("events"),
        otlp_attributes(SPAN_ATTRIBUTES).alias("attributes"),
    )
    kind = pl.col("kind").replace_strict(KINDS, return_dtype=pl.Int64)
    return spans.select(
        "trace_id",
        "service",
        "host",
        obj(
            [
                ("traceId", js(pl.col("trace_id"))),
                ("spanId", js(pl.col("span_id"))),
                ("parentSpanId", js(pl.col("parent_span_id"))),
                ("name", js(pl.col("name"))),
                ("kind", js(kind)),
                ("startTimeUnixNano", _nanos("start_us")),
                ("endTimeUnixNano", _nanos("end_us")),
                ("attributes", pl.col("attributes")),
                ("events", pl.when(pl.col("events").is_not_null()).then(joined(pl.col("events")))),
                ("status", pl.when(FAILED).then(const({"code": STATUS_ERROR}))),
            ]
        ).alias("json"),
    )


def resource_spans(spans: pl.DataFrame, info: ExportInfo) -> bytes:
    """The ``resourceSpans`` items (UTF-8 JSON, comma-joined): one per (service, host)."""
    scope = const({"name": SCOPE, "version": info.version})
    resource = obj([("attributes", otlp_attributes(resource_attributes(info)))])
    head = pl.concat_str(
        pl.lit('{"resource":'),
        resource,
        pl.lit(',"scopeSpans":[{"scope":'),
        scope,
        pl.lit(',"spans":['),
    )
    return grouped(spans, ["service", "host"], head, pl.col("json"), pl.lit("]}]}"))


DOCUMENT = (b'{"resourceSpans":[', b"]}")
"""What goes around ``resourceSpans`` items to make an ``ExportTraceServiceRequest``."""


def write(batches: Iterable[TraceBatch], out: BinaryIO, info: ExportInfo) -> ExportSummary:
    """OTLP/JSON Lines: one ``TracesData`` per batch, one per line."""
    sink, warnings, tally = Output(out), Warnings(), Tally()
    for batch in parts(batches):
        prepared = prepare(batch, warnings)
        if prepared.spans.is_empty():
            continue
        tally.count(prepared.spans)
        sink.write(DOCUMENT[0])
        sink.write(resource_spans(otlp_spans(model(prepared)), info))
        sink.write(DOCUMENT[1] + b"\n")
    return tally.summary(sink, warnings)


def write_document(batches: Iterable[TraceBatch], out: BinaryIO, info: ExportInfo) -> ExportSummary:
    """One OTLP/JSON ``ExportTraceServiceRequest`` for all batches, streamed."""
    sink, warnings, tally = Output(out), Warnings(), Tally()
    sink.write(DOCUMENT[0])
    first = True
    for batch in parts(batches):
        prepared = prepare(batch, warnings)
        if prepared.spans.is_empty():
            continue
        tally.count(prepared.spans)
        sink.write(b"\n" if first else b",\n")
        sink.write(resource_spans(otlp_spans(model(prepared)), info))
        first = False
    sink.write(b"\n" + DOCUMENT[1] + b"\n")
    return tally.summary(sink, warnings)
