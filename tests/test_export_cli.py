"""Exports of traces rebuilt from real-topology logs: valid in every format, and the same
request shows the same spans, parents and durations in `logtrace trace` and in each one."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.cli.options import MAX_SOURCES_TOLD
from tests.conftest import ROOT
from tests.fixtures.export.validators import validate_jaeger, validate_otlp, validate_zipkin
from tests.test_export_push import Answer, Receiver, _handler

SAMPLE = ROOT / "sample_logs"
CONF = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
RID = "c1405abcbaf320b38811d5104a094314"  # the N+1 request: 47 spans over 4 hosts
runner = CliRunner()


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """The request as `logtrace trace --json` shows it."""
    doc = json.loads(cli("trace", RID, str(SAMPLE), *CONF, "--json"))
    return {s["span_id"]: s for s in doc["spans"]}


def export(tmp_path: Path, fmt: str, *extra: str) -> Path:
    out = tmp_path / f"out.{fmt}"
    cli(
        "export",
        "traces",
        str(SAMPLE),
        *CONF,
        "--to",
        fmt,
        "-o",
        str(out),
        "--request-id",
        RID,
        *extra,
    )
    return out


def same_as_reference(
    reference: dict[str, Any], spans: dict[str, tuple[str | None, float]]
) -> None:
    assert set(spans) == set(reference)
    for span_id, (parent, duration_us) in spans.items():
        assert parent == reference[span_id]["parent_span_id"]
        assert abs(duration_us / 1e6 - reference[span_id]["duration_s"]) <= 2e-6


def test_otlp_export_validates_and_matches_the_trace(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    out = export(tmp_path, "otlp")
    spans: dict[str, tuple[str | None, float]] = {}
    for line in out.read_text().splitlines():
        message = validate_otlp(json.loads(line))
        for rs in message.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    assert s.trace_id.hex() == RID
                    parent = s.parent_span_id.hex() if s.parent_span_id else None
                    spans[s.span_id.hex()] = (
                        parent,
                        (s.end_time_unix_nano - s.start_time_unix_nano) / 1000,
                    )
    same_as_reference(reference, spans)


def test_zipkin_export_validates_and_matches_the_trace(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    doc = json.loads(export(tmp_path, "zipkin").read_text())
    validate_zipkin(doc)
    same_as_reference(reference, {s["id"]: (s.get("parentId"), s["duration"]) for s in doc})


def test_jaeger_export_validates_and_matches_the_trace(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    doc = json.loads(export(tmp_path, "jaeger").read_text())
    validate_jaeger(doc)
    spans = {
        s["spanID"]: (s["references"][0]["spanID"] if s["references"] else None, s["duration"])
        for t in doc["data"]
        for s in t["spans"]
    }
    same_as_reference(reference, spans)


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "parquet"])
def test_span_tables_round_trip(tmp_path: Path, reference: dict[str, Any], fmt: str) -> None:
    out = tmp_path / f"spans.{fmt}"
    cli("export", "spans", str(SAMPLE), *CONF, "--format", fmt, "-o", str(out), "--request-id", RID)
    frame = {
        "csv": lambda: pl.read_csv(out, infer_schema=False),
        "json": lambda: pl.read_json(out),
        "ndjson": lambda: pl.read_ndjson(out, infer_schema_length=None),
        "parquet": lambda: pl.read_parquet(out),
    }[fmt]()
    spans = {
        r["span_id"]: (r["parent_span_id"] or None, float(r["duration_s"]) * 1e6)
        for r in frame.iter_rows(named=True)
    }
    same_as_reference(reference, spans)


def test_requests_table_has_one_row_per_request(tmp_path: Path) -> None:
    out = tmp_path / "requests.csv"
    cli(
        "export",
        "spans",
        str(SAMPLE),
        *CONF,
        "--format",
        "csv",
        "--what",
        "requests",
        "-o",
        str(out),
    )
    frame = pl.read_csv(out, infer_schema=False)
    assert frame.height == 2500
    assert frame.get_column("request_id").n_unique() == 2500


def test_the_requests_table_is_reported_as_rows_of_requests(tmp_path: Path) -> None:
    out = tmp_path / "requests.csv"
    args = ["export", "spans", str(SAMPLE), *CONF, "--what", "requests", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"wrote 2,500 requests (a row each) to {out} (csv)" in result.stderr
    assert "spans" not in result.stderr


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver("")))
    state = Receiver(f"http://127.0.0.1:{server.server_address[1]}/v1/traces")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def push(receiver: Receiver, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "logtrace",
            "export",
            "traces",
            str(SAMPLE),
            *CONF,
            "--to",
            "otlp",
            "--endpoint",
            receiver.url,
            "--batch",
            "5000",
            "--timeout",
            "60",  # a loaded test machine can be slow to answer; retries are what is tested
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


def test_push_delivers_every_span_through_503s(receiver: Receiver) -> None:
    receiver.script = [Answer(503, headers={"Retry-After": "0"})] * 3
    done = push(receiver, "--retries", "5")
    assert done.returncode == 0, done.stderr
    assert len(receiver.spans) == len(set(receiver.spans))
    expected = 26609  # spans in sample_logs (logtrace export spans counts the same)
    assert len(receiver.spans) == expected
    assert f"sent {expected:,} of {expected:,} spans" in done.stderr


def test_push_reports_failures_honestly(receiver: Receiver) -> None:
    receiver.script = [Answer(400, body=b'{"message":"bad"}')] * 100
    done = push(receiver, "--retries", "1")
    assert done.returncode == 7, done.stderr  # ExitStatus.PARTIAL
    assert "spans were not delivered" in done.stderr
    assert "Traceback" not in done.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "logtrace", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


@pytest.mark.parametrize("command", ["traces", "spans"])
def test_a_request_id_not_in_the_logs_is_not_found_and_nothing_is_written(
    tmp_path: Path, command: str
) -> None:
    out = tmp_path / "trace.json"
    args = ["export", command, str(SAMPLE), *CONF, "--request-id", "0000beef", "-o", str(out)]
    done = run_cli(*args)
    assert done.returncode == 6, done.stderr  # ExitStatus.NOT_FOUND, as for `logtrace trace`
    assert "request id '0000beef' is not in these logs" in done.stderr
    assert not out.exists()


def test_a_request_id_prefix_exports_the_request_it_starts(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    out = tmp_path / "trace.json"
    cli(
        "export",
        "traces",
        str(SAMPLE),
        *CONF,
        "-t",
        "zipkin",
        "--request-id",
        RID[:12],
        "-o",
        str(out),
    )
    doc = json.loads(out.read_text())
    same_as_reference(reference, {s["id"]: (s.get("parentId"), s["duration"]) for s in doc})


def test_filters_choose_the_traces_by_their_entry_request(tmp_path: Path) -> None:
    out = tmp_path / "requests.csv"
    args = ["--what", "requests", "--status", "5xx", "--route", "^/api/report/", "-o", str(out)]
    cli("export", "spans", str(SAMPLE), *CONF, *args)
    frame = pl.read_csv(out)
    assert frame.height == 125  # the 504s sample_logs/ground_truth.jsonl records
    assert set(frame.get_column("status")) == {504}
    assert frame.get_column("route").str.starts_with("/api/report/").all()


@pytest.fixture(scope="module")
def damaged_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample logs with a line of garbage at the end of the edge log and of a JSON app
    log (sample_logs' mesh log has no known format: it is inferred, with a warning)."""
    folder = tmp_path_factory.mktemp("damaged")
    for path in SAMPLE.glob("*.log"):
        (folder / path.name).write_bytes(path.read_bytes())
    with (folder / "edge-1.access.log").open("a") as f:
        f.write("garbage, not a log line\n")
    with (folder / "api-1.log").open("a") as f:
        f.write("not json at all\n")
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["export", "spans", "{logs}", "-o", "{out}.csv"],
        ["export", "spans", "{logs}", "--format", "parquet", "-o", "-"],
        ["export", "traces", "{logs}", "--to", "zipkin", "-o", "{out}.json"],
        ["insights", "{logs}", "--format", "json", "-o", "{out}.json"],
        ["trace", RID, "{logs}"],
        ["trace", RID, "{logs}", "--json"],
    ],
    ids=["spans csv", "spans to stdout", "traces", "insights", "trace", "trace json"],
)
def test_exports_say_which_lines_were_rejected_and_the_sources_warnings(
    damaged_logs: Path, tmp_path: Path, command: list[str]
) -> None:
    args = [
        a.replace("{out}", str(tmp_path / "out")).replace("{logs}", str(damaged_logs))
        for a in command
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    said = result.stderr.splitlines()
    edge, api = damaged_logs / "edge-1.access.log", damaged_logs / "api-1.log"
    assert (
        f"warning: {edge}: 1 of 2,501 lines rejected (does not match the log_format: 1); "
        "logtrace analyze shows samples"
    ) in said
    assert (
        f"warning: {api}: 1 of 5,158 lines rejected (not valid JSON: 1); "
        "logtrace analyze shows samples"
    ) in said
    mesh = damaged_logs / "mesh-1.access.log"
    assert any(line.startswith(f"warning: {mesh}: no known log_format matches") for line in said)


def test_past_a_few_sources_with_rejected_lines_the_others_are_told_together(
    tmp_path: Path,
) -> None:
    """Rotated files each with a bad line: the first few are told by name, the rest in
    one line that still counts every rejected line."""
    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines(keepends=True)
    for i in range(12):
        name = "edge-1.access.log" + (f".{i}" if i else "")
        (tmp_path / name).write_text("".join(lines[i * 200 : (i + 1) * 200]) + "junk\n")
    result = runner.invoke(app, ["export", "spans", str(tmp_path), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "rejected" in line]
    named = [line for line in said if "logtrace analyze shows samples" in line]
    assert len(named) == MAX_SOURCES_TOLD
    assert said[-1] == (
        f"warning: {12 - MAX_SOURCES_TOLD} more sources: {12 - MAX_SOURCES_TOLD} of "
        f"{(12 - MAX_SOURCES_TOLD) * 201:,} lines rejected (does not match the log_format: "
        f"{12 - MAX_SOURCES_TOLD}); logtrace analyze --json lists each source"
    )
    assert len(said) == MAX_SOURCES_TOLD + 1


def test_export_of_clean_logs_says_nothing_of_rejects(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["export", "slowest", str(SAMPLE / "edge-1.access.log"), "--csv", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == ["wrote 100 requests to " + str(tmp_path / "s")]


def test_export_says_how_many_http_lines_make_no_span(tmp_path: Path) -> None:
    """App lines that look like HTTP events but are neither a served request nor a call
    parse, yet make no span: the export says how many."""
    log = tmp_path / "api-1.log"
    served = {"msg": "request finished", "method": "GET", "path": "/a", "status": 200}
    odd = {"msg": "x", "method": "GET", "status": 200, "duration_ms": 3}
    lines = [
        {"time": f"2026-12-03T10:00:0{i}Z", "request_id": f"r{i}", **(odd if i < 7 else served)}
        for i in range(10)
    ]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = runner.invoke(app, ["export", "spans", str(log), "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    assert (
        f"note: {log}: 7 HTTP lines are neither a served request nor a call by their words "
        "and fields: no span"
    ) in result.stderr.splitlines()
