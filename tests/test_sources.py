"""Reading sources: files, directories, globs, gzip (also damaged), encodings, chunking."""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtrace import lines
from logtrace.errors import InputError
from logtrace.lines import text_and_frame
from logtrace.sources import (
    ReadReport,
    Source,
    first_frame,
    gzip_text_size,
    head_frame,
    iter_frames,
    read_lines,
    resolve_sources,
    source_size,
)
from tests.conftest import PipedStdin


def read_all(path: Path, chunk_bytes: int = 1 << 20) -> tuple[list[str | None], ReadReport]:
    report = ReadReport()
    frames = list(iter_frames(Source(str(path), "h", "s"), report, chunk_bytes))
    lines: list[str | None] = []
    expected_no = 1
    for frame in frames:
        assert frame.get_column("line_no").to_list() == list(
            range(expected_no, expected_no + frame.height)
        )
        expected_no += frame.height
        lines += frame.get_column("line").to_list()
    return lines, report


def test_plain_file_lines_are_numbered_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("".join(f"line {i}\n" for i in range(1, 2001)))
    lines, _ = read_all(path, chunk_bytes=1000)
    assert lines == [f"line {i}" for i in range(1, 2001)]


def test_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo")
    assert read_all(path)[0] == ["one", "two"]


def test_crlf_and_bom_are_stripped_and_blank_lines_counted(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"\xef\xbb\xbffirst\r\n\r\nthird\r\n")
    assert read_all(path)[0] == ["first", None, "third"]


@pytest.mark.parametrize(
    "data",
    [
        b"caf\xc3\xa9\n\xef\xbb\xbf\xef\xbb\xbfsecond\n",  # marks inside UTF-8 text
        b"\xef\xbb\xbfcaf\xc3\xa9\nbad \xf8\n\xef\xbb\xbfthird\n",  # and not UTF-8
        b"plain\n\xef\xbb\xbf\n",  # a mark alone on its line: a blank line
    ],
)
def test_byte_order_marks_starting_any_line_are_dropped_from_frame_and_text(
    data: bytes,
) -> None:
    text, frame = text_and_frame(data)
    assert b"\xef\xbb\xbf" not in text
    assert (
        frame.get_column("line").to_list() == text_and_frame(text)[1].get_column("line").to_list()
    )
    assert all(not (line or "").startswith("\ufeff") for line in frame.get_column("line"))
    assert frame.height == data.count(b"\n")


def test_very_long_line_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"x" * 3_000_000 + b"\nshort\n")
    lines, _ = read_all(path, chunk_bytes=4096)
    assert [len(line or "") for line in lines] == [3_000_000, 5]


def test_invalid_utf8_bytes_become_hex_escapes_not_losses(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"ok caf\xc3\xa9\nbad \xf8 byte\n")
    assert read_all(path)[0] == ["ok café", "bad \\xF8 byte"]


def test_gzip_is_detected_by_content_and_multi_member_files_read_fully(tmp_path: Path) -> None:
    path = tmp_path / "access.log.2.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n"))
    assert read_all(path)[0] == ["a", "b", "c"]


def test_a_look_at_a_gzip_files_first_lines_inflates_about_that_much(tmp_path: Path) -> None:
    """The first frame of a small chunk size (the 256 KB analyze reads of every file to
    choose its format and find copies) is about that size, compressed or not: it once was
    all that 4 MB of compressed data inflate to (20 MB of a rotated log), whatever asked."""
    lines = "".join(
        f"10.0.{i % 250}.{i % 7} - - [26/Nov/2026:12:{i // 6000 % 60:02d}:{i // 100 % 60:02d}"
        f' +0000] "GET /api/items/{i * 7919 % 100003} HTTP/1.1" 200 {i * 31 % 9000} '
        f"0.{i * 13 % 1000:03d} {i * 2654435761 % (1 << 64):016x}\n"
        for i in range(150_000)
    ).encode()
    plain, packed = tmp_path / "access.log", tmp_path / "access.log.1.gz"
    plain.write_bytes(lines)
    packed.write_bytes(gzip.compress(lines, compresslevel=6))
    assert len(packed.read_bytes()) < 4 * 1024 * 1024 < len(lines)  # one read once took all
    for chunk in (64 * 1024, 256 * 1024):
        first = next(iter_frames(Source(str(packed), "h", "s"), ReadReport(), chunk))
        size = int(first.get_column("line").str.len_bytes().sum()) + first.height
        assert chunk <= size < 16 * chunk
        whole = next(iter_frames(Source(str(plain), "h", "s"), ReadReport(), chunk))
        assert first.head(whole.height).equals(whole)
    # and read whole, the same lines as the plain file
    assert read_all(packed, 4 << 20)[0] == read_all(plain, 4 << 20)[0]


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    data = gzip.compress("".join(f"line {i}\n" for i in range(5000)).encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    lines, report = read_all(path)
    assert 0 < len(lines) < 5000
    assert lines[:3] == ["line 0", "line 1", "line 2"]
    assert report.truncated
    assert any("truncated" in w for w in report.warnings)


def test_gz_name_that_is_not_gzip_is_read_as_text_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "plain.log.gz"
    path.write_bytes(b"not compressed\n")
    lines, report = read_all(path)
    assert lines == ["not compressed"]
    assert any("not gzip" in w for w in report.warnings)


def test_directory_contributes_log_files_and_rotations_only(tmp_path: Path) -> None:
    for name in ("access.log", "access.log.1", "access.log.2.gz", "README.md", "notes.txt"):
        (tmp_path / name).write_text("x\n")
    names = sorted(os.path.basename(s.path) for s in resolve_sources([str(tmp_path)]))
    assert names == ["access.log", "access.log.1", "access.log.2.gz"]


def test_a_directory_of_a_folder_per_host_gives_each_hosts_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """logs/web-1/nginx/access.log, logs/web-2/...: gathered from hosts, a folder each. A
    directory with logs of its own gives those alone (sample_logs/ and its combined/)."""
    paths = ["web-1/nginx/access.log", "web-1/nginx/access.log.1",
             "web-2/var/log/nginx/access.log", ".git/x.log", "web-3/nginx/notes.txt"]  # fmt: skip
    for name in paths:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    sources = resolve_sources([str(tmp_path)])
    assert [os.path.relpath(s.path, tmp_path) for s in sources] == paths[:3]
    assert [s.host for s in sources] == ["web-1", "web-1", "web-2"]
    assert all(s.expanded for s in sources)
    globbed = resolve_sources([str(tmp_path / "**" / "access.log*")])
    assert [s.path for s in globbed] == [s.path for s in sources]
    real = os.scandir  # a folder that cannot be listed: a source that says so when read

    def scandir(path: str) -> object:
        if str(path).endswith("web-2"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    with monkeypatch.context() as patched:
        patched.setattr(os, "scandir", scandir)
        listed = [os.path.relpath(s.path, tmp_path) for s in resolve_sources([str(tmp_path)])]
    assert listed == [*paths[:2], "web-2"]
    (tmp_path / "edge.log").write_text("x\n")
    assert [s.path for s in resolve_sources([str(tmp_path)])] == [str(tmp_path / "edge.log")]


def test_glob_expands_and_duplicates_collapse(tmp_path: Path) -> None:
    for name in ("web-1.log", "web-2.log"):
        (tmp_path / name).write_text("x\n")
    sources = resolve_sources([str(tmp_path / "web-*.log"), str(tmp_path / "web-1.log")])
    assert [s.host for s in sources] == ["web-1", "web-2"]


def test_explicit_labels(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("x\n")
    by_at = resolve_sources([f"{path}@web-9/shop"])[0]
    assert (by_at.host, by_at.service) == ("web-9", "shop")
    by_option = resolve_sources([], [f"db-1={path}"])[0]
    assert (by_option.host, by_option.service) == ("db-1", "db")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.log", "no such file or directory"),
        ("*.nothing", "matches no file"),
    ],
)
def test_missing_inputs_are_clear_errors(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_sources([str(tmp_path / spec)])


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no log files"):
        resolve_sources([str(tmp_path)])


def test_read_lines_fetches_given_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("".join(f"l{i}\n" for i in range(1, 101)))
    assert read_lines(Source(str(path), "h", "s"), {2, 99}) == {2: "l2", 99: "l99"}


def test_frames_are_polars_string_columns(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("a\n")
    frame = next(iter_frames(Source(str(path), "h", "s"), ReadReport()))
    assert frame.schema["line"] == pl.String


def test_a_recently_written_file_says_which_last_line_has_no_end_yet(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\ntwo\nthr")
    lines, report = read_all(path)
    assert lines == ["one", "two", "thr"]  # read: the caller decides what to make of it
    assert report.unfinished_line == 3
    old = path.stat().st_mtime - 3600
    os.utime(path, (old, old))  # written to an hour ago: nobody is writing it any more
    assert read_all(path)[1].unfinished_line is None
    path.write_bytes(b"one\ntwo\n")
    assert read_all(path)[1].unfinished_line is None


STDIN = Source("-", "stdin", "stdin")


@pytest.mark.parametrize("size", [100, 4_000, 250_000], ids=["short", "middle", "longer"])
@pytest.mark.parametrize("packed", [False, True], ids=["text", "gzip"])
def test_stdin_read_ahead_to_plan_it_is_given_to_its_reader_again(
    monkeypatch: pytest.MonkeyPatch, size: int, packed: bool
) -> None:
    text = b"".join(b"line %d %s\n" % (i, b"x" * (i % 50)) for i in range(size // 30))
    monkeypatch.setattr("sys.stdin", PipedStdin(gzip.compress(text) if packed else text))
    first = first_frame(STDIN, 4096)
    assert first is not None
    whole = pl.concat(iter_frames(STDIN, ReadReport(), 1 << 16))
    lines = text.decode().splitlines()
    assert whole.get_column("line").to_list() == lines  # nothing lost or read twice
    assert first.get_column("line").to_list() == lines[: first.height]
    assert source_size(STDIN) == math.inf  # given to its reader: no longer known


def test_stdins_size_is_known_when_it_ended_within_what_was_read_ahead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("sys.stdin", PipedStdin(b"a\nb\n"))
    first_frame(STDIN, 4096)
    assert source_size(STDIN) == 4
    monkeypatch.setattr("sys.stdin", PipedStdin(b"a\n" * 5000))
    first_frame(STDIN, 4096)
    assert source_size(STDIN) == math.inf  # more than was read ahead
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(b"a\n" * 5000))
    assert source_size(Source(str(path), "a", "a")) == 10_000  # its text, from its trailer
    monkeypatch.setattr("sys.stdin", PipedStdin(path.read_bytes()))  # a gzip'd pipe
    first_frame(STDIN, 4096)
    assert source_size(STDIN) == 10_000


_PIECES = [b"a", b" ", b"\r", b"\n", b'"', b"\t", b"\xc3\xa9", b"\x00", b"\xef\xbb\xbf", b"\x1f",
           b",", b"\xff", b"\xc3", b"\x1e\x01\x02\x03"]  # fmt: skip


@given(st.lists(st.sampled_from(_PIECES), max_size=16))
@settings(max_examples=400, deadline=None)
def test_small_texts_split_by_python_as_polars_reads_them(pieces: list[bytes]) -> None:
    """Texts up to SPLIT_BYTES are split into lines by Python (polars' reader costs ~0.6 ms
    a call): the same text and lines as polars' reader gives, whatever the bytes (line
    ends, CR, blank lines, byte order marks, NUL, bytes that are not UTF-8)."""
    data = b"".join(pieces)
    split = text_and_frame(data, 7)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lines, "SPLIT_BYTES", -1)
        read = text_and_frame(data, 7)
    assert split[0] == read[0]
    assert split[1].schema == read[1].schema
    assert split[1].to_dicts() == read[1].to_dicts()


def test_a_file_within_the_first_lines_is_told_whole(tmp_path: Path) -> None:
    small = tmp_path / "small.log"
    small.write_bytes(b"a\nb\n")
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * 100 + b"\n" + b"y" * 100 + b"\n")
    frame, whole = head_frame(Source(str(small), "h", "s"), 1024)
    assert whole and frame is not None and frame.height == 2
    frame, whole = head_frame(Source(str(big), "h", "s"), 150)  # its first line only
    assert not whole and frame is not None and frame.height == 1
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert head_frame(Source(str(empty), "h", "s"), 1024) == (None, True)


def test_many_short_lines_are_split_by_polars_as_by_python() -> None:
    """Past SPLIT_LINES lines polars' reader splits even a small text (Python's cost grows
    with the lines): the same frame either way."""
    data = b"\n" * 5000 + b"a\r\n\n b"
    assert data.count(b"\n") > lines.SPLIT_LINES
    read = text_and_frame(data, 3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lines, "SPLIT_LINES", 10**9)
        split = text_and_frame(data, 3)
    assert read[0] == split[0]
    assert read[1].to_dicts() == split[1].to_dicts()
    assert read[1].height == 5003


def test_a_gzip_files_text_size_is_read_from_its_trailer(tmp_path: Path) -> None:
    text = b"".join(b"line %d of a log\n" % i for i in range(20_000))
    packed = gzip.compress(text)
    (tmp_path / "a.log.gz").write_bytes(packed)
    (tmp_path / "cut.log.gz").write_bytes(packed[: len(packed) // 2])
    (whole,) = resolve_sources([str(tmp_path / "a.log.gz")])
    assert source_size(whole) == len(text)
    (cut,) = resolve_sources([str(tmp_path / "cut.log.gz")])
    assert source_size(cut) == (len(packed) // 2) * 8  # its trailer is no size: a guess
    assert gzip_text_size(len(packed), len(text).to_bytes(4, "little")) == len(text)


@pytest.mark.parametrize("ratio", [6, 8, 10])
def test_a_gzip_files_text_over_4_gib_is_the_wrap_of_its_trailer_nearest_the_guess(
    ratio: int,
) -> None:
    compressed = 900 * 2**20
    text = compressed * ratio  # 5.3 to 8.8 GiB: the trailer holds it modulo 2**32
    assert gzip_text_size(compressed, (text % 2**32).to_bytes(4, "little")) == text
