"""The fast app-log paths give what the plain ones gave, on every kind of input.

Each fast path is compared with a reference: the plain computation it replaced, written
out here. The inputs: the genuine output of 34 logging setups (fixtures/app-log-shapes),
the sample logs, the benchmark generator's app logs and hostile lines (quotes inside
values, escaped quotes, duplicate keys, empty values, bytes that are not UTF-8, very long
lines, tracebacks, lines of another shape), each read as every shape.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from logtrace.applog import AppFormat, AppLogOptions, keyvalue, parse_app_chunk
from logtrace.applog import words as w
from logtrace.applog.durations import (
    _NUMBER_CHARS,
    _UNIT_LETTERS,
    go_compound,
    with_duration_parts,
)
from logtrace.applog.entries import split_entries
from logtrace.applog.events import per_message
from logtrace.applog.jsonlines import json_fields
from logtrace.applog.keys import VALUE_UNIT_SECONDS, key_suffix_unit
from logtrace.applog.keyvalue import keyvalue_fields
from logtrace.applog.shapes import PYTHON_HEADER, TEXT_HEADERS, TIME_HEADER, header_field
from logtrace.applog.times import SHAPES, _parse, parse_times
from logtrace.applog.values import text_values
from logtrace.lines import Chunk, lines_frame, text_and_frame

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "app-log-shapes"
SAMPLES = ROOT / "sample_logs"
OPTIONS = AppLogOptions()
LONG = "x" * 100_000
T = "2026-12-03T10:00:00.123Z"

HOSTILE_JSON = (
    f'{{"time": "{T}", "level": "info", "msg": "request finished", "request_id": "a1",'
    ' "method": "GET", "path": "/x", "status": 200, "duration_ms": 12.5}',
    f'{{"time": "{T}", "msg": "say \\"hi\\" status=1", "request_id": "a2", "status": "500"}}',
    f'{{"time": "{T}", "msg": "dup", "status": 200, "status": 404, "request_id": "a3"}}',
    f'{{"time": "{T}", "msg": "", "request_id": "", "status": null, "path": ""}}',
    f'{{"time": "{T}", "msg": "caf\\u00e9 \\\\xC3 raw", "request_id": "a4",'
    ' "url": "http://users:8080/u/1", "peer": "users", "duration": 16844547}',
    '{"time": "2026-12-03T10:00:01Z", "msg": "nested", "req": {"method": "POST", "url": "/n",'
    ' "headers": {"x-request-id": "n1"}}, "res": {"statusCode": 201}, "responseTime": 7}',
    "not json at all status=200",
    '{"time": "2026-12-03T10:00:02Z", "msg": "truncated", "request_id": "t1"',
    "Traceback (most recent call last):",
    '  File "app.py", line 1, in <module>',
    "KeyError: 'x'",
    f'{{"time": "{T}", "msg": "{LONG}", "request_id": "long1", "status": 200, "path": "/l"}}',
    "{}",
    '{"time": 1795696633.49, "msg": "epoch", "request_id": "e1", "status": "ECONNRESET"}',
    '{"time": 9223372036854776.0, "msg": "an epoch too big for microseconds"}',
    "",
    '{"time": "12:00:00", "msg": "clock only", "request_id": "c1"}',
    '{"msg": "no time", "request_id": "nt"}',
    '{"time": "2026-12-03T10:00:04Z", "msg": "call users", "request_id": "k1", "method": "GET",'
    ' "url": "http://users/x", "status": 200, "elapsed_time": "3ms", "service": {"name": "api"}}',
)
HOSTILE_KEYVALUE = (
    f'ts={T} level=info msg="request finished" req_id=r1 method=GET path=/x status=200 took=12ms',
    f'ts={T} level=info msg="retry status=500" req_id=r2 status=200',
    f'ts={T} level=info msg="say \\"hi\\" status=1" req_id=r3',
    f"ts={T} a= b= took= took=5ms req_id=r4 status=",
    f"ts={T} url=/a;status=201 req_id=r5",
    f'ts={T} msg="unterminated status=1 req_id=r6',
    f"ts={T} status=200 status=404 req_id=r7 req_id=r7b",
    f"ts={T}\tlevel=warn\tmsg=tabbed\treq_id=r8\tstatus=503",
    f"[{T}] INFO [tag] req_id=r9 (status=200,took=3ms) {{peer=users}}",
    f'ts={T} msg="caf\\xC3\\xA9 \\xff" req_id=r10 url="/q?a=1&b=\\"x\\"" status=200',
    f"ts={T} msg={LONG} req_id=r11 status=200",
    f'ts={T} level= msg="" req_id=- status=- peer=""',
    f"ts={T} msg=x request_id=r13 REQ_ID=r13b Status=200 req.id=zz",
    "garbage line without pairs",
    "  indented continuation",
    f'ts={T} msg="a" msg="b" req_id=r14 took=1m2.5s',
    f"ts={T} msg=units took=3parsecs req_id=r17",
    f'ts={T} msg=spaced took=" 12 MS " req_id=r18',
    f"ts={T} msg=bare elapsed=1.5e3 req_id=r19",
    f'ts="{T}" level="info" msg="quoted time" req_id="r15" status="200"',
    f"time={T} lvl=error message=boom rid=r16 code=502 upstream=inventory latency_us=350",
    "2026-12-03 10:00:00,123 INFO inventory rid=p1 GET /inventory/items/1 200 in 8.2ms",
    '2026-12-03 10:00:01,000 - app - WARNING - msg="retry status=500" rid=p3',
    "2026-12-03 10:00:02 [INFO] root: calling users GET http://users:8080/u/1 rid=p4",
    "2026-12-03 10:00:05,000 INFO inventory rid= status= a=,b=1 (c=2;d=3)",
    "2026-12-03 10:00:06,000 app.worker - ERROR - call to billing failed rid=p7",
    'ValueError: bad "quote" status=1',
    '127.0.0.1 - - [03/Dec/2026:10:40:10 +0000] "GET /x?y=1 HTTP/1.1" 200 12 "-" "curl/7.88.1"'
    " 27976 t2",
    "I, [2026-12-03T10:40:40.275735 #20948]  INFO -- app: Completed 200 OK in 26ms",
    "orders.api INFO 2026-12-03 10:40:12,640 call to payments took 5ms req_id=t5",
    "Dec 03, 2026 10:37:19 AM com.example.Foo bar",
    "INFO: served GET /jul 200 rid=t6",
    "\x1b[32m[2026-12-03T10:00:01Z] INFO\x1b[0m colourful request_id=t8 status=200",
    '[2026-12-03T10:00:03Z] INFO [abcdef0123456789abcd] Started GET "/r" for 1.2.3.4',
    "[2026-12-03T10:00:04Z] INFO userId=7 fetchUserProfile sendingResponse handled_request",
)
# Bytes that are not UTF-8 (read as \xHH text) in each shape.
HOSTILE_BYTES = (
    b'ts=2026-12-03T10:00:00Z msg="caf\xc3\xa9 \xff\xfe" req_id=b1 status=200\n'
    b'{"time": "2026-12-03T10:00:00Z", "msg": "\xff", "request_id": "b2"}\n'
    b"2026-12-03 10:00:00,000 INFO x \xff rid=b3\n"
)


GENERATED = ("api-1.log", "api-2.log", "inventory-1.log", "users-1.log")
FILES = [*sorted(CORPUS.glob("*.log")), *sorted(SAMPLES.glob("*.log"))]
NAMES = [
    *(f"{f.parent.name}/{f.name}" for f in FILES),
    *(f"generated/{name}" for name in GENERATED),
    "hostile",
    "hostile bytes",
]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every input's bytes, by name (``NAMES``)."""
    tmp = tmp_path_factory.mktemp("bench")
    argv = [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--out", str(tmp)]
    subprocess.run(
        [*argv, "--lines", "3000", "--seed", "3"], check=True, cwd=ROOT, capture_output=True
    )
    files = {f"{f.parent.name}/{f.name}": f for f in FILES}
    files |= {f"generated/{name}": tmp / name for name in GENERATED}
    data = {name: f.read_bytes() for name, f in files.items()}
    data["hostile"] = ("\n".join((*HOSTILE_JSON, *HOSTILE_KEYVALUE)) + "\n").encode()
    data["hostile bytes"] = HOSTILE_BYTES
    return data


@pytest.fixture(scope="module")
def inputs(sources: dict[str, bytes]) -> dict[str, pl.DataFrame]:
    """Every input as a frame of ``line_no``/``line``, by name (``NAMES``)."""
    return {name: lines_frame(Chunk(data, 1)) for name, data in sources.items()}


def _raw(lines: pl.DataFrame, fmt: AppFormat) -> pl.DataFrame:
    """RAW fields of the entries of ``lines`` read as ``fmt``."""
    starts = split_entries(lines, fmt).starts
    if fmt is AppFormat.JSON:
        return json_fields(starts, OPTIONS.id_fields)
    return keyvalue_fields(starts, fmt, OPTIONS.id_fields)


def _per_message_reference(frame: pl.DataFrame) -> pl.DataFrame:
    """What the messages say, as plain expressions (the phrase and its words written out
    in every feature), once per distinct message where messages repeat."""
    text = w.phrase(pl.col("message"))
    features = [*text_values(), *w.word_features(text, w.words(text))]
    distinct = frame.select(pl.col("message").unique())
    if 2 * distinct.height > frame.height:
        return frame.with_columns(features)
    said = distinct.filter(pl.col("message").is_not_null()).with_columns(features)
    return frame.join(said, on="message", how="left", maintain_order="left")


def _duration_parts_reference(frame: pl.DataFrame) -> pl.DataFrame:
    """``_number`` and ``_scale`` as one expression each, every step written out."""
    keys = frame["duration_key"].drop_nulls().unique().to_list()
    suffixed = {k: per for k in keys if (per := key_suffix_unit(k)) is not None}
    key_scale = pl.col("duration_key").replace_strict(
        suffixed, default=None, return_dtype=pl.Float64
    )
    raw = pl.col("duration_raw").str.strip_chars()
    number = raw.str.strip_chars_end(_UNIT_LETTERS).str.strip_chars_end()
    unit = raw.str.strip_chars_start(_NUMBER_CHARS).str.strip_chars_start().str.to_lowercase()
    value_scale = unit.replace_strict(VALUE_UNIT_SECONDS, default=None, return_dtype=pl.Float64)
    scale = pl.when(unit == "").then(key_scale).otherwise(value_scale)
    number = pl.when((unit == "") | value_scale.is_not_null()).then(
        number.cast(pl.Float64, strict=False)
    )
    compound, seconds = go_compound(raw)
    number = pl.when(compound).then(seconds).otherwise(number)
    scale = pl.when(compound).then(pl.lit(1.0)).otherwise(scale)
    return frame.with_columns(number.alias("_number"), scale.alias("_scale"))


def test_inputs_cover_every_shape_and_the_hostile_lines(
    inputs: dict[str, pl.DataFrame],
) -> None:
    assert sorted(inputs) == sorted(NAMES)
    assert len(FILES) >= 34
    assert all(frame.height for frame in inputs.values())
    assert inputs["hostile"].height == len(HOSTILE_JSON) + len(HOSTILE_KEYVALUE)
    assert inputs["hostile bytes"]["line"].str.contains(r"\xFF", literal=True).any()


@pytest.mark.parametrize("fmt", list(AppFormat), ids=lambda f: f.value)
@pytest.mark.parametrize("name", NAMES)
def test_what_messages_say_is_worked_out_as_by_plain_expressions(
    inputs: dict[str, pl.DataFrame], name: str, fmt: AppFormat
) -> None:
    raw = _raw(inputs[name], fmt)
    assert_frame_equal(per_message(raw), _per_message_reference(raw))


@pytest.mark.parametrize("fmt", list(AppFormat), ids=lambda f: f.value)
@pytest.mark.parametrize("name", NAMES)
def test_times_are_parsed_as_by_plain_expressions(
    inputs: dict[str, pl.DataFrame], name: str, fmt: AppFormat
) -> None:
    raw = _raw(inputs[name], fmt).with_columns(
        pl.col("time_raw").str.replace(r"(:\d\d),(\d)", "$1.$2")
    )
    for shape in SHAPES:
        parsed = _parse(shape, OPTIONS.timezone).alias("time")
        lazily = raw.lazy().with_columns(parsed).collect()
        assert_frame_equal(lazily, raw.with_columns(parsed))
    timed = parse_times(raw, OPTIONS.timezone)
    assert_frame_equal(timed.drop("time", "time_precision_s"), raw)


# Values a logfmt line's shape must read as the targeted regexes do, or leave to them.
LOGFMT_VALUES = (
    "r1",
    "0af7651916cd43dd8448eb211c80319c",
    "200",
    "12.5ms",
    "/a/b?x=1&y=2",
    "/a;status=201",  # a pair inside a bare value: the regexes find it
    "/a?b=1,c=2",
    "a,b",
    "x(y)",
    "(200)",
    "-",
    '""',
    "",
    '"hello world"',
    '"retry status=500"',
    '"a (status=5)"',
    '"say \\"hi\\" status=1"',
    '"x,req_id=q"',
    '"unterminated',
    'mid"quote',
    '"a"b',
    '"a",b',
    "caf\xc3\xa9",
)
LOGFMT_SHAPES = (
    ("ts", "level", "msg", "req_id", "method", "path", "status", "took"),
    ("ts", "level", "service", "msg", "req_id", "peer", "method", "url", "status", "took"),
    ("time", "lvl", "message", "rid", "code", "upstream", "latency_us", "status", "rid"),
    ("ts", "msg", "hits", "misses"),
)


def _logfmt_fuzz(lines: int, seed: int) -> pl.DataFrame:
    """Lines of a few shapes, some commoner than others, whose values are drawn from
    ``LOGFMT_VALUES`` (a plain value most of the time), a few with a tab or two spaces
    between pairs."""
    rng = random.Random(seed)
    plain = LOGFMT_VALUES[:5]
    out = []
    for _ in range(lines):
        keys = rng.choices(LOGFMT_SHAPES, weights=(60, 25, 10, 5))[0]
        pairs = [f"{k}={rng.choice(LOGFMT_VALUES if rng.random() < 0.05 else plain)}" for k in keys]
        gap = rng.choice(("\t", "  ")) if rng.random() < 0.02 else " "
        out.append(gap.join(pairs))
    return pl.DataFrame({"line": out}).with_row_index("line_no")


def _tiled(lines: pl.DataFrame, height: int) -> pl.DataFrame:
    """``lines`` over and over, numbered again, to at least ``height`` lines."""
    times = -(-height // max(lines.height, 1))
    return pl.concat([lines] * times).drop("line_no").with_row_index("line_no")


@pytest.mark.parametrize("name", [*NAMES, "fuzz", "one shape"])
def test_logfmt_shapes_read_lines_as_the_targeted_regexes_do(
    inputs: dict[str, pl.DataFrame], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if name == "one shape":  # every line read by it: none left to the targeted regexes
        one = [f"ts={T} level=info msg=done req_id=r{i} status=200 took={i}ms" for i in range(9)]
        lines = pl.DataFrame({"line": one}).with_row_index("line_no")
    else:
        lines = _logfmt_fuzz(6000, 7) if name == "fuzz" else inputs[name]
    starts = split_entries(_tiled(lines, keyvalue._SHAPES_FROM), AppFormat.LOGFMT).starts
    by_shapes = keyvalue_fields(starts, AppFormat.LOGFMT, OPTIONS.id_fields)
    shaped = []
    by_templates = keyvalue._by_templates

    def counted(starts: pl.DataFrame, keys: dict[str, list[str]]) -> object:
        done, rest = by_templates(starts, keys)
        shaped.append(sum(d.height for d in done))
        return done, rest

    monkeypatch.setattr(keyvalue, "_by_templates", counted)
    keyvalue_fields(starts, AppFormat.LOGFMT, OPTIONS.id_fields)
    monkeypatch.setattr(keyvalue, "_by_templates", lambda starts, keys: ([], starts))
    assert_frame_equal(by_shapes, keyvalue_fields(starts, AppFormat.LOGFMT, OPTIONS.id_fields))
    if name in ("fuzz", "generated/api-2.log", "sample_logs/api-2.log"):
        assert shaped[0] > 0.6 * starts.height  # the shapes read most lines
    if name == "one shape":
        assert shaped[0] == starts.height


def test_a_shape_is_read_apart_only_where_its_pass_pays() -> None:
    def lines(shares: dict[str, int]) -> pl.DataFrame:
        rows = [
            f"ts=1 level=info k{name}=v req_id=r" for name, n in shares.items() for _ in range(n)
        ]
        return pl.DataFrame({"line": rows}).with_row_index("line_no")

    # commonest first, each while it reads a quarter of the lines the ones before it left
    assert keyvalue._shapes(lines({"a": 600, "b": 250, "c": 100, "d": 50})) == [
        ["ts", "level", f"k{n}", "req_id"] for n in "abcd"
    ]
    many = {"a": 700, "b": 60, "c": 60, "d": 60, "e": 60, "f": 60}
    assert keyvalue._shapes(lines(many)) == [["ts", "level", "ka", "req_id"]]
    # twenty shapes alike: each pass would cost more than it saves
    assert keyvalue._shapes(lines({str(n): 100 for n in range(20)})) == []


@pytest.mark.parametrize("name", NAMES)
def test_where_logging_header_matches_the_fallback_header_adds_nothing(
    inputs: dict[str, pl.DataFrame], name: str
) -> None:
    """Python logging lines read the fallback "[time] LEVEL" header only where logging's
    own header did not match: where it did, every field the two give is logging's."""
    starts = split_entries(inputs[name], AppFormat.PYTHON_LOGGING).starts
    both = starts.select(
        pl.col("line").str.extract_groups(PYTHON_HEADER).struct.unnest(),
        pl.col("line").str.extract_groups(TIME_HEADER).alias("_text"),
    ).filter(pl.col("head").is_not_null())
    fallback = pl.col("_text").struct
    forms = TEXT_HEADERS[-1:]
    for field, own in {
        "time": ["time"],
        "level": ["level", "level2"],
        "head": ["head"],
        "logger": ["logger", "logger2"],
    }.items():
        alone = pl.coalesce(own)
        with_fallback = pl.coalesce(*own, header_field(fallback, forms, field))
        assert both.select((alone == with_fallback).all()).item()
        assert both.select(alone.is_not_null().all()).item()


@pytest.mark.parametrize("name", NAMES)
def test_json_lines_read_from_the_chunks_bytes_give_what_their_lines_give(
    sources: dict[str, bytes], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, lines = text_and_frame(sources[name])
    read: list[object] = []
    reader = pl.read_ndjson

    def spy(source: object, **kwargs: object) -> pl.DataFrame:
        read.append(source)
        return reader(source, **kwargs)  # type: ignore[arg-type]

    plain = parse_app_chunk(lines, AppFormat.JSON, OPTIONS)
    monkeypatch.setattr(pl, "read_ndjson", spy)
    fast = parse_app_chunk(lines, AppFormat.JSON, OPTIONS, text=text)
    assert_frame_equal(fast.lines, plain.lines)
    assert_frame_equal(fast.rejects, plain.rejects)
    assert_frame_equal(fast.untimed, plain.untimed)
    assert fast.leading == plain.leading
    # the bytes themselves are read where every line is a JSON object, and only there
    every_line_an_object = lines["line"].str.contains(r"^\{.*\}\s*$").all()
    assert (read[:1] == [text]) == bool(every_line_an_object)


@pytest.mark.parametrize("fmt", list(AppFormat), ids=lambda f: f.value)
@pytest.mark.parametrize("name", NAMES)
def test_durations_are_read_as_by_plain_expressions(
    inputs: dict[str, pl.DataFrame], name: str, fmt: AppFormat
) -> None:
    raw = _raw(inputs[name], fmt)
    assert_frame_equal(with_duration_parts(raw), _duration_parts_reference(raw))
