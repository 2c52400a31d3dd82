"""Which shape an app log has: the one that accounts for most of its first lines."""

from __future__ import annotations

import polars as pl

from logtrace.applog.entries import split_entries
from logtrace.applog.shapes import ENTRIES, AppFormat, is_blank

DETECT_LINES = 1000
DETECT_MIN_SHARE = 0.5
_PREFERENCE = (AppFormat.JSON, AppFormat.LOGFMT, AppFormat.PYTHON_LOGGING, AppFormat.TEXT)


def detect_app_format(lines: pl.DataFrame) -> tuple[AppFormat | None, int, int]:
    """The shape that accounts for most of the first non-blank lines: (shape, matched, tried).

    A line counts for a shape when it is a whole entry of that shape or continues one (a
    traceback line). None when even the best shape accounts for under half the lines.
    Ties go to the more specific shape (every Python logging line is a text line too).
    """
    sample = lines.lazy().filter(~is_blank()).head(DETECT_LINES).collect()
    if sample.height == 0:
        return None, 0, 0
    best, matched = _PREFERENCE[0], -1
    for fmt in _PREFERENCE:
        accounted = _accounted(sample, fmt)
        if accounted > matched:  # ties keep the earlier, more specific shape
            best, matched = fmt, accounted
        if matched == sample.height:  # no later shape can account for more
            break
    if matched < DETECT_MIN_SHARE * sample.height:
        return None, matched, sample.height
    return best, matched, sample.height


def _accounted(sample: pl.DataFrame, fmt: AppFormat) -> int:
    """Lines that are whole entries of the shape, or continue one."""
    entries = split_entries(sample, fmt)
    whole = entries.starts.filter(pl.col("line").str.contains(ENTRIES[fmt]))["line_no"]
    attached = entries.attached_lines.filter(pl.col("entry").is_in(whole.implode()))
    return whole.len() + attached.height
