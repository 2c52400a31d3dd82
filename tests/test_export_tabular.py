"""Span and request tables: every format reads back to the same frame."""

from __future__ import annotations

import csv
import io
import pathlib
from collections.abc import Callable, Iterator

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from logtrace.export.batch import TraceBatch
from logtrace.export.csv import ISO_TIME, iso_text
from logtrace.export.ids import Warnings, prepare
from logtrace.export.registry import exporter
from logtrace.export.tabular import REQUEST_TABLE, SPAN_TABLE, What, requests_table, spans_table
from tests.fixtures.export.traces import INFO, REQUEST_IDS, realistic_batch

BATCHES = (realistic_batch(), realistic_batch(("abc", "7")))


def _write(fmt: str, what: What, batches: tuple[TraceBatch, ...] = BATCHES) -> bytes:
    out = io.BytesIO()
    summary = exporter(fmt, what)(batches, out, INFO)
    assert summary.bytes_written == len(out.getvalue())
    assert summary.spans == sum(b.spans.height for b in batches)
    return out.getvalue()


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Text times parsed, every column cast to the table's dtype."""
    return frame.select(
        pl.col(c).str.to_datetime(time_unit="us", time_zone="UTC")
        if isinstance(t, pl.Datetime)
        else pl.col(c).cast(t)
        for c, t in schema.items()
    )


def _read_csv(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(data), schema=schema)


def _read_json(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return _typed(pl.read_json(io.BytesIO(data), infer_schema_length=None), schema)


def _read_ndjson(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    # Read untyped: polars 2.1's read_ndjson panics when given UInt16 or Boolean columns.
    return _typed(pl.read_ndjson(io.BytesIO(data), infer_schema_length=None), schema)


def _read_parquet(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(data))


READERS: dict[str, Callable[[bytes, dict[str, pl.DataType]], pl.DataFrame]] = {
    "csv": _read_csv,
    "json": _read_json,
    "ndjson": _read_ndjson,
    "parquet": _read_parquet,
}


def _expected(table: Callable[..., pl.DataFrame]) -> pl.DataFrame:
    return pl.concat([table(prepare(b, Warnings())) for b in BATCHES])


@pytest.mark.parametrize("fmt", list(READERS))
def test_spans_read_back_as_written(fmt: str) -> None:
    got = READERS[fmt](_write(fmt, "spans"), SPAN_TABLE)
    expected = _expected(spans_table)
    assert_frame_equal(got, expected)
    # ... and they are the input spans, with their trace id.
    inputs = pl.concat([b.spans for b in BATCHES]).select(SPAN_TABLE.keys() - {"trace_id"})
    assert_frame_equal(got.drop("trace_id"), inputs.select(got.drop("trace_id").columns))


@pytest.mark.parametrize("fmt", list(READERS))
def test_requests_read_back_as_written(fmt: str) -> None:
    got = READERS[fmt](_write(fmt, "requests"), REQUEST_TABLE)
    assert_frame_equal(got, _expected(requests_table))


def test_the_request_table_sums_up_each_request() -> None:
    table = _expected(requests_table)
    assert table["request_id"].to_list() == [*REQUEST_IDS, "abc", "7"]
    ok, failed = table.row(0, named=True), table.row(1, named=True)
    assert ok["trace_id"] == REQUEST_IDS[0]
    assert (ok["service"], ok["host"], ok["name"], ok["route"]) == (
        "nginx",
        "edge-1",
        "GET /api/orders/{id}",
        "/api/orders/{id}",
    )
    assert (ok["status"], ok["error"], ok["errors"]) == (200, False, 1)  # the retried 502
    assert (failed["status"], failed["error"], failed["errors"]) == (500, True, 7)
    assert (ok["spans"], ok["services"], ok["hosts"], ok["guessed_parents"]) == (8, 4, 4, 1)
    assert ok["duration_s"] == pytest.approx(0.120)
    assert (ok["end"] - ok["start"]).total_seconds() == pytest.approx(0.120)
    # The inventory server (25-95 ms) has no children: all its 70 ms are on the path.
    assert (ok["critical_service"], ok["critical_name"]) == ("inventory", "GET /stock/{id}")
    assert ok["critical_s"] == pytest.approx(0.070)
    inventory = BATCHES[0].spans.filter(
        (pl.col("request_id") == REQUEST_IDS[0]) & (pl.col("service") == "inventory")
    )
    assert ok["critical_span_id"] == inventory["span_id"].item()


def test_csv_cells_cannot_become_formulas() -> None:
    batch = realistic_batch(REQUEST_IDS[:1])
    evil = batch.spans.with_columns(pl.lit('=HYPERLINK("http://evil")').alias("name"))
    text = _write("csv", "spans", (TraceBatch(evil, batch.events),)).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["name"] for r in rows} == {'\'=HYPERLINK("http://evil")'}


def test_json_rows_keep_line_breaks_escaped() -> None:
    batch = realistic_batch(REQUEST_IDS[:1])
    odd = batch.spans.with_columns(pl.lit("a\u2028b\nc").alias("line"))
    for fmt in ("json", "ndjson"):
        text = _write(fmt, "spans", (TraceBatch(odd, batch.events),)).decode()
        assert "\u2028" not in text
        assert len(text.splitlines()) == {"json": 10, "ndjson": 8}[fmt]


def test_empty_input_gives_a_header_or_an_empty_table() -> None:
    assert _write("csv", "spans", ()).decode().startswith("request_id,trace_id,span_id,")
    assert _write("json", "requests", ()) == b"[\n]\n"
    assert _write("ndjson", "spans", ()) == b""
    assert pl.read_parquet(io.BytesIO(_write("parquet", "spans", ()))).schema == SPAN_TABLE


HOSTILE = ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=2", "a=b", "")


def _hostile_batch() -> TraceBatch:
    """Every text column but the hex ids holds a cell that starts a formula somewhere."""
    batch = realistic_batch()
    n = batch.spans.height
    cells = pl.Series([HOSTILE[i % len(HOSTILE)] for i in range(n)], dtype=pl.String)
    texts = ["request_id", "host", "service", "kind", "name", "method", "route", "target",
             "peer", "source", "line"]  # fmt: skip
    spans = batch.spans.with_columns(
        *(pl.lit(cells).alias(c) for c in texts if c != "request_id"),
        (pl.col("request_id") + pl.lit(cells.shift(1, fill_value="x"))).alias("request_id"),
    )
    return TraceBatch(spans, batch.events.head(0))


def test_csv_makes_every_text_column_inert_and_leaves_ids_and_numbers_alone() -> None:
    batch = _hostile_batch()
    rows = list(csv.DictReader(io.StringIO(_write("csv", "spans", (batch,)).decode(), newline="")))
    assert len(rows) == batch.spans.height
    for row, span in zip(rows, batch.spans.iter_rows(named=True), strict=True):
        for column in ("host", "name", "target", "line", "source"):
            raw = span[column]
            assert row[column] == (
                "'" + raw if raw[:1] in ("=", "+", "-", "@", "\t", "\r") else raw
            )
        assert row["span_id"] == span["span_id"]  # hex ids are never quoted
        assert row["start"] == span["start"].isoformat(timespec="microseconds")
        assert float(row["duration_s"]) == pytest.approx(span["duration_s"])
    assert {r["target"] for r in rows} >= {"'=cmd|' /C calc'!A0", "'-2+3", "a=b", ""}


@pytest.mark.parametrize("what", ["spans", "requests"])
@pytest.mark.parametrize("fmt", ["csv", "ndjson", "json", "parquet"])
def test_a_file_gets_the_same_bytes_as_a_stream_and_they_are_counted(
    fmt: str, what: What, tmp_path: pathlib.Path
) -> None:
    # polars writes straight into a regular file; into anything else through a buffer.
    odd = realistic_batch(REQUEST_IDS[:1])
    odd = TraceBatch(odd.spans.with_columns(pl.lit("a\u2028b\nc").alias("line")), odd.events)
    batches = (*BATCHES, _hostile_batch(), odd)
    streamed = _write(fmt, what, batches)
    path = tmp_path / f"out.{fmt}"
    with path.open("wb") as out:
        out.write(b"already there\n")  # the count starts where the stream is
        summary = exporter(fmt, what)(batches, out, INFO)
    assert path.read_bytes() == b"already there\n" + streamed
    assert summary.bytes_written == len(streamed)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Asia/Kolkata"])
def test_iso_text_is_the_iso_format_with_the_zone_s_offset(zone: str) -> None:
    # The first and last microsecond polars writes with 4-digit years, the epoch, just
    # before it, a leap day and null.
    us = [-62135596800000000, 253402300799999999, 0, -1, 1709164800123456, None]
    times = pl.Series("t", us, dtype=pl.Int64).cast(pl.Datetime("us", zone))
    dtype = times.dtype
    assert isinstance(dtype, pl.Datetime)
    frame = times.to_frame()
    got = frame.select(iso_text(pl.col("t"), dtype)).to_series().to_list()
    assert got == frame.select(pl.col("t").dt.to_string(ISO_TIME)).to_series().to_list()
    if zone == "UTC":
        assert got[:5] == [
            "0001-01-01T00:00:00.000000+00:00",
            "9999-12-31T23:59:59.999999+00:00",
            "1970-01-01T00:00:00.000000+00:00",
            "1969-12-31T23:59:59.999999+00:00",
            "2024-02-29T00:00:00.123456+00:00",
        ]
    assert got[5] is None


def test_frames_are_written_in_order_while_the_next_ones_are_made() -> None:
    """The writing thread takes the frames in order; making the next frame does not wait
    for the one before to be written."""
    import threading

    from logtrace.export import tabular

    written: list[int] = []
    release = threading.Event()
    made_while_writing: list[bool] = []

    def frames() -> Iterator[pl.DataFrame]:
        for i in range(5):
            if i == 1:  # the first frame is being written (held until released) now
                made_while_writing.append(not written)
                release.set()
            yield pl.DataFrame({"i": [i]})

    def write(frame: pl.DataFrame) -> None:
        release.wait(timeout=5)
        written.append(int(frame.item()))

    tabular._write_behind(frames(), write)
    assert written == [0, 1, 2, 3, 4]
    assert made_while_writing == [True]


def test_an_error_writing_or_making_frames_is_raised_and_stops_the_rest() -> None:
    from logtrace.export import tabular

    written: list[int] = []

    def failing_write(frame: pl.DataFrame) -> None:
        if frame.item() == 2:
            raise OSError(28, "No space left on device")
        written.append(int(frame.item()))

    many = (pl.DataFrame({"i": [i]}) for i in range(100))
    with pytest.raises(OSError, match="No space left"):
        tabular._write_behind(many, failing_write)
    assert written[:2] == [0, 1]
    assert len(written) <= 2 + tabular.WRITES_AHEAD  # the frames after it are not written

    def broken() -> Iterator[pl.DataFrame]:
        yield pl.DataFrame({"i": [0]})
        raise KeyboardInterrupt

    written.clear()
    with pytest.raises(KeyboardInterrupt):
        tabular._write_behind(broken(), lambda frame: written.append(int(frame.item())))
    assert written == [0]  # what was made before the interrupt is written, in full
