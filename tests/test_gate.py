"""``analyze --fail-if RULE``: rules read before any input, measured exactly, exit 8."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.analysis.gate import Rule, RuleError, parse_rule
from logtrace.analysis.percentiles import nearest_rank
from logtrace.cli import app
from logtrace.errors import ExitStatus
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources

runner = CliRunner()
PATHS = ("/api/orders/{n}", "/api/orders/{n}/items", "/checkout", "/api/users/{n}")


def _requests(n: int = 800, seed: int = 5) -> list[tuple[str, float, int]]:
    """(path, request time, status) of ``n`` requests."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        path = rnd.choice(PATHS).format(n=1000 + i)
        ms = rnd.choice([rnd.randint(1, 50), rnd.randint(200, 900), rnd.randint(1000, 3000)])
        out.append((path, ms / 1000, rnd.choice([200] * 15 + [404, 500, 503])))
    return out


@pytest.fixture(scope="module")
def requests() -> list[tuple[str, float, int]]:
    return _requests()


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory, requests: list[tuple[str, float, int]]) -> Path:
    path = tmp_path_factory.mktemp("gate") / "access.log"
    path.write_text(
        "".join(
            f'1.2.3.4 - - [26/Nov/2026:08:00:{i % 60:02d} +0000] "GET {p} HTTP/1.1" {s} 5 "-" '
            f'"curl" {rt:.3f} {rt:.3f} {i:032x}\n'
            for i, (p, rt, s) in enumerate(requests)
        )
    )
    return path


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("p99>800ms", Rule("p99>800ms", "p99", ">", 0.8, "time")),
        ("p95 >= 1.5s", Rule("p95 >= 1.5s", "p95", ">=", 1.5, "time")),
        ("max<2m", Rule("max<2m", "max", "<", 120.0, "time")),
        ("upstream_p99>1s", Rule("upstream_p99>1s", "upstream_p99", ">", 1.0, "time")),
        ("error_rate>1%", Rule("error_rate>1%", "error_rate", ">", 0.01, "share")),
        ("4xx>2.5%", Rule("4xx>2.5%", "4xx", ">", 0.025, "share")),
        (
            "5xx>0 route=/checkout",
            Rule("5xx>0 route=/checkout", "5xx", ">", 0, "count", "/checkout"),
        ),
        ("requests<100", Rule("requests<100", "requests", "<", 100, "count")),
        (
            "p95>300ms route=/api/orders/*",
            Rule("p95>300ms route=/api/orders/*", "p95", ">", 0.3, "time", "/api/orders/*"),
        ),
    ],
)
def test_rules_are_read(text: str, rule: Rule) -> None:
    assert parse_rule(text) == rule


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("p98>800ms", 0, "unknown metric 'p98'"),
        ("p99=800ms", 3, "expected a comparison"),
        ("p99>", 4, "expected a value"),
        ("p99>800", 4, "p99 is a time: give its unit"),
        ("p99>800x", 7, "unknown unit 'x'"),
        ("error_rate>1", 11, "error_rate is a share"),
        ("requests<1%", 9, "requests is a count"),
        ("5xx>1s", 4, "5xx is a count (0) or a share (1%)"),
        ("p99>800ms foo", 10, "expected route=ROUTE or the end of the rule"),
        ("", 0, "expected a metric"),
    ],
)
def test_a_bad_rule_points_at_its_column(text: str, column: int, says: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    assert says in caught.value.message
    assert caught.value.column == column
    assert caught.value.caret_lines() == [text, " " * column + "^"]


def test_a_bad_rule_is_exit_2_with_a_caret_before_any_input_is_read() -> None:
    result = runner.invoke(app, ["analyze", "/nonexistent/access.log", "--fail-if", "p99>8O0ms"])
    assert result.exit_code == ExitStatus.USAGE  # not NO_INPUT: the file was never opened
    lines = result.stderr.splitlines()
    assert lines[0] == "logtrace: error: --fail-if 'p99>8O0ms': unknown unit 'O0ms' at column 6"
    assert lines[1:3] == ["  p99>8O0ms", "       ^"]
    assert lines[3].startswith("hint: write METRIC OP VALUE")
    assert "Traceback" not in result.output


def _verdicts(log: Path, *rules: str) -> list[tuple[float | None, bool]]:
    options = AnalyzeOptions(FormatOptions(preset="trace"), gate=tuple(map(parse_rule, rules)))
    result = analyze(resolve_sources([str(log)]), options)
    assert result.gate is not None
    return [(v.value, v.broken) for v in result.gate]


def test_rules_measure_what_a_plain_computation_gives(
    log: Path, requests: list[tuple[str, float, int]]
) -> None:
    orders = [r for r in requests if r[0].startswith("/api/orders/")]  # both orders routes
    checkout = [r for r in requests if r[0] == "/checkout"]
    p95 = nearest_rank([rt for _, rt, _ in orders], 0.95)
    p99 = nearest_rank([rt for _, rt, _ in requests], 0.99)
    rate = sum(s >= 500 for _, _, s in requests) / len(requests)
    fives = sum(s >= 500 for _, _, s in checkout)
    got = _verdicts(
        log,
        "p95>300ms route=/api/orders/*",
        "p99>100s",
        "error_rate>1%",
        "5xx>0 route=/checkout",
        f"requests<{len(requests)}",
        "p50>1s route=/nothing/*",
    )
    assert got == [
        (pytest.approx(p95), p95 > 0.3),
        (pytest.approx(p99), False),
        (pytest.approx(rate), rate > 0.01),
        (fives, fives > 0),
        (len(requests), False),
        (None, False),  # no request: not judged
    ]
    assert p95 > 0.3 and rate > 0.01 and fives > 0  # the data do break those three


def test_a_broken_rule_is_exit_8_with_the_measured_value_on_stderr(log: Path) -> None:
    result = runner.invoke(
        app, ["analyze", str(log), "--fail-if", "p99>800ms", "--fail-if", "p99>100s"]
    )
    assert result.exit_code == ExitStatus.GATE
    assert int(ExitStatus.GATE) == 8
    assert "Routes (top" in result.stdout  # the whole report first
    lines = result.stderr.splitlines()
    assert lines[0].startswith("gate: broken: p99>800ms: p99 is ")
    assert lines[0].endswith(" ms (800 requests)")
    assert lines[-1] == "gate: 1 of 2 rules broken"


def test_rules_that_hold_exit_0_and_json_has_the_gate(log: Path) -> None:
    result = runner.invoke(app, ["analyze", str(log), "--json", "--fail-if", "p99>100s"])
    assert result.exit_code == 0, result.output
    gate = json.loads(result.stdout)["gate"]
    assert gate[0]["rule"] == "p99>100s"
    assert gate[0]["broken"] is False
    assert gate[0]["threshold"] == 100.0
    assert result.stderr.splitlines() == ["gate: 1 rule checked, none broken"]


def test_json_of_a_broken_gate_is_whole_and_exit_8(log: Path) -> None:
    result = runner.invoke(app, ["analyze", str(log), "--json", "--fail-if", "requests<1000000"])
    assert result.exit_code == 8
    gate = json.loads(result.stdout)["gate"]
    assert gate == [
        {
            "rule": "requests<1000000",
            "metric": "requests",
            "op": "<",
            "threshold": 1000000.0,
            "kind": "count",
            "route": None,
            "value": 800.0,
            "requests": 800,
            "broken": True,
        }
    ]
