"""Where lines come from: files, globs, directories, rotated ``.gz`` files and stdin.

stdin and a path that is not a regular file (a named pipe, ``<(zcat ...)``'s
``/dev/fd/63``) can be read once: their first bytes, read ahead to plan them (format,
kind, offsets), are kept and given to their reader again ahead of the rest.

A source is read in chunks of whole lines (bytes), so memory stays bounded however big
the file is, and each chunk becomes a polars frame of ``line_no`` and ``line`` without a
Python loop over lines (``lines.py``). Each source carries the host and service its lines belong to.
"""

from __future__ import annotations

import codecs
import glob
import io
import math
import os
import re
import stat
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import chain
from typing import BinaryIO, Protocol, TypeVar

import polars as pl

from logtrace import envelope, streams
from logtrace.errors import InputError
from logtrace.hosts import STDIN, names_from_path, service_from_host
from logtrace.lines import text_and_frame
from logtrace.plural import plural

# Threads that read sources side by side (first lines, offsets) and parse their chunks.
WORKERS = max(1, min(4, os.cpu_count() or 1))
# Lines are parsed a chunk at a time, a few chunks in flight (WORKERS): peak memory
# is about 25 times this, whatever the size of the input; 16 MB costs ~3% of the speed
# of 32 MB and ~150 MB less memory.
CHUNK_BYTES = 16 * 1024 * 1024
_READ_BYTES = 4 * 1024 * 1024
_GZIP_RATIO = 4  # a log inflates 5-10 times: a piece of a quarter of a block is a block
_GZIP_MIN_READ = 16 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_RATIO_TEXT = 8  # the text a gzip'd log holds, per byte (an estimate)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# A file written to this recently (or growing while read) is being written: a last line
# without its newline may be the first half of one (stdio buffers, a write in progress).
WRITING_S = 60.0
# A "line" this long is binary data (a core dump, /dev/urandom): it is cut here, and the
# rest of it up to the next newline skipped, so that memory stays bounded.
MAX_LINE_BYTES = 64 * 1024 * 1024

# Names a directory listing picks up: *.log, rotations (*.log.1, *.log.2.gz, *.log-20261126).
_LOG_NAME = re.compile(r"\.log(?:[.-][0-9][0-9A-Za-z_-]*)?(?:\.gz)?$|\.log\.gz$")


@dataclass(frozen=True)
class Source:
    """One input: a file or stdin, with the host and service its lines belong to."""

    path: str  # as given; "-" for stdin
    host: str
    service: str
    # found in a directory or by a glob: unreadable is a warning, not an error
    expanded: bool = field(default=False, compare=False)
    # of a stream of many programs' lines (docker compose logs), the lines of one: those
    # that name it, and (``strays``) those that name none, so that each is counted once
    only: str | None = None
    strays: bool = False

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN

    @cached_property
    def read_once(self) -> bool:
        """stdin, or a path that is no regular file (a named pipe, ``/dev/fd/63``): its
        bytes can be read once, not again for samples, waterfalls or a second pass."""
        return self.is_stdin or _is_pipe(self.path)

    @property
    def label(self) -> str:
        if self.only is not None:
            return f"{self.path}[{self.only}]"
        return "<stdin>" if self.is_stdin else self.path

    def lines_of(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The lines of an unwrapped frame that are this source's (all but of a stream
        split by the program each line names); the first program's also those that name
        none, marked ``envelope.STRAY`` (rejected as such: not parsed in its format)."""
        if self.only is None:
            return frame
        if envelope.ORIGIN not in frame.columns:  # none named (read otherwise): the first's
            return frame if self.strays else frame.clear()
        origin = pl.col(envelope.ORIGIN)
        mine = origin == self.only
        if not self.strays:
            return frame.filter(mine)
        # the lines that name none are counted with the first, as the stream's own
        return frame.filter(mine | origin.is_null()).with_columns(
            origin.is_null().alias(envelope.STRAY)
        )


def _is_pipe(path: str) -> bool:
    """Whether ``path`` names something other than a regular file or a directory."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@dataclass
class ReadReport:
    """What reading a source found besides lines: damage, odd encodings, and a last line
    without its end in a file that is being written (``unfinished_line``: its number)."""

    warnings: list[str] = field(default_factory=list)
    bytes_read: int = 0
    truncated: bool = False
    compressed: bool = False
    tail_open: bool = False  # the last line has no newline and the file is being written
    unfinished_line: int | None = None
    envelopes: tuple[envelope.Envelope, ...] = ()  # the lines are in, the outer first
    parts_joined: int = 0  # lines the runtime cut: parts joined to the part before them


def _labelled(found: tuple[str, bool], host: str | None, service: str | None) -> Source:
    path, expanded = found
    if host is None:
        host, named = names_from_path(path)
        service = service or named
    return Source(path, host, service or service_from_host(host), expanded=expanded)


def _split_label(spec: str) -> tuple[str, str | None, str | None]:
    """``path@host`` or ``path@host/service``; the plain path when it exists as given."""
    if spec == STDIN or os.path.exists(spec) or "@" not in spec:
        return spec, None, None
    path, _, label = spec.rpartition("@")
    host, _, service = label.partition("/")
    return path, host or None, service or None


def resolve_sources(
    specs: Sequence[str], explicit: Sequence[str] = (), *, read_whole: bool = False
) -> list[Source]:
    """Expand FILES arguments (paths, globs, directories, ``-``) and ``--source HOST=PATH``.
    ``read_whole``: the caller reads every source to its end (not a live view, which reads
    what is written next), so a stream of many programs is written for them at once now
    (``streams.py``), rather than looked through for their names first."""
    sources: list[Source] = []
    labelled: set[str] = set()  # paths given a host: read as one source whatever they hold
    for spec in explicit:
        host, sep, path = spec.partition("=")
        if not sep or not host or not path:
            raise InputError(
                f"--source {spec!r} is not HOST=PATH",
                "for example --source web-1=logs/web-1.access.log (HOST may be HOST/SERVICE)",
            )
        host, _, service = host.partition("/")
        found = _expand(path)
        labelled.update(p for p, _ in found)
        sources.extend(_labelled(p, host, service or None) for p in found)
    for spec in specs:
        path, label_host, label_service = _split_label(spec)
        found = _expand(path)
        if label_host is not None:
            labelled.update(p for p, _ in found)
        sources.extend(_labelled(p, label_host, label_service) for p in found)
    if not sources:
        raise InputError("no input given", "pass log files, a directory, a glob, or - for stdin")
    seen: set[str] = set()
    unique = []
    for s in sources:
        key = s.path if s.is_stdin else os.path.realpath(s.path)
        if key not in seen:
            seen.add(key)
            unique.append(s)
    if sum(s.is_stdin for s in unique) > 1:
        raise InputError("stdin given more than once", "use - only once")
    return [
        part
        for s in unique
        for part in _split_stream(s, named=s.path in labelled, write=read_whole)
    ]


_SNIFF_BYTES = 16 * 1024  # of a file read to know whether it is a stream to split
STREAM_WORKERS = 2  # threads that look through a split stream's blocks, or unwrap them
_T = TypeVar("_T")


def _split_stream(source: Source, *, named: bool, write: bool = False) -> list[Source]:
    """A file of many containers' lines (``docker compose logs``, ``kubectl logs
    --all-containers --prefix``: envelope.SPLIT) as a source per container, each detected
    and parsed as a log of its own (their formats differ: nginx's, an app's); any other
    source as it is. Not a stream given a host
    (``PATH@HOST``, ``--source``), nor one read once (stdin, a pipe). ``write``: the
    containers are those the stream written for them names (it is written now, once for
    the reads to come), not those a look through the file finds (1M lines of 20
    containers: 0.3-0.5 s less)."""
    if named or source.read_once:
        return [source]
    sniffed = ReadReport()
    try:
        with closing(iter_texts(source, sniffed, _SNIFF_BYTES)) as texts:
            next(texts, None)
    except InputError:  # unreadable: said when it is read
        return [source]
    if not set(sniffed.envelopes) & envelope.SPLIT:
        return [source]
    names: set[str] = set()
    written = _stream(source) if write else None
    if written is not None:
        names = set(written.names)
    else:
        blocks = iter_blocks(source, ReadReport())
        envelopes = sniffed.envelopes
        for found in _in_order(
            lambda data: envelope.origins(text_and_frame(data)[1], envelopes),
            blocks,
            STREAM_WORKERS,
        ):
            names |= found
    if len(names) < 2:
        if written is not None:  # one program's: read as the file it is
            streams.discard(written)
        return [source]
    # a compose container is the host; a pod's container's lines name their pods
    return [
        replace(source, host=name, service=service_from_host(name), only=name, strays=i == 0)
        for i, name in enumerate(sorted(names))
    ]


def _expand(path: str) -> list[tuple[str, bool]]:
    """The files ``path`` names, each with whether it was found (directory, glob)."""
    if path == STDIN:
        return [(STDIN, False)]
    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.X_OK):
            raise InputError(f"{path}: permission denied", "check the directory's permissions")
        files = _log_files(path)
        if not files:
            raise InputError(
                f"{path}: directory has no log files",
                "a directory contributes its *.log files and their rotations (*.log.1, "
                "*.log.2.gz), or those in its folders when it has none",
            )
        return [(f, True) for f in files]
    if os.path.exists(path):
        if not os.access(path, os.R_OK):
            raise InputError(f"{path}: permission denied", "check the file's permissions")
        return [(path, False)]
    if glob.has_magic(path):  # ** spans folders, as in bash with globstar
        matches = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
        if matches:
            return [(m, True) for m in matches]
        raise InputError(f"{path}: the pattern matches no file", "check the glob; quote it")
    raise InputError(f"{path}: no such file or directory", "check the path")


def _log_files(top: str) -> list[str]:
    """The log files of a directory; when it has none (a folder per host), those of its
    folders and theirs (hidden ones left out), each folder's in name order before those
    of its folders. A folder that cannot be listed is given as a file of its own: reading
    it fails, and says so, as any unreadable file found does."""
    found: list[str] = []
    unlisted: list[str] = []
    for folder, folders, names in os.walk(top, onerror=lambda e: unlisted.append(e.filename)):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        found.extend(
            os.path.join(folder, n)
            for n in sorted(names)
            if _LOG_NAME.search(n) and os.path.isfile(os.path.join(folder, n))
        )
        if folder == top and found:  # logs of its own: its folders are something else
            break
    return found + sorted(unlisted)


# --- reading bytes -------------------------------------------------------------------------


class ByteStream(Protocol):
    """What a source's bytes are read from: a file, stdin, what was read ahead of it."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class _Ahead:
    """The first bytes of a source that can be read once (stdin, a pipe), read before its
    reader to plan it like a file (its format, its kind, its copies), and given to that
    reader again ahead of the rest."""

    path: str = STDIN
    data: bytes = b""
    ended: bool = False  # the source ended within ``data``
    given: bool = False  # to its reader: nothing more is read ahead
    of: object = None  # the stream they were read from (tests run commands in one process)

    def _current(self) -> ByteStream:
        if self.path != STDIN:
            if self.of is None:
                self.of = _open_path(self.path)
            return self.of  # type: ignore[return-value]
        stdin = sys.stdin.buffer
        if self.of is not stdin:
            self.data, self.ended, self.given, self.of = b"", False, False, stdin
        return stdin

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes (all of the source when it is shorter), read once; b""
        once the source was given to its reader."""
        stream = self._current()
        want = size - len(self.data)
        if want > 0 and not self.ended and not self.given:
            try:
                more = stream.read(want)
            except OSError:  # its reader will meet the error again and say so
                more = b""
            self.ended = len(more) < want
            self.data += more
        return self.data[:size]

    def stream(self) -> ByteStream:
        """The source for its reader: the bytes read ahead, then the rest (read once)."""
        stream = self._current()
        data, self.data, self.given = self.data, b"", True
        return _Replay(data, stream) if data else stream


@dataclass
class _Replay:
    """A stream that gives ``head`` before the rest of ``rest``."""

    head: bytes
    rest: ByteStream

    def read(self, size: int = -1, /) -> bytes:
        if not self.head:
            return self.rest.read(size)
        if size < 0:
            out, self.head = self.head + self.rest.read(), b""
            return out
        out, self.head = self.head[:size], self.head[size:]
        return out + self.rest.read(size - len(out)) if len(out) < size else out


_STDIN = _Ahead()
_PIPES: dict[str, _Ahead] = {}  # by path: each pipe named as a file is opened once


def _ahead(source: Source) -> _Ahead:
    if source.is_stdin:
        return _STDIN
    return _PIPES.setdefault(source.path, _Ahead(source.path))


def read_ahead(source: Source) -> bytes:
    """What was read of a source that can be read once ahead of its reader so far
    (b"": nothing yet)."""
    ahead = _ahead(source)
    if source.is_stdin:
        ahead._current()
    return ahead.data


def source_size(source: Source, *, ahead: int = 0) -> float:
    """A source's size in bytes of text: a gzip'd file's from its trailer
    (:func:`gzip_text_size`); stdin's (a pipe's) when it ended within what was read ahead
    of its reader (``ahead`` bytes at least, read now if they were not), else infinite. 0
    for a file that cannot be read."""
    if source.read_once:
        stream = _ahead(source)
        stream.head(ahead)
        if not stream.ended or stream.given:
            return math.inf
        data = stream.data
        if data.startswith(_GZIP_MAGIC):
            return float(gzip_text_size(len(data), data[-4:]))
        return float(len(data))
    try:
        with open(source.path, "rb") as f:
            magic = f.read(len(_GZIP_MAGIC))
            size = f.seek(0, os.SEEK_END)
            if magic != _GZIP_MAGIC:
                return float(size)
            f.seek(max(0, size - 4))
            return float(gzip_text_size(size, f.read(4)))
    except OSError:
        return 0.0


_GZIP_MAX_RATIO = 1032  # deflate's most: 258 bytes from a 2-bit code (in practice ~1000)


def gzip_text_size(compressed: int, trailer: bytes) -> int:
    """The text a gzip file of ``compressed`` bytes holds, from its last 4 bytes: the
    last member's size modulo 2**32 (exact for a file of one member under 4 GiB, what
    gzip and logrotate write). Of the sizes that modulo allows, the nearest to an 8:1
    estimate (right within 2 GiB of it); the estimate itself when the trailer is no size
    (a cut file); of several members, the last one's alone: too small."""
    guess = compressed * _GZIP_RATIO_TEXT
    if len(trailer) < 4:
        return guess
    stated = int.from_bytes(trailer, "little")
    wraps = max(0, round((guess - stated) / 2**32))
    size = stated + wraps * 2**32
    return size if compressed <= size <= compressed * _GZIP_MAX_RATIO else guess


def first_frame(source: Source, size: int) -> pl.DataFrame | None:
    """The whole lines in a source's first ``size`` bytes (None: it is empty). stdin's
    are read ahead and kept for its reader, so that it is planned like a file (a pipe's
    too)."""
    if not source.read_once:
        return next(iter_frames(source, ReadReport(), size), None)
    head = io.BytesIO(_ahead(source).head(size))
    return next(iter_frames(source, ReadReport(), size, stream=head), None)


def head_frame(source: Source, size: int) -> tuple[pl.DataFrame | None, bool]:
    """:func:`first_frame`, and whether it holds every line of the source: a file of at
    most ``size`` bytes on disk read to its end (stdin, a pipe: not told)."""
    if source.read_once:
        return first_frame(source, size), False
    with closing(iter_texts(source, ReadReport(), size)) as texts:
        first = next(texts, None)
        if first is None:
            return None, True
        try:
            small = os.path.getsize(source.path) <= size
        except OSError:
            small = False
        return first[1], small and next(texts, None) is None


def _open(source: Source) -> BinaryIO:
    return _open_path(source.path)


def _open_path(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory", "pass the files inside it") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}", "check the path") from None


def _raw_blocks(
    stream: ByteStream, report: ReadReport, label: str, size: int = _READ_BYTES
) -> Iterator[bytes]:
    """Decompressed blocks; gzip is detected by its magic bytes, not the file name.

    Plain text is read in blocks of ``size`` (a whole chunk: one read, no joining);
    compressed data in smaller pieces, since it inflates several times over: a quarter of
    ``size`` (at most ``_READ_BYTES``), so that a look at a file's first lines (256 KB)
    does not inflate 20 MB of it.
    """
    head = _read(stream, len(_GZIP_MAGIC), report, label)
    if not head.startswith(_GZIP_MAGIC):
        if label.endswith(".gz") and head:
            report.warnings.append(f"{label}: not gzip-compressed; read as plain text")
        block = head + _read(stream, size - len(head), report, label) if head else head
        while block:
            report.bytes_read += len(block)
            yield block
            block = _read(stream, size, report, label)
        return
    report.compressed = True
    piece = max(_GZIP_MIN_READ, min(_READ_BYTES, size // _GZIP_RATIO))
    head += _read(stream, piece, report, label)
    yield from _gunzip(head, stream, report, label, piece)


def _read(stream: ByteStream, size: int, report: ReadReport, label: str) -> bytes:
    """Up to ``size`` bytes; b"" and a warning when the device fails (EIO, a dying disk)."""
    if report.truncated:
        return b""
    try:
        return stream.read(size)
    except OSError as exc:
        report.truncated = True
        report.warnings.append(
            f"{label}: reading failed after {plural(report.bytes_read, 'byte')} "
            f"({exc.strerror or exc}): damaged or unreadable; kept the lines before"
        )
        return b""


def _gunzip(
    head: bytes, stream: ByteStream, report: ReadReport, label: str, size: int
) -> Iterator[bytes]:
    """Decompress gzip members one after another (nginx's ``gzip=`` writes many)."""
    inflater = zlib.decompressobj(wbits=31)
    block = head
    while True:
        report.bytes_read += len(block)
        before = inflater.copy()
        try:
            out = inflater.decompress(block)
        except zlib.error as exc:
            # The block's output up to the damage is lost with the exception: again,
            # a little at a time, to keep the lines that precede the damage.
            yield from _inflate_until_damage(before, block)
            report.truncated = True
            report.warnings.append(
                f"{label}: gzip data is damaged ({exc}); kept the lines before the damage"
            )
            return
        if out:
            yield out
        while inflater.eof and inflater.unused_data:
            rest = inflater.unused_data
            inflater = zlib.decompressobj(wbits=31)
            try:
                out = inflater.decompress(rest)
            except zlib.error:
                report.warnings.append(f"{label}: trailing bytes after the gzip data were ignored")
                return
            if out:
                yield out
        block = _read(stream, size, report, label)
        if not block:
            break
    if report.truncated:
        return
    if not inflater.eof:
        tail = inflater.flush()
        if tail:
            yield tail
        report.truncated = True
        report.warnings.append(
            f"{label}: gzip file is truncated; kept every line before the end of the data"
        )


def _inflate_until_damage(
    inflater: zlib._Decompress, block: bytes, piece: int = 1024
) -> Iterator[bytes]:
    """What ``inflater`` makes of ``block`` before the damaged data in it."""
    for start in range(0, len(block), piece):
        try:
            out = inflater.decompress(block[start : start + piece])
        except zlib.error:
            return
        if out:
            yield out


def iter_blocks(
    source: Source,
    report: ReadReport,
    chunk_bytes: int | None = None,
    *,
    stream: ByteStream | None = None,
) -> Iterator[bytes]:
    """Blocks of whole lines, about ``chunk_bytes`` each; the last may lack its newline.
    ``stream``: the source's bytes from there rather than from the source."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    opened: BinaryIO | None = None
    pipe: _Ahead | None = None
    if stream is None and source.read_once:
        pipe = _ahead(source)
        stream = pipe.stream()
    elif stream is None:
        try:
            stream = opened = _open(source)
        except InputError as exc:
            if not source.expanded:
                raise
            # one unreadable file of a directory or glob: read the others, say so, exit 7
            report.truncated = True
            report.warnings.append(f"{exc.message}: could not be read; skipped, read the others")
            return
    try:
        parts: list[bytes] = []
        size = 0
        skipping = False  # in the rest of a line cut at MAX_LINE_BYTES
        raw = _raw_blocks(stream, report, source.label, chunk_bytes)
        for block in _one_object_a_line(_from_utf16(raw, report, source.label), report, source):
            data = block
            if skipping:
                end = data.find(b"\n")
                skipping = end < 0
                data = b"" if skipping else data[end + 1 :]
            parts.append(data)
            size += len(data)
            if size < chunk_bytes:
                continue
            last = parts[-1]
            end = last.rfind(b"\n")
            if end >= 0:  # the usual case: one copy of the chunk at most, not two
                tail = last[end + 1 :]
                if len(parts) == 1 and not tail:
                    yield last
                else:
                    yield b"".join([*parts[:-1], memoryview(last)[: end + 1]])
                parts, size = ([tail], len(tail)) if tail else ([], 0)
                continue
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            cut = data.rfind(b"\n")
            if cut < 0 and size >= MAX_LINE_BYTES:
                report.warnings.append(
                    f"{source.label}: a line longer than {MAX_LINE_BYTES:,} bytes (binary "
                    "data?) was cut there; the rest of it was skipped"
                )
                yield data[:MAX_LINE_BYTES] + b"\n"
                parts, size, skipping = [], 0, True
                continue
            if cut < 0:
                parts, size = [data], len(data)  # one very long line: read on until it ends
                continue
            yield data[: cut + 1]
            tail = data[cut + 1 :]
            parts, size = ([tail], len(tail)) if tail else ([], 0)
        if size:
            last = parts[0] if len(parts) == 1 else b"".join(parts)
            report.tail_open = (
                not last.endswith(b"\n") and opened is not None and _being_written(opened, report)
            )
            yield last
    finally:
        if opened is not None:
            opened.close()
        if pipe is not None and not source.is_stdin:  # read to its end: closed, forgotten
            _PIPES.pop(source.path, None)
            if isinstance(pipe.of, io.IOBase):
                pipe.of.close()


def _being_written(stream: BinaryIO, report: ReadReport) -> bool:
    """Whether a plain file grew while it was read, or was written to a moment ago."""
    if report.compressed or report.truncated:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return st.st_size > report.bytes_read or time.time() - st.st_mtime < WRITING_S


def _from_utf16(blocks: Iterator[bytes], report: ReadReport, label: str) -> Iterator[bytes]:
    """The blocks, with UTF-16 text (that starts with its byte order mark, as Windows
    tools write it) decoded to UTF-8 on the way. (UTF-8's mark: see lines_frame.)"""
    decoder: codecs.IncrementalDecoder | None = None
    for i, block in enumerate(blocks):
        if i == 0 and block.startswith(_UTF16_BOMS):
            decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")
            report.warnings.append(f"{label}: UTF-16 text, read as such")
        yield block if decoder is None else decoder.decode(block).encode("utf-8")


# JSON printed an object over many lines (``journalctl -o json-pretty``, ``jq .``): the
# file starts with a brace alone on its line, then an indented member.
_PRETTY_START = re.compile(rb'\A[ \t\r\n]*\{[ \t]*\r?\n[ \t]+"')
# A line break inside an object, with the indent after it: one before an indented line,
# a closing bracket at a line's start or a blank line (a JSON string holds no line break,
# so each is the printer's). A line that starts otherwise (the next object's brace, a
# line that is no JSON) stays a line of its own.
_INSIDE = re.compile(rb"\r?\n(?=[ \t\r\n}\]])[ \t]*")
_INSIDE_STARTS = b" \t\r\n}]"


def _last_line_start(data: bytes) -> int:
    """Where the last line that is in no object starts, minus one (its line break), if
    the line after it is known: -1 when there is none."""
    cut = data.rfind(b"\n")
    while cut >= 0 and (cut + 1 == len(data) or data[cut + 1] in _INSIDE_STARTS):
        cut = data.rfind(b"\n", 0, cut)
    return cut


def _one_object_a_line(
    blocks: Iterator[bytes], report: ReadReport, source: Source
) -> Iterator[bytes]:
    """The blocks; a file of JSON objects printed over many lines each made an object a
    line, as ``journalctl -o json`` and ``jq -c`` print them (then a line is an object:
    the warning says so); the lines that are in no object stay as they are. Blocks are
    cut where an object (or such a line) starts; an object longer than ``MAX_LINE_BYTES``
    is let through as it is, to be cut as any line that long."""
    first = next(blocks, None)
    if first is None:
        return
    if not _PRETTY_START.match(first[:4096]):
        yield first
        yield from blocks
        return
    carry = b""
    lines = objects = 0

    def flat(whole: bytes) -> bytes:
        nonlocal lines, objects
        lines += whole.count(b"\n")
        out = _INSIDE.sub(b"", whole.strip(b" \t\r\n")) + b"\n"
        objects += out.count(b"\n")
        return out

    for block in chain([first], blocks):
        data = carry + block if carry else block
        cut = _last_line_start(data)
        if cut < 0 and len(data) < MAX_LINE_BYTES:
            carry = data
            continue
        if cut < 0:  # no object starts in this much: not the printer's, let it through
            lines += data.count(b"\n")
            objects += data.count(b"\n")
            carry = b""
            yield data
            continue
        head, carry = data[: cut + 1], data[cut + 1 :]
        if head.strip():
            yield flat(head)
        else:  # blank lines before the first object
            lines += head.count(b"\n")
    if carry.strip():
        lines += 0 if carry.endswith(b"\n") else 1
        yield flat(carry)
    report.warnings.append(
        f"{source.label}: JSON objects printed over many lines each (as `journalctl -o "
        f"json-pretty` or `jq .` print them): its {plural(lines, 'line')} read as "
        f"{objects:,}, an object a line (line numbers count those)"
    )


def iter_frames(
    source: Source,
    report: ReadReport,
    chunk_bytes: int | None = None,
    *,
    stream: ByteStream | None = None,
) -> Iterator[pl.DataFrame]:
    """Frames of ``line_no`` and ``line`` covering every line of the source, in order
    (the lines alone: not the hosts syslog lines name, which :func:`iter_texts` adds)."""
    for _, frame in iter_texts(source, report, chunk_bytes, stream=stream):
        yield frame.select("line_no", "line")


def iter_texts(
    source: Source,
    report: ReadReport,
    chunk_bytes: int | None = None,
    *,
    stream: ByteStream | None = None,
) -> Generator[tuple[bytes | envelope.Text, pl.DataFrame], None, None]:
    """The frames of :func:`iter_frames`, each with the UTF-8 bytes it was read from. The
    lines of a container runtime's log (``envelope.py``) are those it holds, and the bytes
    their text (made when asked for: ``bytes(text)``; ``len(text)`` is its length). A
    program's lines of a split stream are read from the stream written once for all of
    its programs (``streams.py``)."""
    if source.only is not None and stream is None and not source.read_once:
        yield from _program_texts(source, report, chunk_bytes or CHUNK_BYTES)
        return
    for text, frame in _unwrapped(source, report, chunk_bytes, stream=stream):
        if report.envelopes or source.only is not None:
            mine = source.lines_of(frame)
            yield envelope.Text(mine), mine  # made if wanted: nginx lines are parsed as lines
        else:
            yield text, frame


def _unwrapped(
    source: Source,
    report: ReadReport,
    chunk_bytes: int | None = None,
    *,
    stream: ByteStream | None = None,
    workers: int = 0,
) -> Iterator[tuple[bytes | envelope.Text, pl.DataFrame]]:
    """Every line of the source, each out of its envelopes (the bytes as read: for a
    frame that was unwrapped, the caller makes them). ``workers``: threads that read and
    unwrap the blocks after the first, in order, while the caller uses those before
    (when nothing else keeps the cores busy: a split stream written once)."""
    parts = envelope.Parts()  # lines cut by the runtime: whole again
    blocks = iter_blocks(source, report, chunk_bytes, stream=stream)
    for text, opened, last in _opened(blocks, report, workers, lambda: parts.pending):
        if report.tail_open:
            report.unfinished_line = last
        yield text, parts.add(opened)
    rest = parts.rest()  # the last line's last part never came
    if rest is not None:
        yield b"", rest
    report.parts_joined = parts.joined
    if report.parts_joined:
        report.warnings.append(
            f"{source.label}: {plural(report.parts_joined, 'part')} of lines the container "
            "runtime had cut (over 16 KB) joined to the line before them: each such line "
            "is read and counted whole"
        )


def _opened(
    blocks: Iterator[bytes], report: ReadReport, workers: int, pending: Callable[[], bool]
) -> Iterator[tuple[bytes, pl.DataFrame, int]]:
    """Each block's text and frame, its lines unwrapped from the envelopes the first
    block's are in (``report.envelopes``), and the number of its last line. A line's parts
    are joined by the caller; unwrap finds each line's stream where a part is ``pending``
    (with workers, where one may be: a block is sent before the one before it is joined)."""
    first = next(blocks, None)
    if first is None:
        return
    text, frame = text_and_frame(first, 1)
    found = report.envelopes = envelope.detect_all(frame)
    if found:
        frame = envelope.unwrap_all(frame, found)
    line_no = frame.height + 1
    yield text, frame, line_no - 1

    def opened(data: bytes, first_line_no: int, pending: bool) -> tuple[bytes, pl.DataFrame]:
        text, frame = text_and_frame(data, first_line_no)
        if found:
            frame = envelope.unwrap_all(frame, found, streams=pending)
        return text, frame

    if not workers or not found:
        for data in blocks:
            text, frame = opened(data, line_no, pending())
            line_no += frame.height
            yield text, frame, line_no - 1
        return
    # every line's stream: whether a part is pending is not known when a block is sent
    for text, unnumbered in _in_order(lambda data: opened(data, 0, True), blocks, workers):
        # numbered from 0 by the worker: the block's place is known only now
        numbered = unnumbered.with_columns(pl.col("line_no") + line_no)
        line_no += numbered.height
        yield text, numbered, line_no - 1


def _in_order(work: Callable[[bytes], _T], blocks: Iterator[bytes], workers: int) -> Iterator[_T]:
    """``work`` of each block by ``workers`` threads, in the blocks' order (at most one
    block more than the threads read ahead: memory stays a few blocks)."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="unwrap") as pool:
        ahead: deque[Future[_T]] = deque()
        for data in blocks:
            ahead.append(pool.submit(work, data))
            if len(ahead) > workers:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _stream(source: Source) -> streams.Stream:
    """The split stream of ``source``'s file, written once for all of its programs."""
    read = ReadReport()
    whole = replace(source, only=None, strays=False)

    def unwrapped() -> Iterator[pl.DataFrame]:
        for _, frame in _unwrapped(whole, read, workers=STREAM_WORKERS):
            yield frame

    return streams.stream_of(source.path, unwrapped, read)


def _program_texts(
    source: Source, report: ReadReport, chunk_bytes: int
) -> Iterator[tuple[envelope.Text, pl.DataFrame]]:
    """One program's lines of a split stream (``source.only``), from the stream written
    once (the file's envelopes, damage and warnings are each program's to report)."""
    assert source.only is not None
    split = _stream(source)
    found = split.read
    whole = replace(source, only=None, strays=False)
    report.envelopes, report.parts_joined = found.envelopes, found.parts_joined
    report.truncated, report.compressed = found.truncated, found.compressed
    report.tail_open, report.unfinished_line = found.tail_open, found.unfinished_line
    report.warnings.extend(w.replace(whole.label, source.label) for w in found.warnings)
    # the file's bytes read, in the share of its text each frame is: the progress bar
    share = found.bytes_read / split.text_bytes if split.text_bytes else 0.0
    done = 0
    frames = streams.frames_of(split, source.only, strays=source.strays, chunk_bytes=chunk_bytes)
    for frame in frames:
        mine = source.lines_of(frame)
        text = envelope.Text(mine)
        done += len(text)
        report.bytes_read = round(done * share)
        yield text, mine


def read_lines(source: Source, numbers: set[int]) -> dict[int, str]:
    """The text of the given line numbers of a file (read again; not for stdin, a pipe)."""
    if source.read_once or not numbers:
        return {}
    wanted = pl.Series("line_no", sorted(numbers), dtype=pl.UInt32)
    out: dict[int, str] = {}
    last = max(numbers)
    for frame in iter_frames(source, ReadReport()):
        hits = frame.filter(pl.col("line_no").is_in(wanted.implode()))
        for line_no, line in hits.iter_rows():
            out[int(line_no)] = line or ""
        if frame.get_column("line_no").max() >= last:  # type: ignore[operator]
            break
    return out
