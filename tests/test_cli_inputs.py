"""The options every command that reads logs shares, declared once (cli/inputs.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer._click.core import Command
from typer.main import get_command
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.errors import ExitStatus
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_logs"
CONF = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
INPUT_OPTIONS = {
    "--log-format",
    "--preset",
    "--nginx-conf",
    "--format-name",
    "--app-format",
    "--timezone",
    "--source",
    "--id-field",
    "--no-skew-correction",
}
FILTER_OPTIONS = {"--since", "--until", "--route", "--path", "--status"}
ONE_REQUEST = {"trace"}  # looks one request up: filters would only hide it


def _commands(group: typer.core.TyperGroup, prefix: str = "") -> dict[str, Command]:
    found: dict[str, Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, typer.core.TyperGroup):
            found |= _commands(command, f"{prefix}{name} ")
        else:
            found[prefix + name] = command
    return found


ROOT_COMMAND = get_command(app)
assert isinstance(ROOT_COMMAND, typer.core.TyperGroup)
COMMANDS = _commands(ROOT_COMMAND)
READERS = sorted(n for n, c in COMMANDS.items() if any(p.name == "files" for p in c.params))


def _options(name: str) -> set[str]:
    return {o for p in COMMANDS[name].params for o in p.opts}


def test_the_commands_that_read_logs_are_found() -> None:
    assert set(READERS) == {
        "analyze",
        "compare",
        "trace",
        "insights",
        "export slowest",
        "export spans",
        "export traces",
        "top",
        "report",
    }


@pytest.mark.parametrize("name", READERS)
def test_every_command_that_reads_logs_takes_every_input_option(name: str) -> None:
    assert INPUT_OPTIONS - _options(name) == set()


@pytest.mark.parametrize("name", [n for n in READERS if n not in ONE_REQUEST])
def test_every_command_over_many_requests_takes_the_filters(name: str) -> None:
    assert FILTER_OPTIONS - _options(name) == set()


def test_analyze_passes_the_join_options_on() -> None:
    runner = CliRunner()
    args = ["analyze", str(SAMPLE), *CONF, "--json", "--top", "1"]
    corrected = json.loads(runner.invoke(app, args).stdout)["corrected_requests"]
    result = runner.invoke(app, [*args, "--no-skew-correction", "--id-field", "request_id"])
    assert result.exit_code == 0, result.output
    assert (corrected > 0, json.loads(result.stdout)["corrected_requests"]) == (True, 0)


def test_analyze_reads_app_logs_in_the_shape_and_zone_given() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "logtrace", "analyze", str(SAMPLE), "--app-format", "nope"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == ExitStatus.NOT_FOUND, done.stderr
    assert "unknown app log format 'nope'" in done.stderr
