"""Times as people type them (--since/--until/--split-at) and the zone times are shown in
(--tz), with a fixed clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logtrace.analysis.derive import Filters
from logtrace.cli import app
from logtrace.errors import ExitStatus, UsageError
from logtrace.render.console import Environment, use_environment
from logtrace.when import DayTime, parse_when, parse_zone

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 8, 6, tzinfo=UTC)  # 10:06 at +02:00, where the log below is
runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("-15m", NOW - timedelta(minutes=15)),
        ("-2h", NOW - timedelta(hours=2)),
        ("-1d", NOW - timedelta(days=1)),
        ("-30s", NOW - timedelta(seconds=30)),
        ("-1w", NOW - timedelta(weeks=1)),
        ("-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("15m ago", NOW - timedelta(minutes=15)),
        ("2 hours ago", NOW - timedelta(hours=2)),
        ("1 day ago", NOW - timedelta(days=1)),
        ("2026-11-26T03:57:00+03:30", datetime(2026, 11, 26, 0, 27, tzinfo=UTC)),
        ("2026-11-26T03:57:00Z", datetime(2026, 11, 26, 3, 57, tzinfo=UTC)),
        ("22/Jan/2019:03:57:00 +0330", datetime(2019, 1, 22, 0, 27, tzinfo=UTC)),
        ("2019-01-22 03:57", datetime(2019, 1, 22, 3, 57)),  # no zone: as the logs show it
        ("22/Jan/2019:03:57:00", datetime(2019, 1, 22, 3, 57)),
    ],
)
def test_instants_and_dates_are_read_against_the_clock(text: str, expected: datetime) -> None:
    assert parse_when(text, "--since", NOW) == expected


@pytest.mark.parametrize(
    ("text", "clock", "days_ago"),
    [
        ("10:03", time(10, 3), 0),
        ("10:03:30", time(10, 3, 30), 0),
        ("9:05:01.250", time(9, 5, 1, 250000), 0),
        ("today", time(0), 0),
        ("yesterday", time(0), 1),
        ("Yesterday 18:00", time(18), 1),
        ("today 23:59:59", time(23, 59, 59), 0),
    ],
)
def test_times_of_day_wait_for_the_logs_offset(text: str, clock: time, days_ago: int) -> None:
    assert parse_when(text, "--since", NOW) == DayTime(clock, days_ago, NOW)


def test_a_time_of_day_is_today_in_the_offset_it_is_read_in() -> None:
    # 01:00 UTC on the 27th is still the 26th at -03:30: 10:03 there is 13:33 UTC on the 26th
    late = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    ten = parse_when("10:03", "--since", late)
    assert isinstance(ten, DayTime)
    assert ten.at(-timedelta(hours=3, minutes=30)) == datetime(2026, 11, 26, 13, 33, tzinfo=UTC)
    assert ten.at(None) == datetime(2026, 11, 27, 10, 3, tzinfo=UTC)
    assert ten.at(timedelta(hours=2)) == datetime(2026, 11, 27, 8, 3, tzinfo=UTC)
    yesterday = parse_when("yesterday", "--since", late)
    assert isinstance(yesterday, DayTime)
    assert yesterday.at(timedelta(hours=2)) == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["blah", "", "25:00", "10:60", "-15", "10:03:61", "-15x"])
def test_unreadable_times_are_usage_errors_listing_the_forms(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_when(text, "--since", NOW)
    assert err.value.exit_status == ExitStatus.USAGE
    assert "-15m" in (err.value.hint or "") or "unit" in str(err.value)


@pytest.mark.parametrize(
    ("text", "name", "shown"),
    [
        ("UTC", "UTC", "08:06"),
        ("utc", "UTC", "08:06"),
        ("+05:30", "+05:30", "13:36"),
        ("-0330", "-03:30", "04:36"),
        ("+00:00", "UTC", "08:06"),
        ("Europe/Berlin", "Europe/Berlin", "09:06"),  # CET in November
        ("America/St_Johns", "America/St_Johns", "04:36"),
    ],
)
def test_zones_show_an_instant_on_their_clocks(text: str, name: str, shown: str) -> None:
    zone = parse_zone(text)
    assert zone.name == name
    assert zone.show(NOW).strftime("%H:%M") == shown


def test_the_local_zone_is_the_machines() -> None:
    zone = parse_zone("local")
    assert zone.show(NOW) == NOW.astimezone()


@pytest.mark.parametrize("text", ["Mars/Base", "+25:00", "nowhere", "12", ""])
def test_unknown_zones_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="is not a time zone") as err:
        parse_zone(text)
    assert err.value.exit_status == ExitStatus.USAGE


def test_times_of_day_out_of_order_fail_before_the_logs_are_read() -> None:
    with pytest.raises(UsageError, match=r"--since 10:05:00 is not before --until 10:03:00"):
        Filters(since=parse_when("10:05", "", NOW), until=parse_when("10:03", "", NOW))
    # yesterday 18:00 is before today 10:03 whatever the offset
    Filters(since=parse_when("yesterday 18:00", "", NOW), until=parse_when("10:03", "", NOW))


def test_a_time_of_day_and_a_date_are_compared_once_read() -> None:
    filters = Filters(since=parse_when("10:03", "", NOW), until=datetime(2026, 11, 26, 10, 4))
    read = filters.in_offset(timedelta(hours=2), "the offset the logs write")
    assert read.instants == (
        datetime(2026, 11, 26, 8, 3, tzinfo=UTC),
        datetime(2026, 11, 26, 8, 4, tzinfo=UTC),
    )
    assert read.today == datetime(2026, 11, 26).date()
    with pytest.raises(UsageError, match="is not before"):
        Filters(since=parse_when("10:03", "", NOW), until=datetime(2026, 11, 26, 10, 2)).in_offset(
            timedelta(hours=2), "x"
        )


# A log written at +02:00, one request a line, ending at these local times.
ENDS = ["10:01:00", "10:02:59", "10:03:00", "10:04:10", "10:05:00"]
SECONDS = [0.1, 0.2, 0.3, 0.4, 0.5]
LAST_ID = f"{len(ENDS):032x}"  # the slowest, ending at 10:05:00


def log_text() -> str:
    return "".join(
        f'10.0.0.1 - - [26/Nov/2026:{end} +0200] "GET /api/items/{i} HTTP/1.1" 200 5 "-" '
        f'"curl/8" {took:.3f} {took:.3f} {i + 1:032x}\n'
        for i, (end, took) in enumerate(zip(ENDS, SECONDS, strict=True))
    )


@pytest.fixture
def access_log(tmp_path: Path) -> Path:
    path = tmp_path / "web-1.log"
    path.write_text(log_text())
    return path


def invoke(*args: str, now: datetime = NOW) -> tuple[int, str]:
    with use_environment(Environment(now=now)):
        result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def requests_kept(log: Path, *options: str, now: datetime = NOW) -> int:
    code, out = invoke("analyze", str(log), "--preset", "trace", "--json", *options, now=now)
    assert code == 0, out
    return int(json.loads(out)["requests"])


def ended_at_or_after(local: str) -> int:
    return sum(end >= local for end in ENDS)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--since", "10:03"], ended_at_or_after("10:03:00")),  # 3: 10:03:00 is kept
        (["--since", "10:03:01"], ended_at_or_after("10:03:01")),
        (["--until", "10:03"], len(ENDS) - ended_at_or_after("10:03:00")),
        (["--since", "10:02:59", "--until", "10:04:10"], 2),
        (["--since", "-3m"], ended_at_or_after("10:03:00")),  # now is 10:06 at +02:00
        (["--since", "3 minutes ago", "--until", "now"], ended_at_or_after("10:03:00")),
        (["--since", "today"], len(ENDS)),
        (["--since", "yesterday", "--until", "today"], 0),
        (["--since", "2026-11-26T08:03:00Z"], ended_at_or_after("10:03:00")),
        (["--since", "26/Nov/2026:10:03:00 +0200"], ended_at_or_after("10:03:00")),
    ],
)
def test_analyze_keeps_the_requests_the_time_says(
    access_log: Path, options: list[str], expected: int
) -> None:
    assert requests_kept(access_log, *options) == expected


def test_a_time_of_day_is_on_the_logs_day_not_utcs(access_log: Path) -> None:
    # 23:30 UTC on the 25th is already the 26th at +02:00, where the logs are
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert requests_kept(access_log, "--since", "10:03", now=late) == ended_at_or_after("10:03")


@pytest.mark.parametrize(
    "options",
    [
        ["--since", "10:04", "--until", "10:03"],
        ["--since", "-1m", "--until", "-2m"],
        ["--since", "now", "--until", "10:03"],  # now is 10:06 there: known once read
        ["--since", "2026-11-26 10:04", "--until", "10:03"],
    ],
)
def test_since_after_until_is_exit_2_with_a_hint(access_log: Path, options: list[str]) -> None:
    code, out = invoke("analyze", str(access_log), "--preset", "trace", *options)
    assert code == ExitStatus.USAGE, out
    assert "is not before --until" in out
    assert "hint:" in out


def test_an_unreadable_time_is_exit_2_listing_the_forms(access_log: Path) -> None:
    code, out = invoke("analyze", str(access_log), "--since", "half past ten")
    assert code == ExitStatus.USAGE
    assert "'half past ten' is not a time" in out
    assert "-15m" in out
    assert "10:03" in out


def test_a_bad_zone_is_exit_2_before_any_reading(tmp_path: Path) -> None:
    code, out = invoke("analyze", str(tmp_path / "missing.log"), "--tz", "Mars/Base")
    assert code == ExitStatus.USAGE
    assert "--tz 'Mars/Base' is not a time zone" in out


def shown_lines(out: str, start: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.startswith(start)]


@pytest.mark.parametrize(
    ("tz", "first", "last", "note"),
    [
        ([], "10:01:00", "10:05:00 +02:00", "Times in +02:00: the offset the logs write"),
        (["--tz", "UTC"], "08:01:00", "08:05:00 UTC", "Times in UTC (--tz)."),
        (["--tz", "-03:30"], "04:31:00", "04:35:00 -03:30", "Times in -03:30 (--tz)."),
        (["--tz", "Asia/Kolkata"], "13:31:00", "13:35:00 Asia/Kolkata", "(--tz)"),
    ],
)
def test_tz_changes_the_times_the_report_shows(
    access_log: Path, tz: list[str], first: str, last: str, note: str
) -> None:
    code, out = invoke("analyze", str(access_log), "--preset", "trace", "--every", "1m", *tz)
    assert code == 0, out
    # whole-second logs: the first request started 0.1 s before its line, at ≈10:00:59
    start = (datetime.strptime(first, "%H:%M:%S") - timedelta(seconds=1)).strftime("%H:%M:%S")
    assert shown_lines(out, "Time range:") == [
        f"Time range: ≈2026-11-26 {start} → 2026-11-26 {last}  (≈4m00s)"
    ]
    assert note in out
    zone = last.split(" ", 1)[1]
    assert f"time ({zone})" in out  # the slowest requests' column
    assert f"start ({zone})" in out  # the buckets'
    slowest = [line for line in out.splitlines() if LAST_ID in line]
    assert slowest[0].split()[0] == last.split(maxsplit=1)[0]
    bucket_starts = [line.split()[0] for line in out.splitlines() if line[:3].strip().isdigit()]
    assert first[:-2] + "00" in bucket_starts


def test_json_stays_in_utc_whatever_tz(access_log: Path) -> None:
    args = ["analyze", str(access_log), "--preset", "trace", "--json"]
    code, out = invoke(*args, "--tz", "Asia/Kolkata")
    assert code == 0, out
    assert json.loads(out)["time_range"]["end"] == "2026-11-26T08:05:00+00:00"
    assert out == invoke(*args)[1]


def test_filters_are_shown_in_the_zone_shown(access_log: Path) -> None:
    _, out = invoke("analyze", str(access_log), "--preset", "trace", "--since", "10:03")
    assert "--since 2026-11-26 10:03:00 +02:00" in out
    _, out = invoke(
        "analyze", str(access_log), "--preset", "trace", "--since", "10:03", "--tz", "UTC"
    )
    text = " ".join(out.split())
    assert "--since 2026-11-26 08:03:00 UTC" in text
    assert "times without a zone read in +02:00 (the offset the logs write)" in text


def test_a_time_of_day_that_selects_none_says_which_day_it_was(access_log: Path) -> None:
    week_later = NOW + timedelta(days=7)
    code, out = invoke(
        "analyze", str(access_log), "--preset", "trace", "--since", "10:03", now=week_later
    )
    assert code == 0, out
    text = " ".join(out.split())
    assert "matched none of the 5 requests" in text
    assert "2026-12-03" in text  # today, where the logs are
    assert "'2026-11-26 10:03'" in text  # what to type instead


def test_compare_splits_at_a_time_of_day(access_log: Path) -> None:
    code, out = invoke(
        "compare", str(access_log), "--preset", "trace", "--split-at", "10:03", "--json"
    )
    assert code == 0, out
    doc = json.loads(out)
    assert doc["before"]["requests"] == len(ENDS) - ended_at_or_after("10:03:00")
    assert doc["after"]["requests"] == ended_at_or_after("10:03:00")
    code, out = invoke(
        "compare", str(access_log), "--preset", "trace", "--split-at", "10:03", "--tz", "UTC"
    )
    assert "Before: 2 requests, 2026-11-26 08:00:59.900 → 2026-11-26 08:02:59 UTC" in out


def test_trace_header_is_in_the_zone_shown(access_log: Path) -> None:
    args = ["trace", LAST_ID, str(access_log), "--preset", "trace", "--no-flow"]
    _, out = invoke(*args)
    assert f"Trace {LAST_ID}  started 2026-11-26 10:05:00 +02:00" in out.splitlines()[0]
    _, out = invoke(*args, "--tz", "UTC")
    assert f"Trace {LAST_ID}  started 2026-11-26 08:05:00 UTC" in out.splitlines()[0]


def test_stdin_reads_times_in_its_own_offset(access_log: Path) -> None:
    env = {**os.environ, "LOGTRACE_NOW": NOW.isoformat(), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "logtrace", "analyze", "--preset", "trace"]
    done = subprocess.run(
        [*command, "--since", "10:03", "--json"],
        input=access_log.read_bytes(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["requests"] == ended_at_or_after("10:03:00")
    assert doc["filters"]["zone"] == "+02:00 (the offset the logs write)"
    done = subprocess.run(
        [*command, "-"],
        input=access_log.read_bytes(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "Times in +02:00: the offset the logs write" in done.stdout.decode()


def test_logs_in_different_offsets_are_shown_in_utc(access_log: Path, tmp_path: Path) -> None:
    other = tmp_path / "web-2.log"
    other.write_text(log_text().replace("+0200", "+0100"))
    _, out = invoke("analyze", str(access_log), str(other), "--preset", "trace")
    assert "Times in UTC: the logs write different offsets" in out
