"""Which shape an app log has: the one that accounts for most of its first lines."""

from __future__ import annotations

import polars as pl

from logtrace.applog.entries import split_entries
from logtrace.applog.shapes import ENTRIES, LEVEL, AppFormat, is_blank
from logtrace.envelope import ENVELOPE_TIME

DETECT_LINES = 1000
DETECT_MIN_SHARE = 0.5
_PREFERENCE = (AppFormat.JSON, AppFormat.LOGFMT, AppFormat.PYTHON_LOGGING, AppFormat.TEXT)
# In an envelope that gives each line a time (envelope.py: a container runtime's), a text
# entry need not log one of its own: it begins with its level (Python's basicConfig
# "INFO:orders.api:...", uvicorn's "INFO:     ...", winston's "info: ...").
UNTIMED_TEXT = rf"^{LEVEL}(?:\s*:|\s)"


def detect_app_format(lines: pl.DataFrame) -> tuple[AppFormat | None, int, int]:
    """The shape that accounts for most of the first non-blank lines: (shape, matched, tried).

    A line counts for a shape when it is a whole entry of that shape or continues one (a
    traceback line). None when even the best shape accounts for under half the lines.
    Ties go to the more specific shape (every Python logging line is a text line too).
    Lines whose envelope gives them a time (``envelope_time``) may be text entries that
    begin with their level and log no time.
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
    starts = entries.starts
    whole_entry = pl.col("line").str.contains(ENTRIES[fmt])
    if fmt is AppFormat.TEXT and ENVELOPE_TIME in sample.columns:
        times = sample.select("line_no", ENVELOPE_TIME)
        starts = starts.join(times, on="line_no", how="left", maintain_order="left")
        timed = pl.col(ENVELOPE_TIME).is_not_null()
        whole_entry |= pl.col("line").str.contains(UNTIMED_TEXT) & timed
    whole = starts.filter(whole_entry)["line_no"]
    attached = entries.attached_lines.filter(pl.col("entry").is_in(whole.implode()))
    return whole.len() + attached.height
