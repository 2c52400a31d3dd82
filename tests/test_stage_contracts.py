"""Each stage's output frame follows its contract in ``schema.py``: columns and dtypes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from logtrace import schema
from logtrace.applog import AppFormat, AppLogOptions, parse_app_chunk
from logtrace.ingest import FormatOptions
from logtrace.log_format.presets import PRESETS
from logtrace.parse import parse_chunk
from logtrace.timelines.assemble import assemble
from logtrace.timelines.load import Loaded
from logtrace.timelines.spans import app_spans, nginx_spans
from tests.conftest import lines_of

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs"
FORMATS = FormatOptions(nginx_confs=(str(SAMPLE / "nginx" / "mesh-1.conf"),))


@pytest.fixture(scope="module")
def loaded(sample_loaded: Loaded) -> Loaded:
    return sample_loaded


def _subset(contract: dict[str, pl.DataType], frame: pl.DataFrame) -> dict[str, pl.DataType]:
    """The part of a contract whose columns are optional (a format logs only some)."""
    return {name: dtype for name, dtype in contract.items() if name in frame.columns}


def test_conformity_names_missing_columns_and_wrong_dtypes() -> None:
    frame = pl.DataFrame({"sid": [1]}, schema={"sid": pl.Int64})
    problems = schema.conformity(frame, {"sid": pl.UInt64(), "kind": pl.String()})
    assert problems == ["missing column 'kind'", "column 'sid' is Int64, not UInt64"]


def test_parse_returns_nginx_lines() -> None:
    sample = (SAMPLE / "edge-1.access.log").read_text().splitlines()[:50]
    parsed = parse_chunk(lines_of("\n".join(sample) + "\n"), PRESETS["trace"].compiled())
    assert parsed.lines.height == 50
    assert set(parsed.lines.columns) <= {"line_no", *schema.LINES_NGINX}
    contract = _subset(schema.LINES_NGINX, parsed.lines)
    assert schema.conformity(parsed.lines, contract) == []
    assert schema.conformity(parsed.rejects, schema.REJECTS) == []


def test_app_parse_returns_app_lines() -> None:
    text = (SAMPLE / "api-1.log").read_text().splitlines()[:50]
    chunk = parse_app_chunk(lines_of("\n".join(text) + "\n"), AppFormat.JSON, AppLogOptions())
    assert schema.conformity(chunk.lines, schema.LINES_APP) == []
    assert schema.conformity(chunk.rejects, schema.REJECTS) == []


def test_loaded_lines_carry_the_base_columns(loaded: Loaded) -> None:
    for frame in (loaded.nginx, loaded.app):
        assert schema.conformity(frame, schema.LINES_BASE) == []


def test_spans_of_lines_are_raw_spans(loaded: Loaded) -> None:
    for spans in (nginx_spans(loaded.nginx), app_spans(loaded.app)):
        assert spans.height > 0
        assert spans.columns == list(schema.RAW_SPANS)
        assert schema.conformity(spans, schema.RAW_SPANS) == []


def test_spans_of_no_lines_are_empty_raw_spans() -> None:
    for spans in (nginx_spans(pl.DataFrame()), app_spans(pl.DataFrame())):
        assert spans.is_empty()
        assert schema.conformity(spans, schema.RAW_SPANS) == []


def test_timelines_are_spans(loaded: Loaded) -> None:
    spans = loaded.timelines.spans
    assert spans.columns == list(schema.SPANS)
    assert schema.conformity(spans, schema.SPANS) == []
    again = assemble(pl.concat([nginx_spans(loaded.nginx), app_spans(loaded.app)]))
    assert again.spans.columns == list(schema.SPANS)
