"""The CSV/JSON-reader path of parse.py gives the same LINES frame as the regexes.

Every case parses the same chunk twice, with the dialect paths (``rows=BOTH``) and with
the regexes only (``rows=frozenset()``), and compares the parsed lines and the rejects; a case
that should be read as rows also checks that the dialect path really took them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from logtrace.analysis.derive import ANALYZE_COLUMNS
from logtrace.lines import text_and_frame
from logtrace.log_format.compiler import CompiledFormat, compile_format
from logtrace.log_format.dialect import plan_dialect
from logtrace.log_format.grammar import parse_log_format
from logtrace.log_format.nginx_conf import read_nginx_conf
from logtrace.log_format.presets import PRESETS
from logtrace.parse import parse_chunk
from logtrace.parse_dialect import _fit, ascii_only, read_rows
from tests.conftest import CORPUS
from tests.test_fuzz import budget, mutated

ROOT = Path(__file__).resolve().parent.parent
BOTH = frozenset({"csv", "json"})
CONF = read_nginx_conf(str(CORPUS / "nginx.conf"))
TRACE = PRESETS["trace"].compiled()
COMBINED = PRESETS["combined"].compiled()
JSONL = compile_format(CONF.format("jsonl"))
# upstream lists inside quotes: read as cells with their ", " and " : "
QUOTED_LISTS = compile_format(
    parse_log_format(
        '$remote_addr - $remote_user [$time_local] "$request" $status rt=$request_time '
        '"$upstream_addr" "$upstream_status" "$upstream_response_time" ${body_bytes_sent}B '
        "$request_id"
    )
)


def rows_read(data: bytes, cf: CompiledFormat, columns: frozenset[str] | None = None) -> int:
    """How many lines of ``data`` the dialect path reads as rows."""
    dialect = plan_dialect(cf)
    assert dialect is not None
    text, frame = text_and_frame(data)
    raw, _ = read_rows(frame, cf, dialect, columns, ["line_no"], text=text)
    return 0 if raw is None else raw.collect().height


def assert_same(data: bytes, cf: CompiledFormat, columns: frozenset[str] | None = None) -> None:
    """Both paths, with the chunk's bytes at hand or not, give the same frames."""
    text, frame = text_and_frame(data)
    regex = parse_chunk(frame, cf, columns, keep_line=True, rows=frozenset())
    for given_text in (text, None):
        rows = parse_chunk(frame, cf, columns, keep_line=True, rows=BOTH, text=given_text)
        assert_frame_equal(rows.lines.sort("line_no"), regex.lines.sort("line_no"))
        assert_frame_equal(rows.rejects, regex.rejects)


@pytest.mark.parametrize(
    ("cf", "planned"),
    [
        (COMBINED, "csv"),
        (PRESETS["main"].compiled(), "csv"),
        (TRACE, "csv"),
        (PRESETS["upstreaminfo"].compiled(), "csv"),
        (QUOTED_LISTS, "csv"),
        (JSONL, "json"),
        (PRESETS["timing"].compiled(), None),  # ua="$upstream_addr": a quote inside a cell
        (compile_format(CONF.format("raw")), None),  # escape=none: values may hold quotes
        (compile_format(parse_log_format('$status "$uri$is_args$args"')), None),
        (compile_format(parse_log_format('$status "$request"x')), None),
        (compile_format(parse_log_format('escape=json \'{"a":"$status","b":[$status]}\'')), None),
    ],
)
def test_a_format_gets_a_dialect_when_its_literals_allow_one(
    cf: CompiledFormat, planned: str | None
) -> None:
    dialect = plan_dialect(cf)
    kind = None if dialect is None else "json" if dialect.is_json else "csv"
    assert kind == planned


def test_time_local_is_two_cells_and_literals_around_a_variable_are_cut_off() -> None:
    dialect = plan_dialect(QUOTED_LISTS)
    assert dialect is not None
    by_var = {c.field.var.name: c for c in dialect.cells if c.field is not None}
    assert by_var["time_local"].span == 2
    assert (by_var["time_local"].prefix, by_var["time_local"].suffix) == ("[", "]")
    assert (by_var["request_time"].prefix, by_var["body_bytes_sent"].suffix) == ("rt=", "B")
    assert dialect.width == 13


@pytest.mark.parametrize(
    ("name", "fmt", "read"),
    [("combined.log", "combined", 34), ("json.log", "jsonl", 34), ("trace.log", "trace", None)],
)
@pytest.mark.parametrize("columns", [None, ANALYZE_COLUMNS])
def test_the_corpus_parses_the_same_both_ways(
    name: str, fmt: str, read: int | None, columns: frozenset[str] | None
) -> None:
    cf = compile_format(CONF.format(fmt))
    data = (CORPUS / name).read_bytes()
    assert_same(data, cf, columns)
    if read is not None:
        assert rows_read(data, cf, columns) == read  # the other 13: odd request lines


@pytest.mark.parametrize(
    ("path", "cf"),
    [("edge-1.access.log", TRACE), ("combined/edge-1.combined.log", COMBINED)],
)
def test_sample_logs_parse_the_same_both_ways(path: str, cf: CompiledFormat) -> None:
    data = (ROOT / "sample_logs" / path).read_bytes()
    assert_same(data, cf)
    assert_same(data, cf, ANALYZE_COLUMNS)
    assert rows_read(data, cf) > 0.9 * data.count(b"\n")


GOOD = (
    '10.0.0.1 - - [26/Nov/2026:12:00:00 +0000] "GET /a?x=1 HTTP/1.1" 200 5 "-" "curl/8" '
    "0.004 0.003 0123456789abcdef0123456789abcdef"
)
TRACE_CASES = {
    "retry list": GOOD.replace(" 0.003 ", " 0.001, 0.003 "),
    "redirect list": GOOD.replace(" 0.003 ", " 0.001 : 0.003 "),
    "no upstream": GOOD.replace(" 0.003 ", " - "),
    "empty referer and agent": GOOD.replace('"-" "curl/8"', '"" ""'),
    "escaped quote": GOOD.replace("curl/8", "q\\x22uote caf\\xC3\\xA9"),
    "escaped question mark in the path": GOOD.replace("/a?x", "/a\\x3Fb?x"),
    "user with a space": GOOD.replace("- - [", "- ev\\x22il user ["),
    "empty user": GOOD.replace("- - [", "-  ["),
    "stray extra field": GOOD + " extra",
    "missing field": GOOD.rsplit(" ", 1)[0],
    "stray quote": GOOD.replace("curl/8", 'cu"rl/8'),
    "unbalanced quote": GOOD.replace('"-"', '"-'),
    "quote glued to a cell": GOOD.replace('"-" ', '"-"x '),
    "garbage request": GOOD.replace("GET /a?x=1 HTTP/1.1", "\\x16\\x03\\x01"),
    "empty request": GOOD.replace("GET /a?x=1 HTTP/1.1", ""),
    "HTTP/0.9": GOOD.replace(" HTTP/1.1", ""),
    "lowercase method": GOOD.replace("GET", "get"),
    "bad status": GOOD.replace(" 200 ", " 2x0 "),
    "no zone": GOOD.replace(" +0000]", "]"),
    "tab": GOOD.replace(" 200 ", "\t200 "),
    "blank": "",
}


@pytest.mark.parametrize("case", sorted(TRACE_CASES))
def test_an_odd_line_among_good_ones_parses_the_same_both_ways(case: str) -> None:
    lines = [GOOD] * 3 + [TRACE_CASES[case]] + [GOOD] * 3
    data = ("\n".join(lines) + "\n").encode()
    assert_same(data, TRACE)
    assert_same(data, TRACE, ANALYZE_COLUMNS)
    assert rows_read(data, TRACE) >= 6


@pytest.mark.parametrize("final", ["", "\n", "\r\n"])
def test_a_truncated_last_line_and_crlf_parse_the_same_both_ways(final: str) -> None:
    data = (f"{GOOD}\r\n{GOOD}\n{GOOD[:40]}{final}").encode()
    assert_same(data, TRACE)
    assert rows_read(data, TRACE) == 2


def test_quoted_upstream_lists_are_read_as_rows() -> None:
    lines = [
        '10.0.0.1 - - [26/Nov/2026:12:00:00 +0000] "GET /r/1 HTTP/1.1" 200 rt=0.005 '
        '"127.0.0.1:18099, 127.0.0.1:18081" "502, 200" "0.000, 0.004" 22B '
        "0123456789abcdef0123456789abcdef",
        '10.0.0.1 - - [26/Nov/2026:12:00:01 +0000] "GET /r/2 HTTP/1.1" 200 rt=0.005 '
        '"127.0.0.1:18098, 127.0.0.1:18097 : 127.0.0.1:18082" "502, 502 : 200" '
        '"0.000, 0.000 : 0.001" 29B 0123456789abcdef0123456789abcdef',
        '10.0.0.1 - - [26/Nov/2026:12:00:02 +0000] "GET /r/3 HTTP/1.1" 499 rt=0.502 '
        '"127.0.0.1:18081" "-" "0.502" 0B 0123456789abcdef0123456789abcdef',
        '10.0.0.1 - - [26/Nov/2026:12:00:03 +0000] "GET /r/4 HTTP/1.1" 200 rt=0.000 '
        '"-" "-" "-" 7B 0123456789abcdef0123456789abcdef',
        '10.0.0.1 - - [26/Nov/2026:12:00:03 +0000] "GET /r/5 HTTP/1.1" 200 rt=0.000 '
        '"-" "-" "-" 7 0123456789abcdef0123456789abcdef',
    ]
    data = ("\n".join(lines) + "\n").encode()
    assert_same(data, QUOTED_LISTS)
    assert rows_read(data, QUOTED_LISTS) == 4
    frame = text_and_frame(data)[1]
    parsed = parse_chunk(frame, QUOTED_LISTS, rows=BOTH, text=data).lines.sort("line_no")
    assert parsed.height == 4  # the last line lacks the "B" after its bytes
    assert parsed.get_column("upstream_status").to_list()[:3] == [
        [502, 200],
        [502, 502, 200],
        [None],
    ]


JSON_GOOD = (CORPUS / "json.log").read_text("utf-8", "replace").splitlines()[0]
JSON_CASES = {
    "control escape": JSON_GOOD.replace("Firefox", "Fire\\u001Bfox"),
    "escaped quote": JSON_GOOD.replace("Firefox", 'Fire\\"fox'),
    "escaped backslash then x": JSON_GOOD.replace("Firefox", "Fire\\\\x41fox"),
    "not-found values": JSON_GOOD.replace('"200"', '""').replace('"0.002"', '""'),
    "status 009 (not a JSON number)": JSON_GOOD.replace('"status":200', '"status":009'),
    "empty number": JSON_GOOD.replace('"status":200', '"status":'),
    "a member missing": JSON_GOOD.replace('"user":"",', ""),
    "an extra member": JSON_GOOD.replace('{"time"', '{"x":1,"time"'),
    "cut in half": JSON_GOOD[:100],
    "not json at all": "hello",
    "blank": "",
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_an_odd_json_line_among_good_ones_parses_the_same_both_ways(case: str) -> None:
    lines = [JSON_GOOD] * 3 + [JSON_CASES[case]] + [JSON_GOOD] * 3
    data = ("\n".join(lines) + "\n").encode()
    assert_same(data, JSONL)
    assert_same(data, JSONL, ANALYZE_COLUMNS)


def test_raw_high_bytes_in_a_json_line_parse_the_same_both_ways() -> None:
    data = (CORPUS / "json.log").read_bytes() + JSON_GOOD.encode().replace(b"Fire", b"\xf8ire")
    assert_same(data + b"\n", JSONL)


def test_a_clean_json_chunk_is_read_as_rows() -> None:
    data = ("\n".join([JSON_GOOD] * 5) + "\n").encode()
    assert rows_read(data, JSONL) == 5
    assert rows_read(data, JSONL, ANALYZE_COLUMNS) == 5


CORPUS_LINES = {
    name: (CORPUS / f"{name}.log").read_text("utf-8", "replace").splitlines()
    for name in ("combined", "json")
}
FUZZ_FORMATS = {
    "trace": (TRACE, [s.line for s in PRESETS["trace"].samples] + [GOOD]),
    "combined": (COMBINED, CORPUS_LINES["combined"]),
    "jsonl": (JSONL, CORPUS_LINES["json"]),
}


@given(data=st.data(), name=st.sampled_from(sorted(FUZZ_FORMATS)))
@budget(40)
def test_mutated_lines_parse_the_same_both_ways(data: st.DataObject, name: str) -> None:
    cf, originals = FUZZ_FORMATS[name]
    lines = data.draw(st.lists(st.sampled_from(originals) | mutated(originals), max_size=12))
    encoded = [line.encode() if isinstance(line, str) else line for line in lines]
    assert_same(b"\n".join(encoded) + b"\n", cf)


def test_every_preset_sample_parses_the_same_both_ways() -> None:
    for preset in PRESETS.values():
        lines = [s.line for s in preset.samples]
        if lines:
            assert_same(("\n".join(lines) + "\n").encode(), preset.compiled())


def test_the_cells_match_the_values_the_regex_captures() -> None:
    # The differential tests above could pass if both paths were wrong the same way:
    # pin a few values of a genuine line.
    line = (CORPUS / "combined.log").read_bytes().splitlines()[0] + b"\n"
    text, frame = text_and_frame(line)
    row = parse_chunk(frame, COMBINED, rows=BOTH, text=text).lines.row(0, named=True)
    assert (row["method"], row["path"], row["query"], row["status"]) == (
        "GET",
        "/api/users",
        "id=42",
        200,
    )
    assert row["time"].isoformat() == "2026-11-26T11:30:51+00:00"
    assert pl.Series([row["http_user_agent"]]).str.starts_with("Mozilla").item()


@given(data=st.data(), name=st.sampled_from(sorted(FUZZ_FORMATS)))
@budget(40)
def test_the_ascii_twin_of_a_shape_matches_ascii_lines_as_the_shape_does(
    data: st.DataObject, name: str
) -> None:
    """Lines of ASCII alone (mutated corpus lines, their bytes above 0x7f dropped) match
    the shape regex and its ASCII twin alike; a chunk of such lines and others is told
    line by line (`_fit`) as the shape regex tells it."""
    cf, originals = FUZZ_FORMATS[name]
    dialect = plan_dialect(cf)
    assert dialect is not None
    shape = dialect.shape_regex(cf.escape)
    drawn = data.draw(st.lists(st.sampled_from(originals) | mutated(originals), max_size=12))
    raw = [line.encode() if isinstance(line, str) else line for line in drawn]
    plain = [b.decode("ascii", errors="ignore").replace("\n", " ") for b in raw]
    # and lines that are not ASCII: a quoted value of other letters, a stray one at the end
    other = [o.replace('"-"', '"Zoë"', 1) for o in originals] + [f"{originals[0]}é"]
    lines = pl.Series("line", [*plain, *originals, *other])
    ascii_lines = lines.filter(lines.str.len_bytes() == lines.str.len_chars())
    assert_series_equal(
        ascii_lines.str.contains(ascii_only(shape)), ascii_lines.str.contains(shape)
    )
    assert _fit(lines, shape, ascii_text=False).equals(lines.str.contains(shape))
    assert _fit(ascii_lines, shape, ascii_text=True).equals(ascii_lines.str.contains(shape))


def test_the_ascii_twin_keeps_escapes_and_classes_that_are_not_negated() -> None:
    twin = ascii_only(r'^\[(?:[^ "]*)\] \\[^"\]x]*[0-9]+$')
    assert twin == r'^\[(?:[^\x{80}-\x{10FFFF} "]*)\] \\[^\x{80}-\x{10FFFF}"\]x]*[0-9]+$'
