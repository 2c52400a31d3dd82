"""Bytes of whole lines → a polars frame of ``line_no`` and ``line``.

polars splits the lines (a CSV read with a separator byte the data does not hold), so
there is no Python loop over lines. Bytes that are not UTF-8 become ``\\xHH`` text, byte
order marks at the start of a line are dropped, CRLF ends are trimmed, blank lines are null.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import polars as pl

from logtrace.log_format.decode import HEX_ERRORS

_BOM = b"\xef\xbb\xbf"
_MARK = _BOM.decode()
_BOMS_AT_LINE_START = re.compile(b"(?m)^(?:" + re.escape(_BOM) + b")+")


@dataclass(frozen=True)
class Chunk:
    """Whole lines of one source as bytes; ``first_line_no`` is 1-based."""

    data: bytes
    first_line_no: int = 1


_SEPARATORS = (b"\x1f", b"\x1e", b"\x01", b"\x00", b"\x02", b"\x03")


def _as_utf8(data: bytes) -> bytes:
    r"""Valid UTF-8 for polars. Bytes that are not UTF-8 become ``\xHH`` text, the same
    escape nginx itself uses, so nothing is dropped and the value stays decodable."""
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors=HEX_ERRORS).encode("utf-8")
    return data


def frame_of(data: bytes, first_line_no: int = 1) -> pl.DataFrame:
    """A frame of ``line_no`` (UInt32, from ``first_line_no``) and ``line`` from bytes of
    whole lines (see :func:`lines_frame`)."""
    return text_and_frame(data, first_line_no)[1]


def text_and_frame(data: bytes, first_line_no: int = 1) -> tuple[bytes, pl.DataFrame]:
    """The bytes the frame was read from (valid UTF-8, no byte order marks), and the
    frame (see :func:`frame_of`); parse.py reads the same bytes again as CSV rows."""
    if data.isascii():  # the usual case: nothing to mend, nothing to check
        return data, _frame(data, first_line_no)
    try:  # polars checks the UTF-8 as it reads (decoding 16 MB in Python cost as much)
        text, frame = data, _frame(data, first_line_no)
    except (pl.exceptions.ComputeError, UnicodeDecodeError):
        text = _as_utf8(data)  # only text that is not UTF-8 is made so, and read again
        frame = _frame(text, first_line_no)
    # A mark is sought in the lines read (0.5 ms a 16 MB chunk), not in the bytes (11 ms).
    if text.startswith(_BOM) or frame.get_column("line").str.starts_with(_MARK).any():
        text = _without_boms(text)
        frame = _frame(text, first_line_no)
    return text, frame


def lines_frame(chunk: Chunk) -> pl.DataFrame:
    """A frame of ``line_no`` (UInt32, from ``chunk.first_line_no``) and ``line``.

    Blank lines are null. The ``line`` column is left exactly as polars read it: touching
    it (even ``fill_null``) makes polars copy it into one buffer and lose the parallelism
    of the chunked original.
    """
    return frame_of(chunk.data, chunk.first_line_no)


def _without_boms(data: bytes) -> bytes:
    """The bytes without the byte order marks that start a line."""
    if _BOM in data:
        # polars drops a byte order mark that starts its input: drop those that start any
        # line (files concatenated with cat), or the lines would depend on the chunking.
        data = _BOMS_AT_LINE_START.sub(b"", data)
    return data


# Up to this many bytes and lines, lines are split by Python: polars' reader costs ~0.6 ms
# a call whatever the size (a one-line file 0.6 against 0.02 ms; 256 KB of 1,000 lines
# 0.69 against 0.17 ms), but Python's cost grows with the lines (256 KB of blank lines).
SPLIT_BYTES = 256 * 1024
SPLIT_LINES = 4096


def _split_by_python(data: bytes) -> bool:
    return len(data) <= SPLIT_BYTES and data.count(b"\n") <= SPLIT_LINES


def _frame(data: bytes, first_line_no: int) -> pl.DataFrame:
    frame: pl.DataFrame | None = None
    sep = next((s for s in _SEPARATORS if s not in data), None)
    if sep is not None and data and not _split_by_python(data):
        frame = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator=sep.decode(),
            quote_char=None,
            schema={"line": pl.String},
            eol_char="\n",
        )
    if frame is None:
        text = data.decode("utf-8")
        parts = text.split("\n") if text else []  # nothing left: no line at all
        if text.endswith("\n"):
            parts.pop()
        frame = pl.DataFrame(
            {"line": [p.removesuffix("\r") or None for p in parts]}, schema={"line": pl.String}
        )
    return frame.with_row_index("line_no", offset=first_line_no)
