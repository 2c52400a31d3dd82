"""OTLP/JSON: valid for opentelemetry-proto, and true to the HTTP semantic conventions."""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl
import pytest

from logtrace.export import otlp
from logtrace.export.batch import ExportInfo, TraceBatch
from tests.fixtures.export.traces import INFO, REQUEST_IDS, realistic_batch
from tests.fixtures.export.validators import validate_otlp


def _jsonl(*batches: TraceBatch, info: ExportInfo = INFO) -> list[dict[str, Any]]:
    out = io.BytesIO()
    summary = otlp.write(batches, out, info)
    assert summary.bytes_written == len(out.getvalue())
    return [json.loads(line) for line in out.getvalue().decode("utf-8").split("\n") if line]


def _spans(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        span for rs in document["resourceSpans"] for ss in rs["scopeSpans"] for span in ss["spans"]
    ]


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in item.get("attributes", [])}


def _by_name(
    document: dict[str, Any], request_id: str = REQUEST_IDS[0]
) -> dict[str, dict[str, Any]]:
    """Spans of one request keyed ``kind/service/attempt``."""
    out = {}
    for span in _spans(document):
        a = _attrs(span)
        if a["logtrace.request_id"] == request_id:
            service = a["logtrace.source"].split("/")[3]
            out[f"{span['kind']}/{service}/{a.get('logtrace.attempt', '')}"] = span
    return out


def test_jsonl_holds_one_valid_traces_data_per_batch() -> None:
    lines = _jsonl(realistic_batch(), realistic_batch(("abc",)))
    assert len(lines) == 2
    for line in lines:
        validate_otlp(line)
    assert sum(len(_spans(line)) for line in lines) == 32


def test_otlp_json_is_one_valid_document_whatever_the_batches() -> None:
    out = io.BytesIO()
    summary = otlp.write_document([realistic_batch(), realistic_batch(("abc",))], out, INFO)
    message = validate_otlp(json.loads(out.getvalue()))
    assert sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans) == 32
    assert (summary.traces, summary.spans) == (4, 32)


def test_no_batches_give_an_empty_but_valid_document() -> None:
    out = io.BytesIO()
    otlp.write_document([], out, INFO)
    validate_otlp(json.loads(out.getvalue()))
    assert _jsonl() == []


def test_each_resource_is_one_service_on_one_host_with_the_logtrace_scope() -> None:
    (document,) = _jsonl(realistic_batch())
    resources = [_attrs(rs["resource"]) for rs in document["resourceSpans"]]
    assert [(r["service.name"], r["host.name"]) for r in resources] == [
        ("nginx", "edge-1"),
        ("api", "10.0.2.7"),
        ("mesh", "mesh-1"),
        ("inventory", "inv-1"),
    ]
    assert resources[1]["logtrace.clock_offset_s"] == 0.25  # what the run found for the host
    scopes = {
        json.dumps(ss["scope"]) for rs in document["resourceSpans"] for ss in rs["scopeSpans"]
    }
    assert scopes == {'{"name": "logtrace", "version": "0.1.0"}'}


def test_a_server_span_carries_the_http_server_conventions() -> None:
    (document,) = _jsonl(realistic_batch())
    root = _by_name(document)["2/nginx/"]
    assert "parentSpanId" not in root
    assert root["kind"] == 2
    assert _attrs(root) | {"logtrace.source": "-"} == {
        "http.request.method": "GET",
        "url.path": "/api/orders/42",
        "url.query": "expand=items",
        "url.scheme": "http",
        "http.route": "/api/orders/{id}",
        "http.response.status_code": "200",  # int64: a decimal string
        "logtrace.request_id": REQUEST_IDS[0],
        "logtrace.source": "-",
        "logtrace.time_precision_s": 1.0,
    }
    assert "status" not in root


def test_client_spans_name_the_server_they_called() -> None:
    (document,) = _jsonl(realistic_batch())
    spans = _by_name(document)
    first_try = _attrs(spans["3/nginx/1"])
    assert first_try["server.address"] == "10.0.1.5"
    assert first_try["server.port"] == "8080"
    assert first_try["logtrace.attempt"] == "1"
    assert first_try["error.type"] == "502"
    assert spans["3/nginx/1"]["status"] == {"code": 2}
    assert "status" not in spans["3/nginx/2"]
    assert _attrs(spans["3/api/"])["peer.service"] == "inventory"
    assert "url.path" not in first_try


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("SERVER", 200, False),
        ("SERVER", 404, False),  # the server did its job
        ("SERVER", 503, True),
        ("CLIENT", 404, True),  # the client did not get what it asked for
        ("CLIENT", 200, False),
    ],
)
def test_status_follows_the_semantic_conventions(kind: str, status: int, error: bool) -> None:
    batch = realistic_batch(REQUEST_IDS[:1], failing=-1)
    one = batch.spans.head(1).with_columns(
        pl.lit(kind).alias("kind"),
        pl.lit(status, pl.UInt16).alias("status"),
        pl.lit(False).alias("error"),
    )
    (document,) = _jsonl(TraceBatch(one, batch.events.clear()))
    (span,) = _spans(document)
    assert ("status" in span) is error
    assert ("error.type" in _attrs(span)) is error


def test_an_unknown_method_is_reported_as_other() -> None:
    batch = realistic_batch(REQUEST_IDS[:1])
    odd = batch.spans.head(1).with_columns(pl.lit("PROPFIND").alias("method"))
    (document,) = _jsonl(TraceBatch(odd, batch.events.clear()))
    attrs = _attrs(_spans(document)[0])
    assert attrs["http.request.method"] == "_OTHER"
    assert attrs["http.request.method_original"] == "PROPFIND"


def test_logtrace_attributes_keep_what_the_logs_said() -> None:
    (document,) = _jsonl(realistic_batch())
    spans = _by_name(document, REQUEST_IDS[1])
    api = _attrs(spans["2/api/"])
    assert api["logtrace.request_id"] == "3F2504E0-4F89-41D3-9A0C-0305E82C3301"  # as logged
    assert spans["2/api/"]["traceId"] == "3f2504e04f8941d39a0c0305e82c3301"
    assert api["logtrace.clock_offset_s"] == 0.25
    raw = int(api["logtrace.raw_start_unix_nano"])
    assert raw - int(spans["2/api/"]["startTimeUnixNano"]) == 250_000_000
    assert "logtrace.raw_start_unix_nano" not in _attrs(spans["2/nginx/"])
    assert _attrs(spans["2/inventory/"])["logtrace.parent_guessed"] is True


def test_log_lines_become_events() -> None:
    (document,) = _jsonl(realistic_batch())
    api = _by_name(document)["2/api/"]
    events = api["events"]
    assert [e["name"] for e in events] == ["log", "log", "log"]
    info, error, own = (_attrs(e) for e in events)
    assert info["log.severity"] == "INFO"
    assert error["log.severity"] == "ERROR"
    assert error["log.message"].endswith("KeyError: '42'")
    assert "Traceback (most recent call last):" in error["log.record.original"]
    assert own["log.record.original"].startswith('{"event": "server"')
    assert int(events[0]["timeUnixNano"]) - int(api["startTimeUnixNano"]) == 16_000_000
    assert int(own["logtrace.source"].rsplit(":", 1)[1]) == 4


def test_log_text_cannot_break_the_json() -> None:
    nasty = 'a "quoted" \\ back\nslash\r\t\x00\x1f</script><!-- \u2028\u2029\x85 é 😀 ${x} {{y}}'
    batch = realistic_batch(('nasty-id\n"<b>',))
    spans = batch.spans.with_columns(pl.lit(nasty).alias("line"), pl.lit(nasty).alias("name"))
    out = io.BytesIO()
    otlp.write([TraceBatch(spans, batch.events)], out, INFO)
    text = out.getvalue().decode("utf-8")
    assert len(text.splitlines()) == 1  # no character splits the JSON line, even for Python
    (document,) = [json.loads(text)]
    validate_otlp(document)
    span = _spans(document)[0]
    assert span["name"] == nasty
    assert _attrs(span["events"][0])["log.record.original"] == nasty
    assert _attrs(span)["logtrace.request_id"] == 'nasty-id\n"<b>'
