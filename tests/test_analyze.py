"""``analyze`` across hosts: every section covers the requests the filters keep."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from logtrace.analysis.analyze import Analysis, AnalyzeOptions, analyze
from logtrace.analysis.derive import Filters
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines.assemble import MAX_TRACE_SPANS
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_logs"
FORMATS = FormatOptions(nginx_confs=(str(SAMPLE / "nginx" / "mesh-1.conf"),))
ERRORS = Filters(status=((500, 599),))


@pytest.fixture(scope="module")
def errors_only() -> Analysis:
    return analyze(resolve_sources([str(SAMPLE)]), AnalyzeOptions(FORMATS, ERRORS, top=200))


def test_the_latency_section_counts_the_requests_kept(errors_only: Analysis) -> None:
    assert errors_only.latency.requests == 125  # the 504s (sample_logs/ground_truth.jsonl)
    assert set(errors_only.latency.statuses) == {504}


def test_traces_services_and_hosts_count_the_traces_of_the_requests_kept(
    errors_only: Analysis,
) -> None:
    cross = errors_only.cross_host
    assert cross is not None
    assert cross.traces == 125
    edge = cross.services.filter((pl.col("service") == "edge") & (pl.col("kind") == "SERVER"))
    assert edge.get_column("requests").to_list() == [125]
    assert cross.hosts.get_column("requests").max() == 125


def test_slow_paths_and_insights_only_name_requests_kept(errors_only: Analysis) -> None:
    cross = errors_only.cross_host
    assert cross is not None
    kept = set(errors_only.latency.slowest.get_column("request_id"))
    assert len(kept) == 125
    assert {p.request_id for p in cross.slow_paths} <= kept
    assert all(p.status == 504 for p in cross.slow_paths)
    found = set(cross.insights.findings.get_column("request_id"))
    assert found and found <= kept
    assert cross.insights.requests == 125


def _served(log: str) -> list[dict[str, object]]:
    """The requests an app log says it served, read with the json module."""
    with open(SAMPLE / log, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if r.get("msg") == "request finished"]


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def test_app_logs_alone_report_the_requests_the_apps_served() -> None:
    served = _served("api-1.log")
    done = analyze(resolve_sources([str(SAMPLE / "api-1.log")]), AnalyzeOptions())
    rep = done.latency
    assert rep.requests == len(served) == 1275
    statuses = Counter(int(str(r["status"])) for r in served)
    assert rep.statuses == dict(statuses)
    ms = [round(float(str(r["duration_ms"]))) / 1000 for r in served]
    assert rep.latency is not None
    assert rep.latency.p50_s == pytest.approx(_nearest_rank(ms, 0.5))
    assert rep.latency.p99_s == pytest.approx(_nearest_rank(ms, 0.99))
    assert rep.latency.max_s == pytest.approx(max(ms))
    assert rep.upstream_latency is None  # an app logs no upstream time
    slowest = rep.slowest.row(0, named=True)
    longest = max(served, key=lambda r: float(str(r["duration_ms"])))
    assert slowest["request_id"] == longest["request_id"]
    assert slowest["path"] == longest["path"]
    assert rep.time_min is not None and rep.time_max is not None
    assert done.cross_host is not None
    assert done.cross_host.entry_sources == [str(SAMPLE / "api-1.log")]


def test_app_logs_alone_count_a_call_the_logs_join_once() -> None:
    """The inventory requests the api's calls made are parts of the api's requests; only
    those no logged call made enter the report."""
    both = [str(SAMPLE / "api-1.log"), str(SAMPLE / "inventory-1.log")]
    done = analyze(resolve_sources(both), AnalyzeOptions(keep_timelines=True))
    assert done.loaded is not None
    spans = done.loaded.timelines.spans
    served = spans.filter((pl.col("kind") == "SERVER") & (pl.col("origin") == "app"))
    roots = served.filter(pl.col("parent_sid").is_null())
    inventory = served.filter(pl.col("service") == "inventory")
    called = inventory.filter(pl.col("parent_sid").is_not_null()).height
    assert called > 0
    assert done.latency.requests == roots.height == served.height - called
    assert done.latency.requests == roots.get_column("request_id").n_unique()


def test_app_logs_alone_count_requests_without_an_id_or_a_duration() -> None:
    """gunicorn's access lines carry neither an id nor a time taken: three requests, no
    request time (as an nginx format without $request_time), not 0 ms."""
    log = ROOT / "tests" / "fixtures" / "app-log-shapes" / "python-gunicorn.log"
    done = analyze(resolve_sources([str(log)]), AnalyzeOptions())
    rep = done.latency
    assert rep.requests == 3
    assert rep.statuses == {200: 1, 201: 1, 500: 1}
    assert rep.latency is None
    assert sorted(rep.routes.get_column("route")) == [
        "/orders",
        "/orders/{id}",
        "/orders/{id}/receipt",
    ]


def test_app_requests_without_a_duration_count_but_are_not_timed(tmp_path: Path) -> None:
    def served(second: int, rid: str, took: float | None) -> str:
        row: dict[str, object] = {
            "time": f"2026-11-26T12:00:{second:02d}.000000+00:00",
            "msg": "request finished",
            "request_id": rid,
            "method": "GET",
            "path": f"/items/{second}",
            "status": 200,
        }
        if took is not None:
            row["duration_ms"] = took
        return json.dumps(row)

    log = tmp_path / "api-1.log"
    rows = [served(10, "a1", 30.0), served(11, "a2", None), served(12, "a3", 10.0)]
    # without an id a request is in no trace, but its line still tells how long it took
    rows += [served(13, "", 20.0), served(14, "", None)]
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rep = analyze(resolve_sources([str(log)]), AnalyzeOptions()).latency
    assert rep.requests == 5
    assert rep.latency is not None
    assert rep.latency.count == 3
    assert (rep.latency.p50_s, rep.latency.max_s) == (0.02, 0.03)
    assert rep.slowest.get_column("request_time_s").to_list()[:3] == [0.03, 0.02, 0.01]
    assert rep.slowest.get_column("request_id").to_list()[:3] == ["a1", None, "a3"]


def test_app_logs_alone_are_filtered_by_their_served_requests() -> None:
    logs = resolve_sources([str(SAMPLE / "api-1.log")])
    done = analyze(logs, AnalyzeOptions(filters=Filters(status=((400, 499),))))
    wanted = [r for r in _served("api-1.log") if 400 <= int(str(r["status"])) <= 499]
    assert done.latency.requests == len(wanted) > 0
    assert set(done.latency.statuses) == {int(str(r["status"])) for r in wanted}


def test_app_requests_of_an_id_reused_too_often_each_count(tmp_path: Path) -> None:
    """An id on more served requests than a trace can hold is not joined (a client that
    reuses its X-Request-ID): each of its requests is one of the report's."""
    rows = [
        json.dumps(
            {
                "time": f"2026-11-26T12:{i // 60:02d}:{i % 60:02d}.000000+00:00",
                "msg": "request finished",
                "request_id": "reused",
                "method": "GET",
                "path": "/x",
                "status": 200,
                "duration_ms": 1 + i % 7,
            }
        )
        for i in range(MAX_TRACE_SPANS + 5)
    ]
    log = tmp_path / "api-1.log"
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    done = analyze(resolve_sources([str(log)]), AnalyzeOptions())
    assert done.latency.requests == MAX_TRACE_SPANS + 5
    assert done.latency.latency is not None
    assert done.latency.latency.max_s == 0.007


def test_small_chunks_are_reduced_together_to_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder of small files gives a chunk each; their derived lines are held and
    reduced ``HELD_ROWS`` at a time (a reduction costs ~5 ms whatever its size): the
    same report as one reduction a chunk. Lines of another format (other columns) are
    reduced apart."""
    from logtrace.analysis import analyze as module
    from logtrace.export.report import analysis_json

    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines(keepends=True)
    paths = []
    for i in range(0, len(lines), 100):
        path = tmp_path / f"edge-1.access.log.{i // 100:02d}"
        path.write_text("".join(lines[i : i + 100]))
        paths.append(str(path))
    combined = tmp_path / "edge-2.combined.log"  # another host of the edge, in `combined`
    combined.write_bytes((SAMPLE / "combined" / "edge-1.combined.log").read_bytes())
    paths.insert(12, str(combined))
    sources = resolve_sources(paths)
    reductions: list[int] = []
    add = module._add

    def counted(partials: object, unfiltered: object, frame: pl.DataFrame) -> None:
        reductions.append(frame.height)
        add(partials, unfiltered, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "_add", counted)
    reports = []
    for held in (1, module.HELD_ROWS):  # each chunk alone; then held together
        monkeypatch.setattr(module, "HELD_ROWS", held)
        reductions.clear()
        analysis = analyze(sources, AnalyzeOptions(top=50))
        assert analysis.cross_host is None  # one service's nginx logs: streamed
        reports.append((analysis_json(analysis), list(reductions)))
    (alone, one_each), (together, held_together) = reports
    assert together == alone
    combined_lines = combined.read_bytes().count(b"\n")
    assert one_each == [100] * 12 + [combined_lines] + [100] * 13
    assert held_together == [1_200, combined_lines, 1_300]
