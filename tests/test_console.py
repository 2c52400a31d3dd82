"""render/console.py: width and colour come from an injected environment, not the shell's."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.render.console import (
    Environment,
    environment,
    fits_width,
    make_console,
    record_console,
    use_environment,
)

EDGE = Path(__file__).resolve().parent.parent / "sample_logs" / "edge-1.access.log"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, Environment()),
        ({"COLUMNS": "100"}, Environment(columns=100)),
        ({"COLUMNS": "39"}, Environment()),  # too narrow to be a terminal's
        ({"COLUMNS": "wide"}, Environment()),
        ({"NO_COLOR": ""}, Environment(no_color=True)),  # set at all, as no-color.org says
        ({"NO_PROGRESS": "1"}, Environment(no_progress=True)),
    ],
)
def test_environment_reads_the_variables_that_matter(
    environ: dict[str, str], expected: Environment
) -> None:
    assert Environment.of(environ) == expected


def test_the_shells_columns_and_no_color_do_not_reach_a_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    assert environment() == Environment()
    assert make_console(file=io.StringIO()).width == 120


def test_output_is_the_same_whatever_the_shell_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    plain = runner.invoke(app, ["trace", "b9fba20e510150b35896d4759e690231", str(EDGE)])
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    shell = runner.invoke(app, ["trace", "b9fba20e510150b35896d4759e690231", str(EDGE)])
    assert plain.exit_code == shell.exit_code == 0, plain.output
    assert shell.output == plain.output


def test_an_injected_environment_sets_width_and_colour() -> None:
    with use_environment(Environment(columns=80, no_color=True)):
        console = make_console(file=_Terminal())
    assert console.width == 80
    assert console.no_color
    assert console.color_system is None


def test_an_environment_passed_to_make_console_wins_over_the_injected_one() -> None:
    with use_environment(Environment(columns=80)):
        console = make_console(file=io.StringIO(), env=Environment(columns=150))
    assert console.width == 150


def test_a_terminal_is_fitted_and_a_pipe_is_not() -> None:
    assert fits_width(make_console(file=_Terminal()))
    assert not fits_width(make_console(file=io.StringIO()))
    assert fits_width(record_console(80))
    assert not fits_width(record_console(80, fit=False))


def test_a_pipe_without_columns_is_laid_out_at_120() -> None:
    assert make_console(file=io.StringIO(), env=Environment()).width == 120
