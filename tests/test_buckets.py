"""``analyze --every``: requests over time in buckets, with exact percentiles."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from logtrace.analysis import buckets as buckets_module
from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.analysis.buckets import (
    BucketPartials,
    Buckets,
    auto_size,
    finish_buckets,
    parse_every,
    size_label,
)
from logtrace.analysis.derive import Filters
from logtrace.analysis.percentiles import nearest_rank
from logtrace.cli import app
from logtrace.errors import UsageError
from logtrace.ingest import FormatOptions
from logtrace.render.buckets import buckets_table, render_buckets, sparkline
from logtrace.render.console import record_console
from logtrace.sources import resolve_sources
from tests.conftest import ROOT, Golden

T0 = datetime(2026, 11, 26, 8, 0, 17, tzinfo=UTC)
runner = CliRunner()


def _requests(n: int, span_s: int, seed: int = 7) -> list[tuple[datetime, float, int]]:
    """(logged time, request time, status) of ``n`` requests over ``span_s`` seconds."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        t = T0 + timedelta(seconds=rnd.randrange(span_s))
        ms = rnd.choice([rnd.randint(1, 40), rnd.randint(100, 400), rnd.randint(900, 2500)])
        status = rnd.choice([200] * 17 + [404, 500, 502])
        out.append((t, ms / 1000, status))
    return out


def _log(path: Path, requests: list[tuple[datetime, float, int]]) -> Path:
    """The requests as lines of the trace preset, in the order given (not sorted)."""
    lines = [
        f'1.2.3.4 - - [{t.strftime("%d/%b/%Y:%H:%M:%S +0000")}] "GET /api/x/{i} HTTP/1.1" '
        f'{status} 5 "-" "curl" {rt:.3f} {rt:.3f} {i:032x}\n'
        for i, (t, rt, status) in enumerate(requests)
    ]
    path.write_text("".join(lines))
    return path


def _plain(requests: list[tuple[datetime, float, int]], size: int) -> dict[int, dict[str, float]]:
    """Per bucket start (epoch s): the figures computed one request at a time."""
    times: dict[int, list[float]] = defaultdict(list)
    statuses: dict[int, list[int]] = defaultdict(list)
    for t, rt, status in requests:
        key = int(t.timestamp()) // size * size
        times[key].append(rt)
        statuses[key].append(status)
    return {
        key: {
            "requests": len(values),
            "p50_s": nearest_rank(values, 0.5),
            "p95_s": nearest_rank(values, 0.95),
            "p99_s": nearest_rank(values, 0.99),
            "max_s": max(values),
            "rate_5xx": sum(500 <= s <= 599 for s in statuses[key]) / len(values),
            "rate_4xx": sum(400 <= s <= 499 for s in statuses[key]) / len(values),
        }
        for key, values in times.items()
    }


def _by_start(buckets: Buckets) -> dict[int, dict[str, float]]:
    rows = buckets.frame.filter(pl.col("requests") > 0).iter_rows(named=True)
    return {int(r["start"].timestamp()): r for r in rows}


def _same(got: dict[int, dict[str, float]], want: dict[int, dict[str, float]]) -> None:
    assert got.keys() == want.keys()
    for key, figures in want.items():
        for name, value in figures.items():
            assert got[key][name] == pytest.approx(value, abs=1e-9), (key, name)


@pytest.mark.parametrize("every", [60, 300, "auto"])
def test_bucket_figures_equal_a_plain_computation(tmp_path: Path, every: int | str) -> None:
    requests = _requests(900, 1800)
    log = _log(tmp_path / "access.log", requests)
    opts = AnalyzeOptions(FormatOptions(preset="trace"), every=every)  # type: ignore[arg-type]
    buckets = analyze(resolve_sources([str(log)]), opts).latency.buckets
    assert buckets is not None
    size = every if isinstance(every, int) else 60  # 30 min: 31 one-minute buckets
    assert buckets.size_s == size
    _same(_by_start(buckets), _plain(requests, size))
    assert buckets.frame.get_column("requests").sum() == 900


def _frame(requests: list[tuple[datetime, float, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time": [t for t, _, _ in requests],
            "request_time_s": [rt for _, rt, _ in requests],
            "status": [s for _, _, s in requests],
        },
        schema={"time": pl.Datetime("us", "UTC"), "request_time_s": pl.Float64, "status": pl.Int64},
    )


def _fed(partials: BucketPartials, frames: list[pl.DataFrame]) -> Buckets:
    for frame in frames:
        cols = frame.columns
        partials.take(pl.collect_all(partials.plans(frame.lazy(), cols)), cols)
    return finish_buckets(partials)


@pytest.mark.parametrize("raw_lines", [1, 120, 10**9])
def test_chunks_whose_range_grows_merge_into_the_same_exact_buckets(
    monkeypatch: pytest.MonkeyPatch, raw_lines: int
) -> None:
    """Lines are counted now and then (every chunk, every few chunks, or once at the
    end); the base buckets of ``auto`` coarsen as later lines widen the range (seconds,
    then minutes...): the result is the one of all lines at once, and the plain one."""
    requests = sorted(_requests(3000, 6 * 3600, seed=3))
    chunks = [_frame(requests[i : i + 50]) for i in range(0, len(requests), 50)]
    monkeypatch.setattr(buckets_module, "RAW_LINES", raw_lines)
    partials = BucketPartials(None)
    for chunk in chunks[:-1]:
        cols = chunk.columns
        partials.take(pl.collect_all(partials.plans(chunk.lazy(), cols)), cols)
    if raw_lines < 3000:
        assert partials.base > 1  # counted before the end, in a base that did grow
    streamed = _fed(partials, chunks[-1:])
    whole = _fed(BucketPartials(None), [_frame(requests)])
    assert streamed.size_s == whole.size_s == 600  # 6 h: 36 ten-minute buckets
    assert_frame_equal(streamed.frame, whole.frame)
    _same(_by_start(streamed), _plain(requests, 600))


def test_empty_buckets_are_shown_with_no_requests() -> None:
    requests = [(T0, 0.1, 200), (T0 + timedelta(minutes=3), 0.2, 200)]
    buckets = _fed(BucketPartials(60), [_frame(requests)])
    assert buckets.frame.get_column("requests").to_list() == [1, 0, 0, 1]
    assert buckets.frame.get_column("p99_s").to_list() == [0.1, None, None, 0.2]


def test_req_per_s_counts_the_seconds_of_a_bucket_the_logs_cover() -> None:
    """60 requests in the last 2 s of the first minute are 30 req/s, not 1."""
    requests = [(T0.replace(second=58) + timedelta(seconds=i % 2), 0.01, 200) for i in range(60)]
    requests += [
        (T0.replace(second=0) + timedelta(minutes=1, seconds=i), 0.01, 200) for i in range(60)
    ]
    buckets = _fed(BucketPartials(60), [_frame(requests)])
    assert buckets.frame.get_column("req_per_s").to_list() == [30.0, 1.0]


def test_requests_without_a_logged_time_are_counted_in_no_bucket() -> None:
    frame = _frame([(T0, 0.1, 200)]).vstack(
        pl.DataFrame(
            {"time": [None], "request_time_s": [0.5], "status": [200]}, schema=_frame([]).schema
        )
    )
    buckets = _fed(BucketPartials(60), [frame])
    assert buckets.untimed == 1
    assert buckets.frame.get_column("requests").to_list() == [1]
    assert buckets.frame.get_column("max_s").to_list() == [0.1]


@pytest.mark.parametrize(
    ("span_s", "size"),
    [
        (0, 1),
        (59, 1),
        (60, 5),
        (299, 5),
        (599, 10),
        (600, 30),
        (1800, 60),
        (3599, 60),
        (3600, 300),
        (10 * 3600, 900),
        (24 * 3600, 1800),
        (7 * 86400, 10800),
        (200 * 86400, 4 * 86400),
    ],
)
def test_auto_picks_a_round_size_giving_at_most_60_buckets(span_s: int, size: int) -> None:
    lo = 1_700_000_000 // 86400 * 86400  # a whole day: bucket edges on round times
    assert auto_size(lo, lo + span_s) == size
    assert (lo + span_s) // size - lo // size + 1 <= 60


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m", 60),
        ("5m", 300),
        ("30s", 30),
        ("1h", 3600),
        ("1d", 86400),
        (" 2M ", 120),
        ("auto", "auto"),
    ],
)
def test_every_takes_sizes_and_auto(text: str, seconds: int | str) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["0m", "1", "m", "1w", "1.5m", "-1m", "5 minutes", ""])
def test_every_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(UsageError, match="is not a bucket size"):
        parse_every(text)


def test_size_labels_read_as_every_takes_them() -> None:
    assert [size_label(s) for s in (1, 30, 60, 90, 900, 3600, 86400)] == [
        "1s",
        "30s",
        "1m",
        "90s",
        "15m",
        "1h",
        "1d",
    ]


def test_too_many_buckets_is_a_usage_error_with_a_hint() -> None:
    requests = [(T0, 0.1, 200), (T0 + timedelta(days=1), 0.1, 200)]
    with pytest.raises(UsageError, match="86,401 buckets"):
        _fed(BucketPartials(1), [_frame(requests)])


def test_sparkline_scales_from_zero_to_the_largest() -> None:
    assert sparkline([0.0, 1.0, 2.0, 4.0, 8.0], 10) == "▁▂▃▅█"
    assert sparkline([1.0, None, 1.0], 10) == "█ █"
    assert sparkline([1.0, 2.0, 3.0, 8.0], 2) == "▃█"  # more values than room: peaks of runs


def test_filters_choose_the_requests_of_the_buckets(tmp_path: Path) -> None:
    requests = _requests(600, 900, seed=11)
    log = _log(tmp_path / "access.log", requests)
    opts = AnalyzeOptions(FormatOptions(preset="trace"), Filters(status=((500, 599),)), every=60)
    buckets = analyze(resolve_sources([str(log)]), opts).latency.buckets
    assert buckets is not None
    _same(_by_start(buckets), _plain([r for r in requests if r[2] >= 500], 60))


def test_json_has_the_buckets_and_a_bad_size_is_exit_2(tmp_path: Path) -> None:
    log = _log(tmp_path / "access.log", _requests(200, 600))
    result = runner.invoke(app, ["analyze", str(log), "--every", "5m", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["bucket_size_s"] == 300
    assert doc["bucket_size_auto"] is False
    assert sum(b["requests"] for b in doc["buckets"]) == doc["requests"] == 200
    assert doc["buckets"][0]["start"] == "2026-11-26T08:00:00+00:00"
    assert "buckets" not in json.loads(runner.invoke(app, ["analyze", str(log), "--json"]).stdout)
    bad = runner.invoke(app, ["analyze", str(log), "--every", "5x"])
    assert bad.exit_code == 2
    assert bad.stderr.splitlines()[0] == "logtrace: error: --every '5x' is not a bucket size"
    assert bad.stderr.splitlines()[1].startswith("hint: ")


def test_across_hosts_the_buckets_count_the_requests_that_entered() -> None:
    opts = AnalyzeOptions(
        FormatOptions(nginx_confs=(str(ROOT / "sample_logs/nginx/mesh-1.conf"),)), every="auto"
    )
    result = analyze(resolve_sources([str(ROOT / "sample_logs")]), opts)
    assert result.latency.buckets is not None
    assert result.latency.buckets.frame.get_column("requests").sum() == 2500  # edge's lines


def test_a_narrow_table_drops_columns_in_the_stated_order() -> None:
    requests = _requests(300, 600)
    buckets = _fed(BucketPartials(60), [_frame(requests)])
    console = record_console(50)
    console.print(buckets_table(buckets), crop=False)
    header = next(line for line in console.export_text().splitlines() if "requests" in line)
    assert header.split() == ["start", "(UTC)", "requests", "req/s", "5xx", "p99"]


def test_bucket_table_on_sample_logs_as_its_golden_file(golden: Golden) -> None:
    from contextlib import chdir

    with chdir(ROOT):
        opts = AnalyzeOptions(
            FormatOptions(nginx_confs=("sample_logs/nginx/mesh-1.conf",)), every="auto"
        )
        result = analyze(resolve_sources(["sample_logs/"]), opts)
    assert result.latency.buckets is not None
    console = record_console(100)
    for renderable in render_buckets(result.latency.buckets, console.width):
        console.print(renderable, crop=False)
    golden("analyze_buckets_sample_w100.txt", console.export_text())


@pytest.mark.parametrize(("offset", "tz"), [("-0330", []), ("+0000", ["--tz", "+05:45"])])
def test_buckets_start_at_whole_hours_of_the_zone_shown(
    tmp_path: Path, offset: str, tz: list[str]
) -> None:
    """Logs written at -03:30 (shown so by default), or UTC logs shown at +05:45: an
    hour's bucket starts at a whole hour of the clock shown, not of UTC."""
    sign = -1 if offset.startswith("-") else 1
    shift = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:]))
    if tz:
        shift = timedelta(hours=5, minutes=45)
    requests = _requests(400, 4 * 3600)
    lines = [
        f"1.2.3.4 - - [{t.astimezone(UTC).strftime('%d/%b/%Y:%H:%M:%S')} +0000] "
        f'"GET /api/x/{i} HTTP/1.1" {status} 5 "-" "curl" {rt:.3f} {rt:.3f} {i:032x}\n'
        for i, (t, rt, status) in enumerate(requests)
    ]
    if offset != "+0000":  # the same instants, written in the logs' own offset
        zone = timezone(shift)
        lines = [
            f"1.2.3.4 - - [{t.astimezone(zone).strftime('%d/%b/%Y:%H:%M:%S')} {offset}] "
            f'"GET /api/x/{i} HTTP/1.1" {status} 5 "-" "curl" {rt:.3f} {rt:.3f} {i:032x}\n'
            for i, (t, rt, status) in enumerate(requests)
        ]
    log = tmp_path / "access.log"
    log.write_text("".join(lines))
    args = ["analyze", str(log), "--preset", "trace", "--every", "1h", *tz, "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    buckets = json.loads(result.stdout)["buckets"]
    starts = [datetime.fromisoformat(b["start"]) for b in buckets]
    assert all((s + shift).minute == 0 and (s + shift).second == 0 for s in starts)
    local_hour = [(t + shift).replace(minute=0, second=0) - shift for t, _, _ in requests]
    expected = {s: local_hour.count(s) for s in sorted(set(local_hour))}
    assert {s: b["requests"] for s, b in zip(starts, buckets, strict=True)} == expected
