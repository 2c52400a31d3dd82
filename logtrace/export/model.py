"""The OpenTelemetry model of spans: resources, kinds, attributes, status, events.

Shared by ``otlp``, ``zipkin`` and ``jaeger`` (which translate it the way the OTel
spec's Zipkin exporter and Jaeger's own OTLP translator do, so a request looks the same
in every format):

* resource = (service, host): ``service.name``, ``host.name`` (Jaeger's clock-skew
  adjuster keys on it), and ``logtrace.clock_offset_s`` when the run found an offset for
  the host; scope ``{"name": "logtrace", "version": ...}``.
* kind: SERVER 2, CLIENT 3, INTERNAL 1.
* SERVER spans (HTTP semantic conventions): ``http.request.method`` (``_OTHER`` plus
  ``http.request.method_original`` for unknown methods), ``url.path``, ``url.query``,
  ``url.scheme`` ("http": the scheme is not logged), ``http.route``,
  ``http.response.status_code``, ``error.type``, ``server.address`` (from an optional
  ``http_host`` column).
* CLIENT spans: ``http.request.method``, ``http.response.status_code``, ``error.type``, and
  from ``peer``: ``url.full`` (a URL), ``server.address``/``server.port`` (``host:port``,
  an address, ``unix:/path``) or ``peer.service`` (a bare service name).
* status ERROR (code 2) for a SERVER 5xx, a CLIENT 4xx/5xx (the semconv rule: a server
  answering 4xx did its job, a client receiving one did not), or a span flagged ``error``;
  unset otherwise. ``error.type`` is the status code, or ``_OTHER``.
* events: the span's own log line (``line`` column) as an event "log" at the span's end
  (nginx and apps write the line when the request ends) with ``log.record.original``; each
  app log line inside the span (EVENTS) as an event "log" with ``log.severity``,
  ``log.message`` and ``log.record.original``, at its time moved by the span's offset.
* logtrace attributes: ``logtrace.request_id`` (always: the id as logged),
  ``logtrace.source`` (``file:line``), ``logtrace.parent_guessed``,
  ``logtrace.time_precision_s``, ``logtrace.attempt`` (upstream attempts),
  ``logtrace.clock_offset_s`` and ``logtrace.raw_start_unix_nano`` when the span's times
  were corrected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

import polars as pl

from logtrace.export.batch import ExportInfo
from logtrace.export.ids import Prepared
from logtrace.export.jsontext import AttrType

KINDS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
STATUS_ERROR = 2
SCOPE = "logtrace"
HTTP_METHODS = ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY",
                "TRACE"]  # fmt: skip


@dataclass(frozen=True)
class Attribute:
    """An attribute of every span (or event): null where it does not apply."""

    key: str
    type: AttrType
    value: pl.Expr


class Peer(NamedTuple):
    """What a CLIENT span's ``peer`` says about the server it called."""

    url: str | None = None
    address: str | None = None  # host name, IP address or socket path
    port: int | None = None
    service: str | None = None  # a bare service name ("inventory")


def ip_version(text: str | None) -> int | None:
    """4 or 6 when ``text`` is an IP address, else None."""
    if not text:
        return None
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


def parse_peer(peer: str | None) -> Peer:
    """``peer`` as a URL, ``host:port``, ``[v6]:port``, an address, a socket or a name."""
    if not peer:
        return Peer()
    if peer.lower().startswith(("http://", "https://")):
        parts = urlsplit(peer)
        try:
            port = parts.port
        except ValueError:
            port = None
        return Peer(url=peer, address=parts.hostname, port=port)
    if peer.startswith("unix:"):
        return Peer(address=peer.removeprefix("unix:"))
    if ip_version(peer):
        return Peer(address=peer)
    host, sep, port_text = peer.rpartition(":")
    if sep and host and port_text.isdigit() and 0 < int(port_text) < 65536:
        return Peer(address=host.removeprefix("[").removesuffix("]"), port=int(port_text))
    if "." in peer or "/" in peer:
        return Peer(address=peer)
    return Peer(service=peer)


_PEER_SCHEMA: dict[str, pl.DataType] = {
    "peer": pl.String(),
    "peer_url": pl.String(),
    "peer_address": pl.String(),
    "peer_port": pl.UInt16(),
    "peer_service": pl.String(),
    "peer_ip": pl.UInt8(),
}


def _peers(peers: pl.Series) -> pl.DataFrame:
    """:func:`parse_peer` of each distinct peer (few: upstream addresses, service names)."""
    rows = []
    for peer in peers.drop_nulls().unique().to_list():
        p = parse_peer(peer)
        rows.append((peer, p.url, p.address, p.port, p.service, ip_version(p.address)))
    return pl.DataFrame(rows, schema=_PEER_SCHEMA, orient="row")


def _hosts(hosts: pl.Series) -> pl.DataFrame:
    values = hosts.drop_nulls().unique().to_list()
    return pl.DataFrame(
        {"host": values, "host_ip": [ip_version(h) for h in values]},
        schema={"host": pl.String(), "host_ip": pl.UInt8()},
    )


def _finite(value: pl.Expr) -> pl.Expr:
    return pl.when(value.is_finite()).then(value)


@dataclass(frozen=True)
class Model:
    """A batch in OTel terms: spans and events with the columns the attributes read."""

    spans: pl.DataFrame
    events: pl.DataFrame


def model(prepared: Prepared) -> Model:
    """The batch's spans (in batch order) with the columns the attributes read, and its
    events: each span's own line (at its end) and the app lines inside it, by time."""
    spans = prepared.spans
    kind = (
        pl.when(pl.col("kind").is_in(list(KINDS)))
        .then(pl.col("kind"))
        .otherwise(pl.lit("INTERNAL"))
    )
    status = pl.col("status").cast(pl.Int64)
    failed_status = (status >= 500) | ((pl.col("kind") == "CLIENT") & (status >= 400))
    target = pl.col("target")
    absolute = target.str.contains(r"(?i)^https?://")
    relative = (
        pl.when(absolute).then(target.str.replace(r"(?i)^https?://[^/?#]*", "")).otherwise(target)
    )
    path = relative.str.replace(r"[?#].*$", "")
    query = relative.str.extract(r"\?([^#]*)", 1)
    spans = (
        spans.join(_peers(spans.get_column("peer")), on="peer", how="left", maintain_order="left")
        .join(_hosts(spans.get_column("host")), on="host", how="left", maintain_order="left")
        .with_columns(
            kind.alias("kind"),
            pl.when(pl.col("name").str.len_chars() > 0)
            .then(pl.col("name"))
            .otherwise(kind.str.to_lowercase())
            .alias("name"),
            pl.col("service").fill_null("unknown_service"),
            pl.when(failed_status)
            .then(status.cast(pl.String))
            .when(pl.col("error"))
            .then(pl.lit("_OTHER"))
            .alias("error_type"),
            pl.when(path == "").then(pl.lit("/")).otherwise(path).alias("url_path"),
            pl.when(query != "").then(query).alias("url_query"),
            pl.format(
                "{}:{}", pl.col("source").fill_null(""), pl.col("line_no").fill_null(0)
            ).alias("source_ref"),
        )
    )
    own = spans.filter(pl.col("line").is_not_null()).select(
        "request_id",
        "span_id",
        pl.col("end_us").alias("time_us"),
        pl.lit(None, pl.String).alias("level"),
        pl.lit(None, pl.String).alias("message"),
        "line",
        "source_ref",
        pl.col("line").alias("text"),
        pl.lit(0, pl.UInt8).alias("order"),
    )
    level, message = pl.col("level"), pl.col("message")
    logged = prepared.events.select(
        "request_id",
        "span_id",
        "time_us",
        "level",
        "message",
        "line",
        pl.format("{}:{}", "source", pl.col("line_no").fill_null(0)).alias("source_ref"),
        pl.when(level.is_not_null() & message.is_not_null())
        .then(pl.format("{}: {}", level, message))
        .otherwise(pl.coalesce(message, pl.col("line"), pl.lit("")))
        .alias("text"),
        pl.lit(1, pl.UInt8).alias("order"),
    )
    events = pl.concat([own, logged]).sort("request_id", "span_id", "time_us", "order")
    return Model(spans, events)


def _kind_is(*kinds: str) -> pl.Expr:
    return pl.col("kind").is_in(list(kinds))


_http = _kind_is("SERVER", "CLIENT")
_server = _kind_is("SERVER")
_client = _kind_is("CLIENT")
_method = pl.col("method")
_known = _method.is_in(HTTP_METHODS)
_skew = pl.col("skew_s")
_other = pl.lit("_OTHER")  # semconv: a method outside the known set
_corrected = pl.col("raw_start_us") != pl.col("start_us")
_address = pl.when(_client).then(pl.col("peer_address")).when(_server).then(pl.col("http_host"))

SPAN_ATTRIBUTES: list[Attribute] = [
    Attribute("http.request.method", "string", pl.when(_http & _known).then(_method)
              .when(_http & _method.is_not_null()).then(_other)),
    Attribute("http.request.method_original", "string", pl.when(_http & ~_known).then(_method)),
    Attribute("url.path", "string", pl.when(_server & pl.col("target").is_not_null())
              .then(pl.col("url_path"))),
    Attribute("url.query", "string", pl.when(_server).then(pl.col("url_query"))),
    Attribute("url.scheme", "string", pl.when(_server).then(pl.lit("http"))),
    Attribute("http.route", "string", pl.when(_server).then(pl.col("route"))),
    Attribute("url.full", "string", pl.when(_client).then(pl.col("peer_url"))),
    Attribute("server.address", "string", _address),
    Attribute("server.port", "int", pl.when(_client).then(pl.col("peer_port"))),
    Attribute("peer.service", "string", pl.when(_client).then(pl.col("peer_service"))),
    Attribute("http.response.status_code", "int", pl.when(_http).then(pl.col("status"))),
    Attribute("error.type", "string", pl.col("error_type")),
    Attribute("logtrace.request_id", "string", pl.col("request_id")),
    Attribute("logtrace.source", "string", pl.col("source_ref")),
    Attribute("logtrace.parent_guessed", "bool", pl.col("parent_guessed")),
    Attribute("logtrace.time_precision_s", "double", _finite(pl.col("precision_s"))),
    Attribute("logtrace.attempt", "int", pl.col("attempt")),
    Attribute("logtrace.clock_offset_s", "double", pl.when(_skew != 0).then(_finite(_skew))),
    Attribute("logtrace.raw_start_unix_nano", "int",
              pl.when(_corrected).then(pl.col("raw_start_us") * 1000)),
]  # fmt: skip
"""Attributes of every span, over :func:`model`'s span columns (see the module docstring)."""

EVENT_ATTRIBUTES: list[Attribute] = [
    Attribute("log.severity", "string", pl.col("level")),
    Attribute("log.message", "string", pl.col("message")),
    Attribute("log.record.original", "string", pl.col("line")),
    Attribute("logtrace.source", "string", pl.col("source_ref")),
]

FAILED = pl.col("error_type").is_not_null()
"""The span's OTel status is ERROR."""

NOTES = [
    pl.when(pl.col("parent_guessed")).then(
        pl.lit("logtrace: parent guessed from time containment")
    ),
    pl.when((_skew != 0) & _skew.is_finite()).then(
        pl.format("logtrace: times moved by {} ms (host clock offset)", (-_skew * 1000).round(3))
    ),
]
"""Caveats a UI can show next to a span (Jaeger span warnings)."""


def resource_attributes(info: ExportInfo) -> list[Attribute]:
    """Attributes of the (service, host) resource, over columns ``service`` and ``host``."""
    offsets = {h: o for h, o in info.skew_s.items() if o}
    offset = pl.col("host").replace_strict(offsets, default=None, return_dtype=pl.Float64)
    return [
        Attribute("service.name", "string", pl.col("service")),
        Attribute("host.name", "string", pl.col("host")),
        Attribute("logtrace.clock_offset_s", "double", _finite(offset)),
    ]


def per_span(events: pl.DataFrame, item: pl.Expr, spans: pl.DataFrame) -> pl.Series:
    """``item`` of each event, comma-joined per span and aligned with ``spans`` (or null)."""
    grouped = events.group_by("request_id", "span_id", maintain_order=True).agg(
        item.str.join(",").alias("items")
    )
    keys = spans.select("request_id", "span_id")
    return keys.join(grouped, on=["request_id", "span_id"], how="left", maintain_order="left")[
        "items"
    ]
