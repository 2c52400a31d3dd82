"""``logtrace compare``: before and after per route, Mann–Whitney U beyond noise."""

from __future__ import annotations

import io
import json
import math
import os
import random
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from logtrace.analysis.compare import ALL, compare, mann_whitney
from logtrace.analysis.gate import RuleError, parse_change_rule
from logtrace.analysis.percentiles import nearest_rank
from logtrace.cli import app
from logtrace.errors import ExitStatus
from logtrace.render.compare import compare_table
from logtrace.render.console import ReportConsole

runner = CliRunner()


def _hist(values: list[tuple[str, int]]) -> pl.DataFrame:
    frame = pl.DataFrame(values, schema={"route": pl.String, "ms": pl.Int64}, orient="row")
    return frame.group_by("route", "ms").agg(pl.len().alias("count"))


def _plain_u(before: list[int], after: list[int]) -> tuple[float, float]:
    """U of the after side and the two-sided p, pair by pair and tie group by tie group."""
    u = sum((a > b) + 0.5 * (a == b) for a in after for b in before)
    n1, n2 = len(before), len(after)
    n = n1 + n2
    pooled = before + after
    ties = sum(pooled.count(v) ** 3 - pooled.count(v) for v in set(pooled))
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    z = max(abs(u - n1 * n2 / 2) - 0.5, 0) / math.sqrt(var)
    return u, math.erfc(z / math.sqrt(2))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_u_and_p_equal_a_pair_by_pair_computation(seed: int) -> None:
    rnd = random.Random(seed)
    before = [rnd.randint(10, 40) for _ in range(rnd.randint(5, 60))]  # many ties
    after = [rnd.randint(12, 45) for _ in range(rnd.randint(5, 60))]
    counts = (
        pl.concat(
            [
                _hist([("/a", v) for v in before]).rename({"count": "before"}),
                _hist([("/a", v) for v in after]).rename({"count": "after"}),
            ],
            how="diagonal_relaxed",
        )
        .group_by("route", "ms")
        .agg(pl.col("before", "after").sum())
        .fill_null(0)
    )
    row = mann_whitney(counts).row(0, named=True)
    u, p = _plain_u(before, after)
    assert row["u"] == pytest.approx(u)
    assert row["p_value"] == pytest.approx(p)
    assert row["effect"] == pytest.approx(u / (len(before) * len(after)))


def _two_sides(seed: int = 4) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    rnd = random.Random(seed)
    before = [("/slow", rnd.randint(100, 200)) for _ in range(300)]
    before += [("/same", rnd.randint(10, 50)) for _ in range(300)]
    before += [("/fast", rnd.randint(300, 500)) for _ in range(200)]
    before += [("/rare", 5)] * 10 + [("/gone", 7)] * 3
    after = [("/slow", rnd.randint(150, 260)) for _ in range(250)]
    after += [("/same", rnd.randint(10, 50)) for _ in range(280)]
    after += [("/fast", rnd.randint(100, 300)) for _ in range(220)]
    after += [("/rare", 50)] * 10 + [("/new", 9)] * 4
    return before, after


def test_routes_are_judged_slower_faster_same_or_too_few_regressions_first() -> None:
    before, after = _two_sides()
    result = compare(_hist(before), _hist(after))
    rows = result.routes
    assert rows.get_column("route").to_list()[:2] == ["/slow", "/fast"]
    verdicts = dict(zip(rows.get_column("route"), rows.get_column("verdict"), strict=True))
    assert verdicts == {
        "/slow": "slower",
        "/fast": "faster",
        "/same": "no change",
        "/rare": "too few",
    }
    assert result.new_routes.get_column("route").to_list() == ["/new"]
    assert result.vanished_routes.get_column("route").to_list() == ["/gone"]
    assert result.overall["route"] == ALL
    assert result.overall["before"] == len(before) and result.overall["after"] == len(after)


def test_percentiles_and_changes_are_exact() -> None:
    before, after = _two_sides()
    row = (
        compare(_hist(before), _hist(after))
        .routes.filter(pl.col("route") == "/slow")
        .row(0, named=True)
    )
    b = [ms / 1000 for r, ms in before if r == "/slow"]
    a = [ms / 1000 for r, ms in after if r == "/slow"]
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        assert row[f"{name}_s_before"] == nearest_rank(b, q)
        assert row[f"{name}_s_after"] == nearest_rank(a, q)
        change = nearest_rank(a, q) - nearest_rank(b, q)
        assert row[f"{name}_s_change"] == pytest.approx(change)
        assert row[f"{name}_change_pct"] == pytest.approx(change / nearest_rank(b, q))


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("p99>20%", 3, "expected '+'"),
        ("p98+1%", 0, "unknown metric 'p98'"),
        ("p99+20", 6, "a change needs its unit"),
        ("p99+20x", 6, "unknown unit 'x'"),
    ],
)
def test_a_bad_compare_rule_points_at_its_column(text: str, column: int, says: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_change_rule(text)
    assert says in caught.value.message
    assert caught.value.caret_lines() == [text, " " * column + "^"]


def _log(path: Path, values: list[tuple[str, int]]) -> Path:
    path.write_text(
        "".join(
            f"1.2.3.4 - - [26/Nov/2026:08:{i // 600:02d}:{i // 10 % 60:02d} +0000] "
            f'"GET {route} HTTP/1.1" 200 5 "-" "curl" {ms / 1000:.3f} - {i:032x}\n'
            for i, (route, ms) in enumerate(values)
        )
    )
    return path


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    before, after = _two_sides()
    folder = tmp_path_factory.mktemp("compare")
    return _log(folder / "before.log", before), _log(folder / "after.log", after)


def test_compare_json_has_its_schema_and_the_gate_exits_8(logs: tuple[Path, Path]) -> None:
    before, after = logs
    args = ["compare", str(before), "--against", str(after), "--json", "--preset", "trace"]
    result = runner.invoke(app, [*args, "--fail-if", "p99+20% route=/slow", "--fail-if", "p50+1s"])
    assert result.exit_code == ExitStatus.GATE, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "logtrace.compare/1"
    assert doc["routes"][0]["route"] == "/slow"
    assert doc["routes"][0]["verdict"] == "slower"
    assert [g["broken"] for g in doc["gate"]] == [True, False]
    assert result.stderr.splitlines()[0].startswith("gate: broken: p99+20% route=/slow: p99 ")
    assert result.stderr.splitlines()[-1] == "gate: 1 of 2 rules broken"


def test_compare_says_which_lines_of_a_side_were_rejected(
    logs: tuple[Path, Path], tmp_path: Path
) -> None:
    """A side read in part (after a change of log_format, say) is compared, but not unsaid;
    the gate's verdict still comes last."""
    before, after = logs
    changed = tmp_path / "after.log"
    changed.write_text(after.read_text() + "a line of another format\n" * 3)
    args = ["compare", str(before), "--against", str(changed), "--json", "--preset", "trace"]
    result = runner.invoke(app, [*args, "--fail-if", "p50+1s"])
    assert result.exit_code == 0, result.output
    lines = after.read_text().count("\n") + 3
    assert result.stderr.splitlines() == [
        f"warning: after: {changed}: 3 of {lines:,} lines rejected (does not match the "
        "log_format: 3); logtrace analyze shows samples",
        "gate: 1 rule checked, none broken",
    ]


def test_split_at_compares_one_log_before_and_after_a_time(logs: tuple[Path, Path]) -> None:
    before, _ = logs
    args = ["compare", str(before), "--split-at", "2026-11-26T08:00:40+00:00", "--json"]
    result = runner.invoke(app, [*args, "--preset", "trace"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["before"]["requests"] == 400  # 10 lines a second
    assert doc["after"]["requests"] == len(_two_sides()[0]) - 400


def test_compare_needs_one_after_side_and_checks_rules_first() -> None:
    result = runner.invoke(app, ["compare", "/nonexistent.log"])
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.startswith("logtrace: error: compare needs the logs after the change")
    bad = runner.invoke(app, ["compare", "/nonexistent.log", "--against", "x", "--fail-if", "p99"])
    assert bad.exit_code == ExitStatus.USAGE
    assert "expected '+'" in bad.stderr


def test_split_at_refuses_stdin_which_it_could_only_read_once(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", "-", "--split-at", "2026-11-26 08:00"], input="x\n")
    assert result.exit_code == ExitStatus.USAGE
    assert "stdin or a pipe can only be read once" in result.stderr
    fifo = tmp_path / "access.log"
    os.mkfifo(fifo)  # refused before it is opened: no writer needed
    result = runner.invoke(app, ["compare", str(fifo), "--split-at", "2026-11-26 08:00"])
    assert result.exit_code == ExitStatus.USAGE
    assert "stdin or a pipe can only be read once" in result.stderr


def test_at_80_columns_the_verdict_keeps_the_effect_it_is_about() -> None:
    """The verdict judges whole distributions: a narrow table keeps the share of slower
    pairs (its effect) beside it, never a p99 change alone that may point the other way."""
    before, after = _two_sides()
    rows = compare(_hist(before), _hist(after)).routes
    out = io.StringIO()
    console = ReportConsole(fit=True, file=out, width=80, color_system=None)
    console.print(compare_table("Routes", rows), crop=False)
    text = out.getvalue()
    assert "pairs" in text and "verdict" in text
    assert "Δ p99" not in text  # dropped before the effect
    slow = next(line for line in text.splitlines() if "/slow" in line)
    effect = rows.filter(pl.col("route") == "/slow").item(0, "effect")
    assert f"{100 * effect:.1f}%" in slow and "slower" in slow
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
