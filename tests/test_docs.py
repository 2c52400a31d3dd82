"""The README is executable: every command is documented and has help; its sample runs."""

from __future__ import annotations

import re
import shlex

import pytest
import typer
import typer._click as click
from typer.main import get_command
from typer.testing import CliRunner

from logtrace.cli import app
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _group() -> typer.core.TyperGroup:
    command = get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    return command


COMMAND = _group()
NAMES = sorted(COMMAND.commands)


@pytest.mark.parametrize("name", NAMES)
def test_every_command_is_in_the_readme(name: str) -> None:
    assert re.search(rf"logtrace {name}\b", README), f"`logtrace {name}` is not in README.md"


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0
    assert COMMAND.commands[name].help


SAMPLE_COMMANDS = [
    line.removeprefix("$ logtrace ").strip()
    for line in README.splitlines()
    if line.startswith("$ logtrace ") and "sample_logs/" in line
]


def test_the_readme_has_runnable_examples() -> None:
    assert len(SAMPLE_COMMANDS) >= 4


@pytest.mark.parametrize("command", SAMPLE_COMMANDS)
def test_readme_example_runs_on_sample_logs(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, shlex.split(command))
    assert result.exit_code == 0, result.output
    assert result.output.strip()


LIBRARY_EXAMPLE = re.search(r"## Use as a library\n\n```python\n(.*?)```", README, re.S)


def test_the_readme_library_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert LIBRARY_EXAMPLE is not None, "README.md has no 'Use as a library' example"
    monkeypatch.chdir(ROOT)
    exec(compile(LIBRARY_EXAMPLE.group(1), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()


def _leaves(group: typer.core.TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, typer.core.TyperGroup):
            found += _leaves(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


LEAVES = _leaves(COMMAND)


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_help_names_each_value_plainly(path: tuple[str, ...]) -> None:
    text = CliRunner().invoke(app, [*path, "--help"]).output
    assert not re.search(r"<[a-z]", text), text  # no <str>, <list[str]>, <int range>
    usage = text.splitlines()[0]
    assert "{" not in usage, usage


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_help_ends_with_an_example_the_command_accepts(path: tuple[str, ...]) -> None:
    text = CliRunner().invoke(app, [*path, "--help"]).output
    found = re.search(r"\n  Example:\n    (\$ )?(logtrace .*)\n", text)
    assert found, f"`logtrace {' '.join(path)} --help` shows no example"
    argv = shlex.split(found.group(2))
    assert tuple(argv[1 : 1 + len(path)]) == path
    command: click.Command = COMMAND
    for name in path:
        assert isinstance(command, typer.core.TyperGroup)
        command = command.commands[name]
    command.make_context(" ".join(argv[: 1 + len(path)]), argv[1 + len(path) :])
