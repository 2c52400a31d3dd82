"""RAW text values → typed values: durations, status, URL → target and path, level.

Also what a message says in words when no key said it: ``GET /items/3 200`` gives the
method, target and status, ``in 8.2ms`` / ``took 12ms`` the duration (a unit is required
there: "in 3" is not a duration).
"""

from __future__ import annotations

import polars as pl

from logtrace.applog.keys import VALUE_UNIT_SECONDS, key_unit_seconds
from logtrace.schema import MAX_SECONDS

METHODS = "GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE"
_REQUEST_IN_TEXT = (
    rf"(?:^|[\s\"])(?<method>{METHODS})\s+(?<target>(?:https?://|/)[^\s\"]*)(?:\s+HTTP/[\d.]+)?\"?"
    r"(?:\s+(?<status>[1-5]\d\d)(?-u:\b))?"
)
_UNITS_IN_TEXT = "ms|us|µs|μs|ns|s|sec|secs|seconds|millis|milliseconds"
_DURATION_IN_TEXT = (
    r"(?i)(?:^|\s)(?:in|took|elapsed|after|duration|latency)[:=]?\s*"
    rf"(?<v>\d+(?:\.\d+)?)\s?(?<u>{_UNITS_IN_TEXT})(?-u:\b)"
)
# What a duration's number and its unit are made of ("1.5e-3s", "350µs", "12 ms").
_NUMBER_CHARS = "0123456789.+-eE"
_UNIT_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZµμ"
_ABSOLUTE = r"^[a-zA-Z][\w+.-]*://"
# Pino and bunyan write the level as a number.
_NUMERIC_LEVELS = {
    "10": "TRACE",
    "20": "DEBUG",
    "30": "INFO",
    "40": "WARN",
    "50": "ERROR",
    "60": "FATAL",
}


def from_message(raw: pl.DataFrame) -> pl.DataFrame:
    """Method, URL, status and duration from the message's words where no key gave them."""
    message = pl.col("message")
    request = message.str.extract_groups(_REQUEST_IN_TEXT).struct
    took = message.str.extract_groups(_DURATION_IN_TEXT).struct
    took_raw = pl.concat_str(took.field("v"), took.field("u"))
    has_key = pl.col("duration_raw").is_not_null()
    return (
        raw.lazy()
        .with_columns(
            pl.coalesce("method", request.field("method")).alias("method"),
            pl.coalesce("url", request.field("target")).alias("url"),
            pl.coalesce("status", request.field("status")).alias("status"),
            pl.when(has_key)
            .then("duration_key")
            .when(took_raw.is_not_null())
            .then(pl.lit("took"))
            .alias("duration_key"),
            pl.coalesce("duration_raw", took_raw).alias("duration_raw"),
        )
        .collect()
    )


def duration_seconds(frame: pl.DataFrame) -> pl.Expr:
    """Seconds from ``duration_key`` and ``duration_raw`` (the rule is in the package doc).

    A unit written after the number wins, then a unit in the key's suffix; a bare number
    under a bare duration word is seconds. An unknown unit gives null.
    """
    keys = frame["duration_key"].drop_nulls().unique().to_list()
    by_key = {k: key_unit_seconds(k) or 1.0 for k in keys}
    key_scale = pl.col("duration_key").replace_strict(by_key, default=1.0, return_dtype=pl.Float64)
    raw = pl.col("duration_raw")
    if not frame["duration_raw"].str.contains(r"[a-zA-Zµμ]").any():  # bare numbers only
        return _sane((raw.cast(pl.Float64, strict=False) * key_scale).round(9))
    # Plain string stripping, not a regex capture: this runs on every entry.
    raw = raw.str.strip_chars()
    number = raw.str.strip_chars_end(_UNIT_LETTERS).str.strip_chars_end()
    unit = raw.str.strip_chars_start(_NUMBER_CHARS).str.strip_chars_start().str.to_lowercase()
    value_scale = unit.replace_strict(VALUE_UNIT_SECONDS, default=None, return_dtype=pl.Float64)
    scale = pl.when(unit == "").then(key_scale).otherwise(value_scale)
    return _sane((number.cast(pl.Float64, strict=False) * scale).round(9))


def _sane(seconds: pl.Expr) -> pl.Expr:
    """No duration where the number is absurd (schema.MAX_SECONDS): it would overflow."""
    return pl.when(seconds.abs() < MAX_SECONDS).then(seconds)


def status_code(raw: pl.Expr) -> pl.Expr:
    """An HTTP status 100-599 (``"code": "ECONNRESET"`` is none)."""
    number = raw.str.strip_chars().cast(pl.Int64, strict=False)
    return pl.when(number.is_between(100, 599)).then(number).cast(pl.UInt16)


def target_of(url: pl.Expr) -> pl.Expr:
    """Path and query of a URL: an absolute URL loses its scheme and host."""
    absolute = url.str.contains(_ABSOLUTE)
    rest = url.str.replace(r"^[a-zA-Z][\w+.-]*://[^/?#]*", "")
    rest = pl.when(rest == "").then(pl.lit("/")).otherwise(rest)
    return pl.when(absolute).then(rest).when(url.str.starts_with("/")).then(url)


def path_of(target: pl.Expr) -> pl.Expr:
    """A target without its query and fragment."""
    return target.str.replace(r"[?#].*$", "")


def host_of(url: pl.Expr) -> pl.Expr:
    """The host of an absolute URL (without user info and port)."""
    return url.str.extract(r"^[a-zA-Z][\w+.-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^/?#:]+)")


def level_name(raw: pl.Expr) -> pl.Expr:
    """The level upper-cased; a numeric (pino) level as its name."""
    return raw.str.strip_chars().str.to_uppercase().replace(_NUMERIC_LEVELS)
