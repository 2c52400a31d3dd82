"""A log_format inferred from lines nginx wrote in a format no preset knows."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from logtrace.lines import Chunk, lines_frame
from logtrace.log_format.compiler import compile_format
from logtrace.log_format.infer import infer_format
from logtrace.log_format.nginx_conf import read_nginx_conf
from logtrace.parse import parse_chunk
from tests.conftest import CORPUS

# nginx's documentation's own example of upstream timings, and an internal proxy's format
UPSTREAM_TIME = (
    '10.1.2.3 - - [03/Dec/2026:10:00:0{i} +0100] "GET /api/items/{i} HTTP/1.1" 200 61 '
    '"-" "curl/8.5.0" rt=0.01{i} uct="0.000" uht="0.00{i}" urt="0.00{i}"'
)
MESH = (
    '127.0.0.1 - - [03/Dec/2026:08:30:5{i} -0330] "GET /v1/users/{i} HTTP/1.1" 200 24 '
    "rt=0.01{i} msec=1796299251.66{i} xrid=cbcc98b89c5cc36bb0e72845e234ac1{i} "
    'ua="127.0.0.1:35135, 127.0.0.1:35136" us="502, 200" urt="0.001, 0.01{i}"'
)
TRACE_LIKE = (
    '127.0.0.1 - - [03/Dec/2026:11:46:58 +0000] "GET /users-svc/profile/{i} HTTP/1.1" 200 45 '
    '"-" "-" 0.00{i} 0.00{i} 3fe58d2f1ee2ef550f88211bc2ab840{i}'
)


def _lines(template: str) -> list[str]:
    return [template.format(i=i) for i in range(1, 9)]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            UPSTREAM_TIME,
            '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" '
            'uht="$upstream_header_time" urt="$upstream_response_time"',
        ),
        (
            MESH,
            '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            "rt=$request_time msec=$msec xrid=$http_x_request_id "
            'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time"',
        ),
        (
            TRACE_LIKE,
            '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent" $request_time $upstream_response_time $request_id',
        ),
    ],
)
def test_fields_are_named_by_their_keys_and_values(template: str, expected: str) -> None:
    found = infer_format(_lines(template))
    assert found is not None
    assert found.format.text == expected


def test_an_inferred_json_format_reads_what_nginx_wrote_as_its_real_format_does() -> None:
    """The corpus's escape=json log (a real nginx wrote it): the guess parses every line
    to the same values as the format in its nginx.conf."""
    frame = lines_frame(Chunk((CORPUS / "json.log").read_bytes(), 1))
    found = infer_format(frame.get_column("line").to_list())
    assert found is not None
    real = read_nginx_conf(str(CORPUS / "nginx.conf")).format("jsonl")
    guessed = parse_chunk(frame, compile_format(found.format))
    truth = parse_chunk(frame, compile_format(real))
    assert guessed.rejects.height == truth.rejects.height
    shared = [c for c in truth.lines.columns if c in guessed.lines.columns]
    assert {"time", "request_id", "path", "status", "request_time_s"} <= set(shared)
    assert_frame_equal(guessed.lines.select(shared), truth.lines.select(shared))


@pytest.mark.parametrize(
    "lines",
    [
        # Python logging, JSON events of an app, logfmt: no request line, no access log
        [f"2026-12-03 10:30:42,21{i} INFO orders.api request_id=x{i} GET /a 200" for i in range(8)],
        [
            json.dumps({"ts": f"2026-12-03T10:00:0{i}Z", "event": e, "path": "/a", "status": 200})
            for i, e in enumerate(["request_start", "downstream_call", "request_end"] * 3)
        ],
        [f'ts=2026-12-03T10:00:0{i}Z level=info msg="done" status=200 path=/a' for i in range(8)],
        [],
    ],
)
def test_lines_that_are_no_access_log_get_no_format(lines: list[str]) -> None:
    assert infer_format(lines) is None


def test_analyze_reads_a_custom_format_without_being_told_it(tmp_path: Path) -> None:
    from logtrace.analysis.analyze import AnalyzeOptions, analyze
    from logtrace.sources import resolve_sources

    log = tmp_path / "proxy.access.log"
    log.write_text("\n".join(_lines(MESH)) + "\n")
    result = analyze(resolve_sources([str(log)]), AnalyzeOptions())
    stats = result.ingest.sources[0]
    assert stats.lines_parsed == 8
    assert stats.detected is not None and "inferred" in stats.detected
    assert any("inferred from its lines" in w for w in stats.warnings)
    assert result.latency.requests == 8
    frame = result.latency.routes
    assert isinstance(frame, pl.DataFrame) and frame.height == 1


def test_a_key_nobody_knows_is_never_read_as_an_nginx_timing() -> None:
    """logfmt of an app, with a three-decimal duration_ms: not nginx's $request_time."""
    lines = [
        f'ts=2026-03-04T10:00:0{i}.026800Z level=info msg="request finished" request_id=r{i} '
        f"method=GET path=/profile/{i} status=200 duration_ms=8.00{i}"
        for i in range(8)
    ]
    assert infer_format(lines) is None


@pytest.mark.parametrize(
    ("template", "expected", "addr"),
    [
        (  # GoAccess's CI data: a vhost and its port before the address
            'localhost:80 192.168.0.{i} - - [01/Jul/2013:06:20:3{i} -0500] "GET /p/{i} HTTP/1.1" '
            '200 3829 "-" "Mozilla/5.0"',
            '$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status '
            '$body_bytes_sent "$http_referer" "$http_user_agent"',
            "192.168.0.1",
        ),
        (  # Filebeat's: a vhost without a port
            'lessons.example.com 192.168.0.{i} - - [09/Jun/2020:12:10:3{i} +0000] "GET /p/{i} '
            'HTTP/1.1" 200 61 "-" "curl"',
            '$host $remote_addr - $remote_user [$time_local] "$request" $status '
            '$body_bytes_sent "$http_referer" "$http_user_agent"',
            "192.168.0.1",
        ),
        (  # Filebeat's: X-Forwarded-For where combined has $remote_addr
            '10.0.0.{i}, 10.0.0.1, 85.181.35.98 - - [07/Dec/2016:11:05:0{i} +0100] "GET /p/{i} '
            'HTTP/1.1" 200 571 "-" "Mozilla/5.0"',
            '$http_x_forwarded_for - $remote_user [$time_local] "$request" $status '
            '$body_bytes_sent "$http_referer" "$http_user_agent"',
            None,
        ),
    ],
)
def test_a_vhost_or_a_forwarded_list_before_combined_is_inferred(
    tmp_path: Path, template: str, expected: str, addr: str | None
) -> None:
    from logtrace.analysis.analyze import AnalyzeOptions, analyze
    from logtrace.sources import resolve_sources

    found = infer_format(_lines(template))
    assert found is not None
    assert found.format.text == expected
    log = tmp_path / "access.log"
    log.write_text("\n".join(_lines(template)) + "\n")
    result = analyze(resolve_sources([str(log)]), AnalyzeOptions())
    stats = result.ingest.sources[0]
    assert stats.format == "inferred" and stats.lines_parsed == 8
    parsed = parse_chunk(lines_frame(Chunk(log.read_bytes(), 1)), compile_format(found.format))
    if addr is not None:
        assert parsed.lines.get_column("remote_addr").to_list()[0] == addr
    else:
        assert (
            parsed.lines.get_column("http_x_forwarded_for")[0] == "10.0.0.1, 10.0.0.1, 85.181.35.98"
        )
