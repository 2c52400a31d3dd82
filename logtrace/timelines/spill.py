"""Parsed lines spilled to disk, split by request: each part can be joined on its own.

Lines go to one of ``parts`` partitions by a hash of their request id (the trace id of a
W3C traceparent, so that a proxy logging the header and an app logging the trace id meet
in one part); lines without an id go to a part of their own (``NO_ID``). Parsed chunks
are held until ``HELD_BYTES`` are, then cut by part together, each part's rows written as
one Arrow IPC file: a part is a few files read back in the order its lines were read
(LZ4-compressed: about 0.7 times the input's size, with the raw lines kept), not one file
per chunk it got (parts x chunks files: the square of the input). This is done by a
thread of its own while the next chunks are parsed (at most ``WRITES_AHEAD`` chunks wait
for it). The chunks still held when the input ends are not written: they are cut by part
in memory, each part's rows kept until the join has read them (:meth:`Spill.release`), as
writing them would have made the join wait (0.6 s of 1M lines of the chatty benchmark, a
batch written while nothing else runs and read back at once); so are the parts of a batch
being written then that are not written yet. The folder is a temporary one,
removed when the ``with`` block ends, whether it ends normally, by an error or by Ctrl-C
(under the command line, whose Ctrl-C ends the process at once: by :func:`abandon`).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import polars as pl

from logtrace.write_behind import WriteBehind

NO_ID = -1  # the part of the lines without a request id
SUB = "_sub"  # a line's sub-part: another digit of its request id's hash (0-255)
_SUBS = 256
# (part, sub, subs): the lines of a part whose sub-part is ``sub`` modulo ``subs`` (all of
# them when ``subs`` is 1). A request's lines share their part and sub-part, so a part too
# big to join at once is joined in slices that each hold whole requests.
Slice = tuple[int, int, int]
_SEED = 0x7370696C6C  # "spill"
_TRACEPARENT = r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$"
_NEWEST = pl.CompatLevel.newest()
WRITES_AHEAD = 2  # chunks handed to the writing thread and not written yet, at most
# Parsed chunks held before they are cut by part and written: a part gets a file per batch
# of chunks held rather than one per chunk (parts x chunks: the square of the input, 213k
# files of ~300 rows for 36.7M lines, ~2 ms each to write and read back; 19k files now).
# Held as whole chunks: a part's rows held alone would keep the chunk's buffers (views) and
# fragment polars' allocator (~0.7 GB more peak for 128 MB of rows).
HELD_BYTES = 128 * 1024 * 1024
_open: set[Path] = set()  # the folders of the spills in use, for abandon()
_abandoned = threading.Event()  # Ctrl-C: the writing threads write no more


def abandon() -> None:
    """Remove every spill folder now: Ctrl-C ends the process at once (``os._exit`` in
    ``cli.app``), so no ``finally`` would. The writing threads stop before their next
    file; one being written then is removed by a second pass."""
    _abandoned.set()
    for attempt in range(2):
        for root in list(_open):
            shutil.rmtree(root, ignore_errors=True)
        if attempt == 0 and _open:
            time.sleep(0.2)  # a part file being written when the flag was set


def part_of(request_id: pl.Expr, parts: int) -> pl.Expr:
    """The part a request id goes to (``NO_ID`` for none). A traceparent counts as its
    trace id whether or not the join later reads it so: both land in one part."""
    part = (_hash(request_id) % parts).cast(pl.Int32)
    return pl.when(request_id.is_null()).then(pl.lit(NO_ID, pl.Int32)).otherwise(part)


def sub_of(request_id: pl.Expr, parts: int) -> pl.Expr:
    """The sub-part of a request id within its part (0 for none): the hash's next digit."""
    return (_hash(request_id) // parts % _SUBS).fill_null(0).cast(pl.UInt8)


def _hash(request_id: pl.Expr) -> pl.Expr:
    trace_id = request_id.str.extract(_TRACEPARENT, 1)
    return pl.coalesce(trace_id, request_id).hash(_SEED)


class Spill:
    """A folder of parts; write chunks with :meth:`add`, read a part with :meth:`read`."""

    def __init__(self, root: Path, parts: int, writer: WriteBehind) -> None:
        self.root = root
        self.parts = parts
        self._lines: Counter[int] = Counter()  # lines per part
        self._chunks = 0
        self._writer = writer
        self._held: dict[str, list[pl.DataFrame]] = {}  # kind -> chunks
        self._held_bytes: dict[str, int] = {}
        self._files = 0
        # the rows held when the input ended, by (kind, part): read after the part's files
        self._kept: dict[tuple[str, int], list[pl.DataFrame]] = {}
        self._released: Counter[int] = Counter()  # slices of a part the join is done with
        self._settled = True  # every chunk added is written or kept
        self._ending = False  # the input has ended: what is still to write is kept instead
        self._lock = threading.Lock()  # parts are read and let go by several threads

    @property
    def lines(self) -> Counter[int]:
        """Lines per part, every chunk added so far written."""
        self.flush()
        return self._lines

    def add(self, kind: str, frame: pl.DataFrame, request_id: pl.Expr) -> None:
        """Split one parsed chunk (``kind``: nginx or app) by the part of ``request_id``;
        written by the spill's thread (an error writing it is raised here or by flush)."""
        if frame.is_empty():
            return
        self._settled = self._ending = False
        self._chunks += 1
        split = frame.with_columns(
            part_of(request_id, self.parts).alias("_part"),
            sub_of(request_id, self.parts).alias(SUB),
            pl.lit(self._chunks, pl.UInt32).alias("_chunk"),
        )
        self._writer.submit(partial(self._hold, kind, split))

    def _hold(self, kind: str, split: pl.DataFrame) -> None:
        """Keep a whole chunk, split by part; once more than ``HELD_BYTES`` are held, cut
        the chunks held by part and write each part's rows as one file (in the writing
        thread)."""
        self._held.setdefault(kind, []).append(split)
        self._held_bytes[kind] = self._held_bytes.get(kind, 0) + int(split.estimated_size())
        for part, lines in split.group_by("_part").len().iter_rows():
            self._lines[int(part)] += lines
        if sum(self._held_bytes.values()) > HELD_BYTES:
            self._write_held()

    def _write_held(self) -> None:
        """Write the chunks held: each part's rows of one kind as one file, numbered in the
        order they are written (the order of the part's lines)."""
        for kind in list(self._held):
            frames = self._held.pop(kind)
            self._held_bytes.pop(kind)
            rows = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
            del frames
            for (part,), piece in rows.partition_by(
                "_part", as_dict=True, maintain_order=True
            ).items():
                if _abandoned.is_set():
                    return
                if self._ending:  # the join is waiting: the parts not written yet are kept
                    with self._lock:
                        self._kept.setdefault((kind, int(part)), []).append(piece.drop("_part"))
                    continue
                folder = self.root / _name(int(part))
                folder.mkdir(exist_ok=True)
                self._files += 1
                piece.drop("_part").write_ipc(
                    folder / f"{kind}-{self._files:09d}.arrow",
                    compression="lz4",
                    compat_level=_NEWEST,  # read back by this very polars: no conversion
                )

    def flush(self) -> None:
        """Wait until every chunk added is written or kept in memory, the chunks held cut
        by part and kept (:meth:`_keep_held`)."""
        if self._settled:
            return
        self._ending = True  # a batch being written when the input ends is not waited for
        self._writer.wait()
        with self._lock:
            self._keep_held()
        self._settled = True

    def _keep_held(self) -> None:
        """The chunks held, cut by part and kept in memory rather than written."""
        for kind in list(self._held):
            frames = self._held.pop(kind)
            self._held_bytes.pop(kind)
            rows = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
            del frames
            pieces = rows.partition_by("_part", as_dict=True, maintain_order=True)
            del rows
            for (part,), piece in pieces.items():
                self._kept.setdefault((kind, int(part)), []).append(piece.drop("_part"))

    def release(self, slices: list[Slice]) -> None:
        """The join has read these slices and reads them no more: the rows of a part kept
        in memory are let go once every slice of it is."""
        with self._lock:
            for part, _, subs in slices:
                self._released[part] += 1
                if self._released[part] >= subs:
                    for kind in ("nginx", "app"):
                        self._kept.pop((kind, part), None)

    def _seen(self, part: int | None, kind: str) -> tuple[list[Path], list[pl.LazyFrame]]:
        """A part's files (every part's: None), then its rows kept in memory."""
        with self._lock:
            if part is None:
                files = list(self.root.glob(f"*/{kind}-*.arrow"))
                kept = [k for (of, _), frames in self._kept.items() if of == kind for k in frames]
            else:
                files = sorted((self.root / _name(part)).glob(f"{kind}-*.arrow"))
                kept = list(self._kept.get((kind, part), []))
        return files, [k.lazy() for k in kept]

    def read(self, part: int, kind: str) -> pl.DataFrame:
        """Every line of one kind in one part, in the order they were read."""
        return self.read_slices([(part, 0, 1)], kind)

    def read_slices(self, slices: list[Slice], kind: str) -> pl.DataFrame:
        """The lines of one kind in some slices of parts, in the order they were read."""
        self.flush()
        scans: list[pl.LazyFrame] = []
        for part, sub, subs in slices:
            files, kept = self._seen(part, kind)
            if (files or kept) and subs == 1:
                scans.append(_scan(files, kept))
            elif files or kept:  # a slice of a big part: a file at a time, one in memory
                mine = pl.col(SUB) % subs == sub
                pieces = [pl.scan_ipc(f).filter(mine).collect() for f in files]
                pieces += [k.filter(mine).collect() for k in kept]
                scans.append(pl.concat(pieces, how="diagonal_relaxed").lazy())
        if not scans:
            return pl.DataFrame()
        if len(scans) == 1:
            return scans[0].drop("_chunk", SUB).collect()
        lines = pl.concat(scans, how="diagonal_relaxed")
        return lines.sort("_chunk", "line_no", maintain_order=True).drop("_chunk", SUB).collect()

    def read_many(self, parts: list[int] | None, kind: str) -> pl.DataFrame:
        """Every line of one kind in several parts (None: all), in the order they were read."""
        if parts is not None:
            return self.read_slices([(p, 0, 1) for p in parts], kind)
        self.flush()
        files, kept = self._seen(None, kind)
        if not files and not kept:
            return pl.DataFrame()
        lines = _scan(files, kept).sort("_chunk", "line_no", maintain_order=True)
        return lines.drop("_chunk", SUB).collect()


def _scan(files: list[Path], kept: list[pl.LazyFrame] | None = None) -> pl.LazyFrame:
    """The files (then the rows ``kept`` in memory) as one frame: read in one query, whose
    files are read and decompressed side by side (~2.5x faster than one after the other
    for a part's ~14 files)."""
    scans = [pl.scan_ipc(f) for f in files] + (kept or [])
    return scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")


def _name(part: int) -> str:
    return "no-id" if part == NO_ID else f"p{part:05d}"


@contextmanager
def spill(parts: int) -> Iterator[Spill]:
    """A temporary :class:`Spill` of ``parts`` parts, removed on the way out."""
    root = Path(tempfile.mkdtemp(prefix="logtrace-join-"))
    _open.add(root)
    writer = WriteBehind(WRITES_AHEAD, "spill")
    try:
        yield Spill(root, max(1, parts), writer)
    finally:
        writer.close()  # a chunk being written, then no more
        shutil.rmtree(root, ignore_errors=True)
        _open.discard(root)
