"""The UTC offset logs write their times in, read from their first lines.

``$time_local`` (``22/Jan/2019:03:56:14 +0330``) and ISO 8601 times with a zone
(``2019-01-22T03:56:14+03:30``, ``...Z``) say it; a time without one (Python logging's
``2019-01-22 03:56:14,506``, ``$msec``) says nothing. A time a person gives without a
zone (``--since '2019-01-22 03:57'``) is read in that offset when every log that writes
one agrees, as the lines show their times.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from logtrace.lines import frame_of
from logtrace.sources import WORKERS, Source, first_frame, read_ahead

HEAD_BYTES = 64 * 1024  # of each source: its first few hundred lines
HEAD_LINES = 200

_TIME_LOCAL = r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} ([+-]\d{4})\b"
_ISO_8601 = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})\b"
_STAMP = f"(?:{_TIME_LOCAL})|(?:{_ISO_8601})"


@dataclass(frozen=True)
class LogOffsets:
    """Each source's UTC offset, for the sources whose lines write one."""

    by_source: dict[str, timedelta]  # by source label

    @property
    def agreed(self) -> timedelta | None:
        """The offset every source that writes one writes; None when they differ or none
        writes one."""
        found = set(self.by_source.values())
        return found.pop() if len(found) == 1 else None

    def describe(self) -> str:
        """Why times without a zone are read as they are, for a report."""
        if not self.by_source:
            return "the logs write no offset"
        if self.agreed is not None:
            return "the offset the logs write"
        groups: dict[timedelta, list[str]] = {}
        for label, offset in self.by_source.items():
            groups.setdefault(offset, []).append(label)
        parts = [
            f"{format_offset(offset)} in {', '.join(labels[:2])}" + (", ..." if labels[2:] else "")
            for offset, labels in sorted(groups.items())
        ]
        return "the logs write different offsets: " + "; ".join(parts)


def format_offset(offset: timedelta) -> str:
    """``+03:30``, ``-08:00``, ``+00:00``."""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def log_offsets(sources: Sequence[Source]) -> LogOffsets:
    """The offset each source's first lines write (their commonest), without consuming
    stdin (only what is already buffered of it is looked at)."""
    files = [s for s in sources if not s.read_once]
    if len(files) > 1:  # rotated logs, a file per host: read side by side
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            heads = dict(zip(files, pool.map(lambda s: _commonest(_head(s)), files), strict=True))
    else:
        heads = {s: _commonest(_head(s)) for s in files}
    found: dict[str, timedelta] = {}
    for source in sources:
        offset = heads[source] if source in heads else _commonest(_head(source))
        if offset is not None:
            found[source.label] = offset
    return LogOffsets(found)


def _head(source: Source) -> pl.DataFrame | None:
    if source.is_stdin:  # what was read ahead of its reader, else what is buffered
        peek = getattr(sys.stdin.buffer, "peek", None)
        data = read_ahead(source)[:HEAD_BYTES] or (peek(HEAD_BYTES) if peek is not None else b"")
        cut = data.rfind(b"\n")
        return frame_of(data[: cut + 1]) if cut >= 0 else None
    return first_frame(source, HEAD_BYTES)  # a pipe's first bytes are kept for its reader


def _commonest(head: pl.DataFrame | None) -> timedelta | None:
    if head is None or head.is_empty():
        return None
    line = pl.col("line").head(HEAD_LINES)
    texts = head.select(
        pl.coalesce(line.str.extract(_STAMP, 1), line.str.extract(_STAMP, 2)).alias("zone")
    ).get_column("zone")
    counts = Counter(z for z in texts.to_list() if z is not None)
    if not counts:
        return None
    return _offset(counts.most_common(1)[0][0])


def _offset(zone: str) -> timedelta:
    """``Z``, ``+0330``, ``-03:30`` as a timedelta."""
    if zone == "Z":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    sign = -1 if zone[0] == "-" else 1
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
