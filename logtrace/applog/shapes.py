"""The four shapes an application log can have, and the regexes that recognise them.

Each shape has a cheap anchored regex that says "this line begins an entry of mine"
(most lines fail it at the first character) and a stricter one that says "this line is a
whole entry of mine", used to score detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import polars as pl
from polars.expr.struct import ExprStructNameSpace

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
    "traceparent",
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
    ``follow_envelope``: the log's zone was told by its envelope's times (applog/zone.py),
    and an entry whose own time is a whole hour or less from its envelope's takes that
    offset (daylight saving time began or ended, the program restarted in another zone).
    """

    id_fields: tuple[str, ...] = DEFAULT_ID_FIELDS
    timezone: str = "UTC"
    follow_envelope: bool = False


# Timestamps a text line may begin with. ASCII word boundaries (?-u:\b) throughout: a
# Unicode \b keeps polars' regex off its fast engine. ``Z\b`` so that "12:00:00 Zebra"
# keeps its Z.
_ISO = (
    r"\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"(?:Z(?-u:\b)|\s?[+-]\d{2}:?\d{2}(?-u:\b))?"
)
_CLF = r"\d{2}/[A-Z][a-z]{2}/\d{4}[: ]\d{2}:\d{2}:\d{2}(?:\s[+-]\d{4})?"  # nginx, werkzeug
_JUL = r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M"  # java.util.logging
_EPOCH = r"\d{10}(?:\.\d+)?"
_CLOCK = r"\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?-u:\b)"  # a time of day alone (logback, log4j2)
TIMESTAMP = rf"(?:{_ISO}|{_CLF}|{_JUL}|{_EPOCH}|{_CLOCK})"
LEVEL = (
    r"(?i:TRACE|DEBUG|INFO|NOTICE|WARNING|WARN|ERROR|ERR|CRITICAL|CRIT|FATAL|ALERT|EMERG"
    r"|EXCEPTION|SEVERE)"
)
LOGGER = r"[\w.<>-]+"


@dataclass(frozen=True)
class HeaderForm:
    """One way a text entry's first line begins: a regex with the named groups ``time``
    and optionally ``level``, ``logger`` and ``caller`` (the address of who sent a request
    that the line is the access log of)."""

    name: str
    regex: str


# The text header forms, most specific first (the first that matches a line wins).
TEXT_HEADERS: tuple[HeaderForm, ...] = (
    # Spring Boot's console pattern: time, level, pid, ---, [app] [thread] [ids], logger " : "
    HeaderForm(
        "spring",
        rf"(?<time>{TIMESTAMP})\s+(?<level>{LEVEL})\s+\d+\s+---\s+(?:\[[^\]]*\]\s*)*"
        r"(?<logger>[\w.$]+)\s+:",
    ),
    # logback / log4j2 defaults: "HH:mm:ss.SSS [thread] LEVEL logger - message"
    HeaderForm(
        "java", rf"(?<time>{TIMESTAMP})\s+\[[^\]]*\]\s+(?<level>{LEVEL})\s+(?<logger>[\w.$]+)\s+-"
    ),
    # Ruby's Logger: "I, [2026-12-03T10:40:40.275735 #20948]  INFO -- progname:"
    HeaderForm(
        "ruby",
        rf"[A-Z], \[(?<time>{TIMESTAMP})\s+#\d+\]\s+(?<level>{LEVEL})\s+--\s+(?<logger>[^:]*):",
    ),
    # Common/combined access log: 'client ident user [time] "GET / HTTP/1.1" ...'
    HeaderForm("access", rf"(?<caller>[^\s\[\]\"]+)\s+\S+\s+\S+\s+\[(?<time>{TIMESTAMP})\]"),
    # The level (and a logger) before the time: "orders.api INFO 2026-12-03 10:40:12,640",
    # "INFO     [2026-12-03 12:45:59,218]" (logging's %(levelname)-8s [%(asctime)s])
    HeaderForm(
        "level first",
        rf"(?:(?<logger>{LOGGER})\s+)?(?<level>{LEVEL})\s+\[?(?<time>{_ISO})\]?",
    ),
    # "[time] LEVEL", "time [pid] [LEVEL]", "time | LEVEL |": the level is optional.
    HeaderForm(
        "time first",
        rf"\[?(?<time>{TIMESTAMP})\]?(?:\s+\[\d+\])?"
        rf"(?:\s*\|?\s+\[?(?<level>{LEVEL})(?-u:\b)\]?:?(?:\s+\|)?)?",
    ),
)
HEADER_GROUPS = ("time", "level", "logger", "caller")


def _alternation(forms: tuple[HeaderForm, ...]) -> str:
    """One anchored regex for all forms: form i's groups are suffixed _i (polars wants
    unique names) and its whole match is ``head_i``."""
    parts = []
    for i, form in enumerate(forms):
        body = form.regex
        for group in HEADER_GROUPS:
            body = body.replace(f"(?<{group}>", f"(?<{group}_{i}>")
        parts.append(f"(?<head_{i}>{body})")
    return rf"^(?:{'|'.join(parts)})(?:\s+|$)"


def header_field(header: ExprStructNameSpace, forms: tuple[HeaderForm, ...], group: str) -> pl.Expr:
    """A group of whichever header form matched (``head``: the whole header)."""
    fields = [
        header.field(f"{group}_{i}")
        for i, form in enumerate(forms)
        if group == "head" or f"(?<{group}>" in form.regex
    ]
    return pl.coalesce(fields) if fields else pl.lit(None, pl.String)


# Text: any of the forms above; the last one alone for logfmt and Python logging lines.
TEXT_HEADER = _alternation(TEXT_HEADERS)
TIME_HEADER = _alternation(TEXT_HEADERS[-1:])
# An access line alone does not make a file an app log: a file of them is an nginx (or
# Apache-like) access log, whose format logtrace reads or asks for.
_OWN_HEADER = _alternation(tuple(form for form in TEXT_HEADERS if form.name != "access"))
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
    AppFormat.TEXT: TEXT_HEADER,
}
# Is the line a whole entry of the shape (stricter; used to score detection)?
ENTRIES: dict[AppFormat, str] = {
    AppFormat.JSON: r"^\{.*\}\s*$",
    AppFormat.LOGFMT: rf"^{_PAIR}\s+{_PAIR}",
    AppFormat.PYTHON_LOGGING: PYTHON_HEADER,
    AppFormat.TEXT: _OWN_HEADER,
}


def starts_entry(fmt: AppFormat) -> pl.Expr:
    """True where ``line`` looks like the first line of an entry of this shape."""
    return pl.col("line").str.contains(_STARTS[fmt])


def is_blank() -> pl.Expr:
    """True for a missing, empty or whitespace-only ``line``."""
    line = pl.col("line")
    return line.is_null() | line.str.contains(r"^\s*$")
