"""Jaeger UI JSON: the ``{"data": [trace, ...]}`` shape of Jaeger's query API (``.json``).

Jaeger UI's "JSON File" upload (Search page) turns this shape into traces in the browser,
with no backend. The file is ``{"data":[``, one trace per line, ``]}``, written batch by
batch.

A trace is ``{traceID, spans, processes, warnings}``; a process is one (service, host)
of the trace, keyed ``p1``, ``p2``... in order of appearance, with tags ``hostname``,
``ip`` (when the host label is an address) and ``logtrace.clock_offset_s`` (when the run
found one for the host). A span is ``{traceID, spanID, operationName, references,
startTime, duration, processID, tags, logs, warnings}`` with times in microseconds;
``references`` holds one ``CHILD_OF`` its parent (none on roots). Tags translate the OTel
model of ``model.py`` the way Jaeger's own OTLP translator does: ``span.kind``
(lowercase), typed values (string, bool, int64, float64), ``error`` (bool true) and
``otel.status_code`` on failed spans. Events become ``logs`` whose ``event`` field is
their name and ``message`` their text. Guessed parents and moved clocks show as span
``warnings``, the way Jaeger shows its own adjustments.
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
    NOTES,
    SPAN_ATTRIBUTES,
    Attribute,
    Model,
    model,
    per_span,
    resource_attributes,
)

_TYPES: dict[AttrType, str] = {
    "string": "string",
    "int": "int64",
    "double": "float64",
    "bool": "bool",
}


def tags(attributes: Sequence[Attribute]) -> pl.Expr:
    """A Jaeger tag array: ``{key, type, value}`` with typed values."""
    return arr(
        [
            template({"key": a.key, "type": _TYPES[a.type], "value": SLOT}, scalar(a.value, a.type))
            for a in attributes
        ]
    )


def _span_tags() -> list[Attribute]:
    return [
        Attribute("span.kind", "string", pl.col("kind").str.to_lowercase()),
        *SPAN_ATTRIBUTES,
        Attribute("error", "bool", pl.when(FAILED).then(pl.lit(value=True))),
        Attribute("otel.status_code", "string", pl.when(FAILED).then(pl.lit("ERROR"))),
    ]


def _log_fields() -> list[Attribute]:
    line = pl.col("line")
    # The message already is the original line when the line has no level/message split.
    return [
        Attribute("event", "string", pl.lit("log")),
        Attribute("message", "string", pl.col("text")),
        *(
            Attribute(a.key, a.type, pl.when(line != pl.col("text")).then(line))
            if a.key == "log.record.original"
            else a
            for a in EVENT_ATTRIBUTES
        ),
    ]


def _processes(spans: pl.DataFrame, info: ExportInfo) -> pl.DataFrame:
    """Per (trace_id, service, host): its ``pid``; and per trace its ``processes`` text."""
    keys = ["trace_id", "service", "host"]
    found = (
        spans.select(*keys, "host_ip")
        .unique(keys, keep="first", maintain_order=True)
        .with_columns(pl.format("p{}", pl.int_range(1, pl.len() + 1).over("trace_id")).alias("pid"))
    )
    host = pl.col("host")
    process = obj(
        [
            ("serviceName", js(pl.col("service"))),
            (
                "tags",
                tags(
                    [
                        Attribute("hostname", "string", host),
                        Attribute(
                            "ip", "string", pl.when(pl.col("host_ip").is_not_null()).then(host)
                        ),
                        resource_attributes(info)[2],  # logtrace.clock_offset_s of the host
                    ]
                ),
            ),
        ]
    )
    per_trace = found.group_by("trace_id", maintain_order=True).agg(
        pl.concat_str(
            pl.lit("{"),
            pl.concat_str(js(pl.col("pid")), pl.lit(":"), process).str.join(","),
            pl.lit("}"),
        ).alias("processes")
    )
    return found.select(*keys, "pid").join(
        per_trace, on="trace_id", how="left", maintain_order="left"
    )


def jaeger_traces(m: Model, info: ExportInfo) -> bytes:
    """The batch's Jaeger traces (UTF-8 JSON, one per line, comma-joined), in order."""
    events = m.events.select(
        "request_id",
        "span_id",
        obj([("timestamp", js(pl.col("time_us"))), ("fields", tags(_log_fields()))]).alias("json"),
    )
    # Tags apart, in their own column: polars builds columns in parallel.
    spans = m.spans.with_columns(
        per_span(events, pl.col("json"), m.spans).alias("logs"),
        tags(_span_tags()).alias("tags"),
    ).join(
        _processes(m.spans, info),
        on=["trace_id", "service", "host"],
        how="left",
        maintain_order="left",
        nulls_equal=True,
    )
    parent = pl.col("parent_span_id")
    reference = obj(
        [
            ("refType", const("CHILD_OF")),
            ("traceID", js(pl.col("trace_id"))),
            ("spanID", js(parent)),
        ]
    )
    notes = pl.concat_str([js(n) for n in NOTES], separator=",", ignore_nulls=True)
    span = obj(
        [
            ("traceID", js(pl.col("trace_id"))),
            ("spanID", js(pl.col("span_id"))),
            ("operationName", js(pl.col("name"))),
            (
                "references",
                pl.when(parent.is_not_null()).then(arr([reference])).otherwise(pl.lit("[]")),
            ),
            ("startTime", js(pl.col("start_us"))),
            ("duration", js(pl.col("end_us") - pl.col("start_us"))),
            ("processID", js(pl.col("pid"))),
            ("tags", pl.col("tags")),
            ("logs", joined(pl.col("logs"))),
            ("warnings", pl.when(notes != "").then(pl.concat_str(pl.lit("["), notes, pl.lit("]")))),
        ]
    )
    spans = spans.with_columns(span.alias("json"))
    head = pl.concat_str(pl.lit('\n{"traceID":'), js(pl.col("trace_id")), pl.lit(',"spans":['))
    tail = pl.concat_str(pl.lit('],"processes":'), pl.col("processes"), pl.lit(',"warnings":null}'))
    return grouped(spans, ["trace_id"], head, pl.col("json"), tail)


def write(batches: Iterable[TraceBatch], out: BinaryIO, info: ExportInfo) -> ExportSummary:
    """``{"data":[``, one trace per line, ``]}``."""
    sink, warnings, tally = Output(out), Warnings(), Tally()
    sink.write(b'{"data":[')
    first = True
    for batch in parts(batches):
        prepared = prepare(batch, warnings)
        if prepared.spans.is_empty():
            continue
        tally.count(prepared.spans)
        sink.write(b"" if first else b",")
        sink.write(jaeger_traces(model(prepared), info))
        first = False
    sink.write(b"\n]}\n")
    return tally.summary(sink, warnings)
