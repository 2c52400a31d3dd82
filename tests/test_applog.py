"""Specs of the app-log parser: shapes, fields, events and multi-line entries."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from logtrace.applog import (
    BAD_TIMESTAMP,
    DEFAULT_ID_FIELDS,
    NO_TIMESTAMP,
    NOT_JSON,
    REJECTED_ENTRY,
    TIME_OF_DAY,
    AppChunk,
    AppFormat,
    AppLogOptions,
    attach_leading,
    detect_app_format,
    parse_app_chunk,
    service_from_line,
)
from logtrace.lines import Chunk, lines_frame
from logtrace.parse import BLANK
from logtrace.schema import LINES_APP, REJECTS

SAMPLES = Path(__file__).parent.parent / "sample_logs"
APPLOG = Path(__file__).parent / "fixtures" / "applog"
SAMPLE_SHAPES = {
    "api-1": AppFormat.JSON,
    "api-2": AppFormat.LOGFMT,
    "inventory-1": AppFormat.PYTHON_LOGGING,
    "users-1": AppFormat.TEXT,
}
JSON, LOGFMT, PYTHON, TEXT = (
    AppFormat.JSON,
    AppFormat.LOGFMT,
    AppFormat.PYTHON_LOGGING,
    AppFormat.TEXT,
)
OPTIONS = AppLogOptions()
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def lines_of(text: str) -> pl.DataFrame:
    """A frame of line_no/line from text, exactly as sources.py builds it."""
    return lines_frame(Chunk(text.encode("utf-8"), 1))


def parse(text: str, fmt: AppFormat, options: AppLogOptions = OPTIONS) -> AppChunk:
    return parse_app_chunk(lines_of(text), fmt, options)


def entry(text: str, fmt: AppFormat, options: AppLogOptions = OPTIONS) -> dict[str, Any]:
    """The one entry that ``text`` holds, which must parse."""
    chunk = parse(text, fmt, options)
    assert chunk.rejects.is_empty(), chunk.rejects.to_dicts()
    assert chunk.lines.height == 1, chunk.lines.to_dicts()
    return chunk.lines.row(0, named=True)


def js(fields: dict[str, object], time: object = "2026-11-26T12:00:00Z") -> str:
    """A JSON log line with a time and the given fields."""
    return json.dumps({"time": time, **fields})


def read_file(path: Path) -> pl.DataFrame:
    return lines_frame(Chunk(path.read_bytes(), 1))


@pytest.fixture(scope="module")
def samples() -> dict[str, tuple[pl.DataFrame, AppChunk]]:
    """Each sample app log: its lines and the chunk parsed with the detected shape."""
    parsed = {}
    for host in SAMPLE_SHAPES:
        lines = read_file(SAMPLES / f"{host}.log")
        fmt, _, _ = detect_app_format(lines)
        assert fmt is not None
        parsed[host] = (lines, parse_app_chunk(lines, fmt, OPTIONS))
    return parsed


# --- the sample logs ---------------------------------------------------------------------


@pytest.mark.parametrize(("host", "shape"), SAMPLE_SHAPES.items())
def test_detection_picks_the_shape_of_each_sample_log(host: str, shape: AppFormat) -> None:
    fmt, matched, tried = detect_app_format(read_file(SAMPLES / f"{host}.log"))
    assert (fmt, matched, tried) == (shape, 1000, 1000)


@pytest.mark.parametrize("host", SAMPLE_SHAPES)
def test_every_sample_line_is_an_entry_or_attached_to_one(
    samples: dict[str, tuple[pl.DataFrame, AppChunk]], host: str
) -> None:
    lines, chunk = samples[host]
    assert chunk.rejects.is_empty(), chunk.rejects.head(3).to_dicts()
    assert chunk.leading.lines == 0
    assert chunk.lines.height + chunk.lines["extra_lines"].sum() == lines.height
    assert chunk.lines["time"].null_count() == 0
    assert chunk.lines["request_id"].null_count() == 0


def _ground_truth_events() -> Counter[tuple[str, str, str]]:
    """(host, request_id, event) → how many: a request the api served is a server event on
    its host; each downstream call a client event on the caller, a server event on the callee."""
    expected: Counter[tuple[str, str, str]] = Counter()
    for line in (SAMPLES / "ground_truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        if truth["server"]:
            expected[truth["server"]["host"], truth["request_id"], "server"] += 1
        for call in truth["calls"]:
            expected[call["caller_host"], truth["request_id"], "client"] += 1
            expected[call["callee_host"], truth["request_id"], "server"] += 1
    return expected


@pytest.mark.parametrize("host", SAMPLE_SHAPES)
def test_server_and_client_events_per_request_match_the_ground_truth(
    samples: dict[str, tuple[pl.DataFrame, AppChunk]], host: str
) -> None:
    expected = {k[1:]: n for k, n in _ground_truth_events().items() if k[0] == host}
    counts = (
        samples[host][1]
        .lines.filter(pl.col("event").is_in(["server", "client"]))
        .group_by("request_id", "event")
        .len()
    )
    assert {(rid, event): n for rid, event, n in counts.iter_rows()} == expected


# How each sample file writes a duration, and in what unit.
LOGGED_DURATIONS = {
    "api-1": (r'"duration_ms": ([\d.]+)', 1e-3),
    "api-2": (r"took=([\d.]+)ms", 1e-3),
    "inventory-1": (r" in ([\d.]+)ms$", 1e-3),
    "users-1": (r"elapsed=([\d.]+)", 1.0),
}


@pytest.mark.parametrize("host", SAMPLE_SHAPES)
def test_sample_durations_equal_the_logged_values(
    samples: dict[str, tuple[pl.DataFrame, AppChunk]], host: str
) -> None:
    lines, chunk = samples[host]
    pattern, unit = LOGGED_DURATIONS[host]
    logged = {
        line_no: float(m[1]) * unit
        for line_no, line in lines.iter_rows()
        if line and (m := re.search(pattern, line))
    }
    parsed = dict(
        chunk.lines.filter(pl.col("duration_s").is_not_null())
        .select("line_no", "duration_s")
        .iter_rows()
    )
    assert parsed.keys() == logged.keys()
    assert all(parsed[k] == pytest.approx(v, abs=1e-9) for k, v in logged.items())


def test_sample_tracebacks_belong_to_their_error_entry(
    samples: dict[str, tuple[pl.DataFrame, AppChunk]],
) -> None:
    entries = samples["inventory-1"][1].lines
    with_traceback = entries.filter(pl.col("extra_lines") > 0)
    assert with_traceback.height == 175
    assert (
        with_traceback["line_no"].to_list()
        == entries.filter(pl.col("level") == "ERROR")["line_no"].to_list()
    )
    assert with_traceback["extra_lines"].unique().to_list() == [12]
    assert with_traceback["error"].all()
    exception = r"RuntimeError: reservation lock for item \d+ is held by another order"
    message = rf"^rid=\w+ POST /inventory/reserve/\d+ 503 in [\d.]+ms \| {exception}$"
    assert with_traceback["message"].str.contains(message).all()


@pytest.mark.parametrize(
    ("host", "first_time", "precision_s"),
    [
        ("api-1", datetime(2026, 11, 26, 12, 37, 13, 490372, tzinfo=UTC), 1e-6),
        ("api-2", datetime(2026, 11, 26, 12, 37, 13, 641140, tzinfo=UTC), 1e-6),
        ("inventory-1", datetime(2026, 11, 26, 12, 37, 13, 506000, tzinfo=UTC), 1e-3),
        ("users-1", datetime(2026, 11, 26, 12, 37, 13, 499367, tzinfo=UTC), 1e-6),
    ],
)
def test_sample_times_are_utc_with_the_precision_logged(
    samples: dict[str, tuple[pl.DataFrame, AppChunk]],
    host: str,
    first_time: datetime,
    precision_s: float,
) -> None:
    lines = samples[host][1].lines
    assert lines.row(0, named=True)["time"] == first_time
    assert lines["time_precision_s"].unique().to_list() == [precision_s]


def test_entries_have_the_app_lines_columns(
    samples: dict[str, tuple[pl.DataFrame, AppChunk]],
) -> None:
    expected = {"line_no": pl.UInt32(), **LINES_APP, "service": pl.String(), "host": pl.String()}
    for _, chunk in samples.values():
        assert dict(chunk.lines.schema) == expected
        assert dict(chunk.rejects.schema) == REJECTS


def test_a_chunk_cut_inside_a_traceback_gives_the_same_entries_once_attached() -> None:
    lines = read_file(SAMPLES / "inventory-1.log")
    whole = parse_app_chunk(lines, PYTHON, OPTIONS).lines
    parts: list[pl.DataFrame] = []
    for offset in range(0, lines.height, 500):  # 500 cuts several tracebacks
        chunk = parse_app_chunk(lines.slice(offset, 500), PYTHON, OPTIONS)
        assert chunk.rejects.is_empty()
        if chunk.leading.lines:
            parts[-1] = attach_leading(parts[-1], chunk.leading)
        parts.append(chunk.lines)
    assert_frame_equal(pl.concat(parts), whole)


# --- timestamps --------------------------------------------------------------------------

TIMESTAMPS = [
    ("iso-z", '{"time": "2026-11-26T12:00:00Z"}', JSON, T0, 1.0),
    (
        "iso-offset-colon",
        '{"time": "2026-11-26T12:00:00.123+00:00"}',
        JSON,
        T0.replace(microsecond=123000),
        1e-3,
    ),
    (
        "iso-offset-plain",
        '{"time": "2026-11-26T12:00:00.123456+0000"}',
        JSON,
        T0.replace(microsecond=123456),
        1e-6,
    ),
    ("iso-negative-offset", '{"time": "2026-11-26T08:30:00-03:30"}', JSON, T0, 1.0),
    ("iso-naive", '{"time": "2026-11-26T12:00:00.5"}', JSON, T0.replace(microsecond=500000), 0.1),
    ("iso-space", '{"time": "2026-11-26 12:00:00+00:00"}', JSON, T0, 1.0),
    ("epoch-seconds", '{"time": 1795694400.25}', JSON, T0.replace(microsecond=250000), 1e-2),
    ("epoch-seconds-text", '{"ts": "1795694400"}', JSON, T0, 1.0),
    ("epoch-ms", '{"time": 1795694400123}', JSON, T0.replace(microsecond=123000), 1e-3),
    ("epoch-us", '{"time": 1795694400123456}', JSON, T0.replace(microsecond=123456), 1e-6),
    ("logfmt-z", "ts=2026-11-26T12:00:00.000001Z msg=x", LOGFMT, T0.replace(microsecond=1), 1e-6),
    (
        "logfmt-quoted",
        'time="2026-11-26 12:00:00,250" msg=x',
        LOGFMT,
        T0.replace(microsecond=250000),
        1e-3,
    ),
    (
        "python-logging",
        "2026-11-26 12:00:00,123 INFO app hello",
        PYTHON,
        T0.replace(microsecond=123000),
        1e-3,
    ),
    (
        "python-logging-micros",
        "2026-11-26 12:00:00,123456 INFO app hello",
        PYTHON,
        T0.replace(microsecond=123456),
        1e-6,
    ),
    (
        "slashed",
        "[2026/11/26 12:00:00.123456] users served",
        TEXT,
        T0.replace(microsecond=123456),
        1e-6,
    ),
    ("slashed-seconds", "2026/11/26 12:00:00 users served", TEXT, T0, 1.0),
    (
        "nginx-time-local",
        "[26/Nov/2026:08:30:51 -0330] app hello",
        TEXT,
        T0.replace(second=51),
        1.0,
    ),
    ("text-iso-zoned", "2026-11-26T13:00:00+01:00 INFO hello", TEXT, T0, 1.0),
    (
        "epoch-float-seconds-zap",
        '{"ts": 1795694400.4164624}',
        JSON,
        T0.replace(microsecond=416462),
        1e-6,
    ),
    (
        "rfc3339nano-trimmed",
        '{"time": "2026-11-26T12:00:00.88473338Z"}',
        JSON,
        T0.replace(microsecond=884733),
        1e-6,
    ),
    ("werkzeug", '127.0.0.1 - - [26/Nov/2026 12:00:00] "GET / HTTP/1.1" 200 -', TEXT, T0, 1.0),
    ("gunicorn-error-log", "[2026-11-26 12:00:00 +0000] [20285] [INFO] Booting", TEXT, T0, 1.0),
    (
        "ruby-logger",
        "I, [2026-11-26T12:00:00.127935 #19857]  INFO -- api: hello",
        TEXT,
        T0.replace(microsecond=127935),
        1e-6,
    ),
    (
        "jul-two-line-record",
        "Nov 26, 2026 12:00:00 PM Demo handle\nINFO: hello",
        TEXT,
        T0,
        1.0,
    ),
    (
        "jul-morning",
        "Nov 26, 2026 9:00:00 AM Demo handle\nINFO: hello",
        TEXT,
        T0.replace(hour=9),
        1.0,
    ),
    (
        "spring-boot",
        "2026-11-26T12:00:00.089Z  INFO 4242 --- [api] [main] c.e.Orders : hello",
        TEXT,
        T0.replace(microsecond=89000),
        1e-3,
    ),
]


@pytest.mark.parametrize(
    ("line", "fmt", "time", "precision_s"),
    [case[1:] for case in TIMESTAMPS],
    ids=[case[0] for case in TIMESTAMPS],
)
def test_timestamps_are_read_in_every_shape(
    line: str, fmt: AppFormat, time: datetime, precision_s: float
) -> None:
    got = entry(line, fmt)
    assert got["time"] == time
    assert got["time_precision_s"] == pytest.approx(precision_s)


@pytest.mark.parametrize(
    ("line", "fmt"),
    [
        ('{"time": "2026-11-26T08:30:00"}', JSON),
        ("2026-11-26 08:30:00,000 INFO app hello", PYTHON),
        ("[2026/11/26 08:30:00] hello", TEXT),
    ],
)
def test_a_time_without_zone_is_in_the_options_timezone(line: str, fmt: AppFormat) -> None:
    options = AppLogOptions(timezone="America/St_Johns")
    assert entry(line, fmt, options)["time"] == T0


# --- durations ---------------------------------------------------------------------------

DURATIONS = [
    ("key-suffix-ms", "ts=2026-11-26T12:00:00Z duration_ms=45.2", LOGFMT, 0.0452),
    ("value-unit-ms", "ts=2026-11-26T12:00:00Z took=8.2ms", LOGFMT, 0.0082),
    ("bare-is-seconds", "ts=2026-11-26T12:00:00Z elapsed=0.0042", LOGFMT, 0.0042),
    ("value-unit-us", "ts=2026-11-26T12:00:00Z latency=350us", LOGFMT, 0.00035),
    ("value-unit-micro-sign", "ts=2026-11-26T12:00:00Z latency=350µs", LOGFMT, 0.00035),
    ("value-unit-s", "ts=2026-11-26T12:00:00Z duration=1.5s", LOGFMT, 1.5),
    ("value-unit-minutes", "ts=2026-11-26T12:00:00Z took=2m", LOGFMT, 120.0),
    ("value-unit-beats-key", "ts=2026-11-26T12:00:00Z duration_ms=2s", LOGFMT, 2.0),
    ("key-suffix-us", "ts=2026-11-26T12:00:00Z duration_us=1500", LOGFMT, 0.0015),
    ("key-suffix-s", "ts=2026-11-26T12:00:00Z took_s=3", LOGFMT, 3.0),
    ("camel-case-key", "ts=2026-11-26T12:00:00Z elapsedMs=7", LOGFMT, 0.007),
    ("response-time", "ts=2026-11-26T12:00:00Z response_time=0.25", LOGFMT, 0.25),
    ("request-time", "ts=2026-11-26T12:00:00Z request_time=2", LOGFMT, 2.0),
    ("json-number-ms", '{"time": "2026-11-26T12:00:00Z", "duration_ms": 9.183}', JSON, 0.009183),
    ("json-string-unit", '{"time": "2026-11-26T12:00:00Z", "latency": "1.5s"}', JSON, 1.5),
    ("json-bare-seconds", '{"time": "2026-11-26T12:00:00Z", "elapsed": 0.004}', JSON, 0.004),
    ("text-took", "2026-11-26 12:00:00,000 INFO app GET /x 200 took 12ms", PYTHON, 0.012),
    ("text-in", "2026-11-26 12:00:00,000 INFO app GET /x 200 in 8.2ms", PYTHON, 0.0082),
    ("text-pair", "[2026/11/26 12:00:00] users served status=200 elapsed=0.0042", TEXT, 0.0042),
    ("go-duration-string", "ts=2026-11-26T12:00:00Z duration=16.460744ms", LOGFMT, 0.016460744),
    ("go-duration-minutes", "ts=2026-11-26T12:00:00Z duration=1m2.5s", LOGFMT, 62.5),
    ("go-duration-hours", "ts=2026-11-26T12:00:00Z duration=1h0m3s", LOGFMT, 3603.0),
    (
        "after-status",
        "2026-11-26 12:00:00,000 INFO app GET /feed/1?x=2 200 198.7ms",
        PYTHON,
        0.1987,
    ),
    ("morgan-dev", "[2026/11/26 12:00:00] GET /orders/42 200 58.108 ms - 11", TEXT, 0.058108),
    ("rails", "[2026/11/26 12:00:00] Completed 200 OK in 26ms (Views: 0.6ms)", TEXT, 0.026),
    (
        "at-the-end",
        "[2026/11/26 12:00:00] Request finished HTTP/1.1 GET http://h/x - 200 - text/plain "
        "12.3456ms",
        TEXT,
        0.0123456,
    ),
    (
        "gunicorn-percent-D-microseconds",
        '127.0.0.1 - - [26/Nov/2026:12:00:00 +0000] "GET /x HTTP/1.1" 200 12 "-" "curl/7.88.1" '
        "27976 c0a8f3e2",
        TEXT,
        0.027976,
    ),
]


@pytest.mark.parametrize(
    ("line", "fmt", "seconds"), [c[1:] for c in DURATIONS], ids=[c[0] for c in DURATIONS]
)
def test_durations_are_seconds_whatever_their_unit(
    line: str, fmt: AppFormat, seconds: float
) -> None:
    assert entry(line, fmt)["duration_s"] == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    "line",
    [
        "ts=2026-11-26T12:00:00Z took=3parsecs",
        "ts=2026-11-26T12:00:00Z took=fast",
        "2026-11-26 12:00:00,000 INFO app retried in 3 attempts",
    ],
)
def test_a_duration_in_no_known_unit_is_null(line: str) -> None:
    fmt = PYTHON if line[0] == "2" else LOGFMT
    assert entry(line, fmt)["duration_s"] is None


# --- request ids -------------------------------------------------------------------------


@pytest.mark.parametrize("key", DEFAULT_ID_FIELDS)
@pytest.mark.parametrize("fmt", [JSON, LOGFMT, TEXT])
def test_the_request_id_is_found_under_every_id_field(key: str, fmt: AppFormat) -> None:
    line = {
        JSON: f'{{"time": "2026-11-26T12:00:00Z", "msg": "x", "{key}": "r-42"}}',
        LOGFMT: f"ts=2026-11-26T12:00:00Z msg=x {key}=r-42",
        TEXT: f"[2026/11/26 12:00:00] handled ({key}=r-42)",
    }[fmt]
    assert entry(line, fmt)["request_id"] == "r-42"


@pytest.mark.parametrize(
    ("line", "fmt"),
    [
        ("ts=2026-11-26T12:00:00Z REQUEST_ID=r-42", LOGFMT),
        ('{"time": "2026-11-26T12:00:00Z", "Request_Id": "r-42"}', JSON),
        ('{"time": "2026-11-26T12:00:00Z", "ctx": {"user": 7, "request_id": "r-42"}}', JSON),
        ('{"time": "2026-11-26T12:00:00Z", "http": {"requestId": 42}, "msg": "x"}', JSON),
    ],
    ids=["logfmt-upper-case", "json-mixed-case", "json-nested", "json-nested-number"],
)
def test_the_request_id_is_found_in_any_case_and_one_level_down(line: str, fmt: AppFormat) -> None:
    assert entry(line, fmt)["request_id"] in {"r-42", "42"}


def test_id_fields_can_be_chosen() -> None:
    options = AppLogOptions(id_fields=("span",))
    got = entry("ts=2026-11-26T12:00:00Z request_id=no span=yes", LOGFMT, options)
    assert got["request_id"] == "yes"


def test_an_id_key_first_used_after_the_sampled_lines_is_still_read() -> None:
    head = "\n".join(f"ts=2026-11-26T12:00:00Z msg=boot n={i}" for i in range(1001))
    chunk = parse(head + "\nts=2026-11-26T12:00:01Z msg=late trace_id=t-1\n", LOGFMT)
    assert chunk.lines["request_id"].drop_nulls().to_list() == ["t-1"]


# A bare number under a key without a unit: what the chunk shows decides (durations.py).
def _request(duration: object, started: str, ended: str, key: str = "duration") -> str:
    return "\n".join(
        [
            js({"msg": "request started", "request_id": "r1", "path": "/x"}, time=started),
            js(
                {
                    "msg": "request completed",
                    "request_id": "r1",
                    "path": "/x",
                    "status": 200,
                    key: duration,
                },
                time=ended,
            ),
        ]
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (_request(16844547, "2026-11-26T12:00:00.8676Z", "2026-11-26T12:00:00.8848Z"), 0.016844547),
        (_request(16.891542, "2026-11-26T12:00:00Z", "2026-11-26T12:00:00Z"), 0.016891542),
        (
            _request(0.016933882, "2026-11-26T12:00:00.4164Z", "2026-11-26T12:00:00.4335Z"),
            0.016933882,
        ),
        (_request(77.4, "2026-11-26T12:00:00.049Z", "2026-11-26T12:00:00.129Z"), 0.0774),
        (js({"msg": "request completed", "status": 200, "duration": 18607821}), 0.018607821),
        (js({"msg": "request completed", "status": 200, "responseTime": 89}), 0.089),
        (js({"msg": "request completed", "status": 200, "duration": 0.25}), 0.25),
    ],
    ids=[
        "slog-json-ns-by-its-request",
        "zerolog-ms-in-a-whole-second",
        "zap-seconds-by-its-request",
        "pino-ms-by-its-request",
        "integer-nanoseconds-by-size",
        "camel-case-key-milliseconds",
        "else-seconds",
    ],
)
def test_a_bare_duration_takes_the_unit_its_chunk_shows(text: str, seconds: float) -> None:
    lines = parse(text + "\n", JSON).lines
    got = lines.filter(pl.col("event") == "server")["duration_s"].to_list()
    assert got == [pytest.approx(seconds, abs=1e-12)]


# --- request ids from words --------------------------------------------------------------

TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize(
    ("line", "fmt", "request_id"),
    [
        (
            "I, [2026-11-26T12:00:00.1 #1]  INFO -- : [c0a8f3e2-6b1d-4f7a-9e25-3d4b5a6c7d81] "
            'Started GET "/x" for 127.0.0.1 at 2026-11-26 12:00:00 +0000',
            TEXT,
            "c0a8f3e2-6b1d-4f7a-9e25-3d4b5a6c7d81",
        ),
        (
            f"ts=2026-11-26T12:00:00Z traceparent=00-{TRACE}-b7ad6b7169203331-01 msg=x",
            LOGFMT,
            TRACE,
        ),
        (js({"msg": "x", "request_id": f"00-{TRACE}-b7ad6b7169203331-00"}), JSON, TRACE),
        (js({"msg": "x", "correlationId": "c-9"}), JSON, "c-9"),
        (
            js({"msg": "request completed", "req": {"id": 1, "headers": {"x-request-id": "h-1"}}}),
            JSON,
            "h-1",
        ),
    ],
    ids=[
        "rails-log-tag",
        "traceparent-key",
        "traceparent-under-an-id-key",
        "correlation-id",
        "pino-http-header-not-its-counter",
    ],
)
def test_the_request_id_comes_from_tags_traceparents_and_headers(
    line: str, fmt: AppFormat, request_id: str
) -> None:
    assert entry(line, fmt)["request_id"] == request_id


def test_a_time_of_day_without_a_date_is_rejected_but_classified() -> None:
    chunk = parse(
        "10:40:28.107 [main] ERROR c.e.Orders - outgoing call request_id=r1 service=billing "
        "url=http://10.0.0.7/b/99 status=503 duration_ms=57.2\n",
        TEXT,
    )
    assert chunk.lines.is_empty()
    assert chunk.rejects["reason"].to_list() == [TIME_OF_DAY]
    got = chunk.untimed.select("request_id", "event", "peer", "status", "duration_s").rows()
    assert got == [("r1", "client", "billing", 503, 0.0572)]


def test_an_entry_without_request_id_is_kept_with_a_null_id() -> None:
    got = entry('ts=2026-11-26T12:00:00Z level=debug msg="cache stats" hits=4', LOGFMT)
    assert (got["request_id"], got["event"], got["message"]) == (None, "log", "cache stats")


# --- events ------------------------------------------------------------------------------

EVENTS = [
    (
        "peer-field",
        'msg="downstream call" peer=inventory url=http://10.0.0.5/items/3 status=200 took=5ms',
        "client",
        "inventory",
    ),
    ("upstream-field", "msg=done upstream=payments took=3ms", "client", "payments"),
    ("calling-message", 'msg="calling users" took=3ms', "client", "users"),
    ("request-to-message", 'msg="request to billing finished" took=4ms', "client", "billing"),
    (
        "call-finished-url-host",
        'msg="call finished" url=https://stock.internal:8443/x?y=1 took=3ms',
        "client",
        "stock.internal:8443",
    ),
    (
        "request-finished",
        'msg="request finished" method=GET path=/x status=200 took=5ms',
        "server",
        None,
    ),
    ("duration-and-status-only", "msg=handled status=201 took=5ms", "server", None),
    ("request-started", 'msg="request started" method=GET path=/x', "server_start", None),
    ("received", 'msg="received" method=POST path=/orders', "server_start", None),
    ("started-with-duration", 'msg="started job" took=5ms', "log", None),
    ("no-duration", 'msg="request finished" method=GET path=/x status=200', "server", None),
    ("plain-log", 'msg="cache stats" hits=5', "log", None),
]


@pytest.mark.parametrize(
    ("pairs", "event", "peer"), [c[1:] for c in EVENTS], ids=[c[0] for c in EVENTS]
)
def test_each_entry_is_classified_as_one_event(pairs: str, event: str, peer: str | None) -> None:
    got = entry(f"ts=2026-11-26T12:00:00Z {pairs}", LOGFMT)
    assert (got["event"], got["peer"]) == (event, peer)


@pytest.mark.parametrize(
    ("line", "fmt", "expected"),
    [
        (
            js({"url": "http://10.0.0.5:8080/items/3?full=1", "method": "GET"}),
            JSON,
            ("GET", "/items/3?full=1", "/items/3", None),
        ),
        (js({"uri": "/a", "status_code": "404"}), JSON, (None, "/a", "/a", 404)),
        (js({"url": "https://example.com"}), JSON, (None, "/", "/", None)),
        (js({"target": "inventory", "code": "ECONNRESET"}), JSON, (None, None, None, None)),
        (
            "ts=2026-11-26T12:00:00Z msg=x method=PUT path=/a/b?c=d#e status=204",
            LOGFMT,
            ("PUT", "/a/b?c=d#e", "/a/b", 204),
        ),
        (
            "2026-11-26 12:00:00,000 INFO app GET /inventory/items?ids=1,2 200 in 3.0ms",
            PYTHON,
            ("GET", "/inventory/items?ids=1,2", "/inventory/items", 200),
        ),
        (
            '[2026/11/26 12:00:00] "POST /orders HTTP/1.1" 201 took 3ms',
            TEXT,
            ("POST", "/orders", "/orders", 201),
        ),
    ],
    ids=[
        "absolute-url",
        "uri-and-status-code",
        "url-without-path",
        "target-not-a-path",
        "logfmt",
        "python-text",
        "text-request-line",
    ],
)
def test_http_fields_come_from_keys_or_the_message(
    line: str, fmt: AppFormat, expected: tuple[str | None, str | None, str | None, int | None]
) -> None:
    """(method, target, path, status): an absolute URL loses scheme and host, the target
    keeps the query, the path does not."""
    got = entry(line, fmt)
    assert (got["method"], got["target"], got["path"], got["status"]) == expected


@pytest.mark.parametrize(
    ("line", "level", "error"),
    [
        ("ts=2026-11-26T12:00:00Z level=info msg=x", "INFO", False),
        ("ts=2026-11-26T12:00:00Z level=error msg=x", "ERROR", True),
        ("ts=2026-11-26T12:00:00Z lvl=crit msg=x", "CRIT", True),
        ("ts=2026-11-26T12:00:00Z level=fatal msg=x", "FATAL", True),
        ("ts=2026-11-26T12:00:00Z level=warn msg=x status=503", "WARN", True),
        ("ts=2026-11-26T12:00:00Z level=info msg=x status=499", "INFO", False),
        ('{"time": 1795694400123, "level": 50, "msg": "x"}', "ERROR", True),
        ('{"time": 1795694400123, "severity": "Warning", "msg": "x"}', "WARNING", False),
    ],
)
def test_levels_are_upper_cased_and_errors_are_levels_or_5xx(
    line: str, level: str, error: bool
) -> None:
    got = entry(line, JSON if line[0] == "{" else LOGFMT)
    assert (got["level"], got["error"]) == (level, error)


# --- logfmt quoting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "field", "value"),
    [
        ('msg="request started"', "message", "request started"),
        (r'msg="say \"hi\" twice"', "message", 'say "hi" twice'),
        (r'msg="back\\slash"', "message", "back\\slash"),
        ('msg="" rid=r1', "message", ""),
        ('path="/a b" rid=r1', "target", "/a b"),
        ('msg="retry status=500 rid=zzz" status=200 rid=r1', "status", 200),
        ('msg="retry status=500 rid=zzz" status=200 rid=r1', "request_id", "r1"),
        ('msg="retry (status=500,rid=zzz)" status=200 rid=r1', "status", 200),
        (r'msg="say \"x\" status=500" status=200 rid=r1', "status", 200),
        ("rid=- msg=x", "request_id", None),
        ('rid="" msg=x', "request_id", None),
        ('service="api gateway" msg=x', "service", "api gateway"),
    ],
)
def test_logfmt_values_may_be_quoted_with_escapes(pairs: str, field: str, value: object) -> None:
    assert entry(f"ts=2026-11-26T12:00:00Z {pairs}", LOGFMT)[field] == value


# --- service and host --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fmt", "service", "host"),
    [
        (
            '{"time": "2026-11-26T12:00:00Z", "service": "api", "host": "web-7"}',
            JSON,
            "api",
            "web-7",
        ),
        (
            '{"time": "2026-11-26T12:00:00Z", "service.name": "api", "hostname": "web-7"}',
            JSON,
            "api",
            "web-7",
        ),
        ('{"time": "2026-11-26T12:00:00Z", "service": {"name": "api"}}', JSON, "api", None),
        ("ts=2026-11-26T12:00:00Z app=billing msg=x", LOGFMT, "billing", None),
        ("2026-11-26 12:00:00,000 INFO inventory.db pool ready", PYTHON, "inventory", None),
        ("2026-11-26 12:00:00,000 INFO root pool ready", PYTHON, None, None),
        ("[2026/11/26 12:00:00] users served", TEXT, None, None),
    ],
)
def test_service_and_host_come_from_the_entry(
    line: str, fmt: AppFormat, service: str | None, host: str | None
) -> None:
    got = entry(line, fmt)
    assert (got["service"], got["host"]) == (service, host)


def test_service_from_line_falls_back_to_the_file_names_defaults() -> None:
    chunk = parse(js({"service": "billing"}) + "\n" + js({}) + "\n", JSON)
    named = service_from_line(chunk.lines, host="api-1", service="api")
    assert named.select("service", "host").rows() == [("billing", "api-1"), ("api", "api-1")]


# --- rejected lines ----------------------------------------------------------------------


def _rejects(chunk: AppChunk) -> list[tuple[int, str]]:
    return [(r["line_no"], r["reason"]) for r in chunk.rejects.iter_rows(named=True)]


@pytest.mark.parametrize(
    ("text", "fmt", "rejects", "entries"),
    [
        (f"{js({})}\n{js({'msg': 'a'})[:20]}\n{js({})}\n", JSON, [(2, NOT_JSON)], 2),
        (f"{js({})}\n{js({})[:-1]} oops}}\n{js({})}\n", JSON, [(2, NOT_JSON)], 2),
        ('plain words\n{"time": "2026-11-26T12:00:02Z"}\n', JSON, [(1, NOT_JSON)], 1),
        (
            '{"msg": "no time"}\n{"time": "yesterday"}\n',
            JSON,
            [(1, NO_TIMESTAMP), (2, BAD_TIMESTAMP)],
            0,
        ),
        ("msg=x level=info\nts=2026-11-26T12:00:00Z msg=y\n", LOGFMT, [(1, NO_TIMESTAMP)], 1),
        ("users served GET /x\n[2026/11/26 12:00:00] ok\n", TEXT, [(1, NO_TIMESTAMP)], 1),
        (
            "ts=2026-11-26T12:00:00Z msg=a\n\n   \nts=2026-11-26T12:00:01Z msg=b\n",
            LOGFMT,
            [(2, BLANK), (3, BLANK)],
            2,
        ),
        (
            '{"msg": "no time"}\n  detail one\n{"time": "2026-11-26T12:00:02Z"}\n',
            JSON,
            [(1, NO_TIMESTAMP), (2, REJECTED_ENTRY)],
            1,
        ),
    ],
    ids=[
        "truncated-json",
        "garbage-inside-json",
        "text-in-json-log",
        "json-no-time",
        "logfmt-no-time",
        "text-no-time",
        "blank-lines",
        "continuation-of-rejected",
    ],
)
def test_lines_that_cannot_be_read_are_rejected_with_a_reason(
    text: str, fmt: AppFormat, rejects: list[tuple[int, str]], entries: int
) -> None:
    chunk = parse(text, fmt)
    assert _rejects(chunk) == rejects
    assert chunk.lines.height == entries


def test_a_rejected_line_keeps_its_text() -> None:
    chunk = parse('{"time": "2026-11-26T12:00:00Z", "ms\n\n', JSON)
    assert chunk.rejects.rows() == [
        (1, NOT_JSON, '{"time": "2026-11-26T12:00:00Z", "ms'),
        (2, BLANK, ""),
    ]


# --- multi-line entries ------------------------------------------------------------------


def test_a_chained_python_traceback_with_its_blank_lines_is_one_entry() -> None:
    lines = read_file(APPLOG / "python-chained-traceback.log")
    assert detect_app_format(lines)[0] is PYTHON
    chunk = parse_app_chunk(lines, PYTHON, OPTIONS)
    assert chunk.rejects.is_empty()
    got = chunk.lines.select("level", "extra_lines", "error", "status").rows()
    assert got == [("INFO", 0, False, 200), ("ERROR", 14, True, 500), ("WARNING", 0, False, 404)]
    assert chunk.lines["message"][1].endswith("in 3.1ms | RuntimeError: order 7 has no sku")


def test_a_java_stack_trace_is_one_entry_ending_in_its_root_cause() -> None:
    lines = read_file(APPLOG / "java-stack-trace.log")
    assert detect_app_format(lines)[0] is TEXT
    chunk = parse_app_chunk(lines, TEXT, OPTIONS)
    assert chunk.rejects.is_empty()
    assert chunk.lines.select("level", "extra_lines", "error", "duration_s").rows() == [
        ("INFO", 0, False, 0.012),
        ("ERROR", 8, True, 0.031),
        ("WARN", 0, False, 0.002),
    ]
    assert chunk.lines["message"][1].endswith(
        "| Caused by: java.net.SocketTimeoutException: Read timed out"
    )


def test_indented_lines_attach_without_making_an_error() -> None:
    chunk = parse("ts=2026-11-26T12:00:00Z msg=query\n    SELECT 1\n    FROM t\n", LOGFMT)
    assert chunk.lines.select("extra_lines", "error", "message").rows() == [(2, False, "query")]


LEADING = (
    '  File "/srv/app.py", line 3, in handle\n'
    "    raise KeyError(sku)\n"
    "OutOfStock: sku 7\n"
    "2026-11-26 12:00:01,000 INFO app rid=r2 GET /x 200 in 1.0ms\n"
)


def test_continuation_lines_at_the_top_of_a_chunk_are_reported_not_rejected() -> None:
    chunk = parse(LEADING, PYTHON)
    assert chunk.rejects.is_empty()
    assert chunk.lines["line_no"].to_list() == [4]
    assert (chunk.leading.lines, chunk.leading.traceback, chunk.leading.exception) == (
        3,
        True,
        "OutOfStock: sku 7",
    )


def test_leading_continuation_lines_are_attached_to_the_previous_chunks_last_entry() -> None:
    before = parse(
        "2026-11-26 12:00:00,000 INFO app rid=r0 GET /x 200 in 1.0ms\n"
        "2026-11-26 12:00:00,500 ERROR app rid=r1 POST /y 500 in 2.0ms\n"
        "Traceback (most recent call last):\n",
        PYTHON,
    )
    after = attach_leading(before.lines, parse(LEADING, PYTHON).leading)
    assert after.select("extra_lines", "error", "message").rows() == [
        (0, False, "rid=r0 GET /x 200 in 1.0ms"),
        (4, True, "rid=r1 POST /y 500 in 2.0ms | OutOfStock: sku 7"),
    ]


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}\n{"b": 2}\nnot json\n', (JSON, 2, 3)),
        ("a=1 b=2\nc=3 d=4\n", (LOGFMT, 2, 2)),
        ("2026-11-26 12:00:00,000 INFO app x\n2026-11-26 12:00:00 plain\n", (TEXT, 2, 2)),
        ("Dear diary,\ntoday nothing happened.\n", (None, 0, 2)),
        ("\n\n", (None, 0, 0)),
    ],
    ids=["json-majority", "logfmt", "text-beats-partial-python", "prose", "blank"],
)
def test_detection_reports_the_best_shape_and_how_many_lines_it_explains(
    text: str, expected: tuple[AppFormat | None, int, int]
) -> None:
    assert detect_app_format(lines_of(text)) == expected


def test_detection_does_not_count_lines_attached_to_unreadable_ones() -> None:
    assert detect_app_format(lines_of("Dear diary,\n  today nothing happened.\n")) == (None, 0, 2)


# --- every line is accounted for -----------------------------------------------------------

_PIECES = [
    js({"msg": "ok", "request_id": "r1", "duration_ms": 3}),
    js({"msg": "x", "ctx": {"rid": "r2"}, "status": 503}, time=1795694400123),
    '{"time": "2026-11-26T12:00:00Z", "ms',
    'ts=2026-11-26T12:00:00Z level=info msg="a \\"b\\"" req_id=r3 took=2ms',
    "2026-11-26 12:00:00,000 ERROR app rid=r4 GET /x 500 in 1.0ms",
    "[2026/11/26 12:00:00.5] users served GET /u status=200 elapsed=0.1 request_id=r5",
    "Traceback (most recent call last):",
    '  File "/srv/app.py", line 3, in handle',
    "KeyError: 'sku'",
    "\tat com.example.A.b(A.java:1)",
    "",
    "   ",
    "garbage ünïcödé ☃ =",
    "\r",
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=40),
    st.sampled_from(list(AppFormat)),
)
def test_every_line_is_an_entry_an_attached_line_a_reject_or_leading(
    pieces: list[str], fmt: AppFormat
) -> None:
    lines = lines_of("".join(p + "\n" for p in pieces))
    chunk = parse_app_chunk(lines, fmt, OPTIONS)
    accounted = (
        chunk.lines.height
        + chunk.lines["extra_lines"].sum()
        + chunk.rejects.height
        + chunk.leading.lines
    )
    assert accounted == lines.height
    seen = chunk.lines["line_no"].cast(pl.UInt64).to_list() + chunk.rejects["line_no"].to_list()
    assert len(seen) == len(set(seen))
