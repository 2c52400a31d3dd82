"""What ``logtrace insights`` hands a user to check each finding: every request id behind a
summary row, a JSON line per request and pattern, and ``logtrace trace`` commands that run
as printed. Run on ``sample_logs/`` as the README shows it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from contextlib import chdir
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner, Result

from logtrace.analysis.insights import Insights, find_insights
from logtrace.cli import app
from logtrace.errors import ExitStatus
from logtrace.export.insights_json import REQUEST_FINDING, SCHEMA, insights_json
from logtrace.render.commands import TraceArgs, shell_quote, trace_command
from logtrace.timelines.load import Loaded
from tests.conftest import ROOT

INPUTS = ["sample_logs/", "--nginx-conf", "sample_logs/nginx/mesh-1.conf"]


def invoke(*args: str) -> Result:
    """``logtrace insights`` on the sample logs, from the repository's root."""
    with chdir(ROOT):
        return CliRunner().invoke(app, ["insights", *INPUTS, *args])


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command, importing this checkout's logtrace from any folder."""
    return subprocess.run(
        [sys.executable, "-m", "logtrace", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def spans(sample_loaded: Loaded) -> pl.DataFrame:
    return sample_loaded.timelines.spans


@pytest.fixture(scope="module")
def insights(spans: pl.DataFrame) -> Insights:
    return find_insights(spans)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    result = invoke("--json")
    assert result.exit_code == 0, result.stdout
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="module")
def ndjson() -> list[str]:
    result = invoke("--format", "ndjson")
    assert result.exit_code == 0, result.stdout
    return list(result.stdout.splitlines())


@pytest.fixture(scope="module")
def table() -> str:
    result = invoke()
    assert result.exit_code == 0, result.stdout
    return str(result.stdout)


def _pairs(frame: pl.DataFrame) -> set[tuple[str, str]]:
    return set(frame.select("request_id", "pattern").iter_rows())


# --- the JSON document --------------------------------------------------------------------


def test_each_summary_row_lists_every_request_behind_it(
    document: dict[str, Any], insights: Insights
) -> None:
    assert document["schema"] == SCHEMA
    findings = insights.findings.with_columns(
        pl.concat_str("method", "route", separator=" ").str.strip_chars().alias("route")
    )
    for row in document["findings"]:
        behind = findings.filter(
            (pl.col("pattern") == row["pattern"]) & (pl.col("route") == row["route"])
        ).sort(["saving_s", "request_id"], descending=[True, False])
        assert row["request_ids"] == behind.get_column("request_id").to_list()
        assert len(row["request_ids"]) == row["requests"]
        assert row["examples"] == row["request_ids"][: len(row["examples"])]
        assert row["saving_total_s"] == pytest.approx(float(behind.get_column("saving_s").sum()))


def test_summary_rows_together_hold_every_finding_once(document: dict[str, Any]) -> None:
    listed = [(rid, row["pattern"]) for row in document["findings"] for rid in row["request_ids"]]
    found = {(f["request_id"], f["pattern"]) for f in document["requests_found"]}
    assert len(listed) == len(set(listed)) == len(found)
    assert set(listed) == found


def test_requests_found_are_the_findings_frame(
    document: dict[str, Any], insights: Insights
) -> None:
    rows = document["requests_found"]
    assert [tuple(r) for r in rows] == [REQUEST_FINDING] * len(rows)
    assert [(r["request_id"], r["pattern"]) for r in rows] == list(
        insights.findings.select("request_id", "pattern").iter_rows()
    )
    first = insights.findings.row(0, named=True)
    assert rows[0] == {k: round(v, 6) if isinstance(v, float) else v for k, v in first.items()}


def test_the_summary_keeps_its_earlier_fields(document: dict[str, Any]) -> None:
    """Fields are only ever added to logtrace.insights/1."""
    assert {"schema", "requests", "total_s", "findings", "hot_targets"} <= set(document)
    for row in document["findings"]:
        assert {
            "pattern",
            "route",
            "requests",
            "share",
            "saving_p50_s",
            "saving_total_s",
            "examples",
            "detail",
            "advice",
        } <= set(row)


def test_format_json_is_the_json_flag(document: dict[str, Any]) -> None:
    result = invoke("--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == document


def test_per_request_is_still_accepted(document: dict[str, Any]) -> None:
    result = invoke("--json", "--per-request")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == document


def test_output_does_not_depend_on_the_order_of_the_spans(
    spans: pl.DataFrame, insights: Insights
) -> None:
    shuffled = spans.sample(fraction=1.0, shuffle=True, seed=11)
    assert insights_json(find_insights(shuffled)) == insights_json(insights)


# --- JSON lines ---------------------------------------------------------------------------


def test_ndjson_has_one_line_per_request_and_pattern(ndjson: list[str], insights: Insights) -> None:
    rows = [json.loads(line) for line in ndjson]
    assert len(rows) == insights.findings.height
    assert all(tuple(row) == REQUEST_FINDING for row in rows)
    assert {(r["request_id"], r["pattern"]) for r in rows} == _pairs(insights.findings)


def test_ndjson_lines_are_the_documents_requests_found(
    ndjson: list[str], document: dict[str, Any]
) -> None:
    assert [json.loads(line) for line in ndjson] == document["requests_found"]
    assert all(line.isascii() for line in ndjson)


def test_out_writes_the_same_lines_to_a_file(ndjson: list[str], tmp_path: Path) -> None:
    out = tmp_path / "findings.ndjson"
    result = invoke("--format", "ndjson", "-o", str(out))
    assert result.exit_code == 0, result.stdout
    assert out.read_text(encoding="utf-8").splitlines() == ndjson
    assert f"{len(ndjson):,} by request" in result.stderr


# --- the terminal view's commands ---------------------------------------------------------


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.startswith("    logtrace trace ")]


def test_format_table_is_the_terminal_view(table: str) -> None:
    result = invoke("--format", "table")
    assert result.exit_code == 0
    assert result.stdout == table


def test_every_example_gets_a_whole_command_with_the_same_inputs(
    table: str, insights: Insights
) -> None:
    commands = _commands(table)
    examples = [e for row in insights.summary.iter_rows(named=True) for e in row["examples"]]
    assert [shlex.split(c) for c in commands] == [
        ["logtrace", "trace", e, *INPUTS] for e in examples
    ]


def test_the_printed_command_finds_its_trace(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    first = _commands(table)[0]
    argv = shlex.split(first)
    result = CliRunner().invoke(app, [*argv[1:], "--json"])
    assert result.exit_code == 0, result.stdout
    spans = json.loads(result.stdout)["spans"]
    assert {s["request_id"] for s in spans} == {argv[2]}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_printed_command_runs_in_a_shell(table: str, tmp_path: Path) -> None:
    """As a user pastes it: the shell splits it, ``logtrace`` is the installed command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "logtrace"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m logtrace "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
    }
    command = _commands(table)[-1]
    done = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"Trace {shlex.split(command)[2]}" in done.stdout


@pytest.mark.parametrize(
    ("request_id", "args", "expected"),
    [
        ("abc", TraceArgs(("logs/",)), "logtrace trace abc logs/"),
        (
            "abc",
            TraceArgs(("my logs/",), ("--nginx-conf", "a b.conf")),
            "logtrace trace abc 'my logs/' --nginx-conf 'a b.conf'",
        ),
        ("abc", TraceArgs(), "logtrace trace abc"),
        ("-abc", TraceArgs(("logs/",)), "logtrace trace -- -abc logs/"),
        (
            "abc",
            TraceArgs(("-", "-x.log"), ("--preset", "trace")),
            "logtrace trace --preset trace -- abc - -x.log",
        ),
        ("it's", TraceArgs(("-",)), "logtrace trace 'it'\"'\"'s' -"),
    ],
)
def test_trace_command_quotes_what_a_shell_would_split(
    request_id: str, args: TraceArgs, expected: str
) -> None:
    assert trace_command(request_id, args) == expected


HOSTILE = ["\x1b[31mred\x1b[0m", "a\u202eb", "c1\x9bx", "back\\slash'quote\x07"]


@pytest.mark.parametrize("text", HOSTILE)
def test_control_characters_are_quoted_inertly_and_mean_the_same(text: str) -> None:
    quoted = shell_quote(text)
    assert quoted.isascii() and quoted.isprintable()
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    done = subprocess.run(
        ["bash", "-c", f"printf %s {quoted}"],
        capture_output=True,
        check=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    assert done.stdout.decode("utf-8") == text


# --- the output path ----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["missing/dir/out.ndjson", "."])
def test_an_unwritable_output_fails_before_any_input_is_read(where: str, tmp_path: Path) -> None:
    """One line and a hint, exit 3, no traceback: even with an input that is not there."""
    done = run("insights", "no-such.log", "--format", "ndjson", "-o", where, cwd=tmp_path)
    assert done.returncode == ExitStatus.NO_INPUT
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"logtrace: error: cannot write {where}")
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2
    assert not done.stdout


@pytest.mark.parametrize(
    "args",
    [["--format", "yaml"], ["--json", "--format", "ndjson"]],
)
def test_a_format_that_is_not_known_or_contradicts_json_is_a_usage_error(
    args: list[str], tmp_path: Path
) -> None:
    done = run("insights", "no-such.log", *args, cwd=tmp_path)
    assert done.returncode == ExitStatus.USAGE
    assert done.stderr.startswith("logtrace: error: ")
