"""A stream of many programs' lines (``docker compose logs``, ``kubectl logs
--all-containers --prefix``: ``envelope.SPLIT``), read once for all of them.

``sources`` makes such a file a source per program, each parsed as a log of its own.
Each used to read the whole file to keep its own lines: N programs, N reads and unwraps
of it (1M lines of 5 containers: 9.7 s against 2.0 s for the same lines plain; of 20:
34.8 s). Now the first read of any of them unwraps the file once and writes each
program's lines, block by block, to an Arrow IPC file of a temporary folder; each source
then reads its own files. The folder is removed once every program's lines were read to
their end (a later read writes it again), at exit, and by :func:`abandon` (Ctrl-C under
the command line, which ends the process at once).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from logtrace.envelope import ORIGIN, Text
from logtrace.write_behind import WriteBehind

if TYPE_CHECKING:
    from logtrace.sources import ReadReport

_NEWEST = pl.CompatLevel.newest()
WRITES_AHEAD = 2  # blocks handed to the writing thread and not written yet, at most
_lock = threading.Lock()  # one stream is written once, whichever thread reads it first


@dataclass(frozen=True)
class _Piece:
    """One block's lines of one program (or of none: ``None``, the stream's own)."""

    path: Path
    text_bytes: int  # the lines' bytes, newlines included


@dataclass
class Stream:
    """A split stream's lines, by the program each names, in the order of the file."""

    root: Path
    key: tuple[int, int, int]  # the file's inode, size and mtime when it was read
    read: ReadReport  # what reading the file found (damage, envelopes, warnings)
    blocks: list[dict[str | None, _Piece]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    text_bytes: int = 0
    finished: set[str] = field(default_factory=set)  # programs read to their end


_streams: dict[str, Stream] = {}  # by the file's path


def _key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def stream_of(path: str, frames: Callable[[], Iterator[pl.DataFrame]], read: ReadReport) -> Stream:
    """The stream of ``path``, written from ``frames()`` (its unwrapped frames, every
    line with its ``ORIGIN``; ``read``: what reading them finds) unless it was and the
    file has not changed since."""
    with _lock:
        key = _key(path)
        known = _streams.get(path)
        if known is not None and known.key == key and key is not None and known.root.exists():
            return known
        if known is not None:
            _remove(known)
        root = Path(tempfile.mkdtemp(prefix="logtrace-stream-"))
        stream = Stream(root, key or (0, 0, 0), read)
        _streams[path] = stream
        writer = WriteBehind(WRITES_AHEAD, "stream")
        try:
            for frame in frames():
                writer.submit(partial(_write, stream, frame))
            writer.wait()
        except BaseException:
            writer.close()
            _remove(stream)
            raise
        writer.close()
        return stream


def _write(stream: Stream, frame: pl.DataFrame) -> None:
    """A block's lines, a file for each program's (and one for those naming none)."""
    block: dict[str | None, _Piece] = {}
    n = len(stream.blocks)
    groups: dict[object, pl.DataFrame] = {None: frame}
    if ORIGIN in frame.columns:
        by = frame.partition_by(ORIGIN, as_dict=True, maintain_order=True)
        groups = {k[0]: part for k, part in by.items()}
    for i, (name, part) in enumerate(groups.items()):
        path = stream.root / f"{n:06d}-{i:04d}.arrow"
        part.write_ipc(path, compression="lz4", compat_level=_NEWEST)
        text = len(Text(part))
        block[name if isinstance(name, str) else None] = _Piece(path, text)
        stream.text_bytes += text
        if isinstance(name, str):
            stream.names.add(name)
    stream.blocks.append(block)


def frames_of(
    stream: Stream, name: str, *, strays: bool, chunk_bytes: int
) -> Iterator[pl.DataFrame]:
    """One program's lines (``strays``: and the stream's own, in their places) in frames of
    about ``chunk_bytes`` of text, in the order of the file. Reading them all to the end
    marks the program read; the stream is removed when every program is."""
    held: list[pl.DataFrame] = []
    size = 0
    for block in stream.blocks:
        pieces = [p for n, p in block.items() if n == name or (strays and n is None)]
        if not pieces:
            continue
        frames = [pl.read_ipc(p.path) for p in pieces]
        frame = frames[0] if len(frames) == 1 else pl.concat(frames).sort("line_no")
        text = sum(p.text_bytes for p in pieces)
        if text > chunk_bytes:  # a first look at a program (256 KB): not its whole block
            yield from _cut(frame, chunk_bytes)
            continue
        held.append(frame)
        size += text
        if size >= chunk_bytes:
            yield pl.concat(held)
            held, size = [], 0
    if held:
        yield pl.concat(held)
    with _lock:
        stream.finished.add(name)
        if stream.finished >= stream.names:
            _remove(stream)


def _cut(frame: pl.DataFrame, chunk_bytes: int) -> Iterator[pl.DataFrame]:
    ends = (frame.get_column("line").str.len_bytes() + 1).cum_sum()
    start = 0
    while start < frame.height:
        done = int(ends[start - 1]) if start else 0
        stop = int(ends.search_sorted(done + chunk_bytes, side="right"))
        stop = max(stop, start + 1)
        yield frame.slice(start, stop - start)
        start = stop


def discard(stream: Stream) -> None:
    """Remove a stream no program will read (its file is read as it is)."""
    with _lock:
        _remove(stream)


def _remove(stream: Stream) -> None:
    shutil.rmtree(stream.root, ignore_errors=True)
    for path, known in list(_streams.items()):
        if known is stream:
            del _streams[path]


def abandon() -> None:
    """Remove every stream's folder now (the command line's Ctrl-C: no ``finally`` runs).
    Not under the lock, which a thread writing a stream holds: a file it writes as the
    folder is removed is removed by a second pass."""
    for attempt in range(2):
        roots = [stream.root for stream in list(_streams.values())]
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
        if attempt == 0 and any(root.exists() for root in roots):
            time.sleep(0.2)


atexit.register(abandon)
