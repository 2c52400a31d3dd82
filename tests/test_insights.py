"""Insights find the patterns planted in a real topology, and nothing else.

The topology's client records which requests exhibit each pattern on purpose (and runs
control endpoints that look similar but must not be flagged: batched calls, calls that
already run in parallel, two calls to one service on different routes). Each detector
must find at least 95% of the planted requests with at least 95% precision, and its
saving estimate must be within 20% of what the record implies.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from logtrace.analysis.insights import InsightOptions, Insights, find_insights
from logtrace.cli import app
from logtrace.ingest import FormatOptions
from logtrace.render.commands import TraceArgs
from logtrace.render.console import record_console
from logtrace.render.insights import render_insights
from logtrace.sources import resolve_sources
from logtrace.timelines.load import Loaded, TimelineOptions, load
from tests.conftest import ROOT, Golden

# detector -> the planted scenario tags it must find
PLANTED = {
    "n_plus_one": {"n_plus_one"},
    "sequential": {"sequential"},
    "repeated": {"repeated"},
    "retry": {"edge_retry", "app_retry"},
    "abandoned": {"timeout", "client_abort"},
    "slow_client": {"slow_client"},
    "swallowed_error": {"swallowed_error"},
}
SAVING_KEYS = ("n_plus_one", "sequential", "repeated")
CONTROLS = {"batched", "parallel", "same_service_routes", "normal"}
SAMPLE = ROOT / "sample_logs"


def insights_for(logs: Path, conf: Path) -> Insights:
    loaded = load(
        resolve_sources([str(logs)]), TimelineOptions(FormatOptions(nginx_confs=(str(conf),)))
    )
    return find_insights(loaded.timelines.spans)


@pytest.fixture(scope="module")
def topology(topology_run: Path) -> tuple[Insights, list[dict[str, Any]]]:
    truth = [json.loads(x) for x in (topology_run / "ground_truth.jsonl").read_text().splitlines()]
    return insights_for(
        topology_run / "logs", topology_run / "nginx" / "mesh-1" / "nginx.conf"
    ), truth


@pytest.mark.nginx
@pytest.mark.slow
@pytest.mark.parametrize("pattern", list(PLANTED))
def test_detector_precision_and_recall(topology, pattern: str) -> None:  # type: ignore[no-untyped-def]
    insights, truth = topology
    found = set(insights.findings.filter(pl.col("pattern") == pattern).get_column("request_id"))
    planted = {r["request_id"] for r in truth if set(r["planted"]) & PLANTED[pattern]}
    assert planted, "the topology planted none"
    hits = len(found & planted)
    assert hits / len(planted) >= 0.95, f"recall {hits}/{len(planted)}"
    assert hits / len(found) >= 0.95, f"precision {hits}/{len(found)}"


@pytest.mark.nginx
@pytest.mark.slow
def test_control_endpoints_are_not_flagged(topology) -> None:  # type: ignore[no-untyped-def]
    insights, truth = topology
    controls = {r["request_id"] for r in truth if r["scenario"] in CONTROLS}
    flagged = set(insights.findings.get_column("request_id")) & controls
    assert not flagged


@pytest.mark.nginx
@pytest.mark.slow
@pytest.mark.parametrize("pattern", SAVING_KEYS)
def test_saving_estimates_match_the_record(topology, pattern: str) -> None:  # type: ignore[no-untyped-def]
    insights, truth = topology
    rows = insights.findings.filter(pl.col("pattern") == pattern)
    estimate = dict(zip(rows.get_column("request_id"), rows.get_column("saving_s"), strict=True))
    compared = 0
    for r in truth:
        expected = r["expected_saving_s"].get(pattern)
        if expected and r["request_id"] in estimate:
            compared += 1
            assert abs(estimate[r["request_id"]] - expected) <= 0.2 * expected, r["request_id"]
    assert compared >= 10


def test_sample_logs_insights_golden_at_80_columns(golden: Golden, sample_loaded: Loaded) -> None:
    insights = find_insights(sample_loaded.timelines.spans)
    console = record_console(width=80)
    args = TraceArgs(("sample_logs/",), ("--nginx-conf", "sample_logs/nginx/mesh-1.conf"))
    render_insights(console, insights, trace_args=args)
    text = console.export_text()
    commands = [line for line in text.splitlines() if line.startswith("    logtrace trace ")]
    # a command is never cut (the terminal wraps it); everything else fits
    assert len(commands) == 3 * insights.summary.height
    assert all(
        line.endswith(" sample_logs/ --nginx-conf sample_logs/nginx/mesh-1.conf")
        for line in commands
    )
    others = [line for line in text.splitlines() if line not in commands]
    assert max(len(line) for line in others) <= 80
    golden("insights_sample_w80.txt", text)


def test_a_pipe_gets_the_routes_and_details_whole(sample_loaded: Loaded) -> None:
    insights = find_insights(sample_loaded.timelines.spans)
    console = record_console(width=80, fit=False)
    render_insights(console, insights)
    text = console.export_text()
    assert "…" not in text.replace("… and ", "")
    for route in insights.summary.get_column("route"):
        assert f" {route} " in text


def test_thresholds_are_adjustable(sample_loaded: Loaded) -> None:
    strict = find_insights(sample_loaded.timelines.spans, InsightOptions(min_calls=100))
    assert strict.findings.filter(pl.col("pattern") == "n_plus_one").is_empty()


def test_insights_command_json() -> None:
    result = CliRunner().invoke(
        app,
        ["insights", str(SAMPLE), "--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf"), "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    patterns = {f["pattern"] for f in doc["findings"]}
    assert set(PLANTED) <= patterns
    savings = [f["saving_total_s"] for f in doc["findings"]]
    assert savings == sorted(savings, reverse=True)
    assert all(len(f["examples"]) >= 2 for f in doc["findings"])


T0 = datetime(2026, 12, 3, 16, 42, 13, 505000, tzinfo=UTC)
MS = timedelta(milliseconds=1)
Span = tuple[int, int | None, str, str | None, str, str, datetime, datetime]


def _app_spans(
    rows: list[Span], *, precision_s: float = 0.001, within_s: float = 0.0
) -> pl.DataFrame:
    """Spans of one app request (service web): (sid, parent sid, kind, peer, route, path,
    start, end), times as logged to ``precision_s`` and known to ``within_s``."""
    return pl.DataFrame(
        [
            {
                "request_id": "r1",
                "sid": sid,
                "parent_sid": parent,
                "kind": kind,
                "origin": "app",
                "service": "web",
                "peer": peer,
                "method": "GET",
                "route": route,
                "path": path,
                "target": path,
                "start": start,
                "end": end,
                "status": 200,
                "within_s": within_s,
                "precision_s": precision_s,
            }
            for sid, parent, kind, peer, route, path, start, end in rows
        ]
    )


def _two_calls(overlap_ms: float, *, precision_s: float, within_s: float) -> pl.DataFrame:
    """An app request (sid 1) making two calls to two services, the second starting
    ``overlap_ms`` before the first ended; times as logged to ``precision_s`` and known
    to ``within_s``."""
    second = T0 + (4 - overlap_ms) * MS
    rows: list[Span] = [
        (1, None, "SERVER", None, "/a", "/a", T0, T0 + 8 * MS),
        (2, 1, "CLIENT", "users-svc", "/profile/1", "/profile/1", T0, T0 + 4 * MS),
        (3, 1, "CLIENT", "inventory-svc", "/stats", "/stats", second, second + 4 * MS),
    ]
    return _app_spans(rows, precision_s=precision_s, within_s=within_s)


@pytest.mark.parametrize(
    ("overlap_ms", "precision_s", "within_s", "sequential"),
    [
        (2.8, 0.001, 0.001, False),  # logged to the ms: 2.8 ms of overlap is parallel
        (1.5, 0.001, 0.001, True),  # within the precision and the 1 ms tolerance
        (0.0, 0.001, 0.001, True),  # one after the other
        (2.8, 1.0, 0.001, True),  # placed in a second, two 1 ms windows: not sure
        (3.5, 1.0, 0.001, False),  # more than both windows and the tolerance
    ],
)
def test_calls_overlap_by_more_than_their_times_can_be_off(
    overlap_ms: float, precision_s: float, within_s: float, sequential: bool
) -> None:
    from logtrace.analysis.insights import calls as detectors

    c = detectors.calls(_two_calls(overlap_ms, precision_s=precision_s, within_s=within_s))
    found = detectors.sequential(c, InsightOptions())
    assert (found.height == 1) is sequential


def _loop(starts_ms: list[float], duration_ms: float = 4.0) -> pl.DataFrame:
    """An app request (sid 1) calling one service and route once per start (ms)."""
    rows: list[Span] = [(1, None, "SERVER", None, "/a", "/a", T0, T0 + 500 * MS)]
    for i, s in enumerate(starts_ms, start=2):
        start = T0 + s * MS
        rows.append(
            (
                i,
                1,
                "CLIENT",
                "inventory",
                "/items/{id}",
                f"/items/{i}",
                start,
                start + duration_ms * MS,
            )
        )
    return _app_spans(rows)


@pytest.mark.parametrize(
    ("starts_ms", "flagged"),
    [
        ([0, 5, 10, 15, 20, 25, 30, 35], True),  # one after another
        ([0, 5, 7, 15, 20, 25, 30, 35], True),  # one call seen 2 ms early: still a loop
        ([0, 5, 7, 15, 17, 25, 27, 35], True),  # three of seven: still mostly a loop
        ([0, 2, 4, 6, 20, 22, 24, 26], False),  # two fan-outs of four: six of seven overlap
        ([0, 0, 0, 0, 0, 0, 0, 0], False),  # one fan-out
    ],
)
def test_a_loop_with_a_call_off_in_time_is_still_n_plus_one(
    starts_ms: list[float], flagged: bool
) -> None:
    from logtrace.analysis.insights import calls as detectors

    found = detectors.n_plus_one(detectors.calls(_loop(starts_ms)), InsightOptions())
    assert (found.height == 1) is flagged


def test_commands_that_read_standard_input_say_to_pipe_the_logs_again(
    sample_loaded: Loaded,
) -> None:
    insights = find_insights(sample_loaded.timelines.spans)
    said = "(- is standard input: pipe the same logs in again to run these)"
    for files, told in ((("-",), True), (("sample_logs/",), False), (("a.log", "-"), True)):
        console = record_console(width=80)
        render_insights(console, insights, trace_args=TraceArgs(files))
        text = console.export_text()
        assert (said in text) is told
        assert text.count(said) <= 1
