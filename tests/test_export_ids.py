"""Trace ids from request ids, span id checks, and the prepared frame every format reads."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtrace.export.batch import TraceBatch
from logtrace.export.ids import (
    Warnings,
    is_span_id,
    is_trace_id,
    parts,
    prepare,
    span_id,
    span_id_expr,
    trace_id,
    trace_id_expr,
)
from tests.fixtures.export.traces import realistic_batch


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@pytest.mark.parametrize(
    ("request_id", "expected"),
    [
        ("f1c80d906c985e0d2f896fc70ee62b06", "f1c80d906c985e0d2f896fc70ee62b06"),
        ("F1C80D906C985E0D2F896FC70EE62B06", "f1c80d906c985e0d2f896fc70ee62b06"),
        ("3F2504E0-4F89-41D3-9A0C-0305E82C3301", "3f2504e04f8941d39a0c0305e82c3301"),
        ("2f896fc70ee62b06", "00000000000000002f896fc70ee62b06"),
        ("abc", "00000000000000000000000000000abc"),
        ("req-42/abc", _sha("req-42/abc")),
        ("{3F2504E0-4F89-41D3-9A0C-0305E82C3301}", _sha("{3F2504E0-4F89-41D3-9A0C-0305E82C3301}")),
        ("f1c80d906c985e0d2f896fc70ee62b06a", _sha("f1c80d906c985e0d2f896fc70ee62b06a")),
        ("0" * 32, _sha("0" * 32)),  # all zeros is invalid everywhere: hashed instead
        ("0", _sha("0")),
        ("", _sha("")),
        ("00000000-0000-0000-0000-000000000000", _sha("00000000-0000-0000-0000-000000000000")),
    ],
)
def test_trace_id_follows_the_w3c_mapping(request_id: str, expected: str) -> None:
    assert trace_id(request_id) == expected
    assert is_trace_id(expected)


def test_a_hashed_trace_id_is_the_same_on_every_machine() -> None:
    # SHA-256, not Python's or polars' hash: this value must never change.
    assert trace_id("req-42/abc") == "141afe84dd36c8cdc58bdaf9dd7af199"


_ids = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789abcdefABCDEF", max_size=34),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ids, min_size=1, max_size=20))
def test_the_column_version_agrees_with_trace_id(ids: list[str]) -> None:
    got = pl.select(trace_id_expr(pl.lit(pl.Series(ids, dtype=pl.String)))).to_series()
    assert got.to_list() == [trace_id(i) for i in ids]
    assert all(is_trace_id(t) for t in got.to_list())


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("2f896fc70ee62b06", "2f896fc70ee62b06"),
        ("2F896FC70EE62B06", "2f896fc70ee62b06"),
        ("0000000000000000", None),
        ("2f896fc70ee62b0", None),
        ("2f896fc70ee62b066", None),
        ("not-a-span-id!", None),
    ],
)
def test_span_ids_are_kept_when_valid_else_derived_stably(value: str, kept: str | None) -> None:
    got = span_id(value, "req-1")
    assert is_span_id(got)
    if kept is not None:
        assert got == kept
    else:
        assert got == span_id(value, "req-1")  # stable
        assert got != span_id(value, "req-2")  # and specific to the request


def test_the_span_id_column_version_agrees_with_span_id() -> None:
    frame = pl.DataFrame(
        {"s": ["2f896fc70ee62b06", "BAD", None, "0000000000000000"], "r": ["a", "a", "a", "b"]}
    )
    got = frame.select(span_id_expr(pl.col("s"), pl.col("r"))).to_series().to_list()
    assert got == ["2f896fc70ee62b06", span_id("BAD", "a"), None, span_id("0" * 16, "b")]


def test_prepare_adds_trace_ids_and_integer_times() -> None:
    prepared = prepare(realistic_batch(), Warnings())
    row = prepared.spans.row(0, named=True)
    assert row["trace_id"] == row["request_id"]
    assert row["start_us"] == int(row["start"].timestamp() * 1_000_000)
    assert row["end_us"] - row["start_us"] == 120_000
    uuid = prepared.spans.filter(pl.col("request_id").str.contains("-4F89-"))
    assert uuid["trace_id"].unique().to_list() == ["3f2504e04f8941d39a0c0305e82c3301"]


def test_a_replaced_span_id_is_replaced_in_children_and_events_too() -> None:
    batch = realistic_batch()
    old = batch.spans["span_id"][3]  # the api SERVER span: has children and events
    bad = "API-SPAN"
    fix = pl.when(pl.col("span_id") == old).then(pl.lit(bad)).otherwise(pl.col("span_id"))
    fix_parent = (
        pl.when(pl.col("parent_span_id") == old)
        .then(pl.lit(bad))
        .otherwise(pl.col("parent_span_id"))
    )
    broken = TraceBatch(
        batch.spans.with_columns(fix.alias("span_id"), fix_parent.alias("parent_span_id")),
        batch.events.with_columns(fix.alias("span_id")),
    )
    warnings = Warnings()
    prepared = prepare(broken, warnings)
    rid = batch.spans["request_id"][0]
    new = span_id(bad, rid)
    spans = prepared.spans.filter(pl.col("request_id") == rid)
    assert new in spans["span_id"].to_list()
    assert spans.filter(pl.col("parent_span_id") == new).height == 1
    assert prepared.events.filter(pl.col("span_id") == new).height == 2
    assert any("span ids were not 16 lowercase hex" in w for w in warnings.summary())


def test_problems_are_counted_not_hidden() -> None:
    batch = realistic_batch(("f1c80d906c985e0d2f896fc70ee62b06",))
    first = pl.int_range(pl.len()) == 0
    backwards = batch.spans.with_columns(
        pl.when(first)
        .then(pl.col("start") - timedelta(seconds=1))
        .otherwise(pl.col("end"))
        .alias("end")
    )
    orphan = batch.events.with_columns(pl.lit("00000000000000aa").alias("span_id"))
    warnings = Warnings()
    prepared = prepare(TraceBatch(backwards, orphan), warnings)
    assert prepared.spans.filter(pl.col("end_us") < pl.col("start_us")).is_empty()
    assert prepared.events.is_empty()
    assert set(warnings.summary()) == {
        "1 spans ended before they started; their end was set to their start",
        "2 events refer to no span of their trace and were left out",
    }


def test_event_times_move_with_their_span_clock() -> None:
    prepared = prepare(realistic_batch(), Warnings())
    api = prepared.spans.row(3, named=True)
    first_event = prepared.events.row(0, named=True)
    # Logged 30 ms into the request on a clock 250 ms ahead; the span was moved back 250 ms.
    assert api["skew_s"] == 0.25
    assert first_event["time_us"] == api["start_us"] - 14_000 + 30_000


def test_big_batches_are_cut_into_parts_of_whole_traces() -> None:
    batch = realistic_batch(tuple(f"req-{i}" for i in range(10)))  # 10 traces of 8 spans
    cut = list(parts([batch], max_spans=20))
    assert [p.spans.height for p in cut] == [16, 16, 16, 16, 16]
    for p in cut:
        assert set(p.events["request_id"]) == set(p.spans["request_id"])
    assert sum(p.events.height for p in cut) == batch.events.height
    assert [p.spans.height for p in parts([batch], max_spans=5)] == [8] * 10  # never split
    assert next(parts([batch])) is batch  # a small batch passes as it is


@pytest.mark.parametrize(
    "ids",
    [
        ["f1c80d906c985e0d2f896fc70ee62b06", "0af7651916cd43dd8448eb211c80319c"],  # all valid
        ["f1c80d906c985e0d2f896fc70ee62b06", "0AF7651916CD43DD8448EB211C80319C"],  # one upper
        ["f1c80d906c985e0d2f896fc70ee62b06", "0" * 32],  # one all-zero
        ["f1c80d906c985e0d2f896fc70ee62b06", ""],
    ],
)
def test_a_column_of_trace_ids_is_kept_only_when_every_id_is_valid(ids: list[str]) -> None:
    got = pl.select(trace_id_expr(pl.lit(pl.Series(ids, dtype=pl.String)))).to_series()
    assert got.to_list() == [trace_id(i) for i in ids]
    assert all(is_trace_id(t) for t in got.to_list())


@pytest.mark.parametrize(
    "spans",
    [
        ["2f896fc70ee62b06", None, "00f067aa0ba902b7"],  # all valid (a null stays null)
        ["2f896fc70ee62b06", None, "00F067AA0BA902B7"],
        ["2f896fc70ee62b06", "0" * 16],
    ],
)
def test_a_column_of_span_ids_is_kept_only_when_every_id_is_valid(
    spans: list[str | None],
) -> None:
    frame = pl.DataFrame(
        {"s": spans, "r": ["a"] * len(spans)}, schema={"s": pl.String, "r": pl.String}
    )
    got = frame.select(span_id_expr(pl.col("s"), pl.col("r"))).to_series().to_list()
    assert got == [None if s is None else span_id(s, "a") for s in spans]


def test_spans_without_an_id_get_one_from_their_source_and_line() -> None:
    batch = realistic_batch()
    spans = batch.spans.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(None)
        .otherwise(pl.col("span_id"))
        .alias("span_id")
    )
    prepared = prepare(TraceBatch(spans, batch.events.head(0)), Warnings())
    first = spans.row(0, named=True)
    expected = span_id(f"{first['source']}:{first['line_no']}", first["request_id"])
    assert prepared.spans["span_id"][0] == expected
    assert prepared.spans["span_id"][1:].to_list() == spans["span_id"][1:].to_list()
