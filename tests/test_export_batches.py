"""Traces → batches for the exporters: whole traces per batch, nothing lost or repeated."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from logtrace.export.traces import trace_batches
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines.load import Loaded, TimelineOptions, load

SAMPLE = Path(__file__).parent.parent / "sample_logs"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """The sample logs, with a plain log line (an event) inside every api-1 request."""
    logs = tmp_path_factory.mktemp("logs")
    shutil.copytree(SAMPLE, logs, dirs_exist_ok=True)
    api = logs / "api-1.log"
    out = []
    for line in api.read_text().splitlines():
        out.append(line)
        entry = json.loads(line)
        if entry.get("msg") == "request started":
            at = datetime.fromisoformat(entry["time"]) + timedelta(microseconds=100)
            event = {**entry, "time": at.isoformat(), "msg": "cache miss", "level": "WARNING"}
            out.append(json.dumps(event))
    api.write_text("\n".join(out) + "\n")
    formats = FormatOptions(nginx_confs=(str(logs / "nginx" / "mesh-1.conf"),))
    return load(resolve_sources([str(logs)]), TimelineOptions(formats=formats, keep_lines=True))


def _key(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns[:3])


@pytest.mark.parametrize("batch_spans", [1, 7, 100])
def test_small_batches_hold_whole_traces_and_add_up_to_one_batch(
    loaded: Loaded, batch_spans: int
) -> None:
    (whole,) = trace_batches(loaded, batch_spans=10**9)
    batches = list(trace_batches(loaded, batch_spans=batch_spans))
    assert len(batches) > 1
    seen: set[str] = set()
    for batch in batches:
        ids = set(batch.spans.get_column("request_id").to_list())
        assert not ids & seen, "a request split over two batches"
        seen |= ids
        assert set(batch.events.get_column("request_id").to_list()) <= ids
        # a batch is not far over its size unless one trace alone is bigger
        assert batch.spans.height < batch_spans + 200
    spans = pl.concat([b.spans for b in batches])
    events = pl.concat([b.events for b in batches])
    assert spans.equals(whole.spans)
    assert _key(events).equals(_key(whole.events))
    assert whole.events.height > 0
    assert whole.spans.get_column("line").null_count() == 0


def test_span_ids_are_16_hex_digits_and_parents_resolve(loaded: Loaded) -> None:
    (whole,) = trace_batches(loaded, batch_spans=10**9)
    ids = whole.spans.get_column("span_id")
    assert ids.str.contains("^[0-9a-f]{16}$").all()
    assert ids.n_unique() == ids.len()
    parents = whole.spans.get_column("parent_span_id").drop_nulls()
    assert parents.is_in(ids.implode()).all()
    sid = loaded.timelines.spans.get_column("sid")
    assert set(ids.to_list()) == {f"{v:016x}" for v in sid.to_list()}
