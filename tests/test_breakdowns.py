"""``analyze --by``: requests by the values of a field, top N and the others, exact."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from logtrace.analysis import breakdowns
from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.analysis.breakdowns import (
    DEFAULT_TOP,
    BreakdownPartials,
    BreakdownTable,
    By,
    finish_breakdowns,
    parse_by,
)
from logtrace.analysis.percentiles import nearest_rank
from logtrace.cli import app
from logtrace.errors import ExitStatus, UsageError
from logtrace.ingest import FormatOptions
from logtrace.render.breakdowns import breakdown_table
from logtrace.render.console import record_console
from logtrace.render.tables import render_analysis
from logtrace.sources import resolve_sources
from tests.conftest import ROOT, SAMPLE

runner = CliRunner()
README_BY = ["--by", "status", "--by", "ua:3", "--by", "referer"]
Row = dict[str, Any]
T0 = datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)
# the combined format plus $request_time and $upstream_addr
FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time "$upstream_addr"'
)


Request = tuple[str, str, int, int, float, str, str]  # ip, method, status, bytes, s, ua, up


def _requests(n: int, seed: int = 3) -> list[Request]:
    rnd = random.Random(seed)
    ips = [f"10.0.0.{i}" for i in range(1, 40)]
    weights = [40 - i for i in range(len(ips))]  # a few busy clients, many quiet ones
    out = []
    for _ in range(n):
        ip = rnd.choices(ips, weights)[0]
        ms = rnd.choice([rnd.randint(1, 40), rnd.randint(100, 400), rnd.randint(900, 2500)])
        status = rnd.choice([200] * 17 + [404, 500, 502])
        ua = rnd.choice(["curl/8", "Mozilla/5.0 (X11)", "okhttp/4"])
        upstream = rnd.choice(["-", "10.1.0.1:80", "10.1.0.1:80, 10.1.0.2:80"])
        method = rnd.choice(["GET", "GET", "POST"])
        out.append((ip, method, status, rnd.randint(0, 5000), ms / 1000, ua, upstream))
    return out


def _log(path: Path, requests: list[Request]) -> Path:
    lines = [
        f"{ip} - - [{(T0 + timedelta(seconds=i)).strftime('%d/%b/%Y:%H:%M:%S +0000')}] "
        f'"{method} /api/x/{i} HTTP/1.1" {status} {size} "-" "{ua}" {rt:.3f} "{up}"\n'
        for i, (ip, method, status, size, rt, ua, up) in enumerate(requests)
    ]
    path.write_text("".join(lines))
    return path


def _expected(requests: list[Request], key: int, top: int) -> tuple[list[Row], Row | None]:
    """The table computed by hand: rows of the top values, and the other row."""
    groups: dict[str, list[Request]] = defaultdict(list)
    for r in requests:
        groups[str(r[key])].append(r)
    ordered = sorted(groups, key=lambda v: (-len(groups[v]), v))

    def row(rs: list[Request]) -> Row:
        times = [r[4] for r in rs]
        return {
            "requests": len(rs),
            "share": round(len(rs) / len(requests), 6),
            "bytes": sum(r[3] for r in rs),
            "p50_s": nearest_rank(times, 0.5),
            "p99_s": nearest_rank(times, 0.99),
            "error_rate": round(sum(500 <= r[2] <= 599 for r in rs) / len(rs), 6),
        }

    rows = [{"value": v, **row(groups[v])} for v in ordered[:top]]
    rest = [r for v in ordered[top:] for r in groups[v]]
    other = {**row(rest), "values": len(ordered) - top} if rest else None
    return rows, other


def _json(*args: str) -> Row:
    result = runner.invoke(app, ["analyze", *args, "--json"])
    assert result.exit_code == 0, result.output
    doc: Row = json.loads(result.stdout)
    return doc


@pytest.mark.parametrize(
    ("text", "by"),
    [
        ("ip", By("ip", DEFAULT_TOP)),
        ("ip:25", By("ip", 25)),
        ("UA:all", By("ua", None)),
        (" status:3 ", By("status", 3)),
    ],
)
def test_by_reads_a_field_and_how_many_values(text: str, by: By) -> None:
    assert parse_by(text) == by


@pytest.mark.parametrize("text", ["country", "ip:0", "ip:00", "ip:-1", "ip:ten", "", "ip:"])
def test_a_bad_by_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_by(text)


def test_a_bad_by_exits_2_before_reading(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(tmp_path / "missing.log"), "--by", "country"])
    assert result.exit_code == ExitStatus.USAGE
    assert "--by 'country' is not a breakdown" in result.output


@pytest.mark.parametrize(("field", "key", "top"), [("ip", 0, 5), ("status", 2, 2), ("ua", 5, 10)])
def test_rows_and_the_other_row_are_what_the_lines_say(
    tmp_path: Path, field: str, key: int, top: int
) -> None:
    requests = _requests(600)
    log = _log(tmp_path / "a.log", requests)
    doc = _json(str(log), "--log-format", FORMAT, "--by", f"{field}:{top}")
    [table] = doc["breakdowns"]
    rows, other = _expected(requests, key, top)
    assert table["rows"] == rows
    assert table["other"] == other
    assert table["requests"] == len(requests)
    assert table["distinct_values"] == len({str(r[key]) for r in requests})
    shares = sum(r["share"] for r in table["rows"]) + (other["share"] if other else 0)
    assert shares == pytest.approx(1.0)


def test_upstream_is_the_last_attempt_and_not_proxied_is_null(tmp_path: Path) -> None:
    requests = _requests(300)
    log = _log(tmp_path / "a.log", requests)
    doc = _json(str(log), "--log-format", FORMAT, "--by", "upstream")
    rows = doc["breakdowns"][0]["rows"]
    times: dict[str | None, list[float]] = defaultdict(list)
    for r in requests:
        times[None if r[6] == "-" else r[6].split(", ")[-1]].append(r[4])
    assert {r["value"]: r["requests"] for r in rows} == {v: len(t) for v, t in times.items()}
    # the row of requests that went to no upstream (null) is found by its hash like any
    assert {r["value"]: r["p50_s"] for r in rows} == {
        v: nearest_rank(t, 0.5) for v, t in times.items()
    }


def test_every_value_with_all_and_no_other_row(tmp_path: Path) -> None:
    requests = _requests(400)
    log = _log(tmp_path / "a.log", requests)
    [table] = _json(str(log), "--log-format", FORMAT, "--by", "ip:all")["breakdowns"]
    assert table["top"] is None
    assert table["other"] is None
    assert len(table["rows"]) == len({r[0] for r in requests})


@pytest.mark.parametrize(
    ("raw_bytes", "merge_floor"), [(10**12, 10**12), (20_000, 700), (1, 1), (30_000, 1)]
)
def test_counts_merged_across_chunks_equal_one_chunk(
    raw_bytes: int, merge_floor: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hashes, names and the other row survive being counted chunk by chunk: lines kept
    and counted at the end, now and then or every chunk, counts merged now and then."""
    monkeypatch.setattr(breakdowns, "RAW_BYTES", raw_bytes)
    monkeypatch.setattr(breakdowns, "MERGE_FLOOR", merge_floor)
    rnd = random.Random(11)
    n = 5000
    frame = pl.DataFrame(
        {
            "remote_addr": [rnd.choice([None, *(f"h{i}" for i in range(300))]) for _ in range(n)],
            "request_time_s": [rnd.randint(0, 3000) / 1000 for _ in range(n)],
            "status": pl.Series([rnd.choice([200, 200, 503]) for _ in range(n)], dtype=pl.UInt16),
            "body_bytes_sent": [rnd.randint(0, 100) for _ in range(n)],
        }
    )
    bys = (By("ip", 7),)

    def run(chunks: list[pl.DataFrame]) -> BreakdownTable:
        p = BreakdownPartials(bys)
        for c in chunks:
            p.take(pl.collect_all(p.plans(c.lazy(), c.columns)))
        return finish_breakdowns(p)[0]

    whole = run([frame])
    split = run([frame.slice(i, 333) for i in range(0, n, 333)])
    assert whole.rows.equals(split.rows)
    assert whole.other is not None and split.other is not None
    assert whole.other.equals(split.other)
    # and both are the truth
    by_ip: dict[str | None, list[float]] = defaultdict(list)
    for ip, t in frame.select("remote_addr", "request_time_s").iter_rows():
        by_ip[ip].append(t)
    order = sorted(by_ip, key=lambda v: (-len(by_ip[v]), v is None, v or ""))
    assert whole.rows.get_column("value").to_list() == order[:7]
    assert whole.rows.get_column("p99_s").to_list() == [
        nearest_rank(by_ip[v], 0.99) for v in order[:7]
    ]
    rest = [t for v in order[7:] for t in by_ip[v]]
    assert whole.other.get_column("p50_s").item() == nearest_rank(rest, 0.5)
    assert whole.other.get_column("values").item() == len(order) - 7


def test_a_field_the_format_lacks_is_exit_5_saying_which() -> None:
    log = str(SAMPLE / "combined" / "edge-1.combined.log")
    result = runner.invoke(app, ["analyze", log, "--by", "status", "--by", "upstream"])
    assert result.exit_code == ExitStatus.NO_MATCH
    assert "--by upstream: the log format 'combined'" in result.output
    assert "has no $upstream_addr" in result.output


def test_bandwidth_in_the_overview(tmp_path: Path) -> None:
    requests = _requests(100)
    log = _log(tmp_path / "a.log", requests)
    doc = _json(str(log), "--log-format", FORMAT)
    sent = sum(r[3] for r in requests)
    assert doc["bytes_sent"] == sent
    # the time range: the first request's start (time - request time) to the last's end
    start = T0 - timedelta(seconds=requests[0][4])
    end = T0 + timedelta(seconds=len(requests) - 1)
    assert doc["bytes_per_s"] == pytest.approx(sent / (end - start).total_seconds(), rel=1e-6)
    assert "breakdowns" not in doc


def test_no_bytes_logged_means_null_bytes(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(f'10.0.0.{i % 3} "GET /x HTTP/1.1" 200 0.00{i}\n' for i in range(1, 9)))
    fmt = '$remote_addr "$request" $status $request_time'
    doc = _json(str(log), "--log-format", fmt, "--by", "ip")
    assert doc["bytes_sent"] is None
    assert {r["bytes"] for r in doc["breakdowns"][0]["rows"]} == {None}


def test_stdin_gives_the_same_tables_as_the_file(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log", _requests(200))
    args = ["--log-format", FORMAT, "--by", "ip:3", "--by", "method", "--json"]
    from_file = _json(str(log), *args[:-1])["breakdowns"]
    piped = runner.invoke(app, ["analyze", "-", *args], input=log.read_text())
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["breakdowns"] == from_file


def test_several_hosts_by_source_and_host(tmp_path: Path) -> None:
    a = _log(tmp_path / "a.log", _requests(120, seed=1))
    b = _log(tmp_path / "b.log", _requests(80, seed=2))
    doc = _json(
        f"{a}@web-1", f"{b}@web-2", "--log-format", FORMAT, "--by", "host", "--by", "source"
    )
    host, source = doc["breakdowns"]
    assert [(r["value"], r["requests"]) for r in host["rows"]] == [("web-1", 120), ("web-2", 80)]
    assert [(r["value"], r["requests"]) for r in source["rows"]] == [(str(a), 120), (str(b), 80)]


def test_across_hosts_the_tables_count_the_requests_as_they_entered() -> None:
    formats = FormatOptions(nginx_confs=(str(SAMPLE / "nginx" / "mesh-1.conf"),))
    result = analyze(
        resolve_sources([str(SAMPLE)]),
        AnalyzeOptions(formats=formats, by=(By("source"), By("status", None))),
    )
    source, status = result.latency.breakdowns or ()
    assert source.requests == status.requests == result.latency.requests
    assert source.rows.get_column("value").to_list() == [str(SAMPLE / "edge-1.access.log")]
    counts = dict(status.rows.select("value", "requests").iter_rows())
    assert counts == {str(s): n for s, n in result.latency.statuses.items()}


def test_the_filters_apply(tmp_path: Path) -> None:
    requests = _requests(300)
    log = _log(tmp_path / "a.log", requests)
    [table] = _json(str(log), "--log-format", FORMAT, "--status", "5xx", "--by", "status:all")[
        "breakdowns"
    ]
    errors = [r for r in requests if r[2] >= 500]
    assert {r["value"]: r["requests"] for r in table["rows"]} == {
        s: sum(1 for r in errors if str(r[2]) == s) for s in {str(r[2]) for r in errors}
    }
    assert {r["error_rate"] for r in table["rows"]} == {1.0}


def test_hostile_values_are_shown_escaped_never_as_markup(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    # nginx escapes control bytes as \xHH; the parser decodes them back
    hostile = "[bold red]x[/] \\x1B[31mred\\x07"
    log.write_text(
        "".join(
            f'10.0.0.1 - - [26/Nov/2026:08:00:0{i} +0000] "GET / HTTP/1.1" 200 5 "-" '
            f'"{hostile}" 0.01{i} "-"\n'
            for i in range(3)
        )
    )
    result = analyze(
        resolve_sources([str(log)]),
        AnalyzeOptions(formats=FormatOptions(log_format=FORMAT), by=(By("ua"),)),
    )
    console = record_console(100)
    console.print(breakdown_table((result.latency.breakdowns or ())[0]))
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text
    assert "[bold red]x[/]" in text
    assert "\\x1b[31mred\\x07" in text.lower()


def test_the_table_fits_80_columns(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " * 2
    log.write_text(
        "".join(
            f'10.0.0.{i} - - [26/Nov/2026:08:00:0{i} +0000] "GET / HTTP/1.1" 503 123456789 '
            f'"-" "{ua}{i}" 1.23{i} "-"\n'
            for i in range(6)
        )
    )
    result = analyze(
        resolve_sources([str(log)]),
        AnalyzeOptions(formats=FormatOptions(log_format=FORMAT), by=(By("ua", 3),)),
    )
    console = record_console(80)
    console.print(breakdown_table((result.latency.breakdowns or ())[0]))
    lines = console.export_text().splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    body = "\n".join(lines)
    for cell in ("(other 3 values)", "50.0%", "100.0%", "1.23 s"):
        assert cell in body


def test_terminal_tables_show_what_json_says(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log", _requests(300))
    doc = _json(str(log), "--log-format", FORMAT, "--by", "ip:2")
    shown = runner.invoke(app, ["analyze", str(log), "--log-format", FORMAT, "--by", "ip:2"])
    assert shown.exit_code == 0, shown.output
    table = doc["breakdowns"][0]
    assert f"Requests by client address (top 2 of {table['distinct_values']} values)" in (
        shown.stdout
    )
    for row in table["rows"]:
        line = next(ln for ln in shown.stdout.splitlines() if ln.strip().startswith(row["value"]))
        assert f"{row['requests']:,}" in line and f"{100 * row['error_rate']:.1f}%" in line
    other = next(ln for ln in shown.stdout.splitlines() if "(other" in ln)
    assert f"{table['other']['requests']:,}" in other
    assert "Bytes sent: " in shown.stdout


@pytest.mark.parametrize(("option", "shown"), [("3", 3), ("all", 17), ("15", 15)])
def test_top_routes_shows_that_many_routes(option: str, shown: int) -> None:
    log = str(ROOT / "sample_logs" / "edge-1.access.log")
    result = runner.invoke(app, ["analyze", log, "--top-routes", option])
    assert result.exit_code == 0, result.output
    doc = _json(log)
    routes = [r["route"] for r in doc["routes"]]
    lines = result.stdout.splitlines()
    listed = [r for r in routes if any(ln.strip().startswith(r + " ") for ln in lines)]
    assert listed == routes[:shown]
    assert len(routes) == 17  # --json has every route, whatever --top-routes says


@pytest.mark.parametrize("option", ["0", "-2", "many"])
def test_a_bad_top_routes_is_exit_2(option: str) -> None:
    result = runner.invoke(app, ["analyze", "x.log", f"--top-routes={option}"])
    assert result.exit_code == ExitStatus.USAGE


def test_render_analysis_takes_the_route_limit(sample_analysis) -> None:  # type: ignore[no-untyped-def]
    console = record_console(120)
    render_analysis(console, sample_analysis, routes=None)
    n = sample_analysis.latency.routes.height
    assert f"Routes (top {n} of {n} by total time)" in console.export_text()


def test_the_readme_example_runs_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "logtrace", "analyze", "sample_logs/edge-1.access.log", *README_BY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Requests by user agent (top 3 of 4 values)" in done.stdout
    assert "Requests by status (4 values)" in done.stdout


def test_no_table_when_the_filters_keep_no_request(tmp_path: Path) -> None:
    log = _log(tmp_path / "a.log", _requests(50))
    args = [str(log), "--log-format", FORMAT, "--status", "1xx", "--by", "ip"]
    shown = runner.invoke(app, ["analyze", *args])
    assert shown.exit_code == 0, shown.output
    assert "Requests by" not in shown.stdout
    [table] = _json(*args)["breakdowns"]
    assert (table["requests"], table["rows"], table["other"]) == (0, [], None)
