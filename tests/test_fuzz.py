"""Property tests and fuzzing of the log_format compiler, the line parser, the readers and
the ingest loop, with random and mutated lines: binary bytes, invalid UTF-8, NUL, long
lines, lines cut in half, a format's fields shuffled.

Whatever the input: no exception, no hang, and every line is accounted for, once
(lines_total = parsed + rejected; an app log's continuation lines count as parsed).
`make test` runs a few dozen examples per property, derandomized; `make fuzz`
(``--fuzz-long``, the "fuzz-long" profile in conftest.py) thousands, randomly.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import logtrace.sources as sources_module
from logtrace.analysis.derive import ANALYZE_COLUMNS
from logtrace.applog import AppFormat, AppLogOptions, parse_app_chunk
from logtrace.errors import FormatError
from logtrace.ingest import FormatOptions, FormatResolver, IngestReport, iter_lines
from logtrace.lines import Chunk, lines_frame
from logtrace.log_format.compiler import CompiledFormat, compile_format
from logtrace.log_format.grammar import Escape, Literal, LogFormat, VarRef, parse_log_format
from logtrace.log_format.presets import PRESETS
from logtrace.log_format.variables import KNOWN_VARIABLES
from logtrace.parse import SourceStats, diagnose, parse_chunk
from logtrace.sources import ReadReport, Source, iter_frames

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
BOM = b"\xef\xbb\xbf"
# Long mutated lines make hypothesis warn that a failing example is big to print; the
# warning (an error here) would hide the failure itself.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

try:
    LONG_RUN = (settings.default or settings()).max_examples >= settings.get_profile(
        "fuzz-long"
    ).max_examples
except InvalidArgument:  # imported outside pytest: conftest.py registers the profile
    LONG_RUN = False


def budget(examples: int) -> settings:
    """``examples`` per property in `make test` (derandomized: the same every run); under
    ``--fuzz-long`` the fuzz-long profile's count, with fresh random examples each run."""
    if LONG_RUN:
        return settings(settings.get_profile("fuzz-long"))
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- material: genuine lines, and ways to break them ---------------------------------------

PRESET_LINES = {name: [s.line for s in p.samples] for name, p in PRESETS.items()}
NGINX_LINES = [line for lines in PRESET_LINES.values() for line in lines]
APP_LINES = (ROOT / "sample_logs" / "api-1.log").read_text("utf-8").splitlines()[:40] + [
    line
    for path in sorted((FIXTURES / "applog").glob("*.log"))
    for line in path.read_text("utf-8").splitlines()
]
ATTACKS = [
    b"\x1b[31m",
    b"\x1b]8;;http://x\x07",
    b"\r",
    b"\x00",
    b"\xff\xfe",
    b"\xe2\x80\xae",
    b"\xc3",
    b'"',
    b"\\",
    b"\\x",
    b"\\x1B",
    b" - ",
    b"[",
    b"]",
    b"-",
    b", ",
    b" : ",
    b"{",
    b"}",
    b"=",
]


@st.composite
def mutated(draw: st.DrawFn, originals: list[str]) -> bytes:
    """A genuine line, broken in one or more of the ways lines break."""
    line = draw(st.sampled_from(originals)).encode("utf-8")
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        how = draw(
            st.sampled_from(
                ["cut", "drop", "insert", "attack", "binary", "repeat", "shuffle", "swap"]
            )
        )
        if how == "cut":  # a line cut in half (a truncated write, a torn read)
            line = line[:at]
        elif how == "drop":
            line = line[:at] + line[at + draw(st.integers(1, 20)) :]
        elif how == "insert":
            line = line[:at] + draw(st.binary(max_size=12)) + line[at:]
        elif how == "attack":
            line = line[:at] + draw(st.sampled_from(ATTACKS)) + line[at:]
        elif how == "binary":
            line = draw(st.binary(max_size=200))
        elif how == "repeat":  # long lines: a slice of the line many times over
            piece = line[at : at + draw(st.integers(1, 40))] or b"x"
            line = line[:at] + piece * draw(st.integers(2, 3000)) + line[at:]
        elif how == "shuffle":  # a format's fields in another order
            words = line.split(b" ")
            line = b" ".join(draw(st.permutations(words)))
        else:  # the same place in another genuine line
            other = draw(st.sampled_from(originals)).encode("utf-8")
            line = line[:at] + other[at:]
    return line.replace(b"\n", b" ")


def chunk_of(lines: list[bytes], *, final_newline: bool = True) -> pl.DataFrame:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    return lines_frame(Chunk(data, 1))


def assert_partition(height: int, parsed: pl.DataFrame, rejects: pl.DataFrame) -> None:
    """Each line number once: parsed or rejected."""
    got = sorted(parsed.get_column("line_no").to_list() + rejects.get_column("line_no").to_list())
    assert got == list(range(1, height + 1))


def assert_diagnosed(line: str, cf: CompiledFormat) -> None:
    started = time.perf_counter()
    column, expected = diagnose(line, cf)
    assert time.perf_counter() - started < 5.0, "diagnose must stay linear"
    if column is not None:
        assert 0 <= column <= len(line)
        assert expected


# --- the line parser -------------------------------------------------------------------------


@budget(60)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    lines=st.lists(mutated(NGINX_LINES), min_size=1, max_size=25),
    projected=st.booleans(),
)
def test_every_mutated_line_is_parsed_or_rejected_once(
    preset: str, lines: list[bytes], projected: bool
) -> None:
    cf = PRESETS[preset].compiled()
    frame = chunk_of(lines)
    assert frame.height == len(lines)
    parsed = parse_chunk(frame, cf, ANALYZE_COLUMNS if projected else None, keep_line=True)
    assert_partition(frame.height, parsed.lines, parsed.rejects)
    stats = SourceStats(path="x", host="h", service="s")
    stats.add_rejects(parsed.rejects, cf)
    assert sum(stats.reasons.values()) == parsed.rejects.height
    for sample in stats.samples:
        assert_diagnosed(sample.line, cf)


@budget(40)
@given(preset=st.sampled_from(sorted(PRESETS)), data=st.data())
def test_a_preset_parses_its_own_lines_the_same_after_mutating_others(
    preset: str, data: st.DataObject
) -> None:
    """Garbage next to good lines changes nothing about the good ones."""
    cf = PRESETS[preset].compiled()
    good = [line.encode() for line in PRESET_LINES[preset]]
    noise = data.draw(st.lists(mutated(NGINX_LINES), max_size=10))
    alone = parse_chunk(chunk_of(good), cf).lines
    mixed_lines = noise + good
    mixed = parse_chunk(chunk_of(mixed_lines), cf).lines
    tail = mixed.filter(pl.col("line_no") > len(noise)).with_columns(
        (pl.col("line_no") - len(noise)).alias("line_no")
    )
    assert tail.drop("line_no").to_dicts() == alone.drop("line_no").to_dicts()


# --- the log_format grammar and compiler -------------------------------------------------

VARIABLES = [*sorted(KNOWN_VARIABLES), "http_x_request_id", "cookie_session", "my_map_var"]
SEPARATORS = [" ", " - ", '"', ' "', '" ', "[", "] ", " [", "|", ",", " : ", "\t", "=", "; "]


@st.composite
def random_format(draw: st.DrawFn) -> str:
    """A log_format as a user might write one: variables and literal text, any escaping."""
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()) or not parts:
            name = draw(st.sampled_from(VARIABLES))
            parts.append(f"${{{name}}}" if draw(st.booleans()) else f"${name}")
        if draw(st.integers(0, 3)):
            parts.append(draw(st.sampled_from(SEPARATORS)))
    body = "".join(parts)
    escape = draw(st.sampled_from(["", "escape=json ", "escape=none ", "escape=default "]))
    return f"{escape}'{body}'" if escape else body


def shuffled(cf: CompiledFormat, order: list[int]) -> CompiledFormat:
    """The format with its variables in another order (literals where they were)."""
    refs = [item for item in cf.format.items if isinstance(item, VarRef)]
    swapped = iter([refs[i] for i in order])
    items = tuple(item if isinstance(item, Literal) else next(swapped) for item in cf.format.items)
    fmt = LogFormat(text="(shuffled)", items=items, escape=cf.format.escape, name="shuffled")
    return compile_format(fmt)


def assert_compiles_in_polars(cf: CompiledFormat) -> None:
    probe = pl.Series([""], dtype=pl.String)
    for regex in (cf.strict_regex(), cf.lenient_regex(), cf.lenient_regex(frozenset())):
        if regex is not None:
            probe.str.contains(regex)  # raises if polars' engine rejects the regex


@budget(60)
@given(text=random_format(), lines=st.lists(mutated(NGINX_LINES), max_size=8))
@example(text="$request$request_method", lines=[])  # found by `make fuzz`: two "method"s
@example(text='"$request" $request_uri $uri', lines=[b'"GET /a?b HTTP/1.1" /a?b /a'])
def test_any_format_compiles_or_is_a_format_error_and_parses_any_line(
    text: str, lines: list[bytes]
) -> None:
    try:
        cf = compile_format(parse_log_format(text, name="fuzz"))
    except FormatError as exc:
        for line in exc.caret_lines():
            assert "\n" not in line
        return
    assert_compiles_in_polars(cf)
    frame = chunk_of(lines)
    parsed = parse_chunk(frame, cf, keep_line=True)
    assert_partition(frame.height, parsed.lines, parsed.rejects)
    for line in parsed.rejects.get_column("line").head(3).to_list():
        assert_diagnosed(line, cf)


@budget(40)
@given(text=st.text(max_size=120))
def test_arbitrary_text_as_a_log_format_is_a_format_or_a_format_error(text: str) -> None:
    try:
        fmt = parse_log_format(text)
    except FormatError as exc:
        caret = exc.caret_lines()
        assert not caret or caret[1].endswith("^")
        return
    assert fmt.variables
    assert_compiles_in_polars(compile_format(fmt))


@budget(40)
@given(preset=st.sampled_from(sorted(PRESETS)), data=st.data())
def test_a_format_with_its_fields_shuffled_rejects_cleanly(
    preset: str, data: st.DataObject
) -> None:
    cf = PRESETS[preset].compiled()
    order = data.draw(st.permutations(range(len(cf.fields))))
    other = shuffled(cf, list(order))
    assert_compiles_in_polars(other)
    lines = [line.encode() for line in PRESET_LINES[preset]]
    frame = chunk_of(lines)
    parsed = parse_chunk(frame, other, keep_line=True)
    assert_partition(frame.height, parsed.lines, parsed.rejects)
    for line in parsed.rejects.get_column("line").head(2).to_list():
        assert_diagnosed(line, other)


@budget(10)
@given(preset=st.sampled_from(sorted(PRESETS)), size=st.integers(100_000, 1_000_000))
def test_megabyte_lines_are_rejected_with_a_caret_in_linear_time(preset: str, size: int) -> None:
    cf = PRESETS[preset].compiled()
    sample = PRESET_LINES[preset][0].encode()
    line = sample[:30] + b"\\x" * (size // 2) + sample[30:]
    frame = chunk_of([line, sample])
    started = time.perf_counter()
    parsed = parse_chunk(frame, cf, keep_line=True)
    stats = SourceStats(path="x", host="h", service="s")
    stats.add_rejects(parsed.rejects, cf)
    assert time.perf_counter() - started < 10.0
    assert_partition(2, parsed.lines, parsed.rejects)


# --- reading: chunks, gzip, encodings ------------------------------------------------------


def read_lines(data: bytes, name: str, chunk_bytes: int) -> tuple[list[str | None], ReadReport]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        report = ReadReport()
        frames = list(iter_frames(Source(str(path), "h", "s"), report, chunk_bytes))
    numbers = [n for f in frames for n in f.get_column("line_no").to_list()]
    assert numbers == list(range(1, len(numbers) + 1))
    return [line for f in frames for line in f.get_column("line").to_list()], report


def expected_lines(data: bytes) -> int:
    """Lines in ``data`` as logtrace reads them: byte order marks starting a line are
    dropped (nothing is left of a last line that was only marks)."""
    data = re.sub(b"(?m)^(?:" + re.escape(BOM) + b")+", b"", data)
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@budget(60)
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        st.lists(mutated(NGINX_LINES + APP_LINES), max_size=30).map(b"\n".join),
    ),
    chunk_bytes=st.integers(1, 700),
    crlf=st.booleans(),
    bom=st.booleans(),
)
@example(data=BOM, chunk_bytes=2, crlf=False, bom=True)  # found by `make fuzz`
@example(data=BOM, chunk_bytes=1, crlf=False, bom=True)
@example(data=b"a\n" + BOM + b"b\n", chunk_bytes=3, crlf=False, bom=False)
def test_every_line_is_read_once_whatever_the_bytes_and_the_chunk_size(
    data: bytes, chunk_bytes: int, crlf: bool, bom: bool
) -> None:
    assume(not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b")))
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    lines, report = read_lines((BOM if bom else b"") + data, "x.log", chunk_bytes)
    assert len(lines) == expected_lines((BOM if bom else b"") + data)
    assert not report.truncated
    whole, _ = read_lines(data, "y.log", 1 << 20)
    assert lines == whole  # the chunk size changes nothing
    for line in lines:
        assert line is None or "\n" not in line


@budget(40)
@given(
    lines=st.lists(mutated(NGINX_LINES), min_size=1, max_size=40),
    keep=st.floats(0.0, 1.0),
    flip=st.booleans(),
)
def test_a_damaged_gzip_keeps_a_prefix_of_its_lines(
    lines: list[bytes], keep: float, flip: bool
) -> None:
    data = b"\n".join(lines) + b"\n"
    packed = bytearray(gzip.compress(data))
    cut = max(int(len(packed) * keep), 2)  # past the magic bytes: they make it gzip at all
    if flip and cut < len(packed):
        packed[cut] ^= 0xFF
    else:
        del packed[cut:]
    read, report = read_lines(bytes(packed), "x.log.gz", 1 << 20)
    original, _ = read_lines(data, "x.log", 1 << 20)
    if report.truncated:
        assert any("truncated" in w or "damaged" in w for w in report.warnings)
    if flip:
        # A flipped bit can inflate to wrong bytes before zlib notices (the CRC is at the
        # end): the damage must be reported, or have changed nothing (a header byte).
        assert report.truncated or read == original
        return
    intact = read[:-1] if report.truncated else read
    assert intact == original[: len(intact)]  # no line invented, none reordered


@budget(30)
@given(lines=st.lists(st.sampled_from(NGINX_LINES + APP_LINES), min_size=1, max_size=30))
def test_utf16_text_reads_as_the_same_lines(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    utf16, report = read_lines(text.encode("utf-16"), "win.log", 1 << 20)
    utf8, _ = read_lines(text.encode("utf-8"), "x.log", 1 << 20)
    assert utf16 == utf8
    assert report.warnings == [f"{report.warnings[0].split(':')[0]}: UTF-16 text, read as such"]


# --- app logs and the whole ingest loop ----------------------------------------------------


@budget(40)
@given(
    fmt=st.sampled_from(list(AppFormat)),
    lines=st.lists(mutated(APP_LINES), min_size=1, max_size=25),
)
def test_app_log_lines_are_entries_continuations_or_rejects(
    fmt: AppFormat, lines: list[bytes]
) -> None:
    frame = chunk_of(lines)
    app = parse_app_chunk(frame, fmt, AppLogOptions())
    in_entries = app.lines.height + int(app.lines.get_column("extra_lines").sum() or 0)
    assert in_entries + app.rejects.height + app.leading.lines == frame.height


def ingest(path: Path, options: FormatOptions) -> IngestReport:
    report = IngestReport()
    resolver = FormatResolver.from_options(options)
    for _ in iter_lines([Source(str(path), "web-1", "web")], resolver, report):
        pass
    return report


@budget(40)
@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from(NGINX_LINES + APP_LINES).map(str.encode),
            mutated(NGINX_LINES + APP_LINES),
        ),
        max_size=40,
    ),
    chunk_bytes=st.integers(200, 3000),
    preset=st.sampled_from([None, *sorted(PRESETS)]),
)
def test_ingest_counts_every_line_of_every_source(
    lines: list[bytes], chunk_bytes: int, preset: str | None
) -> None:
    """lines_total = parsed + rejected, whichever format or app shape is chosen, across
    chunk boundaries (app entries and their tracebacks split between chunks)."""
    data = b"\n".join(lines) + (b"\n" if lines else b"")
    assume(not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b")))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web-1.log"
        path.write_bytes(data)
        with mock.patch.object(sources_module, "CHUNK_BYTES", chunk_bytes):
            report = ingest(path, FormatOptions(preset=preset))
    (stats,) = report.sources
    assert stats.lines_total == expected_lines(data)
    assert stats.lines_total == stats.lines_parsed + stats.lines_rejected, stats
    assert sum(stats.reasons.values()) <= stats.lines_rejected


def _json_line(draw: st.DrawFn) -> bytes:
    value = st.one_of(
        st.text(max_size=20), st.integers(), st.floats(allow_nan=False), st.none(), st.booleans()
    )
    keys = st.sampled_from(
        ["time", "ts", "level", "msg", "request_id", "method", "path", "status", "duration_ms"]
    )
    entry = draw(st.dictionaries(st.one_of(keys, st.text(max_size=8)), value, max_size=8))
    if draw(st.booleans()):
        entry["time"] = "2026-11-26T12:37:13.490372+00:00"
    return json.dumps(entry, ensure_ascii=draw(st.booleans())).encode()


@budget(30)
@given(data=st.data(), chunk_bytes=st.integers(200, 2000))
def test_json_app_logs_with_arbitrary_fields_are_counted(
    data: st.DataObject, chunk_bytes: int
) -> None:
    lines = data.draw(st.lists(st.composite(_json_line)(), min_size=1, max_size=30))
    payload = b"\n".join(lines) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "api-1.log"
        path.write_bytes(payload)
        with mock.patch.object(sources_module, "CHUNK_BYTES", chunk_bytes):
            report = ingest(path, FormatOptions(app_format="json"))
    (stats,) = report.sources
    assert stats.lines_total == len(lines)
    assert stats.lines_total == stats.lines_parsed + stats.lines_rejected


def test_escape_modes_are_all_covered_by_the_random_formats() -> None:
    """The format strategy reaches every escaping nginx has (a guard on the fuzzer)."""
    modes = {Escape.DEFAULT, Escape.JSON, Escape.NONE}
    seen: set[Escape] = set()

    @settings(max_examples=80, derandomize=True, deadline=None)
    @given(text=random_format())
    def collect(text: str) -> None:
        with contextlib.suppress(FormatError):
            seen.add(parse_log_format(text).escape)

    collect()
    assert seen == modes


SCENARIOS: dict[str, Callable[[], bytes]] = {
    "deflate-stream-not-gzip": lambda: zlib.compress(b"x" * 1000),
    "gzip-magic-then-garbage": lambda: b"\x1f\x8b" + b"\x00" * 100,
    "gzip-then-trailing-garbage": lambda: gzip.compress(NGINX_LINES[0].encode()) + b"junk",
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_odd_compressed_inputs_never_raise(name: str) -> None:
    lines, report = read_lines(SCENARIOS[name](), f"{name}.log.gz", 1 << 20)
    assert all(line is None or isinstance(line, str) for line in lines)
    assert report.warnings or lines
