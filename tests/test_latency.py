"""Latency report: exact nearest-rank percentiles, mergeable chunks, time breakdown, filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.analysis.derive import Filters
from logtrace.analysis.percentiles import nearest_rank, percentiles
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources


def line(
    path: str, rt: str, urt: str, status: int = 200, *, second: int = 0, rid: str = "a" * 32
) -> str:
    return (
        f'10.0.0.1 - - [26/Nov/2026:08:00:{second:02d} +0000] "GET {path} HTTP/1.1" {status} 5 '
        f'"-" "curl" {rt} {urt} {rid}'
    )


def run(tmp_path: Path, lines: list[str], **kwargs: object) -> object:
    path = tmp_path / "trace.log"
    path.write_text("\n".join(lines) + "\n")
    options = AnalyzeOptions(FormatOptions(preset="trace"), **kwargs)  # type: ignore[arg-type]
    return analyze(resolve_sources([str(path)]), options)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=300))
def test_histogram_percentiles_equal_nearest_rank_on_the_raw_values(values: list[int]) -> None:
    hist = pl.DataFrame({"ms": values}).group_by("ms").agg(pl.len().alias("count"))
    row = percentiles(hist, None).row(0, named=True)
    seconds = [v / 1000 for v in values]
    for q, name in ((0.5, "p50_s"), (0.9, "p90_s"), (0.95, "p95_s"), (0.99, "p99_s")):
        assert row[name] == pytest.approx(nearest_rank(seconds, q))
    assert row["max_s"] == pytest.approx(max(seconds))


def test_nearest_rank_definition() -> None:
    values = [float(v) for v in range(1, 101)]
    assert nearest_rank(values, 0.5) == 50
    assert nearest_rank(values, 0.99) == 99
    assert nearest_rank([7.0], 0.99) == 7


def test_percentiles_per_route_with_templated_ids(tmp_path: Path) -> None:
    lines = [line(f"/users/{i}", f"0.{i:03d}", "-") for i in range(1, 11)]
    lines += [line("/health", "0.001", "-")]
    result = run(tmp_path, lines)
    routes = {r["route"]: r for r in result.latency.routes.to_dicts()}  # type: ignore[attr-defined]
    assert routes["/users/{id}"]["count"] == 10
    assert routes["/users/{id}"]["p50_s"] == 0.005
    assert routes["/users/{id}"]["p90_s"] == 0.009
    assert routes["/users/{id}"]["max_s"] == 0.010
    assert routes["/health"]["count"] == 1


def test_chunked_reading_gives_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        line(f"/p/{i % 7}", f"0.{(i * 37) % 1000:03d}", "-", 200 + (i % 3) * 100)
        for i in range(3000)
    ]
    whole = run(tmp_path, lines, top=5)
    from logtrace import sources

    monkeypatch.setattr(sources, "CHUNK_BYTES", 4096)
    frames = list(
        sources.iter_frames(
            sources.Source(str(tmp_path / "trace.log"), "h", "s"), sources.ReadReport()
        )
    )
    assert len(frames) > 20
    chunked = run(tmp_path, lines, top=5)
    assert whole.latency.latency == chunked.latency.latency  # type: ignore[attr-defined]
    assert whole.latency.statuses == chunked.latency.statuses  # type: ignore[attr-defined]
    assert_frame_equal(
        whole.latency.routes.sort("route"),  # type: ignore[attr-defined]
        chunked.latency.routes.sort("route"),  # type: ignore[attr-defined]
        check_exact=False,
        check_column_order=False,
    )
    assert_frame_equal(whole.latency.slowest, chunked.latency.slowest)  # type: ignore[attr-defined]


def test_nginx_side_time_is_request_minus_all_upstream_attempts_clamped(tmp_path: Path) -> None:
    lines = [
        line("/a", "0.100", "0.030, 0.050"),  # 2 attempts: 80 ms upstream, 20 ms nginx
        line("/b", "0.010", "0.011"),  # monotonic upstream timer 1 ms over: clamped to 0
        line("/c", "0.200", "-"),  # no upstream at all
    ]
    result = run(tmp_path, lines)
    b = result.latency.breakdown  # type: ignore[attr-defined]
    assert b.total_s == pytest.approx(0.310)
    # /b's upstream part is its whole request time: the parts add up to the total
    assert b.upstream_s == pytest.approx(0.090)
    assert b.nginx_s == pytest.approx(0.020 + 0.0 + 0.200)
    assert (b.proxied, b.retried, b.extra_attempts) == (2, 1, 1)
    assert b.retry_cost_s == pytest.approx(0.030)


def test_filters_select_requests(tmp_path: Path) -> None:
    lines = [
        line("/api/a", "0.100", "-", 500, second=1),
        line("/api/b", "0.200", "-", 200, second=2),
        line("/static/c", "0.300", "-", 404, second=3),
    ]
    at = datetime(2026, 11, 26, 8, 0, 2, tzinfo=UTC)
    assert run(tmp_path, lines, filters=Filters(status=((500, 599),))).latency.requests == 1  # type: ignore[attr-defined]
    assert run(tmp_path, lines, filters=Filters(route="^/api/")).latency.requests == 2  # type: ignore[attr-defined]
    assert run(tmp_path, lines, filters=Filters(since=at)).latency.requests == 2  # type: ignore[attr-defined]
    assert run(tmp_path, lines, filters=Filters(until=at)).latency.requests == 1  # type: ignore[attr-defined]
    assert run(tmp_path, lines, filters=Filters(path="c$")).latency.requests == 1  # type: ignore[attr-defined]


def test_error_rates_and_slowest(tmp_path: Path) -> None:
    lines = [
        line("/x", f"0.{i:03d}", "-", 500 if i < 3 else 200, rid=f"{i:032x}") for i in range(10)
    ]
    result = run(tmp_path, lines, top=3).latency  # type: ignore[attr-defined]
    assert result.error_rate == pytest.approx(0.3)
    assert result.slowest.get_column("request_id").to_list() == [f"{i:032x}" for i in (9, 8, 7)]


def test_slowest_ties_are_ordered_by_time_then_request_id() -> None:

    from logtrace.analysis.latency import slowest_first

    t = [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in (3, 1, 1, 2, 0)]
    frame = pl.DataFrame(
        {
            "request_time_s": [0.5, 0.5, 0.5, 0.5, 0.2],
            "time": t,
            "request_id": ["a", "c", "b", None, "z"],
            "line_no": [1, 2, 3, 4, 5],
        }
    )
    order = slowest_first(frame).get_column("line_no").to_list()
    assert order == [3, 2, 4, 1, 5]
    assert [slowest_first(frame, n).get_column("line_no").to_list() for n in (1, 2)] == [
        [3],
        [3, 2],
    ]


def test_the_parts_of_the_request_time_add_up_exactly_whatever_nginx_rounded(
    tmp_path: Path,
) -> None:
    """nginx truncates $upstream_response_time and $request_time to milliseconds on two
    clocks: an upstream time 1 ms over the request time is counted inside it."""
    lines = [
        line(f"/r/{i}", f"0.{i % 7 + 1:03d}", f"0.{i % 7 + 2:03d}" if i % 3 else "0.001, 0.001")
        for i in range(3000)
    ] + [line("/s", "0.333", "-")]
    result = run(tmp_path, lines)
    b = result.latency.breakdown  # type: ignore[attr-defined]
    micros = [round(v * 1e6) for v in (b.total_s, b.upstream_s, b.nginx_s)]
    assert micros[0] == micros[1] + micros[2]
    routes = result.latency.routes  # type: ignore[attr-defined]
    for row in routes.iter_rows(named=True):
        assert round(row["total_s"] * 1e6) == round(row["upstream_total_s"] * 1e6) + round(
            row["nginx_total_s"] * 1e6
        )


@pytest.mark.parametrize(
    ("parts", "whole", "shown"),
    [
        ((0.1234, 0.1234, 0.7532), 1.0, ["12.4%", "12.3%", "75.3%"]),  # alone: 99.9
        ((1.0, 0.0), 1.0, ["100.0%", "0.0%"]),
        ((0.1, 0.1, 0.1), 0.3, ["33.4%", "33.3%", "33.3%"]),
    ],
)
def test_shares_of_a_whole_are_shown_adding_up_to_100(
    parts: tuple[float, ...], whole: float, shown: list[str]
) -> None:
    from logtrace.render.format import shares

    assert shares(list(parts), whole) == shown


def _user_log(tmp_path: Path) -> Path:
    names = [
        f"{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}x" for i in range(1000)
    ]
    lines = [line(f"/u/{n}", "0.010", "-", second=i % 60) for i, n in enumerate(names)]
    lines += [line(f"/images/{i}.webp", "0.002", "-") for i in range(5)]
    lines += [line("/images/logo.png", "0.001", "-")]
    path = tmp_path / "trace.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_thousand_user_names_are_one_route_and_the_report_says_so(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from logtrace.cli import app

    log = str(_user_log(tmp_path))
    runner = CliRunner()
    shown = runner.invoke(app, ["analyze", log, "--preset", "trace"])
    assert shown.exit_code == 0, shown.output
    out = " ".join(shown.stdout.split())
    assert "/u/{*} 1,000" in out
    assert (
        "note: 1 route position took more than 300 distinct values and became {*}: "
        "/u/{*} (position 2: 1,000 values)"
    ) in out
    doc = json.loads(runner.invoke(app, ["analyze", log, "--preset", "trace", "--json"]).stdout)
    routes = {r["route"]: r["count"] for r in doc["routes"]}
    assert routes == {"/u/{*}": 1000, "/images/{id}.webp": 5, "/images/logo.png": 1}
    assert doc["collapsed_routes"] == [{"route": "/u/{*}", "position": 2, "distinct_values": 1000}]
    assert doc["route_max_values"] == 300


@pytest.mark.parametrize(
    ("route", "counts"),
    [
        ("/images/{id}.webp", {"/images/{id}.webp": 5}),
        ("/u/{*}", {"/u/{*}": 1000}),
        ("/images/{*}", {"/images/{id}.webp": 5, "/images/logo.png": 1}),
    ],
)
def test_a_route_copied_from_the_report_selects_that_route(
    tmp_path: Path, route: str, counts: dict[str, int]
) -> None:
    log = _user_log(tmp_path)
    options = AnalyzeOptions(FormatOptions(preset="trace"), filters=Filters(route=route))
    result = analyze(resolve_sources([str(log)]), options)
    routes = dict(result.latency.routes.select("route", "count").iter_rows())
    assert routes == counts


def test_without_collapsed_routes_the_report_has_no_note(tmp_path: Path) -> None:
    result = run(tmp_path, [line(f"/u/{i}", "0.010", "-") for i in range(10)])
    assert result.latency.collapsed.is_empty()  # type: ignore[attr-defined]
