"""RAW text values → typed values: status, URL → target and path, level; and what a
message says in words when no key said it.

In a message: ``GET /items/3 200`` (or ``"GET /items/3 HTTP/1.1" 200``, Rails'
``GET "/items/3"``, httpx's ``GET http://host/items/3 "HTTP/1.1 200 OK"``) gives the method,
target and status, and a number with a unit right after the status its duration
(``GET /feed/1 200 198.7ms``, morgan's ``58.108 ms``); ``in 8.2ms`` / ``took 12ms`` a
duration (a unit is required there: "in 3" is not a duration); ``-> 200``,
``Completed 200 OK``, ``status 200`` a status. An access line's tail after the user
agent (``"curl/7.88.1" 27976 c0a8...``) is Apache's and gunicorn's ``%D`` (microseconds)
and then a request id. A message that begins with a ``[tag]`` shaped like an id (Rails'
``log_tags = [:request_id]``) gives the request id, and a W3C ``traceparent``
(``00-<trace id>-<span id>-01``) found as the request id stands for its trace id.
"""

from __future__ import annotations

import polars as pl

from logtrace.applog.durations import text_duration

METHODS = "GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE"
_DURATION_UNITS = "ms|us|µs|μs|ns|s|sec|secs|seconds|millis|milliseconds"
_REQUEST_IN_TEXT = (
    rf"(?:^|[\s\"])(?<method>{METHODS})\s+\"?(?<target>(?:https?://|/)[^\s\"]*)\"?"
    r"(?:\s+\"?HTTP/[\d.]+\"?)?"
    r"(?:\s+(?<status>[1-5]\d\d)(?-u:\b)"
    rf"(?:\s+(?<v>\d+(?:\.\d+)?)\s?(?<u>{_DURATION_UNITS})(?-u:\b))?)?"
)
_STATUS_IN_TEXT = (
    r"(?i)(?:^|[\s\]])(?:completed|responded|status|code|->|=>)\s*[:=]?\s*"
    r"(?<status>[1-5]\d\d)(?-u:\b)"
)
# A combined access line's tail, after the request: status, size, referer, agent, then
# what a format may add: %D (microseconds) and a request id.
_ACCESS_TAIL = (
    r'^"[^"]*"\s+\d{3}\s+\S+\s+"[^"]*"\s+"[^"]*"'
    r"(?:\s+(?<us>\d+))?(?:\s+(?<rid>[^\s\"]+))?\s*$"
)
_ID_TAG = r"^\[([0-9A-Fa-f][0-9A-Fa-f-]{15,})\]"
_TRACEPARENT = r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$"
_TRACEPARENT_BYTES = 55
_ABSOLUTE = r"^[a-zA-Z][a-zA-Z0-9+.-]*://"
# Pino and bunyan write the level as a number.
_NUMERIC_LEVELS = {
    "10": "TRACE",
    "20": "DEBUG",
    "30": "INFO",
    "40": "WARN",
    "50": "ERROR",
    "60": "FATAL",
}


def text_values() -> list[pl.Expr]:
    """What ``message`` says in words: ``_text_method``, ``_text_url``, ``_text_status``,
    ``_text_duration`` (with its unit: ``198.7ms``) and ``_text_id``."""
    message = pl.col("message")
    request = message.str.extract_groups(_REQUEST_IN_TEXT).struct
    after_status = pl.concat_str(request.field("v"), request.field("u"))
    tail = message.str.extract_groups(_ACCESS_TAIL).struct
    access_us = pl.concat_str(tail.field("us"), pl.lit("us"))
    access_id = tail.field("rid")
    return [
        request.field("method").alias("_text_method"),
        request.field("target").alias("_text_url"),
        pl.coalesce(request.field("status"), message.str.extract(_STATUS_IN_TEXT, 1)).alias(
            "_text_status"
        ),
        pl.coalesce(after_status, text_duration(message), access_us).alias("_text_duration"),
        pl.coalesce(message.str.extract(_ID_TAG), pl.when(access_id != "-").then(access_id)).alias(
            "_text_id"
        ),
    ]


def with_text_values(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Method, URL, status, duration and request id from ``text_values`` where no key gave
    them; a traceparent request id as its trace id."""
    took = pl.col("_text_duration")
    rid = pl.coalesce("request_id", "_text_id")
    return frame.with_columns(
        pl.coalesce("method", "_text_method").alias("method"),
        pl.coalesce("url", "_text_url").alias("url"),
        pl.coalesce("status", "_text_status").alias("status"),
        pl.when(pl.col("duration_raw").is_not_null())
        .then("duration_key")
        .when(took.is_not_null())
        .then(pl.lit("took"))
        .alias("duration_key"),
        pl.coalesce("duration_raw", took).alias("duration_raw"),
        pl.when(rid.str.len_bytes() == _TRACEPARENT_BYTES)
        .then(pl.coalesce(rid.str.extract(_TRACEPARENT, 1), rid))
        .otherwise(rid)
        .alias("request_id"),
    )


def status_code(raw: pl.Expr) -> pl.Expr:
    """An HTTP status 100-599 (``"code": "ECONNRESET"`` is none)."""
    number = raw.str.strip_chars().cast(pl.Int64, strict=False)
    return pl.when(number.is_between(100, 599)).then(number).cast(pl.UInt16)


def is_absolute(url: pl.Expr) -> pl.Expr:
    """True for an absolute URL (``scheme://``)."""
    return url.str.contains(_ABSOLUTE)


def is_pathish(value: pl.Expr) -> pl.Expr:
    """True for a path (``/x``) or an absolute URL: a target, not a name."""
    return value.str.starts_with("/") | is_absolute(value)


def target_of(url: pl.Expr) -> pl.Expr:
    """Path and query of a URL: an absolute URL loses its scheme and host."""
    rest = url.str.replace(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*", "")
    rest = pl.when(rest == "").then(pl.lit("/")).otherwise(rest)
    return pl.when(is_absolute(url)).then(rest).when(url.str.starts_with("/")).then(url)


def path_of(target: pl.Expr) -> pl.Expr:
    """A target without its query and fragment."""
    return target.str.replace(r"[?#].*$", "")


def host_of(url: pl.Expr) -> pl.Expr:
    """The host of an absolute URL (without user info and port)."""
    return url.str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^/?#:]+)")


def authority_of(url: pl.Expr) -> pl.Expr:
    """The host and port of an absolute URL, as written (``users-svc:8080``)."""
    return url.str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/?#]*@)?([^/?#\s\"]+)")


def level_name(raw: pl.Expr) -> pl.Expr:
    """The level upper-cased; a numeric (pino) level as its name."""
    return raw.str.strip_chars().str.to_uppercase().replace(_NUMERIC_LEVELS)
