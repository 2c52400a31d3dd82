"""The four shapes an application log can have, and the regexes that recognise them.

Each shape has a cheap anchored regex that says "this line begins an entry of mine"
(most lines fail it at the first character) and a stricter one that says "this line is a
whole entry of mine", used to score detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import polars as pl

DEFAULT_ID_FIELDS: tuple[str, ...] = (
    "request_id",
    "req_id",
    "requestId",
    "request-id",
    "x_request_id",
    "x-request-id",
    "X-Request-ID",
    "xrid",
    "trace_id",
    "traceId",
    "rid",
    "correlation_id",
    "correlationId",
)


class AppFormat(Enum):
    """The shape of an application log."""

    JSON = "json"
    LOGFMT = "logfmt"
    PYTHON_LOGGING = "python-logging"
    TEXT = "text"


@dataclass(frozen=True)
class AppLogOptions:
    """How to read application logs.

    ``id_fields`` are the keys that may hold the request id (matched without regard to
    case); ``timezone`` is the zone of timestamps written without an offset.
    """

    id_fields: tuple[str, ...] = DEFAULT_ID_FIELDS
    timezone: str = "UTC"


# A timestamp at the start of a text line: ISO 8601 / RFC 3339 (``T`` or space, ``.`` or
# ``,`` before the fraction, optional zone), ``YYYY/MM/DD``, nginx's ``$time_local`` and
# epoch seconds. ``Z\b`` so that "12:00:00 Zebra ..." keeps its Z. Word boundaries are
# ASCII ones (?-u:\b) throughout: a Unicode \b keeps polars' regex off its fast engine.
TIMESTAMP = (
    r"(?:\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"(?:Z(?-u:\b)|\s?[+-]\d{2}:?\d{2}(?-u:\b))?"
    r"|\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?:\s[+-]\d{4})?"
    r"|\d{10}(?:\.\d+)?)"
)
LEVEL = (
    r"(?i:TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|ERR|CRITICAL|CRIT|FATAL|ALERT|EMERG"
    r"|EXCEPTION|SEVERE)"
)
LOGGER = r"[\w.<>-]+"

# Text: ``[timestamp] LEVEL message``; the level (bracketed or not) is optional.
TEXT_HEADER = (
    rf"^(?<head>\[?(?<time>{TIMESTAMP})\]?(?:\s+\[?(?<level>{LEVEL})(?-u:\b)\]?:?)?)(?:\s+|$)"
)
# Python logging: ``%(asctime)s %(levelname)s %(name)s %(message)s`` and the two other
# layouts seen most: ``asctime - name - levelname - message`` and
# ``asctime [levelname] name: message``. A bracketed name after the level is a thread
# (Java's logback), not a logger: that line is text.
PYTHON_HEADER = (
    r"^(?<head>(?<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\s+"
    rf"(?:\[?(?<level>{LEVEL})\]?\s+(?<logger>{LOGGER}):?"
    rf"|(?<logger2>{LOGGER})\s+-\s+(?<level2>{LEVEL})(?:\s+-)?)"
    r")(?:\s+|$)"
)
_PAIR = r'[\w.@-]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'

# Does the line begin an entry of the shape (cheap, anchored: most lines fail at once)?
_STARTS: dict[AppFormat, str] = {
    AppFormat.JSON: r"^\{",
    AppFormat.LOGFMT: r"^[\w.@-]+=",
    AppFormat.PYTHON_LOGGING: r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}",
    AppFormat.TEXT: rf"^\[?{TIMESTAMP}",
}
# Is the line a whole entry of the shape (stricter; used to score detection)?
ENTRIES: dict[AppFormat, str] = {
    AppFormat.JSON: r"^\{.*\}\s*$",
    AppFormat.LOGFMT: rf"^{_PAIR}\s+{_PAIR}",
    AppFormat.PYTHON_LOGGING: PYTHON_HEADER,
    AppFormat.TEXT: rf"^\[?{TIMESTAMP}\]?(?:\s|$)",
}


def starts_entry(fmt: AppFormat) -> pl.Expr:
    """True where ``line`` looks like the first line of an entry of this shape."""
    return pl.col("line").str.contains(_STARTS[fmt])


def is_blank() -> pl.Expr:
    """True for a missing, empty or whitespace-only ``line``."""
    line = pl.col("line")
    return line.is_null() | line.str.contains(r"^\s*$")
