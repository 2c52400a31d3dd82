"""Log text is data: whatever a line holds, it never acts on the terminal, on rich, on a
spreadsheet or on a JSON reader.

Golden files show what a person sees for hostile lines (tests/fixtures/hostile, written by
its make_hostile.py: ANSI escapes, OSC 8 links, ``\\r`` overwrites, bidi overrides, rich
markup); every output is also checked for a single control or bidi character.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from logtrace.errors import ExitStatus
from tests.conftest import FIXTURES, ROOT, Golden

HOSTILE_DIR = FIXTURES / "hostile"


def _fixture_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_hostile", HOSTILE_DIR / "make_hostile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _fixture_module()
HOSTILE: dict[str, str] = H.HOSTILE
EVIL_ID: str = H.EVIL_ID
TRACE_ID: str = H.TRACE_ID
# What must never reach a terminal: C0/C1 controls but newline, DEL, bidi and invisible
# format characters (the set render/console.py escapes).
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
# A hostile host label given on the command line (PATH@HOST; a "/" would start the
# service): shown in the sources table.
EVIL_HOST = "\x1b[5m[b]\u202eweb"


def run_cli(*args: str, cwd: Path = HOSTILE_DIR) -> subprocess.CompletedProcess[str]:
    """The real command; output decoded without newline translation (a "\r" stays)."""
    # what a pipe gets; and this checkout's logtrace, whatever the folder it runs in
    env = {**os.environ, "COLUMNS": "120", "PYTHONPATH": str(ROOT)}
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "logtrace", *args],
        capture_output=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "surrogateescape"),
        done.stderr.decode("utf-8", "surrogateescape"),
    )


def assert_inert(text: str) -> None:
    """Not one character that a terminal would act on, and no traceback."""
    bad = UNSAFE.search(text)
    assert bad is None, f"raw {bad.group()!r} at {bad.start()}: {text[bad.start() - 60 :][:120]!r}"
    assert "Traceback" not in text


GOLDEN_RUNS = {
    "hostile_analyze.txt": ("analyze", f"edge-1.access.log@{EVIL_HOST}"),
    "hostile_analyze_hosts.txt": ("analyze", "trace/edge-1.access.log", "trace/api-1.log"),
    "hostile_trace.txt": (
        "trace",
        TRACE_ID[:12],
        "trace/edge-1.access.log",
        "trace/api-1.log",
        "--lines",
    ),
    "hostile_trace_evil_id.txt": ("trace", EVIL_ID[:9], "trace/api-1.log", "--lines"),
    "hostile_insights.txt": ("insights", "trace/edge-1.access.log", "trace/api-1.log"),
}


@pytest.fixture(scope="module")
def golden_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """The golden commands, run a few at a time (each is mostly interpreter start-up)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = pool.map(lambda args: run_cli(*args), GOLDEN_RUNS.values())
        return dict(zip(GOLDEN_RUNS, runs, strict=True))


@pytest.mark.parametrize("name", list(GOLDEN_RUNS))
def test_hostile_log_text_is_shown_inert(golden: Golden, golden_runs, name: str) -> None:  # type: ignore[no-untyped-def]
    done = golden_runs[name]
    assert done.returncode == ExitStatus.OK, done.stderr
    assert_inert(done.stdout + done.stderr)
    golden(name, done.stdout)


def test_the_hostile_golden_shows_every_attack_as_escapes() -> None:
    """The goldens are only worth their review if the attacks reached the screen."""
    text = (Path(__file__).parent / "golden" / "hostile_analyze.txt").read_text("utf-8")
    for shown in (
        r"/h/ansi/\x1B[31mRED\x1B[0m",
        r"/h/cr/innocent\x0DEVIL",
        r"/h/bidi/\u202Egnp.exe",
        r"/h/c1/\x9B31mC1",
        "/h/markup/[bold%20red]markup[/bold%20red]",
        r"/esc/\x1B[31mred\x1B]8;;x\x07",  # nginx's own \xHH escapes, decoded and shown
        r"garbage [bold]not a log[/bold] \u202Eevil\x0DOVERWRITE",  # a rejected line
        r"\x1B[5m[b]\u202Eweb",  # the host label
    ):
        assert shown in text, shown


def test_error_messages_quote_hostile_text_inertly(golden: Golden, tmp_path: Path) -> None:
    wrong = run_cli("analyze", "edge-1.access.log", "--preset", "combined")
    assert wrong.returncode == ExitStatus.NO_MATCH
    missing = run_cli("analyze", f"{HOSTILE['osc8']}.log", cwd=tmp_path)
    assert missing.returncode == ExitStatus.NO_INPUT
    unknown = run_cli("trace", EVIL_ID, "trace/edge-1.access.log")
    assert unknown.returncode == ExitStatus.NOT_FOUND
    text = wrong.stderr + missing.stderr + unknown.stderr
    assert_inert(text)
    golden("hostile_errors.txt", text)


def test_warnings_quote_a_reused_hostile_request_id_inertly(golden: Golden, tmp_path: Path) -> None:
    entry = {
        "level": "INFO",
        "msg": "request finished",
        "request_id": EVIL_ID,
        "method": "GET",
        "path": "/x",
        "status": 200,
        "duration_ms": 2,
    }
    lines = [
        json.dumps({**entry, "time": f"2026-11-26T09:07:{i // 100:02d}.{i % 100:02d}0Z"})
        for i in range(1001)
    ]
    (tmp_path / "api-1.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "api-2.log").write_text(lines[0] + "\n", encoding="utf-8")
    done = run_cli("analyze", "api-1.log", "api-2.log", cwd=tmp_path)
    assert done.returncode == ExitStatus.OK, done.stderr
    assert_inert(done.stdout + done.stderr)
    golden("hostile_reused_id.txt", done.stdout)


# --- JSON: produced by json.dumps, so hostile strings come back exactly --------------------


def test_analyze_json_round_trips_hostile_strings() -> None:
    done = run_cli("analyze", "edge-1.access.log", "--json")
    assert done.returncode == ExitStatus.OK
    # C0 and C1 controls, bidi overrides: all \u escapes, raw JSON is safe on a terminal
    assert done.stdout.isascii()
    doc = json.loads(done.stdout)
    routes = {r["route"] for r in doc["routes"]}
    for name, text in HOSTILE.items():
        assert H._path(name, text) in routes, name
    assert "/esc/\x1b[31mred\x1b]8;;x\x07" in routes  # nginx's \xHH decoded
    raw = (HOSTILE_DIR / "edge-1.access.log").read_bytes().decode().split("\n")[:-1]
    samples = doc["sources"][0]["rejected_samples"]
    assert [s["line"] for s in samples] == raw[-2:]  # exactly as logged


def test_trace_json_round_trips_a_hostile_request_id() -> None:
    done = run_cli("trace", EVIL_ID[:9], "trace/api-1.log", "--json")
    assert done.returncode == ExitStatus.OK, done.stderr
    assert done.stdout.isascii()
    doc = json.loads(done.stdout)
    assert doc["request_id"] == EVIL_ID
    names = {s["name"] for s in doc["spans"]}
    assert f"GET /api/evil/{HOSTILE['link']}" in names
    peers = {s["peer"] for s in doc["spans"]}
    assert HOSTILE["title"] in peers


def test_analyze_json_of_several_hosts_round_trips_hostile_ids_and_names() -> None:
    done = run_cli("analyze", "trace/edge-1.access.log", "trace/api-1.log", "--json")
    doc = json.loads(done.stdout)
    assert EVIL_ID in {p["request_id"] for p in doc["slow_paths"]}
    assert HOSTILE["markup"] in {s["service"] for s in doc["services"]}
    assert HOSTILE["bidi"] in {h["host"] for h in doc["hosts"]}


# --- CSV: formulas made inert, numbers left alone ------------------------------------------

FORMULA_LINES = (
    '10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET /a HTTP/1.1" 200 -5 "+1+1" '
    '"=HYPERLINK(\\x22http://evil.example\\x22)" 0.500 0.400 ' + "ab" * 16 + "\n"
    '10.0.0.2 - - [26/Nov/2026:12:37:14 +0000] "GET /b HTTP/1.1" 200 -17 "\t=1" "-2+3" '
    "0.300 0.200 " + "cd" * 16 + "\n"
    '10.0.0.3 - - [26/Nov/2026:12:37:15 +0000] "GET /c HTTP/1.1" 200 0 "@SUM(A1)" '
    "\"\r=cmd|' /C calc'!A0\" 0.100 - " + "ef" * 16 + "\n"
)


def test_csv_neutralises_formulas_and_keeps_negative_numbers(tmp_path: Path) -> None:
    (tmp_path / "f.log").write_text(FORMULA_LINES, encoding="utf-8")
    done = run_cli("export", "slowest", "f.log", "--csv", "-", "--preset", "trace", cwd=tmp_path)
    assert done.returncode == ExitStatus.OK, done.stderr
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(done.stdout, newline=""))}
    assert rows["/a"]["http_referer"] == "'+1+1"
    assert rows["/a"]["http_user_agent"] == '\'=HYPERLINK("http://evil.example")'
    assert rows["/b"]["http_referer"] == "'\t=1"
    assert rows["/b"]["http_user_agent"] == "'-2+3"
    assert rows["/c"]["http_referer"] == "'@SUM(A1)"
    assert rows["/c"]["http_user_agent"].startswith("'\r=cmd")
    # Numeric columns stay numbers, negative ones included.
    assert [rows[p]["body_bytes_sent"] for p in ("/a", "/b", "/c")] == ["-5", "-17", "0"]
    assert rows["/a"]["request_time_s"] == "0.5"
    for row in rows.values():
        for column, value in row.items():
            if value[:1] in ("=", "+", "@", "\t", "\r"):
                pytest.fail(f"{column} starts a formula: {value!r}")
            if value.startswith("-"):
                float(value)  # only numbers may start with "-"
