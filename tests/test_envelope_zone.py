"""An app log in a container whose clock is in another zone: its times written without a
zone, its envelope's in UTC. The envelope says which offset the log's times are in, and
the log is read in it: the report of the same log written in UTC."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from logtrace.applog import AppFormat, AppLogOptions
from logtrace.applog.zone import MIN_ENTRIES, envelope_zone
from logtrace.envelope import ENVELOPE_TIME
from tests.test_envelope import SAMPLE, report

_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d{3})")
LOG = (SAMPLE / "inventory-1.log").read_text().splitlines()  # Python logging, no zone


def _written(line: str) -> datetime | None:
    found = _STAMP.match(line)
    if found is None:
        return None
    return datetime.strptime(f"{found[1]}.{found[2]}", "%Y-%m-%d %H:%M:%S.%f")


def wrapped(lines: list[str], *, offset: timedelta, delay: Any = lambda _i: 0.0003) -> str:
    """``lines`` (written in UTC) as a program whose clock is ``offset`` from UTC writes
    them, in CRI's envelope: each taken down ``delay(i)`` seconds after it was written
    (a traceback's lines with the entry they follow)."""
    out = []
    taken = datetime(2026, 11, 26)
    for i, line in enumerate(lines):
        written, shown = _written(line), line
        if written is not None:
            taken = written + timedelta(seconds=delay(i))
            shown = (written + offset).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3] + line[23:]
        stamp = taken.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
        out.append(f"{stamp} stdout F {shown}\n")
    return "".join(out)


def _same(plain: dict[str, Any], read: dict[str, Any]) -> None:
    for key in ("requests", "time_range", "latency", "routes", "error_rate"):
        assert read[key] == plain[key], key


@pytest.mark.parametrize(
    ("offset", "said"),
    [
        (timedelta(hours=2), "are 2 h ahead of the times its cri envelope gives"),
        (timedelta(hours=-3, minutes=-30), "are 3 h 30 min behind"),
        (timedelta(hours=5, minutes=45), "read in +05:45 instead"),
    ],
)
def test_a_log_written_in_its_containers_zone_is_read_in_it(
    tmp_path: Path, offset: timedelta, said: str
) -> None:
    (tmp_path / "inventory-1.log").write_text(wrapped(LOG, offset=offset))
    plain = report(str(SAMPLE / "inventory-1.log"))
    read = report(str(tmp_path / "inventory-1.log"), folder=tmp_path)
    _same(plain, read)
    (source,) = read["sources"]
    assert any(said in w for w in source["warnings"]), source["warnings"]


def test_a_log_in_the_zone_it_is_read_in_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "inventory-1.log").write_text(wrapped(LOG, offset=timedelta(0)))
    read = report(str(tmp_path / "inventory-1.log"), folder=tmp_path)
    _same(report(str(SAMPLE / "inventory-1.log")), read)
    assert not any("carry no zone" in w for w in read["sources"][0]["warnings"])


def test_a_zone_given_that_the_envelope_contradicts_gives_way(tmp_path: Path) -> None:
    """--timezone Asia/Kolkata (+05:30) for a log its container wrote in UTC."""
    (tmp_path / "inventory-1.log").write_text(wrapped(LOG, offset=timedelta(0)))
    read = report(str(tmp_path / "inventory-1.log"), "--timezone", "Asia/Kolkata", folder=tmp_path)
    _same(report(str(SAMPLE / "inventory-1.log")), read)
    (warning,) = [w for w in read["sources"][0]["warnings"] if "carry no zone" in w]
    assert "read in Asia/Kolkata (--timezone) they are 5 h 30 min behind" in warning
    assert warning.endswith("read in UTC instead")


def test_the_deployment_joins_as_written_in_utc(tmp_path: Path) -> None:
    """One host's app in a container two hours east: its spans in the same trees, the
    same services' times, as with every log in UTC."""
    logs = [SAMPLE / n for n in ("edge-1.access.log", "api-1.log", "api-2.log", "users-1.log")]
    (tmp_path / "inventory-1.log").write_text(wrapped(LOG, offset=timedelta(hours=2)))
    conf = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
    plain = report(*map(str, logs), str(SAMPLE / "inventory-1.log"), *conf)
    read = report(*map(str, logs), str(tmp_path / "inventory-1.log"), *conf, folder=tmp_path)
    _same(plain, read)
    assert read["services"] == plain["services"]


@pytest.mark.parametrize("block", [16 * 1024 * 1024, 16 * 1024])
@pytest.mark.parametrize(("before", "after"), [(2, 1), (0, 1)])
def test_a_log_whose_offset_changes_midway_follows_its_envelope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, before: int, after: int
) -> None:
    """A program whose clock changes by an hour partway (daylight saving time: +02:00 to
    +01:00 as it ends in eastern Europe, UTC to +01:00 as it begins in London): each
    entry is read in the offset its envelope's time shows, whatever chunk it is in (one,
    or chunks of a few hundred lines each, the first ones all before the change)."""
    from logtrace import sources

    monkeypatch.setattr(sources, "CHUNK_BYTES", block)
    half = len(LOG) // 2
    summer = wrapped(LOG[:half], offset=timedelta(hours=before))
    winter = wrapped(LOG[half:], offset=timedelta(hours=after))
    (tmp_path / "inventory-1.log").write_text(summer + winter)
    logs = [SAMPLE / n for n in ("edge-1.access.log", "api-1.log", "api-2.log", "users-1.log")]
    conf = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
    plain = report(*map(str, logs), str(SAMPLE / "inventory-1.log"), *conf)
    read = report(*map(str, logs), str(tmp_path / "inventory-1.log"), *conf, folder=tmp_path)
    _same(plain, read)
    assert read["services"] == plain["services"]
    (source,) = [s for s in read["sources"] if s["path"] == "inventory-1.log"]
    zoned = [w for w in source["warnings"] if "carry no zone" in w]
    if before:  # most of the first lines are before the change: the log's offset
        (said,) = zoned
        assert said.endswith(f"read in +0{before}:00 instead")
    else:  # in UTC, as they are read: nothing said of the zone
        assert zoned == []
    moved = sum(1 for line in LOG[half:] if _written(line) is not None)
    assert any(f"{moved:,} entries are an hour or less off" in w for w in source["warnings"])


def _lines(text: str) -> pl.DataFrame:
    """The frame ingest hands the zone check: each line out of its envelope."""
    from logtrace import envelope

    frame = pl.DataFrame({"line": text.splitlines()}).with_row_index("line_no", offset=1)
    return envelope.unwrap(frame, envelope.Envelope.CRI)


def test_lines_taken_down_late_or_few_or_zoneless_tell_no_zone() -> None:
    options = AppLogOptions()
    shifted = wrapped(LOG, offset=timedelta(hours=2))
    assert envelope_zone(_lines(shifted), AppFormat.PYTHON_LOGGING, options) is not None
    rng = random.Random(7)
    late = wrapped(LOG, offset=timedelta(hours=2), delay=lambda _i: rng.uniform(0, 3600))
    assert envelope_zone(_lines(late), AppFormat.PYTHON_LOGGING, options) is None  # buffered
    few = "".join(shifted.splitlines(keepends=True)[:9])
    assert envelope_zone(_lines(few), AppFormat.PYTHON_LOGGING, options) is None
    days = wrapped(LOG, offset=timedelta(days=3, hours=2))  # no zone is that far off
    assert envelope_zone(_lines(days), AppFormat.PYTHON_LOGGING, options) is None
    frame = _lines(shifted)
    assert envelope_zone(frame.drop(ENVELOPE_TIME), AppFormat.PYTHON_LOGGING, options) is None
    zoneless = frame.with_columns(pl.col(ENVELOPE_TIME).str.slice(0, 19))
    assert envelope_zone(zoneless, AppFormat.PYTHON_LOGGING, options) is None  # says no zone itself


CORPUS = sorted((Path(__file__).parent / "fixtures" / "app-log-shapes").glob("*.log"))


def _taken(log: Path, shift: timedelta) -> tuple[list[str], int] | None:
    """Each line of a genuine log with the time a runtime would have taken it down: its
    entry's own time (a zoneless one as UTC) plus 2 ms, plus ``shift``; and how many of
    its entries write a time without a zone. None for a log logtrace reads no time from."""
    from logtrace.applog import detect_app_format, parse_app_chunk

    lines = log.read_bytes().decode("utf-8", "backslashreplace").splitlines()
    frame = pl.DataFrame({"line": lines}).with_row_index("line_no", offset=1)
    frame = frame.with_columns(pl.col("line").replace("", None))
    fmt, _, _ = detect_app_format(frame)
    if fmt is None:
        return None
    parsed = parse_app_chunk(frame, fmt, AppLogOptions()).lines
    if parsed.is_empty():
        return None
    times = dict(parsed.select("line_no", "time").iter_rows())
    stamps, last = [], min(t for t in times.values() if t is not None)
    for n in range(1, len(lines) + 1):
        last = times.get(n) or last
        at = last + timedelta(milliseconds=2) + shift
        stamps.append(at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "001Z")
    return stamps, _zoneless(frame, fmt)


def _zoneless(frame: pl.DataFrame, fmt: AppFormat) -> int:
    """How many of a log's entries write a time without a zone (as zone.py reads them)."""
    from logtrace.applog.entries import split_entries
    from logtrace.applog.fields import entry_fields
    from logtrace.applog.times import ZONED, parse_times

    raw = entry_fields(split_entries(frame, fmt).starts, fmt, AppLogOptions())
    timed = parse_times(raw, "UTC", zoned=True).filter(pl.col("time").is_not_null())
    return timed.filter(~pl.col(ZONED)).height


DATED = [log for log in CORPUS if _taken(log, timedelta(0)) is not None]


def test_most_genuine_logs_write_dated_entries() -> None:
    """The logs the test below leaves out: no app entry with a date of its own (a time of
    day, none at all, or nginx-like lines: read by other tests)."""
    assert len(DATED) == 23 and len(CORPUS) == 34


@pytest.mark.parametrize("log", DATED, ids=lambda p: p.name)
def test_genuine_logs_in_an_envelope_keep_their_times_or_take_its_zone(
    tmp_path: Path, log: Path
) -> None:
    """34 logging setups' own output, each in CRI's envelope taken down 2 ms after each
    entry's time: read as the plain file, no zone said. Taken down as if the program's
    clock were two hours east: a log that writes its zone keeps its times; one that
    writes none is read in +02:00 when it has enough entries to tell."""
    lines = log.read_bytes().decode("utf-8", "backslashreplace").splitlines()
    told = _taken(log, timedelta(0))
    assert told is not None
    stamps, _ = told
    (tmp_path / "same.log").write_text(
        "".join(f"{t} stdout F {ln}\n" for t, ln in zip(stamps, lines, strict=True))
    )
    plain = report(str(log), folder=log.parent)
    same = report(str(tmp_path / "same.log"), folder=tmp_path)
    _same(plain, same)
    assert not any("carry no zone" in w for w in same["sources"][0]["warnings"])
    shifted, zoneless = _taken(log, timedelta(hours=-2)) or ([], 0)
    (tmp_path / "east.log").write_text(
        "".join(f"{t} stdout F {ln}\n" for t, ln in zip(shifted, lines, strict=True))
    )
    east = report(str(tmp_path / "east.log"), folder=tmp_path)
    said = any("read in +02:00 instead" in w for w in east["sources"][0]["warnings"])
    assert said == (zoneless >= MIN_ENTRIES), zoneless
    if not said:
        _same(plain, east)


_PROGRAM = r"""
import logging, secrets, sys, time
logging.basicConfig(
    stream=sys.stdout, level=logging.INFO,
    format="%(asctime)s %(levelname)s inventory %(message)s",
)
for i in range(30):
    took = 2.0 + i % 5
    time.sleep(took / 1000)
    logging.info("rid=%s GET /inventory/items/%d 200 in %.1fms", secrets.token_hex(16), i, took)
    sys.stdout.flush()
"""


@pytest.mark.parametrize(("zone", "offset"), [("Asia/Kathmandu", "+05:45"), ("UTC", None)])
def test_a_real_program_in_its_containers_zone(
    tmp_path: Path, zone: str, offset: str | None
) -> None:
    """A Python program run with ``TZ`` set, as in a container, logging with logging's
    default asctime (its clock's time, no zone); its stdout taken down as containerd does
    (each line after the UTC time it came). Its requests are placed when they happened."""
    import os
    import subprocess
    import sys
    import time
    from datetime import UTC

    from tests.test_envelope_nginx import _runtime

    before = datetime.now(UTC)
    env = {**os.environ, "TZ": zone, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-c", _PROGRAM], stdout=subprocess.PIPE, env=env, cwd=tmp_path
    ) as proc:
        taker = _runtime(proc.stdout, tmp_path / "0.log")
        try:
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()
        taker.join(timeout=10)
    after = datetime.now(UTC)
    time.sleep(0.01)
    read = report(str(tmp_path / "0.log"), folder=tmp_path)
    (source,) = read["sources"]
    assert (source["lines_parsed"], source["lines_rejected"]) == (30, 0)
    said = [w for w in source["warnings"] if "carry no zone" in w]
    if offset is None:
        assert said == []
    else:
        assert len(said) == 1 and said[0].endswith(f"read in {offset} instead"), said
    start = datetime.fromisoformat(read["time_range"]["start"])
    end = datetime.fromisoformat(read["time_range"]["end"])
    assert before - timedelta(seconds=1) <= start <= end <= after + timedelta(seconds=1)
