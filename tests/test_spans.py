"""Log lines → spans: nginx lines and their attempts, app events and their start lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from logtrace.schema import LINES_APP, RAW_SPANS, TIME, conformity
from logtrace.timelines import units
from logtrace.timelines.spans import app_spans, source_keys, span_id

T0 = datetime(2026, 12, 3, 12, 30, 24, tzinfo=UTC)


def _events(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {**LINES_APP, "source": pl.String(), "host": pl.String(), "service": pl.String()}
    schema["line_no"] = pl.UInt64()
    full = [
        {
            "source": "web-3.log",
            "host": "web-3",
            "service": "web",
            "request_id": "r1",
            "time_precision_s": 1e-6,
            "extra_lines": 0,
            "error": False,
            "line_no": i + 1,
            **row,
        }
        for i, row in enumerate(rows)
    ]
    return pl.DataFrame(full, schema=schema)


def _at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def test_a_call_logged_at_its_start_and_its_end_is_one_span_with_the_start_s_target() -> None:
    """Rails-style: "calling inventory: GET .../items/801" then "inventory responded 200 in
    15.7ms"; the end names only the peer, the start the method and path."""
    events = _events(
        [
            {"time": _at(0), "event": "server_start", "method": "GET", "path": "/api/orders/3"},
            {
                "time": _at(1),
                "event": "client_start",
                "peer": "inventory",
                "method": "GET",
                "path": "/inventory/items/801",
                "target": "/inventory/items/801",
            },
            {"time": _at(16.7), "event": "client", "peer": "inventory", "status": 200},
            {"time": _at(17), "event": "client_start", "peer": "users", "path": "/users/4"},
            {"time": _at(20), "event": "client", "peer": "users", "status": 200},
            {"time": _at(25), "event": "server", "status": 200, "path": "/api/orders/3"},
        ]
    )
    spans = app_spans(events).sort("raw_start")
    assert conformity(spans, RAW_SPANS) == []
    rows = spans.select("kind", "method", "path", "peer", "status", "raw_start", "raw_end").rows()
    assert rows == [
        ("SERVER", "GET", "/api/orders/3", None, 200, _at(0), _at(25)),
        ("CLIENT", "GET", "/inventory/items/801", "inventory", 200, _at(1), _at(16.7)),
        ("CLIENT", None, "/users/4", "users", 200, _at(17), _at(20)),
    ]


def test_an_end_pairs_with_the_start_of_the_same_peer_when_calls_overlap() -> None:
    events = _events(
        [
            {"time": _at(0), "event": "client_start", "peer": "users", "path": "/users/1"},
            {"time": _at(1), "event": "client_start", "peer": "stock", "path": "/stock/1"},
            {"time": _at(8), "event": "client", "peer": "users", "duration_s": None},
            {"time": _at(9), "event": "client", "peer": "stock", "duration_s": None},
        ]
    )
    spans = app_spans(events).sort("raw_start")
    assert spans.select("path", "raw_start", "raw_end").rows() == [
        ("/users/1", _at(0), _at(8)),
        ("/stock/1", _at(1), _at(9)),
    ]
    assert spans.schema["raw_start"] == TIME


def _call_and_served(i: int, served_s: float) -> list[dict[str, Any]]:
    """An nginx upstream attempt of 9-10 ms and the app span it reached, ``served_s`` long
    as the app logged it."""
    end = _at(1000 * i + 10)
    base = {"request_id": f"r{i}", "path": f"/items/{i}", "status": 200, "raw_end": end}
    return [
        {**base, "sid": 10 * i, "kind": "CLIENT", "origin": "nginx", "source": "mesh.log",
         "line_sid": 10 * i + 2, "raw_start": end - timedelta(milliseconds=10)},
        {**base, "sid": 10 * i + 1, "kind": "SERVER", "origin": "app", "source": "stock.log",
         "line_sid": 10 * i + 1, "raw_start": end - timedelta(seconds=served_s)},
    ]  # fmt: skip


def test_durations_a_thousand_times_longer_than_the_calls_that_waited_are_rescaled() -> None:
    """zerolog logs float milliseconds under a bare ``duration``: read as seconds, a 9 ms
    request lasts 9 s inside a 10 ms call. The calls around it say so."""
    rows = [row for i in range(8) for row in _call_and_served(i, 9.0 + i / 10)]
    spans = pl.DataFrame(rows).with_columns(
        pl.col("sid", "line_sid").cast(pl.UInt64), pl.col("raw_start", "raw_end").cast(TIME)
    )
    fixed, notes = units.rescale(spans)
    served = fixed.filter(pl.col("source") == "stock.log")
    took = (served.get_column("raw_end") - served.get_column("raw_start")).dt.total_microseconds()
    assert took.to_list() == [9000 + 100 * i for i in range(8)]
    assert list(notes) == ["stock.log"] and "1,000 times as long" in notes["stock.log"]
    # right units are left alone
    plain = pl.DataFrame([r for i in range(8) for r in _call_and_served(i, 0.009)])
    plain = plain.with_columns(
        pl.col("sid", "line_sid").cast(pl.UInt64), pl.col("raw_start", "raw_end").cast(TIME)
    )
    assert units.rescale(plain)[1] == {}


def test_span_ids_are_the_same_on_every_machine_and_polars_version() -> None:
    """The id of a span is its source's blake2b key, its line and its attempt: nothing of
    polars' own hashing, which is stable only within one version."""
    frame = pl.DataFrame({"source": ["logs/edge-1.access.log"], "line_no": [7], "attempt": [2]})
    sid = frame.select(span_id(frame, pl.col("line_no"), pl.col("attempt"))).item()
    assert sid == 1333296 << 40 | 7 << 8 | 2
    assert source_keys(["a.log"])["a.log"] == source_keys(["a.log", "b.log"])["a.log"]
    keys = source_keys([f"host-{i}.log" for i in range(5000)])
    assert len(set(keys.values())) == 5000  # labels that share a key get salted apart


def test_upstream_attempts_stay_inside_their_line_when_nginx_rounded_them_over() -> None:
    """$upstream_response_time can exceed $request_time by a millisecond (two clocks, each
    truncated): the attempts are laid inside the request, never before it."""
    from logtrace.timelines.spans import nginx_spans

    lines = pl.DataFrame(
        {
            "request_id": ["a", "b"],
            "source": ["edge.log"] * 2,
            "host": ["edge"] * 2,
            "service": ["edge"] * 2,
            "line_no": [1, 2],
            "time": [T0, T0],
            "time_precision_s": [0.001, 0.001],
            "path": ["/x", "/y"],
            "request_time_s": [0.010, 0.010],
            "upstream_response_time_s": [[0.011], [0.006, 0.005]],
        },
        schema_overrides={"line_no": pl.UInt64, "time": TIME},
    )
    spans = nginx_spans(lines)
    parents = spans.filter(pl.col("kind") == "SERVER").select("request_id", "raw_start")
    attempts = spans.filter(pl.col("kind") == "CLIENT").join(
        parents, on="request_id", suffix="_line"
    )
    assert attempts.height == 3
    assert (attempts["raw_start"] >= attempts["raw_start_line"]).all()
    assert (attempts["raw_end"] >= attempts["raw_start"]).all()
    assert (attempts["raw_end"] <= T0).all()
