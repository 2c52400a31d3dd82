"""Typed entries → the event each one is, and the LINES frame of app logs.

An entry is one of: ``server`` (the end of a request this service served), ``server_start``,
``client`` (the end of a call it made to another service), ``client_start``,
``unclassified`` (an HTTP event that cannot be told apart as served or outgoing: no
span, counted per source) or ``log`` (anything else). The rules, in order:

1. **Is it an HTTP event?** It has a status; or its message has the form of an access
   line (``GET /x 200 12ms``, ``"GET /x HTTP/1.1" 200``) or of a client library's line
   (``http://host:8080 "GET /x HTTP/1.1" 200``); or it has a method, a path or URL or a
   peer together with a duration or a word of ``words.py`` (a start, end, call or served
   word). Else it is ``log``: method and path alone are context (structlog binds them
   to every line of a request), and so is "request failed" without a status.
2. **Which side?** Evidence for each side, by strength (``words.py`` holds the words):

   ===  =========================================  ==========================================
        an outgoing call                           a request it served
   ===  =========================================  ==========================================
   3    call words: call, calling, outgoing,        served words: served, handled, handling,
        downstream, upstream, dependency, fetch,    responded, incoming; Rails' ``Started GET
        "request to X", "response from X", ``->``,  "/x" for ...`` and ``Completed 200 OK``;
        httpx's ``HTTP Request:``, "client call"    "sending response"
   2    a peer field (peer, peer_service, upstream, a caller field (remote_addr, client_ip,
        callee, downstream, target_service, to,     user_agent, pino-http's ``req.remoteAddress``
        backend ...; ``target`` holding a name);    or ``res``); the access-line form; "request"
        the client-library form                     with a start/end word ("request started",
                                                    ``request_end``, "finished request");
                                                    received, accepted ("received response
                                                    from X" is a call: its words are level 3)
   1    an absolute URL to another host             a path with its status (no host)
   ===  =========================================  ==========================================

   The side with the strongest evidence wins; equal evidence (none included) leaves an
   HTTP event ``unclassified``. So pino-http's app lines, which carry the served ``req``
   object, are calls when they say "outgoing call"; "request completed" with ``url`` to
   another host is served; a ``downstream`` *key* is a peer field, the *word* a call word.
3. **Start or end?** An end has an end word (end, finished, completed, done, served,
   handled, responded, response), a status or a duration, or, for a call, a failure word
   (failed, error, timeout, refused ...). A start has a start word (start, started,
   begin, received, incoming, accepted, handling, calling, sending) and is no end and
   no failure. A served request's line that is neither is ``log`` (gunicorn's "Error
   handling request GET /x"); a call's line that is neither was logged before its
   result: ``client_start``. A served end that names neither method nor target (Rails'
   "Completed 200 OK in 26ms") takes them from its request's start entry above it.

``peer`` (calls only) is the service the entry names: a peer field, else the X of
"call X" / "calling X" / "request to X" / "response from X", else a ``service`` field on
the call line that is not the service this log's other lines name (the text loggers'
``outgoing call service=inventory``; that line's ``service`` is then its own), else the
host and port of an absolute URL. ``target``/``path``: a path or absolute URL under a
URL key, or under ``target`` (which holds a name when it is a peer).

``error`` is a level of ERROR/CRITICAL/FATAL/EXCEPTION (and their kin), a status of 500
or more, or a traceback attached.
"""

from __future__ import annotations

import polars as pl

from logtrace.applog import words as w
from logtrace.applog.durations import resolve_bare_units, seconds, with_duration_parts
from logtrace.applog.values import (
    authority_of,
    host_of,
    is_absolute,
    is_pathish,
    level_name,
    path_of,
    status_code,
    target_of,
    text_values,
    with_text_values,
)
from logtrace.schema import LINES_APP

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
    if attached.height:
        raw = raw.join(attached, on="line_no", how="left", maintain_order="left")
    else:
        raw = raw.with_columns(
            pl.lit(None, pl.UInt32).alias("extra_lines"),
            pl.lit(None, pl.Boolean).alias("traceback"),
            pl.lit(None, pl.String).alias("exception"),
        )
    raw = with_duration_parts(with_text_values(per_message(raw).lazy()).collect())
    # Lazy, so that polars computes an expression used twice once.
    typed = (
        raw.lazy()
        .with_columns(
            status_code(pl.col("status")).alias("status"),
            level_name(pl.col("level")).alias("level"),
            _path_or_url().alias("_url"),
            _name(pl.col("target")).alias("_target_name"),
        )
        .with_columns(
            target_of(pl.col("_url")).alias("target"),
            pl.coalesce(_name(pl.col("peer")), "_target_name").alias("_peer_field"),
            pl.coalesce(pl.when(is_absolute(pl.col("_url"))).then("_url"), "_url_in_text").alias(
                "_absolute"
            ),
        )
        .with_columns(
            path_of(pl.col("target")).alias("path"),
            *_evidence(named_hosts=raw["host"].null_count() < raw.height),
        )
        .with_columns(_event().alias("event"))
        .collect()
    )
    typed = _peers(_from_start(resolve_bare_units(typed)))
    return (
        typed.lazy()
        .select(
            "line_no",
            "time",
            "time_precision_s",
            "request_id",
            "event",
            "level",
            _shown_message().alias("message"),
            "method",
            "target",
            "path",
            "status",
            seconds(pl.col("_number"), pl.col("_scale")).alias("duration_s"),
            "peer",
            _error().alias("error"),
            pl.col("extra_lines").fill_null(0),
            "service",
            "host",
        )
        .cast(pl.Schema(LINES_APP_OUT))
        .collect()
    )


def per_message(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with what its messages say (``values.text_values``, ``words.word_features``),
    worked out once per distinct message: a structured log repeats a few messages."""
    distinct = frame.select(pl.col("message").unique())
    if 2 * distinct.height > frame.height:
        return _said(frame.lazy()).collect()
    said = _said(distinct.lazy().filter(pl.col("message").is_not_null())).collect()
    return frame.join(said, on="message", how="left", maintain_order="left")


def _said(frame: pl.LazyFrame) -> pl.LazyFrame:
    return w.with_word_features(frame.with_columns(text_values()))


def _path_or_url() -> pl.Expr:
    """The entry's path or URL: under a URL key, else under ``target`` when it is one."""
    url, target = pl.col("url"), pl.col("target")
    return pl.coalesce(pl.when(is_pathish(url)).then(url), pl.when(is_pathish(target)).then(target))


def _name(value: pl.Expr) -> pl.Expr:
    """A value that names something (not a path or URL, not empty)."""
    text = value.str.strip_chars()
    return pl.when((text != "") & ~is_pathish(text)).then(text)


def _evidence(*, named_hosts: bool) -> list[pl.Expr]:
    """Each side's strongest evidence (3 words, 2 fields and forms, 1 hints, 0 none), and
    whether the entry is an HTTP event at all. ``named_hosts``: some entry names its own
    host (else an absolute URL is to another host without looking)."""

    def flag(name: str) -> pl.Expr:
        return pl.col(name).fill_null(False)

    absolute = pl.col("_absolute")
    other_host = (
        pl.col("host").is_null() | (host_of(absolute) != pl.col("host"))
        if named_hosts
        else pl.lit(True)
    )
    call = (
        pl.when(flag("_call_words"))
        .then(3)
        .when(pl.col("_peer_field").is_not_null() | flag("_client_form"))
        .then(2)
        .when(absolute.is_not_null() & other_host.fill_null(True))
        .then(1)
        .otherwise(0)
    )
    # A path without a host, with its status, and nothing else said: how an app logs the
    # requests it serves (zerolog's request logger: method, url, status, duration).
    own_path = pl.col("_url").str.starts_with("/").fill_null(False) & pl.col("status").is_not_null()
    served = (
        pl.when(flag("_served_words"))
        .then(3)
        .when(pl.col("caller").is_not_null() | flag("_access_form") | flag("_arrived"))
        .then(2)
        .when(own_path)
        .then(1)
        .otherwise(0)
    )
    has_http = pl.any_horizontal(pl.col("method", "target", "_peer_field", "_named").is_not_null())
    worded = pl.any_horizontal(
        flag("_started"),
        flag("_ended"),
        flag("_arrived"),
        flag("_call_words"),
        flag("_served_words"),
    )
    http_event = (
        pl.col("status").is_not_null()
        | flag("_access_form")
        | flag("_client_form")
        | (has_http & (pl.col("_number").is_not_null() | worded))
    )
    return [call.alias("_call"), served.alias("_served"), http_event.alias("_http")]


def _event() -> pl.Expr:
    """The event of each entry (the rules in the module's docstring)."""
    client = pl.col("_call") > pl.col("_served")
    served = pl.col("_served") > pl.col("_call")
    outcome = pl.col("status").is_not_null() | pl.col("_number").is_not_null()
    ended, failed = pl.col("_ended").fill_null(False), pl.col("_failed").fill_null(False)
    end = ended | outcome | (client & failed)
    start = pl.col("_started").fill_null(False) & ~end & ~failed
    return (
        pl.when(~pl.col("_http"))
        .then(pl.lit("log"))
        .when(client & end)
        .then(pl.lit("client"))
        .when(client)
        .then(pl.lit("client_start"))
        .when(served & start)
        .then(pl.lit("server_start"))
        .when(served & end)
        .then(pl.lit("server"))
        .when(served)
        .then(pl.lit("log"))
        .otherwise(pl.lit("unclassified"))
    )


def _peers(typed: pl.DataFrame) -> pl.DataFrame:
    """``peer`` of each call (a field, the words, a service field that is not this log's
    own, an absolute URL's host and port) and the ``service`` of the line (its field, else
    its logger's name). The later sources are worked out only when some call needs them."""
    calls = pl.col("event").is_in(["client", "client_start"])
    service = pl.col("service")
    named = [pl.col("_peer_field"), pl.col("_named")]
    unnamed = calls & pl.coalesce(named).is_null()
    own: str | None = None
    callee = pl.lit(None, pl.String)
    if typed.select((unnamed & service.is_not_null()).any()).item():
        mode = typed.select(service.filter(~calls).drop_nulls()).to_series().mode()
        own = None if mode.is_empty() else mode[0]
        other = unnamed if own is None else unnamed & (service != own)
        callee = pl.when(other).then(service)
        named.append(callee)
    if typed.select((unnamed & callee.is_null()).any()).item():
        named.append(authority_of(pl.col("_absolute")))
    return typed.with_columns(
        pl.when(calls).then(pl.coalesce(named)).alias("peer"),
        pl.when(callee.is_null())
        .then(pl.coalesce(service, "logger"))
        .otherwise(pl.coalesce(pl.lit(own, pl.String), "logger"))
        .alias("service"),
    )


def _from_start(typed: pl.DataFrame) -> pl.DataFrame:
    """A served request's end that names no method and no target (Rails' "Completed 200
    OK in 26ms") takes them from the last start entry of its request above it."""
    served = (pl.col("event") == "server") & pl.col("request_id").is_not_null()
    bare = served & pl.col("method").is_null() & pl.col("target").is_null()
    if not typed.select(bare.any()).item():
        return typed
    starts = typed.filter(
        (pl.col("event") == "server_start") & pl.col("request_id").is_not_null()
    ).select(
        "request_id",
        "line_no",
        pl.col("method").alias("_start_method"),
        pl.col("target").alias("_start_target"),
        pl.col("path").alias("_start_path"),
    )
    found = (
        typed.filter(bare)
        .select("request_id", "line_no")
        .join_asof(
            starts, on="line_no", by="request_id", strategy="backward", check_sortedness=False
        )
    )
    return (
        typed.join(found.drop("request_id"), on="line_no", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("method", "_start_method").alias("method"),
            pl.coalesce("target", "_start_target").alias("target"),
            pl.coalesce("path", "_start_path").alias("path"),
        )
        .drop("_start_method", "_start_target", "_start_path")
    )


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
