"""Typed entries → the event each one is, and the LINES frame of app logs.

- ``client``: a call to another service. The entry names the service called (a peer
  field: peer, peer_service, upstream, callee, downstream, target_service, to,
  dependency) or its message says so ("downstream call", "call finished", "calling X",
  "request to X"). ``peer`` is the named service, else the X of the message, else the host
  of an absolute URL.
- ``server``: not a client event, with a duration and an HTTP field (method, target or
  status): the end of a request the service served.
- ``start``: "request started", "received" ... without a duration.
- ``log``: anything else.

``error`` is a level of ERROR/CRITICAL/FATAL/EXCEPTION (and their kin), a status of 500
or more, or a traceback attached.
"""

from __future__ import annotations

import polars as pl

from logtrace.applog.values import (
    duration_seconds,
    host_of,
    level_name,
    path_of,
    status_code,
    target_of,
)
from logtrace.schema import LINES_APP

# ASCII word boundaries: a Unicode \b keeps polars' regex off its fast engine.
_CLIENT_MESSAGE = (
    r"(?i)(?-u:\b)(?:downstream call|call finished|outgoing request|upstream call"
    r"|client request|calling\s+[a-z]|(?:request|call) to\s+[a-z])"
)
_PEER_IN_MESSAGE = r"(?i)(?-u:\b)(?:calling|request to|call to)\s+([^\s,;()]+)"
_ABSOLUTE = r"^[a-zA-Z][\w+.-]*://"
_START_MESSAGE = (
    r"(?i)(?-u:\b)(?:started|starting|received|receiving|incoming|begin|accepted)(?-u:\b)"
)
ERROR_LEVELS = [
    "ERROR",
    "ERR",
    "CRITICAL",
    "CRIT",
    "FATAL",
    "EXCEPTION",
    "ALERT",
    "EMERG",
    "SEVERE",
    "PANIC",
]
# The LINES columns of an app log, besides those of LINES_BASE that ingest fills in.
LINES_APP_OUT: dict[str, pl.DataType] = {**LINES_APP, "service": pl.String(), "host": pl.String()}


def to_lines(raw: pl.DataFrame, attached: pl.DataFrame) -> pl.DataFrame:
    """Typed, classified entries from RAW rows with ``time``/``time_precision_s``.

    ``attached`` holds each multi-line entry's continuation summary (by ``line_no``).
    """
    # Lazy, so that polars computes an expression used twice once.
    if attached.height:
        frame = raw.lazy().join(attached.lazy(), on="line_no", how="left", maintain_order="left")
    else:
        frame = raw.lazy().with_columns(
            pl.lit(None, pl.UInt32).alias("extra_lines"),
            pl.lit(None, pl.Boolean).alias("traceback"),
            pl.lit(None, pl.String).alias("exception"),
        )
    message = pl.col("message")
    named = message.str.extract(_PEER_IN_MESSAGE)
    named = pl.when(named.str.contains(_ABSOLUTE)).then(host_of(named)).otherwise(named)
    client = pl.col("peer").is_not_null() | message.str.contains(_CLIENT_MESSAGE).fill_null(False)
    typed = (
        frame.with_columns(
            duration_seconds(raw).alias("duration_s"),
            status_code(pl.col("status")).alias("status"),
            target_of(pl.col("url")).alias("target"),
            level_name(pl.col("level")).alias("level"),
            client.alias("_client"),
            pl.coalesce("peer", named).alias("_peer"),
        )
        .with_columns(path_of(pl.col("target")).alias("path"))
        .collect()
    )
    return (
        typed.lazy()
        .select(
            "line_no",
            "time",
            "time_precision_s",
            "request_id",
            _event().alias("event"),
            "level",
            _shown_message().alias("message"),
            "method",
            "target",
            "path",
            "status",
            "duration_s",
            pl.when("_client").then(_peer(typed)).alias("peer"),
            _error().alias("error"),
            pl.col("extra_lines").fill_null(0),
            "service",
            "host",
        )
        .cast(pl.Schema(LINES_APP_OUT))
        .collect()
    )


def _event() -> pl.Expr:
    http = pl.any_horizontal(pl.col("method", "target", "status").is_not_null())
    has_duration = pl.col("duration_s").is_not_null()
    started = pl.col("message").str.contains(_START_MESSAGE).fill_null(False)
    return (
        pl.when("_client")
        .then(pl.lit("client"))
        .when(has_duration & http)
        .then(pl.lit("server"))
        .when(~has_duration & started)
        .then(pl.lit("start"))
        .otherwise(pl.lit("log"))
    )


def _peer(typed: pl.DataFrame) -> pl.Expr:
    """The service called: named by a field or the message, else an absolute URL's host
    (computed only when some client entry needs it)."""
    unnamed = typed.filter(pl.col("_client") & pl.col("_peer").is_null())
    if unnamed["url"].str.contains("://", literal=True).any():
        return pl.coalesce("_peer", host_of(pl.col("url")))
    return pl.col("_peer")


def _error() -> pl.Expr:
    return (
        pl.col("level").is_in(ERROR_LEVELS).fill_null(False)
        | (pl.col("status") >= 500).fill_null(False)
        | pl.col("traceback").fill_null(False)
    )


def _shown_message() -> pl.Expr:
    """The message, with a traceback's exception line after it."""
    message, exception = pl.col("message"), pl.col("exception")
    return (
        pl.when(exception.is_null())
        .then(message)
        .when(message.is_null())
        .then(exception)
        .otherwise(pl.concat_str(message, pl.lit(" | "), exception))
    )
