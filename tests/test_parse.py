"""The line parser: every line is parsed or rejected with a reason; strict and lenient agree."""

from __future__ import annotations

import pytest
from polars.testing import assert_frame_equal

from logtrace.log_format.compiler import compile_format
from logtrace.log_format.grammar import parse_log_format
from logtrace.log_format.presets import PRESETS
from logtrace.parse import BLANK, NO_MATCH, SourceStats, diagnose, parse_chunk
from tests.conftest import CORPUS, lines_of

TRACE = PRESETS["trace"].compiled()
GOOD = (
    '10.0.0.1 - - [26/Nov/2026:08:00:51 +0000] "GET /a/1 HTTP/1.1" 200 5 "-" "curl" '
    "0.012 0.010 0123456789abcdef0123456789abcdef"
)


def test_every_line_is_either_parsed_or_rejected() -> None:
    text = "\n".join([GOOD, "garbage", "", GOOD.replace("200", "abc"), GOOD])
    parsed = parse_chunk(lines_of(text), TRACE)
    assert parsed.lines.height + parsed.rejects.height == 5
    assert parsed.lines.get_column("line_no").to_list() == [1, 5]
    assert parsed.rejects.get_column("reason").to_list() == [NO_MATCH, BLANK, NO_MATCH]


def test_unconvertible_value_is_rejected_with_the_variable_named() -> None:
    cf = compile_format(parse_log_format("$remote_addr [$time_local]"))
    text = "1.2.3.4 [26/Foo/2026:08:00:51 +0000]\n1.2.3.4 [26/Nov/2026:08:00:51 +0000]"
    parsed = parse_chunk(lines_of(text), cf)
    assert parsed.rejects.get_column("reason").to_list() == ["$time_local: not a valid value"]
    assert parsed.lines.get_column("line_no").to_list() == [2]


def test_a_value_of_the_wrong_shape_is_shown_where_it_diverges() -> None:
    cf = compile_format(parse_log_format("$remote_addr $request_time"))
    parsed = parse_chunk(lines_of("1.2.3.4 12x"), cf)
    assert parsed.rejects.get_column("reason").to_list() == [NO_MATCH]
    assert diagnose("1.2.3.4 12x", cf) == (10, "end of line")


def test_dash_is_null_never_zero() -> None:
    line = GOOD.replace("0.010", "-")
    row = parse_chunk(lines_of(line), TRACE).lines.row(0, named=True)
    assert row["upstream_response_time_s"] is None
    assert row["http_referer"] is None


def test_strict_and_lenient_regexes_give_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from logtrace.log_format.compiler import CompiledFormat
    from logtrace.log_format.nginx_conf import read_nginx_conf

    cf = compile_format(read_nginx_conf(str(CORPUS / "nginx.conf")).format("trace"))
    frame = lines_of((CORPUS / "trace.log").read_text(encoding="utf-8"))
    both = parse_chunk(frame, cf).lines.sort("line_no")
    monkeypatch.setattr(CompiledFormat, "strict_regex", lambda self, needed=None: None)
    lenient_only = parse_chunk(frame, cf).lines.sort("line_no")
    assert_frame_equal(both, lenient_only, check_column_order=False)


@pytest.mark.parametrize(
    "columns",
    [
        frozenset({"status"}),
        frozenset({"time", "request_time_s"}),
        frozenset({"path", "request_id"}),
    ],
)
def test_projection_parses_only_what_is_asked_and_gives_the_same_values(
    columns: frozenset[str],
) -> None:
    text = "\n".join([GOOD, GOOD.replace("/a/1", "/b/2?x=1")])
    full = parse_chunk(lines_of(text), TRACE).lines
    part = parse_chunk(lines_of(text), TRACE, columns).lines
    shared = [c for c in part.columns if c in columns]
    assert set(shared) == columns
    assert_frame_equal(part.select(shared), full.select(shared))


def test_diagnose_points_at_the_first_divergence() -> None:
    line = GOOD.replace("200", "2x0")
    column, expected = diagnose(line, TRACE)
    assert column is not None
    assert line[:column].endswith('HTTP/1.1" ')
    assert expected == "$status"


def test_rejected_samples_are_kept_with_carets_and_bounded() -> None:
    text = "\n".join(["nope"] * 20)
    parsed = parse_chunk(lines_of(text), TRACE)
    stats = SourceStats(path="x", host="h", service="s")
    stats.add_rejects(parsed.rejects, TRACE)
    assert stats.reasons[NO_MATCH] == 20
    assert len(stats.samples) == 5
    assert stats.samples[0].column == 4  # "nope" could be $remote_addr: ' - ' is missing after it


def test_remote_user_with_space_and_redirect_lists_take_the_lenient_path() -> None:
    line = GOOD.replace("- - [", "- ev\\x22il user [").replace("0.010", "0.001, 0.002 : 0.003")
    row = parse_chunk(lines_of(line), TRACE).lines.row(0, named=True)
    assert row["remote_user"] == 'ev"il user'
    assert row["upstream_response_time_s"] == [0.001, 0.002, 0.003]


def test_lines_the_lenient_regex_parses_keep_their_place() -> None:
    # a scanner's TLS handshake (no request line) between two requests: the strict regex
    # misses it; later stages read a log's lines in order (WrittenBefore)
    odd = GOOD.replace('"GET /a/1 HTTP/1.1"', '"\\x16\\x03\\x01"').replace("200", "400")
    parsed = parse_chunk(lines_of("\n".join([GOOD, odd, GOOD])), TRACE)
    assert parsed.lines.get_column("line_no").to_list() == [1, 2, 3]
    assert parsed.lines.get_column("status").to_list() == [200, 400, 200]


@pytest.mark.parametrize(
    ("fmt", "line", "path"),
    [
        ('$status "$uri"', '200 "/api/feed/7"', "/api/feed/7"),
        ("$status $document_uri", "404 /static/x.css", "/static/x.css"),
        # $request comes first: the path as the client sent it
        ('"$request" $uri', '"GET /a/%7E?q=1 HTTP/1.1" /a/~', "/a/%7E"),
    ],
)
def test_uri_variables_give_the_path(fmt: str, line: str, path: str) -> None:
    parsed = parse_chunk(lines_of(line), compile_format(parse_log_format(fmt)))
    assert parsed.lines.get_column("path").to_list() == [path]


# GoAccess's CI data (a vhost prefix) and Filebeat's (a forwarded list where combined has
# the address): lines of another format, not combined lines with a spaced address.
VHOST = (
    'localhost:80 192.168.0.1 - - [01/Jul/2013:06:20:38 -0500] "GET / HTTP/1.1" 200 3829 '
    '"-" "Mozilla/5.0"'
)
FORWARDED = (
    '10.0.0.2, 10.0.0.1, 85.181.35.98 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" '
    '200 571 "-" "Mozilla/5.0"'
)


@pytest.mark.parametrize("line", [VHOST, FORWARDED])
def test_a_variable_that_never_holds_a_space_does_not_take_one(line: str) -> None:
    parsed = parse_chunk(lines_of(line), PRESETS["combined"].compiled())
    assert parsed.lines.height == 0
    assert parsed.rejects.get_column("reason").to_list() == [NO_MATCH]


def test_variables_that_can_hold_spaces_still_do() -> None:
    fmt = '$http_x_forwarded_for - $remote_user [$time_local] "$request" $status'
    line = '10.0.0.2, 10.0.0.1 - ev il [07/Dec/2016:11:05:07 +0100] "GET /a HTTP/1.1" 200'
    row = parse_chunk(lines_of(line), compile_format(parse_log_format(fmt))).lines.row(
        0, named=True
    )
    assert (row["http_x_forwarded_for"], row["remote_user"]) == ("10.0.0.2, 10.0.0.1", "ev il")


JSON_URI = (
    'escape=json {"uri":"$request_uri","request":"$request","status":$status,"rt":$request_time}'
)


@pytest.mark.parametrize(
    ("fmt", "line", "path"),
    [
        # a 414 or a bad request line: $request_uri is empty, $request holds the path
        (
            JSON_URI,
            '{"uri":"","request":"GET /static/AAAA","status":414,"rt":0.000}',
            "/static/AAAA",
        ),
        (
            JSON_URI,
            '{"uri":"/a/1?x","request":"GET /b/2 HTTP/1.1","status":200,"rt":0.001}',
            "/a/1",
        ),
        # $uri after a request line that has none
        ('"$request" $status $uri', '"GARBAGE" 400 /fallback', "/fallback"),
        ('"$request" $status $uri', '"GET /a HTTP/1.1" 200 /b', "/a"),
        ("escape=json $uri|$document_uri|$status", "|/doc|200", "/doc"),
    ],
)
def test_the_path_comes_from_the_variable_that_holds_one_on_each_line(
    fmt: str, line: str, path: str
) -> None:
    from logtrace.log_format.grammar import Escape, parse_body

    escape = Escape.JSON if fmt.startswith("escape=json ") else Escape.DEFAULT
    body = fmt.removeprefix("escape=json ")
    cf = compile_format(parse_body(body, escape, "custom"))
    for needed in (None, frozenset({"path", "status"})):
        parsed = parse_chunk(lines_of(line), cf, needed)
        assert parsed.lines.get_column("path").to_list() == [path]


ISO_FORMAT = compile_format(
    parse_log_format('$remote_addr [$time_iso8601] "$request" $status $request_time')
)


def test_iso8601_times_as_nginx_writes_them_read_with_their_offset() -> None:
    lines = lines_of(
        '10.0.0.1 [2026-11-26T08:00:51-03:30] "GET /a HTTP/1.1" 200 0.004\n'
        '10.0.0.1 [2026-11-26T11:30:51+00:00] "GET /b HTTP/1.1" 200 0.004\n'
        '10.0.0.1 [2026-11-26T17:15:51+05:45] "GET /c HTTP/1.1" 200 0.004\n'
        '10.0.0.1 [2026-02-30T11:30:51+00:00] "GET /d HTTP/1.1" 200 0.004\n'
    )
    parsed = parse_chunk(lines, ISO_FORMAT)
    times = parsed.lines.get_column("time").to_list()
    assert [t.isoformat() for t in times] == ["2026-11-26T11:30:51+00:00"] * 3
    assert parsed.rejects.get_column("reason").to_list() == ["$time_iso8601: not a valid value"]


def test_iso8601_times_in_another_form_take_the_lenient_path() -> None:
    """A fraction, Z or +HHMM is no nginx output, but a line that holds one still parses."""
    lines = lines_of(
        '10.0.0.1 [2026-11-26T11:30:51.250Z] "GET /a HTTP/1.1" 200 0.004\n'
        '10.0.0.1 [2026-11-26T17:00:51+0530] "GET /b HTTP/1.1" 200 0.004\n'
    )
    times = parse_chunk(lines, ISO_FORMAT).lines.get_column("time").to_list()
    assert [t.isoformat() for t in times] == [
        "2026-11-26T11:30:51.250000+00:00",
        "2026-11-26T11:30:51+00:00",
    ]
