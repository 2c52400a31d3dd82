"""logtrace top's engine: following files (tail -F), the rolling windows, traces as they
complete, and the command in a pipe (one plain line a second, the summary, exit codes)."""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from logtrace.analysis.percentiles import nearest_rank
from logtrace.cli import app
from logtrace.live.follow import BACKLOG_BYTES, TRUNCATED, Follower, follow_specs
from logtrace.live.traces import HOLD_S, Traces
from logtrace.live.windows import SPAN_S, Windows
from logtrace.sources import Source
from tests.conftest import shell_signals

T0 = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
FORMAT = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" rt=$request_time'
)


def nginx_line(i: int, when: datetime, status: int = 200, rt: float = 0.01) -> str:
    return (
        f'10.0.0.1 - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET /api/users/{i} HTTP/1.1" '
        f'{status} 12 "-" "curl/8" rt={rt:.3f}\n'
    )


_started: list[Follower] = []


@pytest.fixture(autouse=True)
def _close_followers() -> Iterator[None]:
    yield
    while _started:
        _started.pop().close()


def start(sources: list[Source], backlog: int = BACKLOG_BYTES) -> Follower:
    _started.append(Follower.start(sources, backlog=backlog))
    return _started[-1]


def specs(given: list[str]) -> Follower:
    _started.append(follow_specs(given))
    return _started[-1]


def polled(follower: Follower) -> bytes:
    return b"".join(lines.data for lines in follower.poll())


def source(path: Path) -> Source:
    return Source(str(path), "web", "web")


# --- following ---------------------------------------------------------------------------


def test_appended_lines_are_read_once(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"one\ntwo\n")
    follower = start([source(log)])
    assert polled(follower) == b"one\ntwo\n"
    assert polled(follower) == b""
    with log.open("ab") as f:
        f.write(b"three\n")
    batch = follower.poll()
    assert [(b.data, b.first_line_no) for b in batch] == [(b"three\n", 3)]


def test_a_half_written_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"one\ntw")
    follower = start([source(log)])
    assert polled(follower) == b"one\n"
    assert polled(follower) == b""  # held, not rejected
    with log.open("ab") as f:
        f.write(b"o\nthr")
    assert polled(follower) == b"two\n"
    with log.open("ab") as f:
        f.write(b"ee\n")
    assert polled(follower) == b"three\n"


def test_rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one(
    tmp_path: Path,
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"a1\n")
    follower = start([source(log)])
    assert polled(follower) == b"a1\n"
    with log.open("ab") as f:
        f.write(b"a2\n")  # written before the writer reopened
    log.rename(tmp_path / "access.log.1")
    log.write_bytes(b"b1\nb2\n")
    assert polled(follower) == b"a2\nb1\nb2\n"
    assert follower.rotations == 1
    with log.open("ab") as f:
        f.write(b"b3\n")
    assert polled(follower) == b"b3\n"


def test_a_path_missing_between_rename_and_reopen_is_waited_for(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"a1\n")
    follower = start([source(log)])
    polled(follower)
    log.rename(tmp_path / "access.log.1")
    assert polled(follower) == b""
    log.write_bytes(b"b1\n")
    assert polled(follower) == b"b1\n"


def test_copytruncate_is_seen_as_a_shorter_file_and_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"first line\nsecond line\nhalf")
    follower = start([source(log)])
    assert polled(follower) == b"first line\nsecond line\n"
    with log.open("r+b") as f:
        f.truncate(0)
    with log.open("ab") as f:
        f.write(b"new\n")
    assert polled(follower) == b"new\n"
    assert follower.rotations == 1
    assert follower.dropped == {TRUNCATED: 1}  # the half line went with the old content


def test_a_directory_picks_up_new_log_files_but_not_rotations(tmp_path: Path) -> None:
    (tmp_path / "old.log.1").write_bytes(b"rotated\n")
    (tmp_path / "web.log").write_bytes(b"w1\n")
    follower = specs([str(tmp_path)])
    assert [(Path(b.source.path).name, b.data) for b in follower.poll()] == [("web.log", b"w1\n")]
    (tmp_path / "api.log").write_bytes(b"x1\nx2\n")
    (tmp_path / "api.log.2.gz").write_bytes(b"not followed\n")
    got = [(Path(b.source.path).name, b.data) for b in follower.poll()]
    assert got == [("api.log", b"x1\nx2\n")]
    # a followed file renamed to another *.log name is not read again as a new one
    (tmp_path / "web.log").rename(tmp_path / "web-old.log")
    (tmp_path / "web.log").write_bytes(b"w2\n")
    got = [(Path(b.source.path).name, b.data) for b in follower.poll()]
    assert got == [("web.log", b"w2\n")]


def test_only_the_end_of_a_big_existing_file_is_read_from_a_line_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(b"line %04d\n" % i for i in range(100)))
    follower = start([source(log)], backlog=25)  # 2.5 lines: the last two whole
    assert polled(follower) == b"line 0098\nline 0099\n"


# --- windows -----------------------------------------------------------------------------


def feed(rows: Sequence[tuple[datetime, float | None, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time": [r[0] for r in rows],
            "request_time_s": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "route": [r[3] for r in rows],
            "method": ["GET"] * len(rows),
            "path": [r[3] for r in rows],
        },
        schema={
            "time": pl.Datetime("us", "UTC"),
            "request_time_s": pl.Float64,
            "status": pl.UInt16,
            "route": pl.String,
            "method": pl.String,
            "path": pl.String,
        },
    )


def test_windows_count_the_last_1_5_and_15_minutes_of_log_time_exactly() -> None:
    rng = random.Random(7)
    rows = []
    for s in range(20 * 60):  # 20 minutes, 3 requests a second
        for k in range(3):
            status = 500 if (s + k) % 37 == 0 else 404 if (s + k) % 11 == 0 else 200
            rows.append((T0 + timedelta(seconds=s), rng.randint(0, 900) / 1000, status, "/a"))
    windows = Windows()
    for i in range(0, len(rows), 500):  # in batches, as polls deliver them
        windows.add(feed(rows[i : i + 500]))
    now = T0 + timedelta(seconds=20 * 60 - 1)
    for seconds in (60, 300, 900):
        inside = [r for r in rows if r[0] > now - timedelta(seconds=seconds)]
        w = windows.window(seconds)
        times = [r[1] for r in inside]
        assert w.requests == len(inside) == 3 * seconds
        assert w.rate == 3.0
        assert w.s4xx == sum(1 for r in inside if r[2] == 404)
        assert w.s5xx == sum(1 for r in inside if r[2] == 500)
        # one bin per millisecond under 1 s: the percentiles are the logged values
        assert w.p50_s == nearest_rank(times, 0.5)
        assert w.p95_s == nearest_rank(times, 0.95)
        assert w.p99_s == nearest_rank(times, 0.99)
    every = [r[1] for r in rows]
    assert windows.overall_percentiles()[0] == nearest_rank(every, 0.5)
    assert windows.requests == len(rows)


def test_times_over_a_second_are_within_half_a_percent() -> None:
    values = [1.0, 1.234, 2.5, 7.77, 31.4, 250.0]
    windows = Windows()
    windows.add(feed([(T0, v, 200, "/slow") for v in values]))
    _, _, _, top = windows.overall_percentiles()
    assert top is not None
    assert abs(top - 250.0) / 250.0 <= 0.005
    for q in (0.5, 0.95):
        got = windows.window(60)
        value = got.p50_s if q == 0.5 else got.p95_s
        expected = nearest_rank(values, q)
        assert value is not None
        assert abs(value - expected) / expected <= 0.005


def test_rates_are_per_second_covered_while_the_log_is_younger_than_the_window() -> None:
    windows = Windows()
    windows.add(feed([(T0 + timedelta(seconds=s), 0.01, 200, "/") for s in range(10)]))
    w = windows.window(300)
    assert (w.requests, w.covered_s, w.rate) == (10, 10, 1.0)


def test_top_routes_rank_by_total_time_and_the_slowest_requests_are_kept() -> None:
    windows = Windows()
    rows = [(T0, 0.1, 200, "/many") for _ in range(10)]  # 1.0 s in all
    rows += [(T0, 0.6, 502, "/few"), (T0, 0.7, 200, "/few")]  # 1.3 s
    windows.add(feed(rows))
    routes = windows.top_routes(300, 5)
    assert routes.get_column("route").to_list() == ["/few", "/many"]
    assert routes.get_column("requests").to_list() == [2, 10]
    assert routes.get_column("s5xx").to_list() == [1, 0]
    slow = windows.slowest(60, 2)
    assert slow.get_column("request_time_s").to_list() == [0.7, 0.6]


def test_a_route_mean_counts_only_the_requests_that_logged_a_time() -> None:
    windows = Windows()
    rows = [(T0, 0.2, 200, "/mixed"), (T0, None, 200, "/mixed"), (T0, 0.4, 200, "/mixed")]
    rows += [(T0, None, 200, "/untimed")]
    windows.add(feed(rows))
    routes = {r["route"]: r for r in windows.top_routes(300, 5).iter_rows(named=True)}
    assert routes["/mixed"]["requests"] == 3
    assert routes["/mixed"]["mean_s"] == pytest.approx(0.3)
    assert routes["/mixed"]["share"] == pytest.approx(1.0)
    assert routes["/untimed"]["mean_s"] is None  # shown as -, not 0 ms
    only_untimed = Windows()
    only_untimed.add(feed([(T0, None, 200, "/a")]))
    assert only_untimed.top_routes(300, 5).item(0, "share") is None


def test_window_state_does_not_grow_with_lines_past_15_minutes() -> None:
    rng = random.Random(3)
    windows = Windows()
    sizes = {}
    for minute in range(45):
        start = T0 + timedelta(minutes=minute)
        rows = [
            (start + timedelta(seconds=rng.randrange(60)), rng.randint(0, 3000) / 1000, 200, "/r")
            for _ in range(1200)
        ]
        windows.add(feed(rows))
        sizes[minute] = windows.state_rows()
    assert windows.now is not None
    assert windows.hist.get_column("second").min() > windows.now - SPAN_S  # type: ignore[operator]
    # the state after 45 minutes (54,000 lines) is that of any 15 minutes, give or take
    assert sizes[44] <= 1.1 * sizes[16]
    assert sizes[44] < 54_000 / 2


# --- traces ------------------------------------------------------------------------------


def test_a_trace_completes_hold_seconds_after_its_nginx_line_with_each_services_time() -> None:
    traces = Traces()
    app = pl.DataFrame(
        {
            "request_id": ["r1", "r1", "r2"],
            "service": ["api", "api", "api"],
            "time": [T0, T0 + timedelta(milliseconds=300), T0],
            "event": ["server_start", "server", "server"],
            "duration_s": [None, 0.3, 0.05],
        },
        schema_overrides={"time": pl.Datetime("us", "UTC")},
    )
    traces.add_app(app)
    nginx = pl.DataFrame(
        {
            "request_id": ["r1"],
            "service": ["edge"],
            "time": [T0 + timedelta(seconds=1)],
            "request_time_s": [0.42],
            "route": ["/api/orders/{id}"],
            "status": [200],
        },
        schema_overrides={"time": pl.Datetime("us", "UTC"), "status": pl.UInt16},
    )
    traces.add_nginx(nginx)
    second = int((T0 + timedelta(seconds=1)).timestamp())
    traces.complete(second + HOLD_S - 1)
    assert traces.completed == 0
    traces.complete(second + HOLD_S)
    assert traces.completed == 1
    row = traces.slowest(5).row(0, named=True)
    assert (row["request_id"], row["total_s"], row["route"]) == ("r1", 0.42, "/api/orders/{id}")
    assert row["services"] == [
        {"service": "edge", "time_s": 0.42},
        {"service": "api", "time_s": 0.3},
    ]
    assert traces.pending.get_column("request_id").to_list() == ["r2"]  # still unclaimed
    traces.complete(second + 120)
    assert traces.pending.is_empty()
    assert traces.dropped == 1


def test_a_named_pipe_is_followed_without_blocking_until_it_ends(tmp_path: Path) -> None:
    fifo = tmp_path / "access.log"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # held open: the follower's open does not wait
    follower = specs([str(fifo)])
    got: list[bytes] = []

    def poll() -> None:  # in a thread: a read that blocked would fail the test, not hang it
        got.append(polled(follower))

    def polled_within(seconds: float = 30) -> bytes:
        reader = threading.Thread(target=poll, daemon=True)
        reader.start()
        reader.join(seconds)
        assert not reader.is_alive(), "a poll waited for the pipe"
        return got.pop()

    try:
        assert polled_within() == b""  # nothing written yet
        os.write(writer, nginx_line(1, T0).encode() + b"half a li")
        assert polled_within() == nginx_line(1, T0).encode()
        os.write(writer, b"ne\n")
    finally:
        os.close(writer)
    rest = b""
    for _ in range(100):
        rest += polled_within()
        if follower.ended:
            break
    assert follower.ended
    assert rest == b"half a line\n"


# --- the command, in a pipe --------------------------------------------------------------


def test_top_on_stdin_prints_plain_lines_and_a_summary_equal_to_analyze(tmp_path: Path) -> None:
    lines = [
        nginx_line(i, T0 + timedelta(seconds=i // 5), 500 if i % 25 == 0 else 200, i % 97 / 1000)
        for i in range(400)
    ]
    text = "".join(lines) + "not a log line\n" + lines[0].rstrip("\n")  # no newline at EOF
    log = tmp_path / "access.log"
    log.write_text(text)
    runner = CliRunner()
    top = runner.invoke(app, ["top", "-f", FORMAT, "-"], input=text)
    assert top.exit_code == 0, top.output
    report = runner.invoke(app, ["analyze", "--json", "-f", FORMAT, str(log)])
    latency = json.loads(report.stdout)["latency"]
    out = top.stdout.splitlines()
    plain = [ln for ln in out if ln.startswith("time=")]
    assert plain, out
    assert "requests=401" in plain[-1] and "rejected=1" in plain[-1]
    assert "lines read from 1 input, 1 rejected, 401 requests" in top.stdout
    expected = (
        f"p50 {latency['p50_s'] * 1000:.0f} ms, p95 {latency['p95_s'] * 1000:.0f} ms, "
        f"p99 {latency['p99_s'] * 1000:.0f} ms"
    )
    assert expected in top.stdout
    assert latency["count"] == 401


def test_top_reads_a_container_runtimes_lines_as_the_plain_ones() -> None:
    lines = [nginx_line(i, T0 + timedelta(seconds=i // 5), rt=i % 97 / 1000) for i in range(300)]
    cri = "".join(
        f"2026-12-03T12:00:{i // 5:02d}.{i:09d}Z stdout F {ln}" for i, ln in enumerate(lines)
    )
    runner = CliRunner()
    plain = runner.invoke(app, ["top", "-f", FORMAT, "-"], input="".join(lines))
    wrapped = runner.invoke(app, ["top", "-f", FORMAT, "-"], input=cri)
    assert wrapped.exit_code == plain.exit_code == 0, wrapped.output
    summary = [ln for ln in plain.stdout.splitlines() if "lines read from" in ln]
    assert summary and "300 requests" in summary[0] and "0 rejected" in summary[0]
    assert [ln for ln in wrapped.stdout.splitlines() if "lines read from" in ln] == summary


def test_top_shows_times_in_the_zone_of_tz() -> None:
    text = "".join(nginx_line(i, T0 + timedelta(seconds=i), rt=0.002) for i in range(3))
    last = T0 + timedelta(seconds=2)
    runner = CliRunner()
    utc = runner.invoke(app, ["top", "-f", FORMAT, "-"], input=text)
    shifted = runner.invoke(app, ["top", "--tz", "+05:30", "-f", FORMAT, "-"], input=text)
    assert utc.exit_code == shifted.exit_code == 0, shifted.output
    assert f"time={last.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z" in utc.stdout
    local = last.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert f"time={local.isoformat(timespec='seconds')}" in shifted.stdout
    assert f"to {local:%H:%M:%S} +05:30" in shifted.stdout


def test_analyze_follow_is_the_same_view() -> None:
    text = "".join(nginx_line(i, T0, rt=0.002) for i in range(5))
    result = CliRunner().invoke(app, ["analyze", "--follow", "-f", FORMAT, "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "5 requests" in result.stdout
    assert "p50 2 ms" in result.stdout


@pytest.mark.parametrize(
    "extra", [["--json"], ["--every", "1m"], ["--fail-if", "p99>1s"], ["--export-csv", "x.csv"]]
)
def test_analyze_follow_refuses_the_options_of_a_finished_report(extra: list[str]) -> None:
    args = ["analyze", "--follow", *extra, "-f", FORMAT, "-"]
    result = CliRunner().invoke(app, args, input="")
    assert result.exit_code == 2
    assert f"--follow cannot be combined with {extra[0]}" in result.stderr


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["top", str(tmp_path / "nope.log")])
    assert result.exit_code == 3
    assert "no such file" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a POSIX system")
@pytest.mark.parametrize(
    ("signame", "code", "said"),
    [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up")],
)
def test_a_signal_without_a_terminal_ends_after_the_summary_with_its_exit_code(
    tmp_path: Path, signame: str, code: int, said: str
) -> None:
    import signal
    import subprocess
    import sys
    import time

    log = tmp_path / "access.log"
    log.write_text("".join(nginx_line(i, T0) for i in range(3)))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "logtrace", "top", "-f", FORMAT, str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        preexec_fn=shell_signals(),  # noqa: PLW1509  (signal dispositions only, no locks taken)
    )
    try:
        deadline = time.monotonic() + 20
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first plain line: following has begun
        assert "requests=3" in first
        assert time.monotonic() < deadline
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == code
    assert "3 requests" in out
    assert err.strip().splitlines()[-1] == f"logtrace: {said}"


def test_the_filters_keep_what_they_name() -> None:
    text = "".join(nginx_line(i, T0, 500 if i % 4 == 0 else 200) for i in range(20))
    result = CliRunner().invoke(app, ["top", "-f", FORMAT, "--status", "5xx", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "20 lines read from 1 input, 0 rejected, 5 requests" in result.stdout


def test_top_follows_each_container_of_a_compose_stream(tmp_path: Path) -> None:
    """``docker compose logs -f > compose.log``: a log per container, each followed and
    parsed as its own; the line compose writes of its own counted once, rejected."""
    from logtrace.live.session import LiveOptions, LiveSession
    from logtrace.resolve import FormatOptions

    lines = [nginx_line(i, T0 + timedelta(seconds=i // 5), rt=i % 97 / 1000) for i in range(300)]
    text = "Attaching to edge-1, edge-2\n" + "".join(
        f"edge-{1 + i % 2}  | {ln}" for i, ln in enumerate(lines)
    )
    log = tmp_path / "compose.log"
    log.write_text(text)
    follower = specs([str(log)])
    assert [t.source.label for t in follower.tails] == [f"{log}[edge-1]", f"{log}[edge-2]"]
    session = LiveSession(follower, LiveOptions(FormatOptions(log_format=FORMAT)))
    assert session.step() == 301
    with log.open("a") as f:
        f.write(f"edge-2  | {nginx_line(300, T0 + timedelta(seconds=61))}")
    assert session.step() == 1
    summary = session.summary()
    assert (summary.sources, summary.lines, summary.rejected, summary.requests) == (2, 302, 1, 301)


def test_top_joins_the_lines_a_container_runtime_cut() -> None:
    """A CRI line cut in parts (P, then F; stderr's lines between) counts as the line."""
    lines = [nginx_line(i, T0 + timedelta(seconds=i // 5), rt=i % 97 / 1000) for i in range(60)]
    cri = []
    for i, ln in enumerate(lines):
        stamp = f"2026-12-03T12:00:{i // 5:02d}.{i:09d}Z"
        if i % 10 == 3:  # in three parts, a stderr line between the first two
            body = ln.rstrip("\n")
            cri.append(f"{stamp} stdout P {body[:20]}\n")
            cri.append(f"{stamp} stderr F warning: slow\n")
            cri.append(f"{stamp} stdout P {body[20:50]}\n{stamp} stdout F {body[50:]}\n")
        else:
            cri.append(f"{stamp} stdout F {ln}")
    runner = CliRunner()
    plain = runner.invoke(app, ["top", "-f", FORMAT, "-"], input="".join(lines))
    wrapped = runner.invoke(app, ["top", "-f", FORMAT, "-"], input="".join(cri))
    assert wrapped.exit_code == plain.exit_code == 0, wrapped.output
    summary = [ln for ln in wrapped.stdout.splitlines() if "lines read from" in ln]
    assert summary and "60 requests" in summary[0] and "6 rejected" in summary[0], summary


def test_a_line_cut_in_parts_is_whole_when_its_rest_comes_in_a_later_step(
    tmp_path: Path,
) -> None:
    """The runtime wrote a line's first part (P) before the view looked, its last part
    (F) after: one line, one request, once the rest has come."""
    from logtrace.live.session import LiveOptions, LiveSession
    from logtrace.resolve import FormatOptions

    log = tmp_path / "0.log"
    body = nginx_line(0, T0).rstrip("\n")
    stamp = "2026-12-03T12:00:00.000000001Z"
    first = f"{stamp} stdout F {nginx_line(1, T0)}"
    log.write_text(first + f"{stamp} stdout P {body[:40]}\n")
    session = LiveSession(specs([str(log)]), LiveOptions(FormatOptions(log_format=FORMAT)))
    assert session.step() == 1  # the first line; the part waits for its rest
    with log.open("a") as f:
        f.write(f"{stamp} stdout F {body[40:]}\n")
    assert session.step() == 1
    summary = session.summary()
    assert (summary.lines, summary.rejected, summary.requests) == (2, 0, 2)
