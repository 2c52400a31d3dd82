"""Zipkin v2 JSON: one JSON array of spans (``.json``), streamed one span per line.

POST it to Zipkin's ``/api/v2/spans`` (or Jaeger's Zipkin receiver, ``:9411``). Zipkin
Lens's "Upload JSON" shows one trace per file: export a single request for that.

The spans are the OTel model of ``model.py`` translated the way the OTel spec's Zipkin
exporter does: times in microseconds (``duration`` at least 1), lowercase hex ids with a
32-hex ``traceId``, ``kind`` SERVER/CLIENT (left out for INTERNAL), ``name`` lowercased,
``localEndpoint`` {serviceName, ipv4/ipv6 when the host label is an address},
``remoteEndpoint`` for CLIENT spans from ``peer`` (serviceName, ipv4/ipv6, port),
attributes as tags with string values (booleans "true"/"false"), a failed span tagged
``otel.status_code=ERROR`` and ``error=<error.type>``, events as ``annotations`` (the
log line, or "LEVEL: message"). ``shared`` is never set: logtrace's SERVER and CLIENT
spans each have their own id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import polars as pl

from logtrace.export.batch import ExportInfo, TraceBatch
from logtrace.export.ids import ExportSummary, Output, Tally, Warnings, parts, prepare
from logtrace.export.jsontext import join_json, joined, js, obj
from logtrace.export.model import FAILED, SPAN_ATTRIBUTES, Attribute, Model, model, per_span

_ZIPKIN_KINDS = ["SERVER", "CLIENT", "PRODUCER", "CONSUMER"]


def tag_text(attribute: Attribute) -> pl.Expr:
    """An attribute as a Zipkin tag value: always a string."""
    value = attribute.value
    if attribute.type == "bool":
        return pl.when(value).then(pl.lit("true")).when(value.not_()).then(pl.lit("false"))
    return value.cast(pl.String)


def _endpoint(
    service: pl.Expr, address: pl.Expr, version: pl.Expr, port: pl.Expr | None = None
) -> pl.Expr:
    fields = [
        ("serviceName", js(service)),
        ("ipv4", js(pl.when(version == 4).then(address))),
        ("ipv6", js(pl.when(version == 6).then(address))),
    ]
    if port is not None:
        fields.append(("port", js(port)))
    return obj(fields)


def zipkin_spans(m: Model) -> pl.Series:
    """One Zipkin v2 span (JSON text) per span of the batch, in batch order."""
    events = m.events.select(
        "request_id",
        "span_id",
        obj([("timestamp", js(pl.col("time_us"))), ("value", js(pl.col("text")))]).alias("json"),
    )
    tags = [(a.key, js(tag_text(a))) for a in SPAN_ATTRIBUTES]
    tags += [
        ("otel.status_code", js(pl.when(FAILED).then(pl.lit("ERROR")))),
        ("error", js(pl.col("error_type"))),
    ]
    # Tags apart, in their own column: polars builds columns in parallel.
    spans = m.spans.with_columns(
        per_span(events, pl.col("json"), m.spans).alias("annotations"), obj(tags).alias("tags")
    )
    address, version = pl.col("peer_address"), pl.col("peer_ip")
    remote_name = pl.coalesce(pl.col("peer_service"), pl.when(version.is_null()).then(address))
    has_remote = (
        remote_name.is_not_null() | version.is_not_null() | pl.col("peer_port").is_not_null()
    )
    return spans.select(
        obj(
            [
                ("traceId", js(pl.col("trace_id"))),
                ("id", js(pl.col("span_id"))),
                ("parentId", js(pl.col("parent_span_id"))),
                ("name", js(pl.col("name").str.to_lowercase())),
                ("kind", js(pl.when(pl.col("kind").is_in(_ZIPKIN_KINDS)).then(pl.col("kind")))),
                ("timestamp", js(pl.col("start_us"))),
                ("duration", js(pl.max_horizontal(pl.col("end_us") - pl.col("start_us"), 1))),
                ("localEndpoint", _endpoint(pl.col("service"), pl.col("host"), pl.col("host_ip"))),
                (
                    "remoteEndpoint",
                    pl.when((pl.col("kind") == "CLIENT") & has_remote).then(
                        _endpoint(remote_name, address, version, pl.col("peer_port"))
                    ),
                ),
                (
                    "annotations",
                    pl.when(pl.col("annotations").is_not_null()).then(
                        joined(pl.col("annotations"))
                    ),
                ),
                ("tags", pl.col("tags")),
            ]
        )
    ).to_series()


def write(batches: Iterable[TraceBatch], out: BinaryIO, info: ExportInfo) -> ExportSummary:
    """A Zipkin v2 ``ListOfSpans``: ``[``, one span per line, ``]``."""
    sink, warnings, tally = Output(out), Warnings(), Tally()
    sink.write(b"[")
    first = True
    for batch in parts(batches):
        prepared = prepare(batch, warnings)
        if prepared.spans.is_empty():
            continue
        tally.count(prepared.spans)
        sink.write(b"\n" if first else b",\n")
        sink.write(join_json(zipkin_spans(model(prepared)), ",\n"))
        first = False
    sink.write(b"\n]\n")
    return tally.summary(sink, warnings)
