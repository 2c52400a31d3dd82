"""Every genuine nginx line of the edge-case corpus parses to the right values.

The corpus (tests/fixtures/nginx-edge-cases) is nginx 1.22.1's real output for 47
requests in four formats, with the nginx.conf that wrote them; index.tsv says what each
line exercises.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from logtrace.log_format.compiler import compile_format
from logtrace.log_format.nginx_conf import read_nginx_conf
from logtrace.parse import parse_chunk
from logtrace.sources import ReadReport, Source, iter_frames
from tests.conftest import CORPUS

CONF = read_nginx_conf(str(CORPUS / "nginx.conf"))


def parse_file(name: str, fmt: str) -> pl.DataFrame:
    cf = compile_format(CONF.format(fmt))
    frames = list(iter_frames(Source(str(CORPUS / name), "h", "s"), ReadReport()))
    assert len(frames) == 1
    parsed = parse_chunk(frames[0], cf, None, keep_line=True)
    assert parsed.rejects.is_empty(), parsed.rejects.to_dicts()
    return parsed.lines.sort("line_no")


@pytest.fixture(scope="module")
def trace() -> list[dict[str, Any]]:
    return parse_file("trace.log", "trace").to_dicts()


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(0, UTC) + timedelta(milliseconds=round(epoch * 1000))


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("trace.log", "trace"),
        ("combined.log", "combined"),
        ("json.log", "jsonl"),
        ("raw.log", "raw"),
    ],
)
def test_every_corpus_line_parses(name: str, fmt: str) -> None:
    assert parse_file(name, fmt).height == 47


# (line number, column, expected value) for the trace format, case by case (index.tsv).
TRACE_CASES: list[tuple[int, str, Any]] = [
    (1, "method", "GET"),
    (1, "path", "/api/users"),
    (1, "query", "id=42"),
    (1, "status", 200),
    (1, "http_referer", "https://example.com/page?x=1"),
    (1, "http_x_request_id", "3f2a9c1e-client-supplied"),
    (1, "http_traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    (1, "request_id", "117001dfd537678c60f9e88066c5959c"),
    (1, "request_time_s", 0.003),
    (1, "time", at(1795692651.447)),
    (1, "start", at(1795692651.444)),
    (1, "upstream_addr", ["127.0.0.1:18081"]),
    (1, "upstream_status", [200]),
    (1, "upstream_response_time_s", [0.002]),
    (1, "connection", 43),
    (1, "request_length", 277),
    (1, "bytes_sent", 182),
    (2, "http_referer", None),  # "-": not sent, so null, never ""
    (2, "upstream_addr", None),
    (2, "upstream_response_time_s", None),
    (3, "http_referer", ""),  # sent but empty: "" stays ""
    (3, "http_user_agent", ""),
    (4, "http_user_agent", 'q"uote back\\slash\ttab café 日 del\x7f esc\x1b[31m'),
    (5, "path", '/static/a"b\\c'),
    (5, "query", 'q="x"&p=%22y%22'),  # percent-encoding is left alone
    (6, "request", "GET /static/a b HTTP/1.1"),
    (6, "target", "/static/a b"),
    (6, "protocol", "HTTP/1.1"),
    (6, "status", 400),
    (6, "request_length", 0),
    (7, "remote_user", 'ev"il user'),
    (11, "http_x_request_id", "first"),
    (12, "method", "POST"),
    (12, "request_length", 1159),
    (13, "method", "HEAD"),
    (14, "upstream_status", [500]),
    (16, "upstream_addr", ["127.0.0.1:18099", "127.0.0.1:18081"]),
    (16, "upstream_status", [502, 200]),
    (16, "upstream_response_time_s", [0.0, 0.001]),
    (16, "upstream_connect_time_s", [None, 0.0]),
    (18, "upstream_addr", ["127.0.0.1:18098", "127.0.0.1:18097", "127.0.0.1:18082"]),
    (18, "upstream_status", [502, 502, 200]),
    (18, "upstream_connect_time_s", [None, None, 0.0]),
    (19, "upstream_addr", ["127.0.0.1:18082", "127.0.0.1:18081"]),
    (19, "upstream_response_time_s", [0.002, 0.0]),
    (20, "upstream_connect_time_s", [None, None]),
    (21, "upstream_addr", ["all_dead"]),
    (21, "upstream_status", [502]),
    (22, "status", 504),
    (22, "request_time_s", 1.002),
    (22, "upstream_header_time_s", [None]),
    (23, "status", 499),
    (23, "upstream_status", [None]),
    (23, "upstream_response_time_s", [0.502]),
    (23, "bytes_sent", 0),
    (24, "protocol", "HTTP/1.0"),
    (25, "path", "/static/http09"),
    (25, "protocol", None),
    (26, "protocol", "HTTP/2.0"),
    (26, "upstream_response_time_s", [0.011]),  # 1 ms more than request_time: kept as logged
    (27, "request", "GARBAGE"),
    (27, "method", None),
    (27, "path", None),
    (28, "method", "get"),
    (28, "status", 400),
    (29, "method", None),
    (29, "status", 400),
    (31, "path", "/static/ctl\x01x"),
    (33, "status", 414),
    (33, "protocol", None),
    (34, "request", "GET /static/partial HT"),
    (36, "pipe", "."),
    (37, "pipe", "p"),
    (37, "connection_requests", 2),
    (38, "request_length", 73),
    (39, "target", "http://example.com/static/abs?x=1"),
    (39, "path", "/static/abs"),
    (39, "query", "x=1"),
    (40, "method", "PURGE"),
    (41, "request", ""),  # only CRLF sent: empty, not null
    (41, "status", 400),
    (42, "status", 408),
    (42, "request_time_s", 2.002),
    (43, "path", "/static/café/日本"),
    (44, "path", "/static/x"),
    (47, "connection", 106),
]


@pytest.mark.parametrize(("line_no", "column", "expected"), TRACE_CASES)
def test_trace_line_value(
    trace: list[dict[str, Any]], line_no: int, column: str, expected: Any
) -> None:
    assert trace[line_no - 1][column] == expected


def test_tls_probe_bytes_decode_without_loss_of_the_line(trace: list[dict[str, Any]]) -> None:
    row = trace[28]
    assert row["request"].startswith("\x16\x03\x01\x00\\xF8\x01")  # 0xF8 is not UTF-8
    assert "\\x16\\x03\\x01\\x00\\xF8" in row["line"]  # the exact bytes stay in the line


def test_414_request_keeps_the_8192_bytes_nginx_logged(trace: list[dict[str, Any]]) -> None:
    assert len(trace[32]["request"]) == 8192


def test_start_is_end_minus_request_time_and_file_is_in_end_order(
    trace: list[dict[str, Any]],
) -> None:
    short, long = trace[44], trace[45]
    assert long["start"] == at(1795692809.730)
    assert short["time"] < long["time"] and long["start"] < short["start"]


@pytest.mark.parametrize(
    ("name", "fmt", "columns"),
    [
        (
            "combined.log",
            "combined",
            [
                "request",
                "status",
                "body_bytes_sent",
                "http_referer",
                "http_user_agent",
                "remote_user",
            ],
        ),
        (
            "json.log",
            "jsonl",
            [
                "time",
                "request_id",
                "request",
                "status",
                "request_time_s",
                "upstream_status",
                "upstream_response_time_s",
                "upstream_addr",
            ],
        ),
        ("raw.log", "raw", ["status", "request", "http_user_agent", "remote_user"]),
    ],
)
def test_other_formats_agree_with_trace(
    trace: list[dict[str, Any]], name: str, fmt: str, columns: list[str]
) -> None:
    other = parse_file(name, fmt).to_dicts()
    for i, (a, b) in enumerate(zip(trace, other, strict=True), start=1):
        for col in columns:
            if fmt in ("jsonl", "raw") and a[col] == "":
                # escape=json/none write "not found" as "": empty reads as null there.
                assert b[col] is None, (i, col)
                continue
            assert b[col] == a[col], (i, col, b[col], a[col])


def test_time_local_has_second_precision_in_utc() -> None:
    combined = parse_file("combined.log", "combined").to_dicts()
    assert combined[0]["time"] == datetime(2026, 11, 26, 11, 30, 51, tzinfo=UTC)


def test_json_line_with_raw_invalid_utf8_parses() -> None:
    rows = parse_file("json.log", "jsonl").to_dicts()
    assert rows[28]["request"].startswith("\x16\x03\x01\x00\\xF8")
    assert rows[3]["http_user_agent"] == 'q"uote back\\slash\ttab café 日 del\x7f esc\x1b[31m'
