"""The command line, through typer's CliRunner and as a real subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.errors import ExitStatus
from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "sample_logs" / "edge-1.access.log"
runner = CliRunner()


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "logtrace", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_analyze_prints_the_report() -> None:
    result = runner.invoke(app, ["analyze", str(EDGE), "--top", "3"])
    assert result.exit_code == 0, result.output
    for heading in ("Sources", "Request time:", "Routes (top", "Slowest requests (top 3)"):
        assert heading in result.output


def test_json_report_has_the_documented_shape() -> None:
    result = runner.invoke(app, ["analyze", str(EDGE), "--json", "--top", "2"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["schema"] == "logtrace.analyze/1"
    source = doc["sources"][0]
    assert {"path", "lines_total", "lines_parsed", "lines_rejected"} <= source.keys()
    assert source["lines_total"] == source["lines_parsed"] + source["lines_rejected"]
    assert doc["requests"] == source["lines_parsed"]
    assert {"p50_s", "p90_s", "p95_s", "p99_s", "max_s"} <= doc["latency"].keys()
    route = doc["routes"][0]
    assert {"route", "count", "p50_s", "p90_s", "p95_s", "p99_s", "max_s"} <= route.keys()
    assert [{"request_id", "request_time_s"} <= s.keys() for s in doc["slowest"]] == [True, True]


@pytest.mark.parametrize("name", ["trace.log", "combined.log", "json.log"])
def test_corpus_with_nginx_conf_rejects_nothing(name: str) -> None:
    result = runner.invoke(
        app, ["analyze", str(CORPUS / name), "--nginx-conf", str(CORPUS / "nginx.conf"), "--json"]
    )
    assert result.exit_code == 0, result.output
    source = json.loads(result.output)["sources"][0]
    assert (source["lines_total"], source["lines_rejected"]) == (47, 0)


def test_export_csv_has_all_fields_of_the_slowest(tmp_path: Path) -> None:
    out = tmp_path / "slow.csv"
    result = runner.invoke(app, ["analyze", str(EDGE), "--export-csv", str(out), "--top", "7"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 7
    for column in ("request_id", "request_time_s", "route", "http_user_agent", "line", "line_no"):
        assert column in rows[0]
    times = [float(r["request_time_s"]) for r in rows]
    assert times == sorted(times, reverse=True)


def test_export_slowest_command_writes_csv(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    result = runner.invoke(app, ["export", "slowest", str(EDGE), "--csv", str(out), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(out.read_text().splitlines()))) == 3


def test_csv_neutralises_formulas_but_not_numbers(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(
        '1.2.3.4 - - [26/Nov/2026:08:00:00 +0000] "GET /a HTTP/1.1" 200 5 "=HYPERLINK(1)" '
        '"@cmd" 0.500 - ' + "a" * 32 + "\n"
    )
    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["analyze", str(log), "--export-csv", str(out)])
    assert result.exit_code == 0, result.output
    row = next(csv.DictReader(out.read_text().splitlines()))
    assert row["http_referer"] == "'=HYPERLINK(1)"
    assert row["http_user_agent"] == "'@cmd"
    assert row["request_time_s"] == "0.5"


def test_stdin_is_read_with_a_dash_and_from_a_pipe() -> None:
    data = EDGE.read_bytes()
    for args in (["analyze", "-", "--json"], ["analyze", "--json"]):
        done = run_cli(*args, stdin=data)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["sources"][0]["path"] == "<stdin>"
        assert doc["sources"][0]["lines_parsed"] == 2500


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["analyze", "nope.log"], ExitStatus.NO_INPUT, "nope.log: no such file"),
        (
            ["analyze", str(EDGE), "--log-format", "$remote_addr ${status"],
            ExitStatus.BAD_FORMAT,
            'the closing bracket in "status" variable is missing',
        ),
        (
            ["analyze", str(EDGE), "--preset", "combined"],
            ExitStatus.NO_MATCH,
            "matched none of 2500 lines",
        ),
        (["analyze", str(EDGE), "--preset", "nope"], ExitStatus.BAD_FORMAT, "unknown preset"),
        (["analyze", str(EDGE), "--status", "6zz"], ExitStatus.USAGE, "--status"),
        (["analyze", str(EDGE), "--since", "yesterday"], ExitStatus.USAGE, "is not a time"),
    ],
)
def test_errors_are_one_line_with_a_hint_and_a_known_exit_code(
    args: list[str], status: ExitStatus, message: str
) -> None:
    done = run_cli(*args)
    err = done.stderr.decode()
    assert done.returncode == status, err
    assert err.startswith("logtrace: error: ")
    assert message in err
    assert "hint: " in err
    assert "Traceback" not in err


def test_format_error_shows_a_caret() -> None:
    done = run_cli("analyze", str(EDGE), "--log-format", "$remote_addr ${status")
    lines = done.stderr.decode().splitlines()
    assert lines[1] == "  $remote_addr ${status"
    assert lines[2] == "  " + " " * 21 + "^"


def test_version_and_module_entry_point() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.decode().startswith("logtrace ")


def test_formats_lists_the_presets() -> None:
    result = runner.invoke(app, ["formats"])
    assert result.exit_code == 0
    for name in ("combined", "main", "trace", "timing", "upstreaminfo"):
        assert name in result.output


SAMPLE = ROOT / "sample_logs"
CONF = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
N_PLUS_ONE = "c1405abcbaf320b38811d5104a094314"  # GET /api/orders/5/items: 11 calls
RETRY = "51263bcd2f682f73df765ba1c484683b"  # GET /api/flaky/...: dead upstream first


@pytest.mark.parametrize(("name", "request_id"), [("n_plus_one", N_PLUS_ONE), ("retry", RETRY)])
def test_trace_renders_gantt_and_flow_of_a_real_request(golden, name: str, request_id: str) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["trace", request_id, str(SAMPLE), *CONF])
    assert result.exit_code == 0, result.output
    golden(f"cli_trace_{name}.txt", result.output)


def test_trace_json_lists_every_span_with_parents(tmp_path: Path) -> None:
    result = runner.invoke(app, ["trace", N_PLUS_ONE[:10], str(SAMPLE), *CONF, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["request_id"] == N_PLUS_ONE
    ids = {s["span_id"] for s in doc["spans"]}
    roots = [s for s in doc["spans"] if s["parent_span_id"] is None]
    assert len(roots) == 1
    assert all(s["parent_span_id"] in ids for s in doc["spans"] if s is not roots[0])
    calls = [s for s in doc["spans"] if s["kind"] == "CLIENT" and s["service"] == "api"]
    assert len(calls) == 11  # as sample_logs/ground_truth.jsonl records


def test_trace_lines_shows_the_original_log_lines() -> None:
    result = runner.invoke(app, ["trace", RETRY, str(SAMPLE), *CONF, "--lines", "--no-flow"])
    assert result.exit_code == 0, result.output
    assert "edge-1.access.log:" in result.output
    assert '"msg": "request finished"' in result.output


def test_unknown_request_id_is_a_clear_error() -> None:
    done = run_cli("trace", "0" * 32, str(SAMPLE), *CONF)
    assert done.returncode == ExitStatus.NOT_FOUND
    assert "is not in these logs" in done.stderr.decode()


def test_analyze_on_several_hosts_adds_cross_host_sections() -> None:
    result = runner.invoke(app, ["analyze", str(SAMPLE), *CONF, "--json", "--top", "3"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["requests"] == 2500  # requests entering at the edge, not internal hops
    offsets = {o["host"]: o["offset_s"] for o in doc["clock_offsets"]}
    assert abs(offsets["api-2"] - 0.150) < 0.010
    services = {(s["service"], s["kind"]) for s in doc["services"]}
    assert {("api", "SERVER"), ("inventory", "SERVER"), ("users", "SERVER")} <= services
    assert len(doc["slow_paths"]) == 3


def test_analyze_counts_the_served_requests_calls_and_unclassified_lines_of_app_logs() -> None:
    log = ROOT / "tests" / "fixtures" / "app-log-shapes" / "go-zerolog.log"
    result = runner.invoke(app, ["analyze", str(log), "--json"])
    assert result.exit_code == 0, result.output
    (source,) = json.loads(result.stdout)["sources"]
    assert source["app_events"] == {
        "server": 3,
        "server_start": 3,
        "client": 3,
        "client_start": 0,
        "unclassified": 0,
        "log": 1,
    }
    assert source["lines_total"] == source["lines_parsed"] + source["lines_rejected"]
    shown = runner.invoke(app, ["analyze", str(log)], env={"COLUMNS": "200"})
    header, _, row = shown.stdout.splitlines()[2:5]
    assert header.split()[-3:] == ["served", "calls", "unclassified"]
    assert row.split()[-3:] == ["3", "3", "0"]


def test_the_half_written_last_line_of_a_growing_log_is_held_not_rejected(
    tmp_path: Path,
) -> None:
    from logtrace.analysis.analyze import AnalyzeOptions, analyze
    from logtrace.ingest import FormatOptions
    from logtrace.sources import resolve_sources

    lines = EDGE.read_bytes().splitlines(keepends=True)[:50]
    log = tmp_path / "edge-1.access.log"
    log.write_bytes(b"".join(lines[:49]) + lines[49][:40])  # nginx is writing line 50
    options = AnalyzeOptions(FormatOptions(preset="trace"))
    stats = analyze(resolve_sources([str(log)]), options).ingest.sources[0]
    assert (stats.lines_total, stats.lines_parsed, stats.lines_rejected) == (49, 49, 0)
    assert any("line 50 has no end yet" in w for w in stats.warnings), stats.warnings
    # A last line without a newline that parses is a line like any other.
    log.write_bytes(b"".join(lines[:49]) + lines[49].rstrip(b"\n"))
    stats = analyze(resolve_sources([str(log)]), options).ingest.sources[0]
    assert (stats.lines_total, stats.lines_parsed, stats.warnings) == (50, 50, [])


COMBINED_LOG = str(CORPUS / "combined.log")
ID_NO_TIME = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'


@pytest.mark.parametrize(
    ("args", "lacks"),
    [
        (["export", "slowest", COMBINED_LOG], "no $request_time"),
        (["insights", COMBINED_LOG], "has a request id"),
        (["export", "traces", COMBINED_LOG, "--to", "otlp-json"], "no request id"),
        (["export", "spans", COMBINED_LOG], "no request id"),
    ],
)
def test_a_format_without_request_times_or_ids_says_what_it_lacks(
    args: list[str], lacks: str
) -> None:
    """Not an empty line, 'no slow pattern' or 0 spans with exit 0: what the format lacks,
    the trace preset to log with, exit 5."""
    done = run_cli(*args)
    err = done.stderr.decode()
    assert done.returncode == ExitStatus.NO_MATCH, err
    assert err.startswith("logtrace: error: "), err
    assert lacks in err, err
    assert "'combined'" in err or args[0] == "insights", err
    assert "hint: " in err and "trace" in err.split("hint: ")[1], err
    assert done.stdout == b""


def test_insights_without_request_times_says_so(tmp_path: Path) -> None:
    log = tmp_path / "edge-1.log"
    log.write_text(
        "".join(
            f'10.0.0.1 - - [26/Nov/2026:08:00:0{i} +0000] "GET /a/{i} HTTP/1.1" 200 5 {i:032x}\n'
            for i in range(5)
        )
    )
    done = run_cli("insights", str(log), "--log-format", ID_NO_TIME + " $request_id")
    err = done.stderr.decode()
    assert done.returncode == ExitStatus.NO_MATCH, err
    assert "$request_time" in err and "hint: " in err, err
