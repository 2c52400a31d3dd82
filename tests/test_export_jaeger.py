"""Jaeger UI JSON: what jaeger-ui's transform reads, built from the same OTel model."""

from __future__ import annotations

import io
import json
from typing import Any

from logtrace.export import jaeger
from logtrace.export.batch import TraceBatch
from tests.fixtures.export.traces import INFO, REQUEST_IDS, realistic_batch
from tests.fixtures.export.validators import validate_jaeger


def _jaeger(*batches: TraceBatch) -> dict[str, Any]:
    out = io.BytesIO()
    summary = jaeger.write(batches, out, INFO)
    assert summary.bytes_written == len(out.getvalue())
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def _tags(item: dict[str, Any], field: str = "tags") -> dict[str, Any]:
    return {t["key"]: t["value"] for t in item[field]}


def _trace(document: dict[str, Any], request_id: str = REQUEST_IDS[0]) -> dict[str, Any]:
    (trace,) = [
        t for t in document["data"] if _tags(t["spans"][0])["logtrace.request_id"] == request_id
    ]
    assert isinstance(trace, dict)
    return trace


def test_the_file_is_valid_for_jaeger_ui() -> None:
    document = _jaeger(realistic_batch(), realistic_batch(("abc",)))
    validate_jaeger(document)
    assert [len(t["spans"]) for t in document["data"]] == [8, 8, 8, 8]


def test_one_trace_per_line_so_big_files_stay_diffable() -> None:
    out = io.BytesIO()
    jaeger.write([realistic_batch(), realistic_batch(("abc",))], out, INFO)
    lines = out.getvalue().decode().splitlines()
    assert lines[0] == '{"data":['
    assert lines[-1] == "]}"
    assert len(lines) == 6


def test_an_empty_input_has_no_traces() -> None:
    assert _jaeger() == {"data": []}


def test_processes_are_one_per_service_and_host() -> None:
    trace = _trace(_jaeger(realistic_batch()))
    processes = {pid: (p["serviceName"], _tags(p)) for pid, p in trace["processes"].items()}
    assert processes == {
        "p1": ("nginx", {"hostname": "edge-1"}),
        "p2": ("api", {"hostname": "10.0.2.7", "ip": "10.0.2.7", "logtrace.clock_offset_s": 0.25}),
        "p3": ("mesh", {"hostname": "mesh-1"}),
        "p4": ("inventory", {"hostname": "inv-1"}),
    }
    assert [s["processID"] for s in trace["spans"]] == [
        "p1",
        "p1",
        "p1",
        "p2",
        "p2",
        "p3",
        "p3",
        "p4",
    ]


def test_tags_are_typed_and_errors_are_flagged() -> None:
    spans = _trace(_jaeger(realistic_batch()))["spans"]
    first_try = _tags(spans[1])
    assert first_try["span.kind"] == "client"
    assert first_try["http.response.status_code"] == 502
    assert first_try["error"] is True
    assert "error" not in _tags(spans[2])
    assert _tags(spans[0])["span.kind"] == "server"
    assert spans[0]["references"] == []
    assert spans[1]["references"] == [
        {"refType": "CHILD_OF", "traceID": spans[0]["traceID"], "spanID": spans[0]["spanID"]}
    ]


def test_guessed_parents_and_moved_clocks_show_as_span_warnings() -> None:
    spans = _trace(_jaeger(realistic_batch()))["spans"]
    assert spans[0].get("warnings") is None
    assert spans[3]["warnings"] == ["logtrace: times moved by -250.0 ms (host clock offset)"]
    assert spans[7]["warnings"] == ["logtrace: parent guessed from time containment"]


def test_log_lines_become_logs() -> None:
    api = _trace(_jaeger(realistic_batch()))["spans"][3]
    fields = [_tags(log, "fields") for log in api["logs"]]
    assert [f["event"] for f in fields] == ["log", "log", "log"]
    assert fields[0]["message"] == "INFO: loading order 42"
    assert fields[1]["log.severity"] == "ERROR"
    assert "log.record.original" not in fields[2]  # the message already is the line
    assert api["logs"][0]["timestamp"] - api["startTime"] == 16_000
