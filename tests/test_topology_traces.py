"""Traces rebuilt from a real nginx + services topology match what the client recorded.

The topology (scripts/topology) runs a real edge nginx, two api processes logging JSON and
logfmt, an internal nginx and two downstream services logging Python-logging and free
text, all on 127.0.0.1, with a planted clock skew on one host. The ground truth says which
calls each request made; the traces logtrace builds from the logs alone must agree.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines.load import Loaded, TimelineOptions, load
from tests.conftest import PLANTED_SKEW

pytestmark = [pytest.mark.nginx, pytest.mark.slow]


@pytest.fixture(scope="module")
def truth(topology_run: Path) -> list[dict[str, Any]]:
    lines = (topology_run / "ground_truth.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def loaded(topology_run: Path) -> Loaded:
    conf = str(topology_run / "nginx" / "mesh-1" / "nginx.conf")
    sources = resolve_sources([str(topology_run / "logs")])
    return load(sources, TimelineOptions(FormatOptions(nginx_confs=(conf,))))


def spans_of(loaded: Loaded) -> dict[str, list[dict[str, Any]]]:
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in loaded.timelines.spans.iter_rows(named=True):
        by_request[row["request_id"]].append(row)
    return by_request


def test_every_line_of_every_source_is_read(loaded: Loaded) -> None:
    for s in loaded.ingest.sources:
        assert s.lines_total == s.lines_parsed + s.lines_rejected, s.path
        assert s.lines_rejected == 0, (s.path, dict(s.reasons))


def test_every_recorded_request_has_a_trace(loaded: Loaded, truth: list[dict[str, Any]]) -> None:
    traces = spans_of(loaded)
    ids = [r["request_id"] for r in truth if r["request_id"]]
    assert len(ids) >= 290
    missing = [i for i in ids if i not in traces]
    assert not missing


def _path(target: str) -> str:
    return target.split("?", 1)[0]


def expected_parents(request: dict[str, Any], spans: list[dict[str, Any]]) -> dict[int, int | None]:
    """sid -> the sid its parent must be, from the ground truth's structure."""
    by = defaultdict(list)
    for s in spans:
        by[(s["host"], s["kind"], s["path"])].append(s)
    for group in by.values():
        group.sort(key=lambda s: s["raw_start"])
    want: dict[int, int | None] = {}
    edge = [s for s in spans if s["host"] == "edge-1" and s["kind"] == "SERVER"]
    assert len(edge) == 1
    want[edge[0]["sid"]] = None
    attempts = sorted(
        (s for s in spans if s["host"] == "edge-1" and s["kind"] == "CLIENT"),
        key=lambda s: s["attempt"],
    )
    for a in attempts:
        want[a["sid"]] = edge[0]["sid"]
    server = request["server"]
    if server is None:
        return want
    api = [s for s in spans if s["host"] == server["host"] and s["kind"] == "SERVER"]
    if not api or not attempts:
        return want
    want[api[0]["sid"]] = attempts[-1]["sid"]
    taken: dict[tuple[str, str, str], int] = defaultdict(int)

    def nth(host: str, kind: str, path: str) -> dict[str, Any] | None:
        key = (host, kind, path)
        group = by.get(key, [])
        i = taken[key]
        taken[key] += 1
        return group[i] if i < len(group) else None

    for call in sorted(request["calls"], key=lambda c: c["start"]):
        path = _path(call["target"])
        client = nth(call["caller_host"], "CLIENT", path)
        mesh = nth("mesh-1", "SERVER", path)
        mesh_attempt = nth("mesh-1", "CLIENT", path)
        callee = nth(call["callee_host"], "SERVER", path)
        if client is None or mesh is None or mesh_attempt is None or callee is None:
            continue
        want[client["sid"]] = api[0]["sid"]
        want[mesh["sid"]] = client["sid"]
        want[mesh_attempt["sid"]] = mesh["sid"]
        want[callee["sid"]] = mesh_attempt["sid"]
    return want


def test_traces_have_the_recorded_calls_and_correct_parents(
    loaded: Loaded, truth: list[dict[str, Any]]
) -> None:
    traces = spans_of(loaded)
    checked = right = 0
    missing_calls: list[str] = []
    for request in truth:
        rid = request["request_id"]
        if not rid:
            continue
        spans = traces[rid]
        for call in request["calls"]:
            hosts = {(s["host"], s["kind"]) for s in spans if s["path"] == _path(call["target"])}
            wanted = {
                (call["caller_host"], "CLIENT"),
                ("mesh-1", "SERVER"),
                ("mesh-1", "CLIENT"),
                (call["callee_host"], "SERVER"),
            }
            if not wanted <= hosts:
                missing_calls.append(f"{rid} {call['target']}")
        calls_logged = [s for s in spans if s["kind"] == "CLIENT" and s["origin"] == "app"]
        assert len(calls_logged) == len(request["calls"]), (rid, request["scenario"])
        for sid, parent in expected_parents(request, spans).items():
            actual = next(s["parent_sid"] for s in spans if s["sid"] == sid)
            checked += 1
            right += actual == parent
    assert not missing_calls
    assert checked > 2000
    print(f"parents right: {right}/{checked}")
    assert right / checked >= 0.99, f"{right}/{checked} parents right"


def test_no_parent_is_a_guess_in_this_topology(loaded: Loaded) -> None:
    guessed = loaded.timelines.spans.filter(pl.col("parent_guessed"))
    assert guessed.height <= 0.01 * loaded.timelines.spans.height


def test_planted_clock_skew_is_found_within_10_ms(loaded: Loaded) -> None:
    """The planted skew within 10 ms; the other hosts' clocks found right: within 10 ms
    when measured on precise pairs, and inside the stated window (a few tens of ms wide)
    for a whole-second host, whose offset is the window's middle: on a busy machine the
    edge's window is ~25 ms wide and its middle 10 ms or more from the truth."""
    host, skew = PLANTED_SKEW
    offsets = loaded.timelines.offsets
    assert abs(offsets[host].offset_s - skew) <= 0.010, offsets[host]
    for name, off in offsets.items():
        if name == host:
            continue
        if off.method == "window":
            assert off.spread_s <= 0.050, off
            assert abs(off.offset_s) <= off.spread_s / 2 + 0.002, off  # anchors to ~1 ms
        else:
            assert abs(off.offset_s) <= 0.010, off


def test_corrected_children_nest_in_their_parents(
    loaded: Loaded, truth: list[dict[str, Any]]
) -> None:
    abandoned = {r["request_id"] for r in truth if {"timeout", "client_abort"} & set(r["planted"])}
    spans = loaded.timelines.spans
    pairs = spans.join(
        spans.select(
            pl.col("sid").alias("parent_sid"),
            pl.col("start").alias("p_start"),
            pl.col("end").alias("p_end"),
            pl.col("precision_s").alias("p_prec"),
        ),
        on="parent_sid",
    ).filter(~pl.col("request_id").is_in(list(abandoned)))
    # Both sides' timestamp resolution plus 2 ms of wire and scheduling time.
    slack = pl.duration(
        microseconds=((pl.col("precision_s") + pl.col("p_prec")) * 1e6).cast(pl.Int64) + 2000
    )
    inside = (pl.col("start") >= pl.col("p_start") - slack) & (
        pl.col("end") <= pl.col("p_end") + slack
    )
    share = pairs.select(inside.mean()).item()
    print(f"nested: {share:.4f} of {pairs.height}")
    assert share >= 0.99, share


def test_raw_times_are_kept_when_a_span_is_moved(loaded: Loaded) -> None:
    host, skew = PLANTED_SKEW
    moved = loaded.timelines.spans.filter((pl.col("host") == host) & (pl.col("skew_s") != 0))
    assert moved.height > 0
    delta = moved.select(
        ((pl.col("raw_start") - pl.col("start")).dt.total_microseconds() / 1e6).alias("d")
    ).get_column("d")
    assert (delta - skew).abs().max() <= 0.010  # type: ignore[operator]
