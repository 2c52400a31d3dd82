"""The column contracts of the frames that pass between stages.

LINES        one row per parsed log line (parse.py for nginx, applog/ for app logs)
REJECTS      one row per line that could not be parsed, with the reason
RAW_SPANS    one row per span as the lines tell it, before parents and clocks
             (timelines/spans.py)
SPANS        the timelines of every request: RAW_SPANS plus parents, corrected times and
             depth (what timelines/ returns; analysis/ and render/ read it)
EXPORT_SPANS SPANS as other tools see them: ids as 16 hex digits (export/)

A stage may add columns; it never changes the meaning or dtype of one listed here.
Times are UTC ``Datetime("us")``; durations are Float64 seconds with ``_s`` in the name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

TIME = pl.Datetime("us", "UTC")
# The values a time or duration column may hold. Outside them a line is broken or
# hostile, not a request, and is rejected: microseconds computed from such a value
# overflow Int64, and a year 0 or 10000 is no Python datetime.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
MAX_SECONDS = 1e9  # about 31 years: no request or upstream attempt lasts that long

# Columns every LINES frame has, whatever produced it.
LINES_BASE: dict[str, pl.DataType] = {
    "source": pl.String(),  # the file (or <stdin>) the line came from
    "host": pl.String(),  # the host that wrote it (file name, field, or --source)
    "service": pl.String(),  # the service that wrote it
    "line_no": pl.UInt64(),  # 1-based line number in its source
}

# Columns an nginx access line may have, depending on its log_format. Only what the
# format logs is present; a value nginx logged as not found ("-") is null, never 0.
LINES_NGINX: dict[str, pl.DataType] = {
    "time": TIME,  # when nginx wrote the line: the request's END
    "time_precision_s": pl.Float64(),  # 0.001 with $msec, 1.0 with $time_local/iso8601
    "start": TIME,  # time - request_time: when nginx read the first byte
    "request_time_s": pl.Float64(),
    "status": pl.UInt16(),
    "request": pl.String(),  # raw request line, decoded; kept even when it is garbage
    "method": pl.String(),
    "target": pl.String(),  # path and query as sent
    "path": pl.String(),
    "query": pl.String(),
    "protocol": pl.String(),
    "request_id": pl.String(),
    "remote_addr": pl.String(),
    "remote_user": pl.String(),
    "body_bytes_sent": pl.Int64(),
    "bytes_sent": pl.Int64(),
    "request_length": pl.Int64(),
    "http_referer": pl.String(),
    "http_user_agent": pl.String(),
    "upstream_addr": pl.List(pl.String()),  # one item per attempt, groups flattened
    "upstream_status": pl.List(pl.UInt16()),
    "upstream_response_time_s": pl.List(pl.Float64()),
    "upstream_connect_time_s": pl.List(pl.Float64()),
    "upstream_header_time_s": pl.List(pl.Float64()),
}

# Derived by analysis from LINES (analysis/latency.py).
LINES_DERIVED: dict[str, pl.DataType] = {
    "route": pl.String(),  # path with ids templated: /users/{id}
    "upstream_time_s": pl.Float64(),  # sum over all upstream attempts
    "upstream_attempts": pl.UInt32(),
    "nginx_time_s": pl.Float64(),  # request_time - upstream_time, clamped at 0
}

REJECTS: dict[str, pl.DataType] = {
    "line_no": pl.UInt64(),
    "reason": pl.String(),
    "line": pl.String(),
}

# Columns of app-log LINES (applog/), besides LINES_BASE. An app line is an event of one
# request (``APP_EVENTS``; the rules are in applog/events.py):
#   server        the end of a request the service served (with its duration when logged,
#                 else timelines pairs it with its server_start)
#   server_start  a served request started
#   client        a call it made to another service ended (status, duration when logged)
#   client_start  a call started (timelines pairs it with its client end: same request id,
#                 source and peer/path, in order)
#   unclassified  an HTTP event that cannot be told apart as served or outgoing: no span
#   log           any other line, with or without a request id
LINES_APP: dict[str, pl.DataType] = {
    "time": TIME,  # when the line was written
    "time_precision_s": pl.Float64(),  # 1e-6 for microseconds, 1e-3 for logging's ,mmm ...
    "request_id": pl.String(),
    "event": pl.String(),  # one of APP_EVENTS
    "level": pl.String(),  # INFO, ERROR ... as written (upper-cased)
    "message": pl.String(),
    "method": pl.String(),
    "target": pl.String(),  # path and query (from path/url/uri/target fields or the text)
    "path": pl.String(),
    "status": pl.UInt16(),
    "duration_s": pl.Float64(),  # from duration_ms, took=12.3ms, in 8.2ms, 16.4ms (Go) ...
    "peer": pl.String(),  # client events: the service called (peer field, "call X", URL host)
    "error": pl.Boolean(),  # level ERROR/FATAL/CRITICAL, or a traceback attached
    "extra_lines": pl.UInt32(),  # continuation lines (tracebacks) attached to this entry
}
APP_EVENTS = ("server", "server_start", "client", "client_start", "unclassified", "log")

# One row per span as the lines tell it (timelines/spans.py): an nginx line is a SERVER
# span and each of its upstream attempts a CLIENT span under it; an app's served request
# a SERVER span, a call it made a CLIENT span. Ids are 64-bit integers, stable for the
# same input; people and other tools see them as 16 hex digits (EXPORT_SPANS).
RAW_SPANS: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "sid": pl.UInt64(),  # the span's id
    "kind": pl.String(),  # SERVER | CLIENT
    "origin": pl.String(),  # nginx | app: what wrote the line
    "source": pl.String(),
    "host": pl.String(),
    "service": pl.String(),
    "line_no": pl.UInt64(),
    "attempt": pl.UInt32(),  # upstream attempt number (1 = first try), else null
    "method": pl.String(),
    "path": pl.String(),  # as this hop logged it (a proxy may have rewritten it)
    "target": pl.String(),
    "route": pl.String(),
    "peer": pl.String(),  # CLIENT spans: the service (or address) called, as logged
    "status": pl.UInt16(),
    "raw_start": TIME,  # as the logs say
    "raw_end": TIME,
    "precision_s": pl.Float64(),  # how exactly the logged times are known (1.0: $time_local)
    "line_sid": pl.UInt64(),  # the span of the line it was logged on (an attempt's nginx
    # line; a span's own sid otherwise)
}

# The timelines of every request (timelines.assemble): a trace is all spans of one
# request_id.
SPANS: dict[str, pl.DataType] = {
    **RAW_SPANS,
    "start": TIME,  # after clock correction and whole-second placement
    "end": TIME,
    # how exactly start and end are known now: precision_s, or for a whole-second line
    # placed by the spans around it, half the window it was placed in
    "within_s": pl.Float64(),
    "skew_s": pl.Float64(),  # how far this span was moved (host offset or placement), s
    "parent_sid": pl.UInt64(),  # null for the root
    "parent_guessed": pl.Boolean(),  # parent chosen by time containment alone
    # parent one of several the logs cannot tell apart (identical calls at the same second)
    "parent_ambiguous": pl.Boolean(),
    "depth": pl.UInt32(),  # 0 for the root
}

# SPANS as exports and trace views show them. A trace is all spans of one request_id.
EXPORT_SPANS: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "span_id": pl.String(),  # 16 lowercase hex, stable for the same input
    "parent_span_id": pl.String(),  # null for the root
    "parent_guessed": pl.Boolean(),  # parent chosen by time containment alone
    "host": pl.String(),
    "service": pl.String(),
    "kind": pl.String(),  # SERVER | CLIENT | INTERNAL
    "name": pl.String(),  # "GET /api/orders/{id}"
    "method": pl.String(),
    "route": pl.String(),
    "target": pl.String(),
    "peer": pl.String(),  # CLIENT spans: the service (or address) called
    "start": TIME,  # after clock-skew correction
    "end": TIME,
    "raw_start": TIME,  # as the logs say
    "raw_end": TIME,
    "duration_s": pl.Float64(),
    "precision_s": pl.Float64(),  # how exactly start/end are known (1.0 for $time_local)
    "skew_s": pl.Float64(),  # offset applied to this span's host clock (0 when none)
    "status": pl.UInt16(),
    "error": pl.Boolean(),
    "attempt": pl.UInt32(),  # upstream attempt number (1 = first try), else null
    "source": pl.String(),
    "line_no": pl.UInt64(),
    "depth": pl.UInt32(),  # 0 for the root
}


def conformity(frame: pl.DataFrame, contract: dict[str, pl.DataType]) -> list[str]:
    """What in ``frame`` breaks ``contract``: missing columns and columns of another dtype
    (other columns may be added by a stage)."""
    problems = [f"missing column {name!r}" for name in contract if name not in frame.columns]
    problems += [
        f"column {name!r} is {frame.schema[name]}, not {dtype}"
        for name, dtype in contract.items()
        if name in frame.columns and frame.schema[name] != dtype
    ]
    return problems


# Critical path of one trace: the stretches of spans the request waited on.
CRITICAL: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "span_id": pl.String(),
    "section_start": TIME,
    "section_end": TIME,
}

# Log lines inside a span (app lines that are not spans themselves): span events.
EVENTS: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "span_id": pl.String(),  # 16 hex, the span the line was written inside
    "time": TIME,
    "level": pl.String(),
    "message": pl.String(),
    "source": pl.String(),
    "line_no": pl.UInt64(),
    "line": pl.String(),  # the original line (may be null when not kept)
}
