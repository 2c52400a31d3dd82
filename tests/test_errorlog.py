"""nginx error logs are told from access and app logs, and skipped with what they hold."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.errorlog import is_error_log
from logtrace.errors import NoMatchError
from logtrace.sources import resolve_sources
from tests.conftest import CORPUS, lines_of

ERROR_LOG = CORPUS / "error.log"  # written by a real nginx 1.22.1 next to the access logs


def test_a_real_error_log_is_recognised_and_an_access_log_is_not() -> None:
    assert is_error_log(lines_of(ERROR_LOG.read_text(encoding="utf-8", errors="replace")))
    assert not is_error_log(lines_of((CORPUS / "trace.log").read_text(encoding="utf-8")))
    assert not is_error_log(lines_of((CORPUS / "app.log").read_text(encoding="utf-8")))


def test_an_error_log_next_to_the_access_log_is_skipped_with_what_it_holds(
    tmp_path: Path,
) -> None:
    """Not an app log of host "local" (which made analyze build timelines across hosts),
    not a source none of whose lines could be read (exit 7): skipped, with a note."""
    logs = tmp_path / "nginx"
    logs.mkdir()
    shutil.copy(CORPUS / "combined.log", logs / "access.log")
    shutil.copy(ERROR_LOG, logs / "error.log")
    result = analyze(resolve_sources([str(logs)]), AnalyzeOptions())
    assert result.cross_host is None  # one nginx log: no timelines across hosts
    assert result.latency.requests == 47
    stats = {s.path.rsplit("/", 1)[-1]: s for s in result.ingest.sources}
    errors = stats["error.log"]
    assert (errors.kind, errors.format) == ("nginx-error", "nginx error log")
    assert (errors.lines_total, errors.lines_parsed) == (98, 0)
    assert errors.samples == []
    note = " ".join(errors.warnings)
    assert "an nginx error log, not an access log" in note
    assert "15 [error]" in note and "upstream" in note
    assert not result.ingest.truncated


def test_an_error_log_alone_is_no_access_log() -> None:
    with pytest.raises(NoMatchError, match="nginx error log"):
        analyze(resolve_sources([str(ERROR_LOG)]), AnalyzeOptions())
