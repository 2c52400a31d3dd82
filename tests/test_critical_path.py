"""Jaeger UI's critical-path algorithm on log-derived spans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from logtrace.analysis.critical_path import critical_path, critical_share

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
