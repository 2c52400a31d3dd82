"""Zipkin v2 JSON: valid against zipkin2-api.yaml, with string tags and endpoints."""

from __future__ import annotations

import io
import json
from typing import Any

import polars as pl
import pytest

from logtrace.export import zipkin
from logtrace.export.batch import TraceBatch
from tests.fixtures.export.traces import INFO, REQUEST_IDS, realistic_batch
from tests.fixtures.export.validators import _zipkin_validator, validate_zipkin


def _zipkin(*batches: TraceBatch) -> list[dict[str, Any]]:
    out = io.BytesIO()
    summary = zipkin.write(batches, out, INFO)
    assert summary.bytes_written == len(out.getvalue())
    spans: list[dict[str, Any]] = json.loads(out.getvalue())
    return spans


def _of(spans: list[dict[str, Any]], request_id: str = REQUEST_IDS[0]) -> dict[str, dict[str, Any]]:
    out = {}
    for s in spans:
        tags = s["tags"]
        if tags["logtrace.request_id"] == request_id:
            service = s["localEndpoint"]["serviceName"]
            out[f"{s.get('kind', '-')}/{service}/{tags.get('logtrace.attempt', '')}"] = s
    return out


def test_spans_are_valid_zipkin_v2() -> None:
    spans = _zipkin(realistic_batch(), realistic_batch(("abc",)))
    validate_zipkin(spans)
    assert len(spans) == 32


def test_the_schema_alone_misses_bad_ids_so_the_validator_anchors_them() -> None:
    bad = [{"traceId": "XXXX5b8efff798038103d269b633813f", "id": "2f896fc70ee62b06"}]
    assert not list(_zipkin_validator().iter_errors(bad))
    with pytest.raises(AssertionError):
        validate_zipkin(bad)


def test_an_empty_input_is_an_empty_list() -> None:
    assert _zipkin() == []


def test_times_are_microseconds_and_a_duration_is_at_least_one() -> None:
    batch = realistic_batch(REQUEST_IDS[:1])
    instant = batch.spans.with_columns(
        pl.when(pl.int_range(pl.len()) == 6)
        .then(pl.col("start"))
        .otherwise(pl.col("end"))
        .alias("end")
    )
    spans = _of(_zipkin(TraceBatch(instant, batch.events)))
    root = spans["SERVER/nginx/"]
    assert root["timestamp"] == 1_755_597_600_000_000
    assert root["duration"] == 120_000
    assert spans["CLIENT/mesh/1"]["duration"] == 1


def test_tags_are_strings_and_errors_are_tagged() -> None:
    spans = _of(_zipkin(realistic_batch()))
    failed = spans["CLIENT/nginx/1"]["tags"]
    assert all(isinstance(v, str) for s in spans.values() for v in s["tags"].values())
    assert failed["http.response.status_code"] == "502"
    assert failed["error"] == "502"
    assert failed["otel.status_code"] == "ERROR"
    assert "error" not in spans["CLIENT/nginx/2"]["tags"]
    assert spans["SERVER/inventory/"]["tags"]["logtrace.parent_guessed"] == "true"


def test_endpoints_say_who_called_whom() -> None:
    spans = _of(_zipkin(realistic_batch()))
    assert spans["SERVER/api/"]["localEndpoint"] == {"serviceName": "api", "ipv4": "10.0.2.7"}
    assert spans["SERVER/nginx/"]["localEndpoint"] == {"serviceName": "nginx"}
    assert spans["CLIENT/nginx/1"]["remoteEndpoint"] == {"ipv4": "10.0.1.5", "port": 8080}
    assert spans["CLIENT/api/"]["remoteEndpoint"] == {"serviceName": "inventory"}
    assert "remoteEndpoint" not in spans["SERVER/nginx/"]
    assert all("shared" not in s for s in spans.values())


def test_names_are_lowercase_and_internal_spans_have_no_kind() -> None:
    batch = realistic_batch(REQUEST_IDS[:1])
    internal = batch.spans.with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(pl.lit("INTERNAL"))
        .otherwise(pl.col("kind"))
        .alias("kind")
    )
    spans = _of(_zipkin(TraceBatch(internal, batch.events)))
    assert spans["SERVER/nginx/"]["name"] == "get /api/orders/{id}"
    assert "-/inventory/" in spans


def test_log_lines_become_annotations() -> None:
    api = _of(_zipkin(realistic_batch()))["SERVER/api/"]
    values = [a["value"] for a in api["annotations"]]
    assert values[0] == "INFO: loading order 42"
    assert values[1].startswith("ERROR: order lookup failed\nTraceback")
    assert values[2].startswith('{"event": "server"')
    assert [a["timestamp"] for a in api["annotations"]] == sorted(
        a["timestamp"] for a in api["annotations"]
    )
