"""Following files as ``tail -F`` does: new lines as they are written, across rotations.

Polled, never blocking: each :meth:`Follower.poll` reads what every file gained since the
last one (at most ``POLL_BYTES`` a file) and returns its whole lines. A file renamed away
(logrotate's default) is read to its end, then the new file at the path from its start:
the inode at the path changed. A file truncated in place (``copytruncate``) is read again
from its start: it is shorter than what was read of it. A directory contributes its
``*.log`` files, those there at the start and those that appear later. stdin is read
without blocking. A last line without its newline is held until the newline arrives.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from logtrace.hosts import STDIN, names_from_path
from logtrace.sources import Source, resolve_sources

# Of a file there at the start, only its end is read (the windows span 15 minutes).
BACKLOG_BYTES = 16 * 1024 * 1024
POLL_BYTES = 16 * 1024 * 1024  # read of one file in one poll, at most
# A directory contributes the logs being written, not their rotations (.log.1, .log.2.gz):
# those are the same lines again.
CURRENT_LOG = re.compile(r"\.log$")
ROTATED = "unfinished when its file was rotated"
TRUNCATED = "unfinished when its file was truncated"


@dataclass(frozen=True)
class Lines:
    """Whole lines of one source read in one poll; ``first_line_no`` counts from where
    following started."""

    source: Source
    data: bytes
    first_line_no: int


@dataclass
class _Tail:
    """One followed file (or stdin) and where reading it stands."""

    source: Source
    stream: BinaryIO | None = None
    inode: tuple[int, int] | None = None
    pos: int = 0
    partial: bytes = b""
    line_no: int = 1  # of the next whole line
    ended: bool = False  # stdin (a pipe) at its end
    fd: int | None = None  # stdin's descriptor, read without blocking


@dataclass
class Follower:
    """Follows files, directories and stdin; see the module's docstring."""

    tails: list[_Tail] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    rotations: int = 0  # renames and truncations seen
    dropped: dict[str, int] = field(default_factory=dict)  # unfinished lines lost, by reason
    seen: set[tuple[int, int]] = field(default_factory=set)  # inodes followed, ever

    @classmethod
    def start(
        cls, sources: Sequence[Source], dirs: Sequence[str] = (), backlog: int = BACKLOG_BYTES
    ) -> Follower:
        """Follow ``sources`` (their last ``backlog`` bytes first) and the ``*.log``
        files of ``dirs``, those there now (from their last ``backlog`` bytes) and those
        that appear later (from their start)."""
        follower = cls(dirs=list(dirs))
        for source in sources:
            follower._add(source, backlog)
        for directory in follower.dirs:
            for path in _current_logs(directory):
                follower._add(_source_of(path), backlog)
        return follower

    @property
    def sources(self) -> list[Source]:
        return [t.source for t in self.tails]

    @property
    def ended(self) -> bool:
        """Whether nothing more can come: every input is stdin or a pipe, and it ended."""
        return bool(self.tails) and not self.dirs and all(t.ended for t in self.tails)

    def _add(self, source: Source, backlog: int) -> None:
        if any(t.source.label == source.label for t in self.tails):  # a stream's parts: each
            return
        tail = _Tail(source)
        if source.is_stdin:
            _open_stdin(tail)
        elif source.read_once:  # a named pipe, <(command): read as stdin is
            _open_pipe(tail)
        else:
            _open(tail, backlog)
        self.tails.append(tail)

    def poll(self) -> list[Lines]:
        """The whole lines written since the last poll, per source."""
        for directory in self.dirs:
            self._scan(directory)
        out: list[Lines] = []
        for tail in self.tails:
            data = self._read(tail)
            if not data:
                continue
            first = tail.line_no
            tail.line_no += data.count(b"\n")
            out.append(Lines(tail.source, data, first))
        return out

    def _scan(self, directory: str) -> None:
        """Start following the ``*.log`` files that appeared in ``directory``."""
        self.seen.update(t.inode for t in self.tails if t.inode is not None)
        for path in _current_logs(directory):
            if any(t.source.path == path for t in self.tails):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in self.seen:  # else a followed file, renamed
                self._add(_source_of(path), 0)

    def _read(self, tail: _Tail) -> bytes:
        """What ``tail`` gained, up to its last newline; the rest is held."""
        if tail.source.read_once:
            data = _read_stdin(tail)
            if tail.ended and tail.partial:  # stdin closed: its last line is whole
                data, tail.partial = data + tail.partial + b"\n", b""
            return data
        data = b""
        if tail.stream is None:
            _open(tail, 0)  # the path was missing (between a rename and a reopen)
        if tail.stream is not None:
            data = _read_file(tail)
            data += self._check_rotation(tail)
        return _whole_lines(tail, data)

    def _check_rotation(self, tail: _Tail) -> bytes:
        """After reading to the end: a new file at the path (renamed away: switch to it,
        from its start), or a shorter file (truncated in place: read it again)."""
        try:
            st = os.stat(tail.source.path)
        except OSError:
            return b""  # renamed and not yet recreated: keep the old file open
        assert tail.stream is not None
        if (st.st_dev, st.st_ino) != tail.inode:
            self.rotations += 1
            rest = _read_file(tail)  # what the writer added before it reopened
            tail.stream.close()
            tail.stream = None
            data = _whole_lines(tail, rest)
            self._drop_partial(tail, ROTATED)
            if tail.inode is not None:
                self.seen.add(tail.inode)
            _open(tail, 0)
            return data + (_read_file(tail) if tail.stream is not None else b"")
        if st.st_size < tail.pos:
            self.rotations += 1
            self._drop_partial(tail, TRUNCATED)
            tail.stream.seek(0)
            tail.pos = 0
            return _read_file(tail)
        return b""

    def _drop_partial(self, tail: _Tail, reason: str) -> None:
        if tail.partial:
            self.dropped[reason] = self.dropped.get(reason, 0) + 1
            tail.partial = b""

    def close(self) -> None:
        for tail in self.tails:
            if tail.fd is not None and not tail.source.is_stdin:  # a pipe it opened
                os.close(tail.fd)
                tail.fd = None
            elif tail.fd is not None:
                os.set_blocking(tail.fd, True)  # the shell gets its stdin back as it was
            if tail.stream is not None:
                tail.stream.close()
                tail.stream = None


def _current_logs(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    paths = [os.path.join(directory, n) for n in names if CURRENT_LOG.search(n)]
    return [p for p in paths if os.path.isfile(p)]


def _source_of(path: str) -> Source:
    host, service = names_from_path(path)
    return Source(path, host, service, expanded=True)


def _open(tail: _Tail, backlog: int) -> None:
    """Open the file at the tail's path, at its last ``backlog`` bytes (from the start of
    a line); nothing when it is missing."""
    try:
        stream = open(tail.source.path, "rb")  # noqa: SIM115 (held open while followed)
    except OSError:
        return
    st = os.fstat(stream.fileno())
    tail.stream, tail.inode, tail.pos = stream, (st.st_dev, st.st_ino), 0
    if backlog and st.st_size > backlog:
        stream.seek(st.st_size - backlog)
        skipped = stream.readline()  # the rest of a line cut by the seek
        tail.pos = st.st_size - backlog + len(skipped)


def _read_file(tail: _Tail) -> bytes:
    assert tail.stream is not None
    try:
        data = tail.stream.read(POLL_BYTES)
    except OSError:
        return b""
    tail.pos += len(data)
    return data


def _whole_lines(tail: _Tail, data: bytes) -> bytes:
    """``data`` after the held partial line, up to its last newline; the rest is held."""
    if not data:
        return b""
    data = tail.partial + data
    cut = data.rfind(b"\n")
    tail.partial = data[cut + 1 :]
    return data[: cut + 1]


def _open_stdin(tail: _Tail) -> None:
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError, AttributeError):
        fd = None  # not a real file (a test's runner): read it whole, it is in memory
    if fd is not None:
        os.set_blocking(fd, False)
    tail.fd = fd


def _open_pipe(tail: _Tail) -> None:
    try:
        tail.fd = os.open(tail.source.path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        tail.ended = True


def _read_stdin(tail: _Tail) -> bytes:
    if tail.ended:
        return b""
    if tail.fd is None:
        data = sys.stdin.buffer.read()
        tail.ended = True
        return _whole_lines(tail, data)
    try:
        data = os.read(tail.fd, POLL_BYTES)
    except BlockingIOError:
        return b""
    if not data:
        tail.ended = True
        return b""
    return _whole_lines(tail, data)


def follow_specs(specs: Sequence[str], labels: Sequence[str] = ()) -> Follower:
    """A follower of FILES as given (files, globs, directories, ``-``) and of
    ``--source HOST=PATH``; a missing file or an empty glob is an InputError."""
    dirs = [s for s in specs if s != STDIN and os.path.isdir(s)]
    rest = [s for s in specs if s not in dirs]
    sources = resolve_sources(rest, labels) if rest or labels else []
    return Follower.start(sources, dirs)
