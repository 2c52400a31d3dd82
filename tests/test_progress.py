"""The progress bar: drawn on a terminal for long reads, never in pipes or files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from logtrace.render import progress
from logtrace.render.console import Environment, use_environment
from logtrace.sources import Source, resolve_sources


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _sources(tmp_path: Path) -> list[Source]:
    log = tmp_path / "a.log"
    log.write_bytes(b"x" * 1000)
    return resolve_sources([str(log)], ())


def test_no_bar_when_stderr_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    with progress.progress_bar(_sources(tmp_path)) as update:
        update(500)
        update(1000)
    assert err.getvalue() == ""


def test_bar_on_a_terminal_shows_bytes_and_is_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    with progress.progress_bar(_sources(tmp_path)) as update:
        update(1000)
    drawn = err.getvalue()
    assert "reading" in drawn
    assert "1.0/1.0 kB" in drawn


def test_short_runs_never_flash_a_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 60.0)
    with progress.progress_bar(_sources(tmp_path)) as update:
        update(1000)
    assert err.getvalue() == ""


def test_no_progress_variable_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    with (
        use_environment(Environment(no_progress=True)),
        progress.progress_bar(_sources(tmp_path)) as update,
    ):
        update(1000)
    assert err.getvalue() == ""


def test_abandon_erases_the_bar_at_once_and_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.delenv("NO_PROGRESS", raising=False)
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    with progress.progress_bar(_sources(tmp_path)) as update:
        update(500)
        progress.abandon()  # as the Ctrl-C handler does
        erased = err.getvalue()
        update(1000)
    assert "reading" in erased
    assert erased.endswith("\r\x1b[2K\x1b[?25h")
    assert err.getvalue() == erased  # never drawn again
