"""App events in the genuine output of real logging libraries, and in the shapes of
deployments logtrace was not built with.

tests/fixtures/app-log-shapes holds what 34 logging setups printed for the same three
requests, each with one outgoing call (its README has the table). For every file: which
served requests and which calls are recognised, with their request ids, peers, statuses
and durations, where the library's output carries them, and what is honestly not there
(an access line without a request id, a log without timestamps).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from logtrace.applog import (
    TIME_OF_DAY,
    AppChunk,
    AppFormat,
    AppLogOptions,
    detect_app_format,
    parse_app_chunk,
)
from logtrace.ingest import IngestReport, iter_lines
from logtrace.lines import Chunk, lines_frame
from logtrace.resolve import FormatOptions, FormatResolver
from logtrace.sources import resolve_sources

SHAPES = Path(__file__).parent / "fixtures" / "app-log-shapes"
JSON, LOGFMT, PYTHON, TEXT = (
    AppFormat.JSON,
    AppFormat.LOGFMT,
    AppFormat.PYTHON_LOGGING,
    AppFormat.TEXT,
)
OPTIONS = AppLogOptions()

# The scenario every program ran (the README's table).
R1 = "c0a8f3e2-6b1d-4f7a-9e25-3d4b5a6c7d81"
R2 = "5e9d2b47-0c3a-4d8e-b1f6-72a9c4e0d352"
R3 = "a71f4c90-2e8b-4b36-8d5c-e9f0123b4a67"
SERVED = (
    (R1, "GET", "/orders/42", 200),
    (R2, "POST", "/orders", 201),
    (R3, "GET", "/orders/99/receipt", 500),
)
CALLS = (
    (R1, "inventory", "GET", "/inventory/items/42", 200),
    (R2, "payments", "POST", "/payments/charge", 201),
    (R3, "billing", "GET", "/billing/receipts/99", 503),
)
# urllib3 and httpx log each call themselves, with no request id and no duration.
LIBRARY_CALLS = tuple((None, "127.0.0.1:28081", m, t, s, None) for _, _, m, t, s in CALLS)

Served = tuple[str | None, str | None, str | None, int | None, float | None]
Call = tuple[str | None, str | None, str | None, str | None, int | None, float | None]


@dataclass(frozen=True)
class Shape:
    """What one corpus file gives.

    ``detected``: the shape detection picks (None: no app shape accounts for half its
    lines); the file is then read as ``read_as``. ``served_s``/``calls_s``: each request's
    duration in seconds as logged (None: not logged; empty: no such line) for the
    requests in ``only``, in the scenario's order; ``ids``:
    the served lines carry the request id. ``untimed``: the events are in entries rejected
    for want of a date and time (``AppChunk.untimed``), not in LINES.
    """

    detected: AppFormat | None
    served_s: tuple[float | None, ...] = ()
    calls_s: tuple[float | None, ...] = ()
    starts: int = 3
    ids: bool = True
    untimed: frozenset[str] = frozenset()
    read_as: AppFormat | None = None
    library_calls: bool = False
    only: tuple[int, ...] = (0, 1, 2)  # which of the three requests the file shows

    def served(self) -> list[Served]:
        if not self.served_s:  # the file shows no served request
            return []
        return [
            (SERVED[i][0] if self.ids else None, *SERVED[i][1:], d)
            for i, d in zip(self.only, self.served_s, strict=True)
        ]

    def calls(self) -> list[Call]:
        mine: list[Call] = [(*CALLS[i], d) for i, d in zip(self.only, self.calls_s, strict=True)]
        if not self.library_calls:
            return mine
        return [c for pair in zip(LIBRARY_CALLS, mine, strict=True) for c in pair]


NO_DURATION = (None, None, None)
UNTIMED = frozenset({"served", "calls"})

CORPUS: dict[str, Shape] = {
    # Go: slog/logrus JSON integer ns, zap float s, zerolog float ms, text Go strings.
    "go-logrus-json": Shape(
        JSON, (0.018765269, 0.032718611, 0.006692253), (0.018607821, 0.032607857, 0.006602895)
    ),
    "go-logrus-text": Shape(
        LOGFMT, (0.016771747, 0.031637083, 0.006450312), (0.016506939, 0.031570212, 0.00637344)
    ),
    "go-slog-default": Shape(
        TEXT, (0.016764356, 0.031328256, 0.006381431), (0.016657891, 0.031267677, 0.006235877)
    ),
    "go-slog-json": Shape(
        JSON, (0.016977759, 0.031489773, 0.006693842), (0.016844547, 0.03141747, 0.006586765)
    ),
    "go-slog-text": Shape(
        LOGFMT, (0.018067959, 0.031445407, 0.006741822), (0.016784493, 0.031344576, 0.006626546)
    ),
    "go-zap-production": Shape(
        JSON, (0.016933882, 0.031736786, 0.006818718), (0.016830869, 0.0316756, 0.006648151)
    ),
    "go-zerolog": Shape(
        JSON, (0.016951282, 0.031587442, 0.006602768), (0.016891542, 0.03154169, 0.00654074)
    ),
    # Java: JUL's two-line records; logback/log4j2 defaults print a time of day only.
    "java-jul-simpleformatter": Shape(TEXT, (0.1878, 0.0512, 0.0688), (0.1776, 0.0346, 0.0512)),
    "java-log4j2-default": Shape(  # root level ERROR: only the failing call is logged
        TEXT, (), (0.0515,), starts=0, untimed=UNTIMED, only=(2,)
    ),
    "java-log4j2-pattern": Shape(
        TEXT, (0.2016, 0.0489, 0.0692), (0.1843, 0.0483, 0.059), untimed=UNTIMED
    ),
    "java-logback-default": Shape(
        TEXT, (0.1827, 0.0798, 0.0664), (0.1764, 0.078, 0.0572), untimed=UNTIMED
    ),
    "java-logback-spring-like": Shape(TEXT, (0.1658, 0.0833, 0.0682), (0.16, 0.0821, 0.0628)),
    # Node
    "node-bunyan": Shape(JSON, (0.092, 0.0377, 0.0086), (0.0913, 0.0374, 0.0079)),
    # morgan's combined line is nginx's combined format (the nginx reader takes the file);
    # as an app log: served with no id and no duration, the calls (console.log) untimed.
    "node-express-morgan-combined": Shape(
        None,
        NO_DURATION,
        (0.0854, 0.0362, 0.0075),
        starts=0,
        ids=False,
        untimed=frozenset({"calls"}),
        read_as=TEXT,
    ),
    "node-express-morgan-dev": Shape(None, starts=0),  # no timestamp at all
    "node-pino-http": Shape(JSON, (0.089, 0.039, 0.013), (0.0759, 0.0326, 0.0112), starts=0),
    "node-pino": Shape(JSON, (0.0774, 0.0348, 0.0084), (0.0772, 0.0346, 0.0076)),
    "node-winston-json": Shape(
        JSON, (0.0728, 0.0343, 0.011), (0.0723, 0.0341, 0.0102), untimed=UNTIMED
    ),
    "node-winston-simple": Shape(None, starts=0),  # no timestamp at all
    "node-winston-timestamp-json": Shape(JSON, (0.0788, 0.0356, 0.0105), (0.078, 0.0353, 0.0094)),
    # Python: access lines of uvicorn, gunicorn, werkzeug and Django carry no id by default.
    "python-django-runserver": Shape(  # banner and a traceback printed twice: 21/44 lines
        None, NO_DURATION, (0.0216, 0.0362, 0.0086), starts=0, ids=False, read_as=TEXT
    ),
    "python-flask-werkzeug": Shape(
        TEXT, NO_DURATION, (0.0206, 0.0339, 0.0103), starts=0, ids=False
    ),
    "python-gunicorn-reqid-duration": Shape(  # %(D)s µs and the X-Request-ID header
        TEXT, (0.027976, 0.037144, 0.001194), (0.0272, 0.0365, 0.0099), starts=0
    ),
    "python-gunicorn": Shape(TEXT, NO_DURATION, (0.0197, 0.034, 0.0087), starts=0, ids=False),
    "python-json-logger": Shape(JSON, (0.0203, 0.0365, 0.0101), (0.02, 0.0362, 0.0086)),
    "python-logging-basicconfig": Shape(None, starts=0),  # no timestamp at all
    "python-logging-common": Shape(
        TEXT, (0.0311, 0.0363, 0.0173), (0.031, 0.0362, 0.0134), library_calls=True
    ),
    "python-loguru": Shape(TEXT, (0.0209, 0.0339, 0.0149), (0.0207, 0.0337, 0.0099)),
    "python-structlog-console": Shape(TEXT, (0.022, 0.037, 0.0102), (0.0218, 0.0367, 0.0083)),
    "python-structlog-json": Shape(JSON, (0.0265, 0.0379, 0.012), (0.0263, 0.0377, 0.0097)),
    "python-uvicorn": Shape(None, starts=0),  # no timestamp at all
    # Ruby: Rails' Started/Completed; production tags every line with the request id.
    "ruby-logger-default": Shape(TEXT, (0.0258, 0.0339, 0.0069), (0.0255, 0.0337, 0.0066)),
    "ruby-rails-development": Shape(None, starts=0),  # no timestamp, no id
    "ruby-rails-production": Shape(TEXT, (0.031, 0.033, 0.011), (0.0202, 0.0323, 0.0101)),
}


def read(name: str) -> pl.DataFrame:
    return lines_frame(Chunk((SHAPES / f"{name}.log").read_bytes(), 1))


@pytest.fixture(scope="module")
def parsed() -> dict[str, AppChunk]:
    """Each corpus file parsed in the shape detected (or the one it is read as)."""
    out = {}
    for name, shape in CORPUS.items():
        fmt = shape.detected or shape.read_as
        if fmt is not None:
            out[name] = parse_app_chunk(read(name), fmt, OPTIONS)
    return out


def test_every_corpus_file_has_expectations() -> None:
    assert {p.stem for p in SHAPES.glob("*.log")} == set(CORPUS)


@pytest.mark.parametrize(("name", "shape"), CORPUS.items(), ids=list(CORPUS))
def test_each_file_is_detected_as_its_shape(name: str, shape: Shape) -> None:
    assert detect_app_format(read(name))[0] is shape.detected


def _events(chunk: AppChunk, kinds: set[str], untimed: bool) -> pl.DataFrame:
    frame = chunk.untimed if untimed else chunk.lines
    return frame.filter(pl.col("event").is_in(list(kinds))).sort("line_no")


def _close(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    """Rows equal, durations (last) to the unit logged."""
    assert [row[:-1] for row in got] == [row[:-1] for row in want]
    for g, w in zip(got, want, strict=True):
        assert (g[-1] is None) == (w[-1] is None), (g, w)
        if w[-1] is not None:
            assert g[-1] == pytest.approx(w[-1], abs=1e-9), (g, w)


READ = {n: s for n, s in CORPUS.items() if (s.detected or s.read_as) is not None}


@pytest.mark.parametrize(("name", "shape"), READ.items(), ids=list(READ))
def test_served_requests_are_recognised_with_id_status_and_duration(
    parsed: dict[str, AppChunk], name: str, shape: Shape
) -> None:
    served = _events(parsed[name], {"server"}, "served" in shape.untimed)
    got = served.select("request_id", "method", "target", "status", "duration_s").rows()
    _close(got, shape.served())
    starts = _events(parsed[name], {"server_start"}, "served" in shape.untimed)
    assert starts.height == shape.starts


@pytest.mark.parametrize(("name", "shape"), READ.items(), ids=list(READ))
def test_calls_are_recognised_with_peer_status_and_duration(
    parsed: dict[str, AppChunk], name: str, shape: Shape
) -> None:
    calls = _events(parsed[name], {"client"}, "calls" in shape.untimed)
    got = calls.select("request_id", "peer", "method", "target", "status", "duration_s").rows()
    _close(got, shape.calls())
    assert _events(parsed[name], {"client_start"}, "calls" in shape.untimed).is_empty()


@pytest.mark.parametrize("name", list(READ))
def test_no_call_is_served_and_no_served_request_is_a_call(
    parsed: dict[str, AppChunk], name: str
) -> None:
    """Whatever else: the downstream paths never make a server event, the service's own
    never a client event, and nothing in the corpus is left unclassified."""
    both = pl.concat([parsed[name].lines, parsed[name].untimed])
    server = both.filter(pl.col("event").is_in(["server", "server_start"]))
    client = both.filter(pl.col("event").is_in(["client", "client_start"]))
    assert not server["target"].drop_nulls().str.contains("^/(?:inventory|payments|billing)").any()
    assert client["target"].drop_nulls().str.starts_with("/orders").sum() == 0
    assert both.filter(pl.col("event") == "unclassified").is_empty()


@pytest.mark.parametrize(
    "name", ["java-logback-default", "java-log4j2-pattern", "java-log4j2-default"]
)
def test_a_time_of_day_without_a_date_is_rejected_with_its_reason(
    parsed: dict[str, AppChunk], name: str
) -> None:
    chunk = parsed[name]
    assert chunk.lines.is_empty()
    entries = chunk.rejects.filter(pl.col("reason") == TIME_OF_DAY)
    assert entries.height == chunk.untimed.height > 0


def test_pino_http_counter_is_not_the_request_id(parsed: dict[str, AppChunk]) -> None:
    """pino-http's req.id counts 1, 2, 3; the id is the X-Request-ID header it logs."""
    ids = parsed["node-pino-http"].lines["request_id"].unique(maintain_order=True).to_list()
    assert ids == [R1, R2, R3]


def test_rails_backtrace_lines_tagged_with_the_id_attach_to_their_record(
    parsed: dict[str, AppChunk],
) -> None:
    chunk = parsed["ruby-rails-production"]
    fatal = chunk.lines.filter(pl.col("level") == "FATAL").row(0, named=True)
    assert (fatal["request_id"], fatal["extra_lines"], fatal["error"]) == (R3, 66, True)
    assert "RuntimeError (billing returned 503):" in fatal["message"]
    assert chunk.rejects["reason"].unique().to_list() == ["no timestamp"]  # Puma's banner


def test_jul_records_are_joined_and_keep_their_stack_trace(parsed: dict[str, AppChunk]) -> None:
    chunk = parsed["java-jul-simpleformatter"]
    assert chunk.lines.height == 10
    failed = chunk.lines.filter(pl.col("level") == "SEVERE").rows(named=True)
    assert [f["extra_lines"] for f in failed] == [1, 12]
    assert failed[1]["message"].endswith("| java.lang.IllegalStateException: billing returned 503")


# --- through ingest: what analyze counts per source -------------------------------------


def _ingest(*paths: Path) -> IngestReport:
    """Every source read as analyze reads it; the report of counts and samples."""
    report = IngestReport()
    resolver = FormatResolver.from_options(FormatOptions())
    for _ in iter_lines(resolve_sources([str(p) for p in paths]), resolver, report):
        pass
    return report


def test_each_source_counts_its_served_requests_calls_and_unclassified_lines() -> None:
    names = ("python-logging-common", "node-pino-http", "java-logback-default")
    report = _ingest(*(SHAPES / f"{n}.log" for n in names))
    by_name = {Path(s.path).stem: s for s in report.sources}
    common = by_name["python-logging-common"]
    assert common.app_events == Counter({"server": 3, "server_start": 3, "client": 6, "log": 4})
    assert by_name["node-pino-http"].app_events == Counter({"server": 3, "client": 3})
    logback = by_name["java-logback-default"]
    assert not logback.app_events
    assert logback.app_events_untimed == Counter(
        {"server": 3, "server_start": 3, "client": 3, "log": 1}
    )
    assert any("6 served-request and 3 call lines have no date" in w for w in logback.warnings)
    for s in report.sources:
        assert s.lines_total == s.lines_parsed + s.lines_rejected


def test_unclassified_http_lines_are_counted_with_samples_and_still_parsed(
    tmp_path: Path,
) -> None:
    log = tmp_path / "api-1.log"
    lines = [
        {
            "time": "2026-12-03T10:00:00Z",
            "msg": "x",
            "method": "GET",
            "status": 200,
            "duration_ms": 3,
            "request_id": f"r{i}",
        }
        for i in range(7)
    ]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = _ingest(log)
    (source,) = report.sources
    assert source.app_events == Counter({"unclassified": 7})
    assert [s.line_no for s in source.unclassified] == [1, 2, 3, 4, 5]
    assert source.lines_parsed == source.lines_total == 7


# --- deployments logtrace was not built with ---------------------------------------------


def parse(text: str, fmt: AppFormat) -> pl.DataFrame:
    chunk = parse_app_chunk(lines_frame(Chunk(text.encode(), 1)), fmt, OPTIONS)
    assert chunk.rejects.is_empty(), chunk.rejects.to_dicts()
    return chunk.lines


COLUMNS = ["request_id", "event", "method", "target", "status", "duration_s", "peer"]

DEPLOYMENTS = [
    (
        "json-event-values",
        JSON,
        [
            {
                "time": "2026-11-26T12:00:00.100Z",
                "event": "request_start",
                "request_id": "r1",
                "method": "GET",
                "path": "/feed/43432?limit=20",
            },
            {
                "time": "2026-11-26T12:00:00.150Z",
                "event": "downstream_call",
                "request_id": "r1",
                "target": "users-svc",
                "path": "/profile/36256",
                "status": 200,
                "duration_ms": 12.3,
            },
            {
                "time": "2026-11-26T12:00:00.300Z",
                "event": "request_end",
                "request_id": "r1",
                "method": "GET",
                "path": "/feed/43432?limit=20",
                "status": 200,
                "duration_ms": 198.7,
            },
        ],
        [
            ("r1", "server_start", "GET", "/feed/43432?limit=20", None, None, None),
            ("r1", "client", None, "/profile/36256", 200, 0.0123, "users-svc"),
            ("r1", "server", "GET", "/feed/43432?limit=20", 200, 0.1987, None),
        ],
    ),
    (
        "logfmt-request-finished",
        LOGFMT,
        [
            'ts=2026-11-26T12:00:00.1Z level=info msg="request started" req_id=r2 method=GET '
            "path=/feed/7",
            'ts=2026-11-26T12:00:00.3Z level=info msg="request finished" req_id=r2 method=GET '
            "path=/feed/7 status=200 duration_ms=198.7",
        ],
        [
            ("r2", "server_start", "GET", "/feed/7", None, None, None),
            ("r2", "server", "GET", "/feed/7", 200, 0.1987, None),
        ],
    ),
    (
        "python-logging-call-and-own-request",
        PYTHON,
        [
            "2026-11-26 12:00:00,123 INFO feed rid=r3 call users-svc GET /profile/36256 -> 200 "
            "in 17.9ms",
            "2026-11-26 12:00:00,301 INFO feed rid=r3 GET /feed/43432?limit=20 200 198.7ms",
        ],
        [
            ("r3", "client", "GET", "/profile/36256", 200, 0.0179, "users-svc"),
            ("r3", "server", "GET", "/feed/43432?limit=20", 200, 0.1987, None),
        ],
    ),
    (
        "free-text-keyed-trace-id",
        TEXT,
        [
            "[2026/11/26 12:00:00.120000] calling billing GET /invoices/9 trace_id=t4",
            "[2026/11/26 12:00:00.160000] response from billing 503 in 40ms trace_id=t4",
            "[2026/11/26 12:00:00.170000] users served GET /users/9 status=503 elapsed=0.07 "
            "trace_id=t4",
        ],
        [
            ("t4", "client_start", "GET", "/invoices/9", None, None, "billing"),
            ("t4", "client", None, None, None, 0.04, "billing"),
            ("t4", "server", "GET", "/users/9", 503, 0.07, None),
        ],
    ),
]


@pytest.mark.parametrize(
    ("fmt", "lines", "expected"),
    [case[1:] for case in DEPLOYMENTS],
    ids=[case[0] for case in DEPLOYMENTS],
)
def test_the_shapes_of_other_deployments_give_served_requests_and_calls(
    fmt: AppFormat, lines: list[Any], expected: list[tuple[Any, ...]]
) -> None:
    text = "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines)
    got = parse(text, fmt).select(COLUMNS).rows()
    _close([(*row[:5], row[6], row[5]) for row in got], [(*e[:5], e[6], e[5]) for e in expected])


# --- the rules, one conflict at a time ---------------------------------------------------

RULES = [
    # (case, line, fmt, event, peer)
    (
        "pino-http app line: call words beat the served req object",
        '{"time":1796294415240,"req":{"id":1,"method":"GET","url":"/orders/42",'
        '"remoteAddress":"127.0.0.1"},"url":"http://10.0.0.7/items/42","statusCode":200,'
        '"durationMs":75.9,"msg":"outgoing call"}',
        JSON,
        "client",
        "10.0.0.7",
    ),
    (
        "pino-http's own line: request completed with req and res",
        '{"time":1796294415250,"req":{"id":1,"method":"GET","url":"/orders/42"},'
        '"res":{"statusCode":200},"responseTime":89,"msg":"request completed"}',
        JSON,
        "server",
        None,
    ),
    (
        "request completed with a URL to another host is served",
        'ts=2026-11-26T12:00:00Z msg="request completed" url=http://api.example/x status=200 '
        "took=5ms",
        LOGFMT,
        "server",
        None,
    ),
    (
        "an outgoing call with only a url names the URL's host and port",
        'ts=2026-11-26T12:00:00Z msg="outgoing call" url=http://users:8080/u/1 status=200 took=5ms',
        LOGFMT,
        "client",
        "users:8080",
    ),
    (
        "downstream as a key is a peer field",
        "ts=2026-11-26T12:00:00Z msg=done downstream=stock method=GET path=/s/1 took=3ms",
        LOGFMT,
        "client",
        "stock",
    ),
    (
        "a request noun and a peer field are equal evidence",
        'ts=2026-11-26T12:00:00Z msg="request finished" downstream=stock status=200 took=3ms',
        LOGFMT,
        "unclassified",
        None,
    ),
    (
        "calling X without a result is the call's start",
        'ts=2026-11-26T12:00:00Z msg="calling payments" method=POST path=/charge',
        LOGFMT,
        "client_start",
        "payments",
    ),
    (
        "a call that failed has ended",
        'ts=2026-11-26T12:00:00Z msg="call to billing failed" error="connection refused"',
        LOGFMT,
        "client",
        "billing",
    ),
    (
        "received response from X is a call's end",
        'ts=2026-11-26T12:00:00Z msg="received response from inventory" status=200 took=9ms',
        LOGFMT,
        "client",
        "inventory",
    ),
    (
        "sending the response is served",
        'ts=2026-11-26T12:00:00Z msg="sending response" path=/x status=200 took=9ms',
        LOGFMT,
        "server",
        None,
    ),
    (
        "incoming request is a served start",
        'ts=2026-11-26T12:00:00Z msg="incoming request" method=GET path=/x',
        LOGFMT,
        "server_start",
        None,
    ),
    (
        "a served request that failed is a log line about it",
        'ts=2026-11-26T12:00:00Z msg="request failed" method=GET path=/x error=boom',
        LOGFMT,
        "log",
        None,
    ),
    (
        "gunicorn's error line names a request but is no event",
        "[2026-12-03 10:40:06 +0000] [20289] [ERROR] Error handling request GET /orders/99",
        TEXT,
        "log",
        None,
    ),
    (
        "method and path alone are context",
        '{"time": "2026-11-26T12:00:00Z", "msg": "cache miss", "method": "GET", "path": "/x"}',
        JSON,
        "log",
        None,
    ),
    (
        "a path of its own with its status: the request it served",
        '{"time": "2026-11-26T12:00:00Z", "msg": "x", "path": "/x", "status": 200, "ms": 1}',
        JSON,
        "server",
        None,
    ),
    (
        "status and duration with nothing to tell the side",
        '{"time": "2026-11-26T12:00:00Z", "msg": "x", "method": "GET", "status": 200, "ms": 1}',
        JSON,
        "unclassified",
        None,
    ),
    (
        "camelCase event values are words",
        '{"time": "2026-11-26T12:00:00Z", "event": "requestEnd", "path": "/x", "status": 200}',
        JSON,
        "server",
        None,
    ),
    (
        "chi's access line has the full URL of its own request",
        '2026/11/26 12:00:00 "GET http://localhost:3333/x HTTP/1.1" from 127.0.0.1:5437 - '
        "200 12B in 37.4µs",
        TEXT,
        "server",
        None,
    ),
    (
        "urllib3 writes the host before the request line",
        "2026-12-03 10:40:01,283 DEBUG [urllib3.connectionpool] http://127.0.0.1:28081 "
        '"GET /inventory/items/42 HTTP/1.1" 200 28',
        TEXT,
        "client",
        "127.0.0.1:28081",
    ),
    (
        "httpx's HTTP Request line",
        '2026-12-03 10:40:01,283 INFO httpx HTTP Request: POST http://pay:9000/charge "HTTP/1.1 '
        '201 Created"',
        PYTHON,
        "client",
        "pay:9000",
    ),
    (
        "a service field on a call line names the callee",
        "2026-12-03T10:40:00Z INFO outgoing call service=inventory url=http://10.0.0.7/i/1 "
        "status=200 duration_ms=3",
        TEXT,
        "client",
        "inventory",
    ),
]


@pytest.mark.parametrize(
    ("line", "fmt", "event", "peer"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_each_rule_decides_the_side_and_the_phase(
    line: str, fmt: AppFormat, event: str, peer: str | None
) -> None:
    (got,) = parse(line + "\n", fmt).select("event", "peer").rows()
    assert got == (event, peer)


def test_rails_completed_takes_method_and_path_from_its_started_line() -> None:
    text = (
        "I, [2026-12-03T10:40:45.437420 #1]  INFO -- : [c0a8f3e2-6b1d-4f7a-9e25-3d4b5a6c7d81] "
        'Started GET "/orders/42" for 127.0.0.1 at 2026-12-03 10:40:45 +0000\n'
        "I, [2026-12-03T10:40:45.471288 #1]  INFO -- : [c0a8f3e2-6b1d-4f7a-9e25-3d4b5a6c7d81] "
        "Completed 200 OK in 31ms (Views: 0.5ms | Allocations: 4346)\n"
    )
    got = parse(text, TEXT).select(COLUMNS).rows()
    assert got == [
        (R1, "server_start", "GET", "/orders/42", None, None, None),
        (R1, "server", "GET", "/orders/42", 200, 0.031, None),
    ]
