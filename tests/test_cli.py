"""The command line, through typer's CliRunner and as a real subprocess."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from contextlib import chdir
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.errors import ExitStatus
from logtrace.render.console import Environment, use_environment
from tests.conftest import CORPUS, Golden

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "sample_logs" / "edge-1.access.log"
SAMPLE = ROOT / "sample_logs"
CONF = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
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


def test_logs_given_as_pipes_are_read_whole_once() -> None:
    """bash's <(command) names a pipe (/dev/fd/63): planning it (format, offsets, size)
    reads its first bytes, which its reader is given again; every line is counted."""
    logs = [SAMPLE / "edge-1.access.log", SAMPLE / "api-1.log", SAMPLE / "users-1.log"]
    piped = " ".join(f"<(cat {shlex.quote(str(p))})@{p.name.split('.')[0]}" for p in logs)
    run = f"{shlex.quote(sys.executable)} -m logtrace analyze --json {piped}"
    done = subprocess.run(
        ["bash", "-c", run], capture_output=True, timeout=120, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    sources = json.loads(done.stdout)["sources"]
    direct = _report(*(f"{p}@{p.name.split('.')[0]}" for p in logs))["sources"]
    assert isinstance(direct, list)
    assert [s["path"].startswith("/dev/fd/") for s in sources] == [True] * 3
    counts = [
        (s["host"], s["lines_total"], s["lines_parsed"], s["lines_rejected"]) for s in sources
    ]
    want = [(s["host"], s["lines_total"], s["lines_parsed"], s["lines_rejected"]) for s in direct]
    assert counts == want
    assert [n for _, n, _, _ in counts] == [len(p.read_bytes().splitlines()) for p in logs]


def test_a_named_pipe_is_read_whole_and_its_trace_lines_kept(tmp_path: Path) -> None:
    """A FIFO opened twice would wait for a second writer: it is read once, its line kept."""
    fifo = tmp_path / "edge.log"
    os.mkfifo(fifo)
    data = EDGE.read_bytes()
    line = data.splitlines()[1234].decode()
    rid = line.split()[-1]

    def feed() -> None:
        with contextlib.suppress(OSError), fifo.open("wb") as out:
            out.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        done = run_cli("trace", rid, str(fifo), "--lines", "--json")
    finally:  # a reader that never came: the writer's open returns, its write fails
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=30)
    assert done.returncode == 0, done.stderr
    spans = json.loads(done.stdout)["spans"]
    assert {s["host"] for s in spans} == {"edge"}
    assert spans[0]["lines"] == [f"{fifo}:1235: {line}"]


def _report(*args: str, stdin: bytes | None = None) -> dict[str, object]:
    done = run_cli("analyze", *args, "--json", stdin=stdin)
    assert done.returncode == 0, done.stderr
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


@pytest.mark.parametrize(
    ("piped", "named"),
    [
        ("api-1.log", ()),  # an app log alone: its served requests
        ("api-1.log", ("edge-1.access.log",)),  # beside the edge: timelines across hosts
        ("edge-1.access.log", ("mesh-1.access.log",)),  # two services' nginx logs
    ],
)
def test_a_log_piped_in_is_planned_like_the_same_file(piped: str, named: tuple[str, ...]) -> None:
    """stdin's first lines are read ahead to choose its format and kind, as a file's are:
    an app log piped in was left out of the plan (0 requests alone, no timelines beside
    the edge), and an edge log piped beside the mesh's was summed with it as one log."""
    others = [str(SAMPLE / n) for n in named]
    files = _report(str(SAMPLE / piped), *others)
    piped_in = _report("-", *others, stdin=(SAMPLE / piped).read_bytes())
    for key in ("requests", "latency", "traces", "corrected_requests"):
        assert piped_in[key] == files[key], key
    assert isinstance(files["hosts"], list) and isinstance(piped_in["hosts"], list)
    assert len(piped_in["hosts"]) == len(files["hosts"])


@pytest.mark.parametrize("stdin_holds", ["all", "first part"])
def test_a_log_and_its_first_part_of_one_host_count_the_whole_log_once(
    tmp_path: Path, stdin_holds: str
) -> None:
    """Two logs of one host whose first lines are alike are one log read twice: the longer
    is kept (it was the first name, a log's first part beside it lost the rest)."""
    lines = EDGE.read_bytes().splitlines(keepends=True)
    part = tmp_path / "part.log"
    part.write_bytes(b"".join(lines[:1000]))
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(lines))
    labels = ["--source", "edge-1=" + str(part), "--source", "edge-1=" + str(whole)]
    assert _report(*labels)["requests"] == 2500
    piped, named = (whole, part) if stdin_holds == "all" else (part, whole)
    doc = _report("--source", "edge-1=-", "--source", f"edge-1={named}", stdin=piped.read_bytes())
    assert doc["requests"] == 2500


# main() run the way the console script runs it, with an exit hook that says whether
# Python's own teardown ran, and a worker thread left running when asked to.
_TEARDOWN = """
import atexit, sys, threading, time
atexit.register(lambda: print("teardown ran", file=sys.stderr))
if sys.argv[1] == "thread":
    threading.Thread(target=time.sleep, args=(2.0,)).start()
sys.argv = ["logtrace", *sys.argv[2:]]
from logtrace.cli import main
main()
"""


def _main(*args: str, thread: bool = False) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", _TEARDOWN, "thread" if thread else "-", *args]
    return subprocess.run(command, capture_output=True, timeout=120, check=False, cwd=ROOT)


def test_a_finished_command_ends_the_process_without_tearing_python_down(
    tmp_path: Path,
) -> None:
    """Once a command is done, main() ends the process at once (the teardown after a large
    run took 0.2-0.4 s): everything written is still there, the exit status is the
    command's, and Python ends as usual while a thread is still running."""
    filed = tmp_path / "spans.csv"
    assert (
        run_cli("export", "spans", "--format", "csv", "--out", str(filed), str(SAMPLE)).returncode
        == 0
    )
    piped = _main("export", "spans", "--format", "csv", "--out", "-", str(SAMPLE))
    assert piped.returncode == 0, piped.stderr
    assert len(piped.stdout) > 1_000_000  # many times a pipe's buffer
    assert piped.stdout == filed.read_bytes()
    assert b"teardown ran" not in piped.stderr

    gate = _main("analyze", str(EDGE), "--fail-if", "p99>1ms")
    assert gate.returncode == ExitStatus.GATE, gate.stderr
    assert b"Slowest requests" in gate.stdout
    assert b"teardown ran" not in gate.stderr

    failed = _main("analyze", "nope.log")
    assert failed.returncode == ExitStatus.NO_INPUT
    assert failed.stderr.startswith(b"logtrace: error: ")

    waited = _main("analyze", str(EDGE), "--json", thread=True)
    assert waited.returncode == 0
    assert json.loads(waited.stdout)["requests"] == 2500
    assert b"teardown ran" in waited.stderr


# main() with the command replaced by one that imports polars (as every command that
# reads does) and prints what its allocator was told.
_ALLOCATOR = """
import importlib, os
cli = importlib.import_module("logtrace.cli.app")  # the package's `app` is the Typer app

def command(prog_name):
    import polars
    print(os.environ.get("_RJEM_MALLOC_CONF"))

cli.app = command
cli.main()
"""


@pytest.mark.parametrize(
    ("given", "told"),
    [
        # polars puts its own defaults first; the later value of an option wins
        (None, ",dirty_decay_ms:5000,muzzy_decay_ms:5000"),
        ("narenas:2", ",narenas:2"),  # the user's stands, alone
    ],
)
def test_the_allocator_keeps_freed_pages_unless_the_user_says_otherwise(
    given: str | None, told: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "POLARS_THP")}
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    command = [sys.executable, "-c", _ALLOCATOR]
    done = subprocess.run(command, capture_output=True, timeout=60, check=True, env=env)
    conf = done.stdout.decode().strip()
    assert conf.endswith(told)
    assert conf.count("5000") == (2 if given is None else 0)


# A command run in this process; then whether pydantic was imported.
_IMPORTS = """
import sys
from logtrace.cli import app
try:
    app(sys.argv[1:], prog_name="logtrace")
except SystemExit:
    pass
print("pydantic" in sys.modules, file=sys.stderr)
"""


def test_a_command_starts_without_importing_pydantic() -> None:
    # typer 0.29 imports it to coerce option values: 50 ms before any work (pyproject)
    command = [sys.executable, "-c", _IMPORTS, "analyze", str(EDGE), "--top", "3"]
    done = subprocess.run(command, capture_output=True, timeout=60, check=True)
    assert b"slowest" in done.stdout.lower()
    assert done.stderr.decode().strip().splitlines()[-1] == "False"


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
            "matched none of the 2,500 lines",
        ),
        (["analyze", str(EDGE), "--preset", "nope"], ExitStatus.NOT_FOUND, "unknown preset"),
        (
            ["analyze", str(EDGE), "--format-name", "nope", *CONF],
            ExitStatus.NOT_FOUND,
            "no log_format named 'nope'",
        ),
        (["analyze", str(EDGE), "--format-name", "trace"], ExitStatus.USAGE, "needs --nginx-conf"),
        (["trace", "x", str(EDGE), "--app-format", "nope"], ExitStatus.NOT_FOUND, "app log format"),
        (["analyze", str(EDGE), "--status", "6zz"], ExitStatus.USAGE, "--status"),
        (["analyze", str(EDGE), "--since", "half past ten"], ExitStatus.USAGE, "is not a time"),
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


N_PLUS_ONE = "c1405abcbaf320b38811d5104a094314"  # GET /api/orders/5/items: 11 calls
RETRY = "51263bcd2f682f73df765ba1c484683b"  # GET /api/flaky/...: dead upstream first


@pytest.mark.parametrize(("name", "request_id"), [("n_plus_one", N_PLUS_ONE), ("retry", RETRY)])
def test_trace_renders_gantt_and_flow_of_a_real_request(
    golden: Golden, name: str, request_id: str
) -> None:
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


def test_a_unique_prefix_of_any_length_finds_the_request() -> None:
    result = runner.invoke(app, ["trace", N_PLUS_ONE[:3], str(SAMPLE), *CONF, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["request_id"] == N_PLUS_ONE


def test_an_ambiguous_prefix_lists_some_of_its_matches() -> None:
    done = run_cli("trace", N_PLUS_ONE[:2], str(SAMPLE), *CONF)
    err = done.stderr.decode()
    assert done.returncode == ExitStatus.NOT_FOUND, err
    assert f"{N_PLUS_ONE[:2]!r} is the start of 9 request ids" in err
    hint = next(line for line in err.splitlines() if line.startswith("hint: "))
    shown = hint.removeprefix("hint: give more of the id: ").removesuffix(", ...").split(", ")
    assert len(shown) == 5
    assert all(len(rid) == 32 and rid.startswith(N_PLUS_ONE[:2]) for rid in shown)


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
    with use_environment(Environment(columns=80)):  # a pipe: never cut, however narrow
        shown = runner.invoke(app, ["analyze", str(log)])
    header, _, row = shown.stdout.splitlines()[2:5]
    assert header.split()[-3:] == ["served", "calls", "unclassified"]
    assert row.split()[-3:] == ["3", "3", "0"]


LONG_URLS = "tests/fixtures/long-urls/access.log"
LONG_PATH = "/api/files/" + "x" * 9000
LONG_ID = "5924fdd314180fbe60a79bb42f15e0f7"  # GET /api/files/xxx… (9,000 x)


def test_trace_shortens_a_long_target_to_one_line(golden: Golden) -> None:
    with chdir(ROOT):
        result = runner.invoke(app, ["trace", LONG_ID, LONG_URLS])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) < 30
    assert max(len(line) for line in result.output.splitlines()) <= 120
    assert LONG_PATH not in result.output
    golden("cli_trace_long_url.txt", result.output)


@pytest.mark.parametrize("flag", ["--lines", "--json"])
def test_trace_lines_and_json_keep_a_long_target_whole(flag: str) -> None:
    with chdir(ROOT):
        result = runner.invoke(app, ["trace", LONG_ID, LONG_URLS, flag])
    assert result.exit_code == 0, result.output
    unwrapped = re.sub(r"\n[\s│]*", "", result.output)  # --lines wraps under a guide
    assert LONG_PATH in unwrapped


def test_trace_of_a_whole_second_log_shows_no_false_milliseconds() -> None:
    with chdir(ROOT):
        result = runner.invoke(app, ["trace", LONG_ID, LONG_URLS])
    header = result.output.splitlines()[0]
    assert re.fullmatch(rf"Trace {LONG_ID}  started ≈2026-\d\d-\d\d \d\d:\d\d:\d\d UTC", header)


def _slowest(*args: str, top: int) -> tuple[list[str], list[str]]:
    result = runner.invoke(app, ["analyze", *args, "--json", "--top", str(top)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    paths = doc.get("slow_paths", [])
    return [s["request_id"] for s in doc["slowest"]], [p["request_id"] for p in paths]


def test_ties_in_top_keep_one_order_whatever_n_and_in_every_section() -> None:
    # sample_logs has dozens of requests of 1.001 s (timeouts): ties decide the top
    five, paths_five = _slowest(str(SAMPLE), *CONF, top=5)
    ten, paths_ten = _slowest(str(SAMPLE), *CONF, top=10)
    assert ten[:5] == five
    assert paths_ten[:5] == paths_five
    assert (five, ten) == (paths_five, paths_ten)
    alone_five, _ = _slowest(str(EDGE), top=5)
    alone_ten, _ = _slowest(str(EDGE), top=10)
    assert alone_ten[:5] == alone_five == five


OUTPUTS = [
    ("analyze", "--export-csv"),
    ("export slowest", "--csv"),
    ("export spans", "-o"),
    ("export traces", "-o"),
    ("insights", "-o"),
]


@pytest.mark.parametrize(("command", "option"), OUTPUTS)
@pytest.mark.parametrize("where", ["missing/out.csv", "."])
def test_an_output_that_cannot_be_written_is_an_error_before_any_input_is_read(
    tmp_path: Path, command: str, option: str, where: str
) -> None:
    target = tmp_path / where
    # the input does not exist either: the output is checked first
    done = run_cli(*command.split(), str(tmp_path / "nope.log"), option, str(target))
    err = done.stderr.decode()
    assert done.returncode == ExitStatus.NO_INPUT, err
    assert err.startswith(f"logtrace: error: cannot write {target}: "), err
    assert len(err.splitlines()) == 2 and "\nhint: " in err


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", str(EDGE)],
        ["analyze", str(EDGE), "--json"],
        ["trace", N_PLUS_ONE, str(SAMPLE), *CONF],
        ["export", "spans", str(EDGE)],
        ["formats"],
    ],
    ids=["analyze", "analyze-json", "trace", "export-spans", "formats"],
)
def test_a_reader_that_stops_early_is_a_normal_end(args: list[str]) -> None:
    """``logtrace ... | head``: the pipe closes before the output is written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "logtrace", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == ExitStatus.OK, err
    assert err == ""


def _interrupted_run(after_s: float) -> tuple[int, bytes]:
    """``analyze -`` on a terminal, fed without end, interrupted as Ctrl-C does: its
    exit status and what its terminal (stderr) got."""
    import os
    import pty
    import select
    import signal
    import threading
    import time

    block = EDGE.read_bytes() * (16 * 1024 * 1024 // EDGE.stat().st_size + 1)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logtrace", "analyze", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    assert proc.stdin is not None
    stdin = proc.stdin

    def feed() -> None:
        try:
            while True:
                stdin.write(block)
        except (BrokenPipeError, ValueError, OSError):
            pass

    threading.Thread(target=feed, daemon=True).start()
    screen = b""
    start = time.monotonic()
    sent = False
    while True:
        if not sent and time.monotonic() - start >= after_s:
            os.killpg(proc.pid, signal.SIGINT)
            sent = True
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal's other end closed: the process is gone
                data = b""
            screen += data
            if data:
                continue
        if proc.poll() is not None:
            break
        assert time.monotonic() - start < 60, "no exit after Ctrl-C"
    os.close(master)
    with contextlib.suppress(OSError):
        stdin.close()
    return proc.wait(), screen


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.5, 3.0], ids=["before-the-bar", "with-the-bar"])
def test_ctrl_c_ends_cleanly_and_takes_the_progress_bar_away(after_s: float) -> None:
    status, screen = _interrupted_run(after_s)
    assert status == ExitStatus.INTERRUPTED, screen
    assert b"Traceback" not in screen and b"Exception ignored" not in screen, screen
    said = b"logtrace: interrupted\r\n"
    if after_s < 1:  # no bar yet: one line
        assert screen == said
        return
    assert b"reading" in screen  # the bar was drawn ...
    last = screen.rsplit(b"reading", 1)[-1]
    # ... and is erased (line cleared, cursor shown) before the one line that is left
    assert last.endswith(b"\r\x1b[2K\x1b[?25h" + said), last[-200:]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_commands_analyze_prints_run_as_pasted(tmp_path: Path) -> None:
    """The `logtrace trace` commands under analyze's insights carry every input option."""
    options = ["--nginx-conf", "sample_logs/nginx/mesh-1.conf", "--no-skew-correction"]
    result = runner.invoke(app, ["analyze", "sample_logs/", *options], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    printed = [
        line.strip()
        for line in result.stdout.splitlines()
        if line.startswith("    logtrace trace ")
    ]
    assert printed and all(line.endswith(" ".join(["sample_logs/", *options])) for line in printed)
    shim = tmp_path / "logtrace"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m logtrace "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        ["bash", "-c", printed[0]], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"Trace {shlex.split(printed[0])[2]}" in done.stdout


def test_since_after_until_is_a_bad_command_line() -> None:
    args = ["--since", "2026-11-26T13:00:00Z", "--until", "2026-11-26T12:00:00Z"]
    result = runner.invoke(app, ["analyze", str(EDGE), *args])
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert "is not before --until" in result.stderr


def test_a_route_copied_from_the_report_selects_that_route() -> None:
    result = runner.invoke(
        app, ["analyze", str(SAMPLE), *CONF, "--route", "/api/orders/{id}", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(r["route"], r["count"]) for r in doc["routes"]] == [("/api/orders/{id}", 375)]


def test_filters_that_match_nothing_say_so_and_show_the_logs_range() -> None:
    args = ["analyze", str(EDGE), "--status", "302", "--since", "2026-11-26T12:37:30Z"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "not in this log format" not in out
    assert (  # shown in the offset the log writes
        "Requests: 0: the filters (--since 2026-11-26 09:07:30 -03:30 --status 302) matched none "
        "of the 2,500 requests, which ended between 2026-11-26 09:07:13 and 09:07:47 -03:30"
    ) in out
    doc = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert doc["requests"] == 0
    assert doc["filters"]["requests_before"] == 2500
    assert doc["filters"]["time_range_before"] == {
        "start": "2026-11-26T12:37:13+00:00",
        "end": "2026-11-26T12:37:47+00:00",
    }
    assert doc["filters"]["status"] == [[302, 302]]


def test_no_filters_no_filter_report() -> None:
    doc = json.loads(runner.invoke(app, ["analyze", str(EDGE), "--json"]).stdout)
    assert doc["filters"] is None


def test_a_time_without_a_zone_is_read_as_the_log_writes_its_times(tmp_path: Path) -> None:
    log = tmp_path / "tehran.log"
    log.write_text(
        "".join(
            f'1.2.3.4 - - [22/Jan/2019:{hms} +0330] "GET /a HTTP/1.1" 200 5 "-" "curl" '
            f"0.010 - {rid}\n"
            for hms, rid in (("03:56:00", "a" * 32), ("03:57:30", "b" * 32), ("03:58:00", "c" * 32))
        )
    )
    result = runner.invoke(app, ["analyze", str(log), "--since", "2019-01-22 03:57", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["requests"] == 2
    assert doc["filters"]["since"] == "2019-01-22T00:27:00+00:00"
    assert doc["filters"]["zone"] == "+03:30 (the offset the logs write)"
    args = ["analyze", str(log), "--since", "2019-01-22 04:00"]
    shown = " ".join(runner.invoke(app, args).stdout.split())
    assert "+03:30 (the offset the logs write)" in shown
    assert "ended between 2019-01-22 03:56:00 and 03:58:00 +03:30" in shown


def test_a_time_without_a_zone_is_utc_when_the_logs_disagree() -> None:
    args = ["analyze", str(SAMPLE), *CONF, "--since", "2026-11-26 12:37:40", "--json"]
    doc = json.loads(runner.invoke(app, args).stdout)
    assert doc["filters"]["since"] == "2026-11-26T12:37:40+00:00"
    assert doc["filters"]["zone"].startswith("UTC (the logs write different offsets: -03:30 ")


def test_help_says_how_a_time_without_a_zone_is_read() -> None:
    text = " ".join(runner.invoke(app, ["analyze", "--help"]).stdout.split())
    assert "without a zone: in the UTC offset the logs write" in text


def test_the_report_says_what_its_filters_cover() -> None:
    args = ["analyze", str(SAMPLE), *CONF, "--status", "5xx"]
    text = " ".join(runner.invoke(app, args, env={"COLUMNS": "200"}).stdout.split())
    assert (
        "(filtered: --status 500-599: every section counts only the requests that match, and "
        "their traces; clock offsets are measured on all of them)"
    ) in text


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
