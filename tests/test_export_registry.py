"""The registry, the shared exporter contract, and one request seen through every format."""

from __future__ import annotations

import inspect
import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
import pytest

from logtrace.errors import UsageError
from logtrace.export import tabular
from logtrace.export.batch import TraceBatch
from logtrace.export.ids import ExportSummary
from logtrace.export.registry import EXPORTERS, WHAT, export, exporter
from tests.fixtures.export.traces import INFO, realistic_batch
from tests.fixtures.export.validators import validate_jaeger, validate_otlp, validate_zipkin

BATCHES = (realistic_batch(), realistic_batch(("abc", "7"), failing=0))
WRITERS = [
    (name, what) for name, e in EXPORTERS.items() for what in WHAT if what == "spans" or e.requests
]


def test_the_registry_lists_every_format_once() -> None:
    assert list(EXPORTERS) == [
        "otlp",
        "otlp-json",
        "zipkin",
        "jaeger",
        "csv",
        "json",
        "ndjson",
        "parquet",
    ]
    for name, entry in EXPORTERS.items():
        assert entry.extension.startswith("."), name
        assert entry.description and "\n" not in entry.description, name
    assert [n for n, e in EXPORTERS.items() if e.requests] == ["csv", "json", "ndjson", "parquet"]


@pytest.mark.parametrize(("name", "what"), WRITERS)
def test_every_exporter_has_the_shared_signature(name: str, what: str) -> None:
    params = list(inspect.signature(exporter(name, what)).parameters)  # type: ignore[arg-type]
    assert params == ["batches", "out", "info"]


def test_asking_for_something_a_format_cannot_do_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as unknown:
        exporter("xml")
    assert unknown.value.hint is not None and "otlp" in unknown.value.hint
    with pytest.raises(UsageError) as table:
        exporter("zipkin", "requests")
    assert table.value.hint is not None and "csv" in table.value.hint


@pytest.mark.parametrize(("name", "what"), WRITERS)
def test_every_exporter_reports_what_it_wrote(name: str, what: str) -> None:
    out = io.BytesIO()
    summary = exporter(name, what)(BATCHES, out, INFO)  # type: ignore[arg-type]
    assert summary == ExportSummary(traces=5, spans=40, bytes_written=len(out.getvalue()))


class _Recorder(io.BytesIO):
    """A stream noting how many batches had been read at each write, and how many lines
    had been written each time a batch was read."""

    def __init__(self) -> None:
        super().__init__()
        self.pulled = 0
        self.writes: list[int] = []
        self.lines_at_pull: list[int] = []

    def write(self, data: Any) -> int:
        self.writes.append(self.pulled)
        return super().write(data)

    def batches(self) -> Iterator[TraceBatch]:
        for batch in ALL_BATCHES:
            self.lines_at_pull.append(_rows(self.getvalue()))
            self.pulled += 1
            yield batch


ALL_BATCHES = (*BATCHES, *(realistic_batch((name,)) for name in ("late", "later", "last", "end")))


def _rows(written: bytes) -> int:
    """Whole lines written, but a JSON list's brackets."""
    return sum(1 for line in written.split(b"\n")[:-1] if line not in (b"[", b"]"))


def _tabled(name: str) -> bool:
    return isinstance(EXPORTERS[name].write, tabular.TableWriter)


@pytest.mark.parametrize(("name", "what"), [w for w in WRITERS if not _tabled(w[0])])
def test_exporters_write_each_batch_before_reading_the_next(name: str, what: str) -> None:
    out = _Recorder()
    exporter(name, what)(out.batches(), out, INFO)  # type: ignore[arg-type]
    assert {1, 2, 3} <= set(out.writes)


@pytest.mark.parametrize(
    ("name", "what"), [w for w in WRITERS if _tabled(w[0]) and w[0] != "parquet"]
)
def test_tables_write_each_batch_before_reading_two_more(name: str, what: str) -> None:
    """A table's batch is written (by the writing thread) while the next one is made, and
    in full before the one after that is read: memory stays bounded by a few batches.
    Parquet is left out: polars' streaming sink gathers rows into row groups, so its
    memory is bounded by the row-group size rather than by batches."""
    out = _Recorder()
    exporter(name, what)(out.batches(), out, INFO)  # type: ignore[arg-type]
    ahead = tabular.WRITES_AHEAD + 1  # batches read and not yet written, at most
    checked = 0
    for n, seen in enumerate(out.lines_at_pull):
        if n > ahead:
            done = io.BytesIO()
            exporter(name, what)(iter(ALL_BATCHES[: n - ahead]), done, INFO)  # type: ignore[arg-type]
            assert seen >= _rows(done.getvalue()) > 1, (n, seen)
            checked += 1
    assert checked >= 2


def test_export_opens_the_path_or_writes_to_stdout(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    path = tmp_path / "traces.jsonl"
    summary = export("otlp", BATCHES, path, INFO)
    assert summary.bytes_written == path.stat().st_size
    export("ndjson", BATCHES, "-", INFO, what="requests")
    assert len(capsysbinary.readouterr().out.splitlines()) == 5


# ----------------------------------------------------- one request in every format


def _us(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def _run(name: str) -> bytes:
    out = io.BytesIO()
    exporter(name)(BATCHES, out, INFO)
    return out.getvalue()


class Seen(NamedTuple):
    """What a user sees of a span in any trace UI."""

    parent: str | None
    name: str
    service: str
    kind: str
    start_us: int
    duration_us: int
    error: bool


Spans = dict[tuple[str, str], Seen]


def _from_otlp() -> Spans:
    out = {}
    for line in _run("otlp").splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            (service,) = [
                a["value"]["stringValue"]
                for a in rs["resource"]["attributes"]
                if a["key"] == "service.name"
            ]
            for s in rs["scopeSpans"][0]["spans"]:
                start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
                out[s["traceId"], s["spanId"]] = Seen(
                    parent=s.get("parentSpanId"),
                    name=s["name"].lower(),
                    service=service,
                    kind={1: "INTERNAL", 2: "SERVER", 3: "CLIENT"}[s["kind"]],
                    start_us=start // 1000,
                    duration_us=(end - start) // 1000,
                    error=s.get("status", {}).get("code") == 2,
                )
    return out


def _from_zipkin() -> Spans:
    return {
        (s["traceId"], s["id"]): Seen(
            parent=s.get("parentId"),
            name=s["name"],
            service=s["localEndpoint"]["serviceName"],
            kind=s.get("kind", "INTERNAL"),
            start_us=s["timestamp"],
            duration_us=s["duration"],
            error="error" in s["tags"],
        )
        for s in json.loads(_run("zipkin"))
    }


def _from_jaeger() -> Spans:
    out = {}
    for t in json.loads(_run("jaeger"))["data"]:
        for s in t["spans"]:
            tags = {x["key"]: x["value"] for x in s["tags"]}
            out[s["traceID"], s["spanID"]] = Seen(
                parent=s["references"][0]["spanID"] if s["references"] else None,
                name=s["operationName"].lower(),
                service=t["processes"][s["processID"]]["serviceName"],
                kind=tags["span.kind"].upper(),
                start_us=s["startTime"],
                duration_us=s["duration"],
                error=tags.get("error", False),
            )
    return out


def _from_table() -> Spans:
    out = {}
    for line in _run("ndjson").splitlines():
        r = json.loads(line)
        out[r["trace_id"], r["span_id"]] = Seen(
            parent=r["parent_span_id"],
            name=r["name"].lower(),
            service=r["service"],
            kind=r["kind"],
            start_us=_us(r["start"]),
            duration_us=_us(r["end"]) - _us(r["start"]),
            error=r["error"],
        )
    return out


def test_a_request_looks_the_same_in_every_format() -> None:
    otlp = _from_otlp()
    assert len(otlp) == 40
    # Zipkin's duration is at least 1 µs; none of these spans is shorter.
    assert _from_zipkin() == otlp
    assert _from_jaeger() == otlp
    assert _from_table() == otlp


def test_sparse_spans_still_make_valid_files() -> None:
    """Only the columns a span cannot do without; everything else null or missing."""
    full = realistic_batch(("sparse",)).spans
    sparse = full.select("request_id", "span_id", "parent_span_id", "kind", "start", "end")
    batch = TraceBatch(sparse.with_columns(pl.lit(None, pl.String).alias("name")), pl.DataFrame())
    for name in ("otlp", "zipkin", "jaeger"):
        out = io.BytesIO()
        summary = exporter(name)([batch], out, INFO)
        assert (summary.spans, summary.warnings) == (8, ()), name
        document = json.loads(out.getvalue())
        validators: dict[str, Callable[[Any], object]] = {
            "otlp": validate_otlp,
            "zipkin": validate_zipkin,
            "jaeger": validate_jaeger,
        }
        validators[name](document)
