"""Write event frames to log files in time order, chunk after chunk, in bounded memory.

A chunk's events are not final: a request that started in this chunk may end after
requests of the next one. `OrderedLog.add` therefore keeps events at or after a
cutoff (the earliest time any later request can log) pending, and writes the rest.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

SORT_KEY = ("t_us", "i", "seq")
GZIP_LEVEL = 1  # fast: gzip's CPU cost dominates otherwise


@dataclass
class OrderedLog:
    """One output file; events arrive in chunks and leave sorted by (time, request, seq)."""

    path: Path
    compress: bool = False
    lines: int = 0
    uncompressed_bytes: int = 0
    _pending: pl.DataFrame | None = None
    _raw: BinaryIO | None = field(default=None, repr=False)
    _out: BinaryIO | None = field(default=None, repr=False)

    def open(self) -> None:
        """Create (truncate) the file."""
        self._raw = self.path.open("wb")
        if self.compress:
            # mtime=0 and no file name in the header keep the bytes reproducible.
            self._out = gzip.GzipFile(  # type: ignore[assignment]  # a BinaryIO in practice
                filename="", mode="wb", fileobj=self._raw, compresslevel=GZIP_LEVEL, mtime=0
            )
        else:
            self._out = self._raw

    def add(self, events: pl.DataFrame, cutoff_us: int | None) -> None:
        """Queue events; write every pending event earlier than `cutoff_us` (None: all)."""
        frames = [events] if self._pending is None else [self._pending, events]
        merged = pl.concat(frames).sort(list(SORT_KEY))
        if cutoff_us is None:
            ready, self._pending = merged, None
        else:
            split = merged.get_column("t_us").search_sorted(cutoff_us, side="left")
            ready, self._pending = merged.head(split), merged.slice(split)
        self._write(ready)

    def _write(self, ready: pl.DataFrame) -> None:
        if ready.height == 0 or self._out is None:
            return
        lines = ready.get_column("line")
        # A traceback event spans several lines; count them without a pass over the bytes.
        self.lines += ready.height + int(lines.str.count_matches("\n", literal=True).sum())
        self.uncompressed_bytes += int(lines.str.len_bytes().sum()) + ready.height
        ready.select("line").write_csv(self._out, include_header=False, quote_style="never")

    def close(self) -> None:
        """Write what is still pending and close the file."""
        if self._pending is not None:
            self._write(self._pending)
            self._pending = None
        if self._out is not None and self._out is not self._raw:
            self._out.close()
        if self._raw is not None:
            self._raw.close()
