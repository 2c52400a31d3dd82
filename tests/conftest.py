"""Shared fixtures: the genuine nginx corpus, golden files, helpers to parse text."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "nginx-edge-cases"
GOLDEN = Path(__file__).parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite golden files from current output"
    )
    parser.addoption("--fuzz-long", action="store_true", help="run the long fuzz campaign")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def golden(update_golden: bool):  # type: ignore[no-untyped-def]
    """``golden(name, text)``: compare text with tests/golden/<name>, or rewrite it."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update_golden or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if not update_golden:
                pytest.fail(f"golden file {name} was missing and has been written; review it")
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"output differs from tests/golden/{name} (--update-golden)"

    return check


def lines_of(text: str) -> pl.DataFrame:
    """A frame of line_no/line from text, exactly as sources.py builds it."""
    from logtrace.sources import Chunk, lines_frame

    return lines_frame(Chunk(text.encode("utf-8"), 1))
