"""The matrix's scorer (scripts/topology/expect.py, score.py) judges trees the way the truth says.

Synthetic spans of one request with one call through a proxy; then the scorer on a real
run of the original topology read with its nginx.conf, where logtrace's tree is known
to be right (test_topology_traces.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from topology.expect import Hops, expect, root_is_edge, tree_is_right
from topology.report import check

Span = dict[str, Any]
HOPS = Hops(frozenset({"edge-1", "mesh-1"}))


def span(sid: int, parent: int | None, host: str, kind: str, path: str | None, **more: Any) -> Span:
    return {
        "sid": sid,
        "parent_sid": parent,
        "host": host,
        "kind": kind,
        "path": path,
        "source": f"logs/{host}.log",
        "line_no": sid,
        "attempt": more.get("attempt"),
        "peer": more.get("peer"),
        "status": more.get("status", 200),
    }


REQUEST: dict[str, Any] = {
    "edge": "edge-1",
    "target": "/api/orders/7",
    "edge_attempts": [{"upstream": "api-1", "status": 200}],
    "server": {"host": "api-1", "target": "/api/orders/7"},
    "calls": [
        {
            "caller_host": "api-1",
            "caller_path": "/items/7",
            "proxy": "mesh-1",
            "proxy_path": "/inventory-svc/items/7",
            "callee_host": "inventory-1",
            "callee_path": "/items/7",
            "start": 1.0,
            "status": 200,
            "calls": [],
        }
    ],
}


def right_spans() -> list[Span]:
    return [
        span(1, None, "edge-1", "SERVER", "/api/orders/7"),
        span(2, 1, "edge-1", "CLIENT", "/api/orders/7", attempt=1),
        span(3, 2, "api-1", "SERVER", "/api/orders/7"),
        span(4, 3, "api-1", "CLIENT", "/items/7", peer="inventory-svc"),
        span(5, 4, "mesh-1", "SERVER", "/inventory-svc/items/7"),
        span(6, 5, "mesh-1", "CLIENT", "/inventory-svc/items/7", attempt=1),
        span(7, 6, "inventory-1", "SERVER", "/items/7?x=1"),
    ]


def test_a_right_tree_is_right_and_its_call_hangs_under_its_caller() -> None:
    spans = right_spans()
    found = expect(REQUEST, spans, HOPS)
    assert tree_is_right(found, spans)
    assert root_is_edge(found, spans)
    assert [c.right for c in found.calls] == [True]
    assert found.served == [True, True]


def test_a_callee_under_the_proxy_line_instead_of_its_attempt_is_wrong() -> None:
    spans = right_spans()
    spans[6]["parent_sid"] = 5
    found = expect(REQUEST, spans, HOPS)
    assert not tree_is_right(found, spans)
    assert [c.right for c in found.calls] == [False]
    assert root_is_edge(found, spans)


def test_a_missing_proxy_span_breaks_the_call_and_the_tree() -> None:
    spans = [s for s in right_spans() if s["sid"] != 5]
    spans[-2]["parent_sid"] = 4
    found = expect(REQUEST, spans, HOPS)
    assert found.missing == 1
    assert not tree_is_right(found, spans)
    assert [c.right for c in found.calls] == [False]


def test_an_extra_span_makes_the_tree_wrong() -> None:
    spans = [*right_spans(), span(8, 3, "api-1", "SERVER", "/items/7")]
    found = expect(REQUEST, spans, HOPS)
    assert not tree_is_right(found, spans)
    assert [c.right for c in found.calls] == [True]


def test_a_second_root_means_the_root_is_not_the_edge() -> None:
    spans = right_spans()
    spans[2]["parent_sid"] = None
    assert not root_is_edge(expect(REQUEST, spans, HOPS), spans)


def test_a_span_without_a_path_is_matched_by_host_kind_and_order() -> None:
    spans = right_spans()
    spans[0]["path"] = None
    found = expect(REQUEST, spans, HOPS)
    assert tree_is_right(found, spans)


def test_a_nested_call_timed_before_its_caller_is_scored_after_it() -> None:
    """The truth's times come from each process's clock: on a busy machine a call the
    inventory makes can be stamped a few ms before the call that reached the inventory
    (a real run of the `direct` variant had 56 such). It is still judged under its caller."""
    nested: dict[str, Any] = {
        "caller_host": "inventory-1",
        "caller_path": "/stock/7",
        "proxy": None,
        "proxy_path": None,
        "callee_host": "stock-1",
        "callee_path": "/stock/7",
        "start": 0.995,  # before its caller's 1.0
        "status": 200,
        "calls": [],
    }
    request = {**REQUEST, "calls": [{**REQUEST["calls"][0], "calls": [nested]}]}
    spans = [
        *right_spans(),
        span(8, 7, "inventory-1", "CLIENT", "/stock/7"),
        span(9, 8, "stock-1", "SERVER", "/stock/7"),
    ]
    found = expect(request, spans, HOPS)
    assert tree_is_right(found, spans)
    assert [c.right for c in found.calls] == [True, True]


def test_identical_calls_are_judged_by_when_their_callees_began() -> None:
    """Two identical calls one after the other; the first callee logged its end late, so
    its line comes after the second's (a busy machine). The tree with each callee under
    the call it served is right, whatever the line order; the swapped one is wrong."""
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def call(start: float) -> dict[str, Any]:
        return {
            "caller_host": "api-1",
            "caller_path": "/users/7",
            "proxy": None,
            "proxy_path": None,
            "callee_host": "users-1",
            "callee_path": "/users/7",
            "start": start,
            "status": 200,
            "calls": [],
        }

    def timed(s: Span, start_ms: float) -> Span:
        return {**s, "raw_start": at + timedelta(milliseconds=start_ms), "precision_s": 1e-6}

    request = {**REQUEST, "edge_attempts": [], "calls": [call(1.0), call(2.0)]}
    base = [
        span(1, None, "edge-1", "SERVER", "/api/orders/7"),
        span(3, 1, "api-1", "SERVER", "/api/orders/7"),
        timed(span(4, 3, "api-1", "CLIENT", "/users/7"), 1),
        timed(span(5, 3, "api-1", "CLIENT", "/users/7"), 12),
    ]
    late, early = 7, 6  # line numbers: the first callee's line was written second
    right = [
        *base,
        timed(span(late, 4, "users-1", "SERVER", "/users/7"), 1.2),
        timed(span(early, 5, "users-1", "SERVER", "/users/7"), 12.2),
    ]
    found = expect(request, right, HOPS)
    assert tree_is_right(found, right)
    swapped = [*right[:4], {**right[4], "parent_sid": 5}, {**right[5], "parent_sid": 4}]
    assert not tree_is_right(expect(request, swapped, HOPS), swapped)


@pytest.mark.nginx
@pytest.mark.slow
def test_the_original_topology_read_with_its_nginx_conf_scores_right(
    variant_run: Callable[[str], Any],
) -> None:
    from topology.score import score_run

    (score,) = score_run(variant_run("preserve"), ("nginx-conf",))
    assert score.trees_right is not None and score.trees_right >= 0.99, score.examples
    assert score.calls_right is not None and score.calls_right >= 0.995
    assert not check(score, ["entries", "skew"])
