"""Jaeger UI's critical-path algorithm on log-derived spans."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import logtrace.analysis.critical_path as critical_path_module
from logtrace.analysis.critical_path import critical_path, critical_share, critical_shares

T0 = datetime(2026, 11, 26, tzinfo=UTC)


def t(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def sections(spans: list[tuple[str, str | None, float, float]]) -> list[tuple[str, float, float]]:
    tuples = [(sid, parent, t(a), t(b)) for sid, parent, a, b in spans]
    return [
        (s.span_id, (s.start - T0).total_seconds() * 1000, (s.end - T0).total_seconds() * 1000)
        for s in critical_path(tuples, spans[0][0])
    ]


def test_jaeger_worked_example() -> None:
    # A [0,100]; B [10,40] and C [50,80] under A (jaeger-ui CriticalPath/index.ts).
    got = sections([("A", None, 0, 100), ("B", "A", 10, 40), ("C", "A", 50, 80)])
    assert got == [("A", 80, 100), ("C", 50, 80), ("A", 40, 50), ("B", 10, 40), ("A", 0, 10)]


def test_overlapping_sibling_is_off_the_path() -> None:
    got = sections([("A", None, 0, 100), ("B", "A", 10, 90), ("C", "A", 20, 60)])
    assert [s[0] for s in got] == ["A", "B", "A"]


def test_children_are_clamped_and_outsiders_dropped() -> None:
    got = sections([("A", None, 0, 100), ("B", "A", 50, 150), ("X", "A", 200, 300)])
    assert got == [("B", 50, 100), ("A", 0, 50)]


def test_nested_chain_and_shares() -> None:
    spans = [("A", None, 0, 100), ("B", "A", 10, 90), ("C", "B", 20, 80)]
    got = critical_path([(s, p, t(a), t(b)) for s, p, a, b in spans], "A")
    share = critical_share(got)
    assert round(share["C"], 6) == 0.060
    assert round(share["B"], 6) == 0.020
    assert round(share["A"], 6) == 0.020


def test_a_cycle_in_bad_input_terminates() -> None:
    spans = [("A", "B", 0, 10), ("B", "A", 0, 10)]
    assert critical_path([(s, p, t(a), t(b)) for s, p, a, b in spans], "A") != []


# --- every trace at once: the same answer as one trace at a time -------------------------


def _random_traces(seed: int, traces: int) -> list[list[tuple[str, str | None, int, int]]]:
    """Trees with nested, overlapping, zero-length, equal-ending and outside children (ms)."""
    rng = random.Random(seed)
    out = []
    for _ in range(traces):
        spans: list[tuple[str, str | None, int, int]] = [("s0", None, 0, rng.randint(1, 60))]
        for i in range(1, rng.randint(1, 14)):
            parent = rng.choice(spans)
            lo, hi = parent[2], parent[3]
            start = rng.randint(lo - 5, hi + 2)
            end = start + rng.choice([0, 1, rng.randint(0, hi - lo + 5)])
            spans.append((f"s{i}", parent[0], start, end))
        rng.shuffle(spans)
        out.append(spans)
    return out


def _shares_one_by_one(
    traces: list[list[tuple[str, str | None, int, int]]],
) -> dict[tuple[str, str], float]:
    got = {}
    for n, spans in enumerate(traces):
        tuples = [(s, p, t(a), t(b)) for s, p, a, b in spans]
        for span_id, seconds in critical_share(critical_path(tuples, "s0")).items():
            got[(f"r{n}", span_id)] = round(seconds, 6)
    return got


def _shares_at_once(
    traces: list[list[tuple[str, str | None, int, int]]],
) -> dict[tuple[str, str], float]:
    rows = [(f"r{n}", s, p, t(a), t(b)) for n, spans in enumerate(traces) for s, p, a, b in spans]
    spans = pl.DataFrame(
        rows,
        schema=["request_id", "span_id", "parent_span_id", "start", "end"],
        orient="row",
    )
    roots = pl.DataFrame({"request_id": [f"r{n}" for n in range(len(traces))], "span_id": "s0"})
    shares = critical_shares(spans, roots)
    return {(r, s): round(v, 6) for r, s, v, _ in shares.iter_rows()}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_all_traces_at_once_give_each_trace_its_own_critical_path(seed: int) -> None:
    traces = _random_traces(seed, 300)
    assert _shares_at_once(traces) == _shares_one_by_one(traces)


def test_traces_too_long_to_walk_together_finish_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    traces = _random_traces(5, 100)
    monkeypatch.setattr(critical_path_module, "LOCKSTEP_STEPS", 3)
    assert _shares_at_once(traces) == _shares_one_by_one(traces)


def test_first_orders_spans_as_the_walk_reaches_them() -> None:
    traces = [[("s0", None, 0, 100), ("b", "s0", 10, 40), ("c", "s0", 50, 80)]]
    spans = pl.DataFrame(
        [("r", s, p, t(a), t(b)) for s, p, a, b in traces[0]],
        schema=["request_id", "span_id", "parent_span_id", "start", "end"],
        orient="row",
    )
    shares = critical_shares(spans, pl.DataFrame({"request_id": ["r"], "span_id": ["s0"]}))
    order = shares.sort("first").get_column("span_id").to_list()
    assert order == ["s0", "c", "b"]  # latest first, as critical_path lists its sections


@pytest.mark.parametrize("first", ["x", "y"])
def test_of_two_children_ending_together_the_first_listed_is_taken(first: str) -> None:
    kids = {"x": ("x", "s0", 10, 50), "y": ("y", "s0", 30, 50)}
    second = "y" if first == "x" else "x"
    traces = [[("s0", None, 0, 100), kids[first], kids[second]]]
    assert _shares_at_once(traces) == _shares_one_by_one(traces)
    assert (("r0", first)) in _shares_at_once(traces)
