"""A stream of many containers' lines (``docker compose logs``) read once for all of
them: each container's lines as reading the whole file for each gave them, the file
unwrapped once whatever the number of containers, the temporary folder removed."""

from __future__ import annotations

import os
import tempfile
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from logtrace import envelope, sources, streams
from logtrace.cli import app
from logtrace.errors import ExitStatus
from logtrace.sources import ReadReport, Source, iter_texts, resolve_sources
from tests.conftest import disk_full_after
from tests.test_envelope import SAMPLE, compose, cut

CONTAINERS = {
    "edge-1": "edge-1.access.log",
    "api-1": "api-1.log",
    "api-2": "api-2.log",
    "inventory-1": "inventory-1.log",
    "users-1": "users-1.log",
    "mesh-1": "mesh-1.access.log",
}
BLOCK = 32 * 1024  # bytes a block: the sample logs' stream in many


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of the test's own, and blocks small enough to be many."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(sources, "CHUNK_BYTES", BLOCK)
    return folder


def _stream(folder: Path, names: list[str], *, colour: bool = False) -> Path:
    lines = {n: (SAMPLE / CONTAINERS[n]).read_text().splitlines() for n in names}
    path = folder / "compose.log"
    path.write_text(compose(lines, colour=colour, times=colour))
    return path


def _whole(source: Source) -> pl.DataFrame:
    """A container's lines as they were found before: the whole file unwrapped, its
    lines kept (``Source.lines_of``)."""
    frames = [f for _, f in sources._unwrapped(Source(source.path, "h", "s"), ReadReport())]
    return source.lines_of(pl.concat(frames, how="diagonal_relaxed"))


@pytest.mark.parametrize("colour", [False, True])
def test_each_container_reads_the_lines_it_read_from_the_whole_file(
    tmp_path: Path, temp: Path, colour: bool
) -> None:
    path = _stream(tmp_path, list(CONTAINERS), colour=colour)
    split = resolve_sources([str(path)])
    assert len(split) == len(CONTAINERS)
    for source in split:
        read = ReadReport()
        frames = [frame for _, frame in iter_texts(source, read)]
        assert len(frames) > 1
        assert_frame_equal(pl.concat(frames), _whole(source))
        timestamped = (envelope.Envelope.TIMESTAMPS,) if colour else ()
        assert read.envelopes == (envelope.Envelope.COMPOSE, *timestamped)
    assert list(temp.iterdir()) == []  # every container read: the folder is removed


def test_the_file_is_unwrapped_once_whatever_the_number_of_containers(
    tmp_path: Path, temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each container's source used to read and unwrap the whole file: N containers,
    N times its lines. Now every line is unwrapped once (and the first 16 KB once more,
    to know the file is such a stream)."""
    unwrapped: list[int] = []
    real = envelope.unwrap_all

    def counted(frame: pl.DataFrame, *args: object, **kwargs: object) -> pl.DataFrame:
        unwrapped.append(frame.height)
        return real(frame, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(envelope, "unwrap_all", counted)
    for names in (list(CONTAINERS)[:2], list(CONTAINERS)):
        path = _stream(tmp_path, names)
        lines = len(path.read_text().splitlines())
        unwrapped.clear()
        for source in resolve_sources([str(path)]):
            assert source.only in names
            for _ in iter_texts(source, ReadReport()):
                pass
        sniffed = len(path.read_bytes()[: 16 * 1024].splitlines())
        assert sum(unwrapped) <= lines + sniffed, names


def test_a_command_writes_the_stream_once_without_a_look_through_it_first(
    tmp_path: Path, temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that reads every source to its end has the stream written when its
    sources are made: the containers are those it names, and the file is not looked
    through for them first (a pass of its own: 0.3-0.5 s of 1M lines of 20 containers).
    A live view, which reads what is written next, looks through it instead."""
    looked: list[int] = []
    real = envelope.origins

    def counted(frame: pl.DataFrame, *args: object) -> set[str]:
        looked.append(frame.height)
        return real(frame, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(envelope, "origins", counted)
    path = _stream(tmp_path, list(CONTAINERS))
    written = resolve_sources([str(path)], read_whole=True)
    assert looked == []
    assert len(list(temp.iterdir())) == 1  # written, for the reads to come
    assert [s.only for s in written] == sorted(CONTAINERS)
    for source in written:
        assert_frame_equal(
            pl.concat([f for _, f in iter_texts(source, ReadReport())]), _whole(source)
        )
    assert list(temp.iterdir()) == []
    assert [s.only for s in resolve_sources([str(path)])] == sorted(CONTAINERS)
    assert looked  # looked through, not written
    assert list(temp.iterdir()) == []
    one = tmp_path / "one.log"
    one.write_text("".join(f"api-1  | {line}\n" for line in range(5)))
    assert [s.only for s in resolve_sources([str(one)], read_whole=True)] == [None]
    assert list(temp.iterdir()) == []  # one program's: read as the file it is


def test_a_first_look_at_a_container_is_its_first_lines_only(tmp_path: Path, temp: Path) -> None:
    path = _stream(tmp_path, ["api-1", "api-2"])
    first = resolve_sources([str(path)])[0]
    frame = sources.first_frame(first, 2048)
    assert frame is not None
    assert 0 < len(envelope.Text(frame)) <= 2048 + 1024  # its first 2 KB, to a line's end
    assert_frame_equal(frame, _whole(first).head(frame.height).select("line_no", "line"))
    assert len(list(temp.iterdir())) == 1  # not read to the end: kept for the read


def test_a_stream_that_changed_is_read_again(tmp_path: Path, temp: Path) -> None:
    path = _stream(tmp_path, ["api-1", "api-2"])
    first, second = resolve_sources([str(path)])
    with closing(iter_texts(first, ReadReport())) as texts:
        next(texts)
    with path.open("a") as f:
        f.write("api-2  | a line written since\n")
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    lines = pl.concat([f for _, f in iter_texts(second, ReadReport())])
    assert lines.get_column("line").to_list()[-1] == "a line written since"
    assert_frame_equal(lines, _whole(second))


def test_unwrapping_in_threads_gives_the_lines_one_thread_gives(tmp_path: Path) -> None:
    """Blocks unwrapped by threads, numbered and joined in order: the same lines, line
    numbers and parts joined as one block after the other, for lines cut in parts."""
    lines = (SAMPLE / "api-1.log").read_text().splitlines()
    padded = [
        ln[:-1] + f', "payload": "{"x" * (i * 977 % 40000)}"}}' if i % 7 == 0 else ln
        for i, ln in enumerate(lines)
    ]
    (tmp_path / "wrapped.log").write_text(cut(padded, 16 * 1024, wrap="cri"))
    source = Source(str(tmp_path / "wrapped.log"), "api-1", "api")
    read = {workers: ReadReport() for workers in (0, 2)}
    frames = {
        workers: pl.concat(
            [f for _, f in sources._unwrapped(source, read[workers], 64 * 1024, workers=workers)]
        )
        for workers in (0, 2)
    }
    assert_frame_equal(frames[0], frames[2])
    assert read[0].parts_joined == read[2].parts_joined > 0
    assert sorted(frames[2].get_column("line").to_list()) == sorted(padded)


def test_a_stream_that_cannot_be_written_is_an_error_and_is_removed(
    tmp_path: Path, temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _stream(tmp_path, list(CONTAINERS))
    written = disk_full_after(monkeypatch, 3)
    with pytest.raises(OSError, match="No space left"):
        for _ in iter_texts(resolve_sources([str(path)])[0], ReadReport()):
            pass
    assert len(written) > 3
    assert list(temp.iterdir()) == []
    result = CliRunner().invoke(app, ["analyze", str(path)])
    assert result.exit_code == int(ExitStatus.NO_INPUT), result.output
    assert "No space left on device" in result.stderr
    assert "Traceback" not in result.output
    assert list(temp.iterdir()) == []


def test_abandon_removes_every_stream(tmp_path: Path, temp: Path) -> None:
    path = _stream(tmp_path, ["api-1", "api-2"])
    with closing(iter_texts(resolve_sources([str(path)])[0], ReadReport())) as texts:
        next(texts)
        assert len(list(temp.iterdir())) == 1
        streams.abandon()
        assert list(temp.iterdir()) == []
