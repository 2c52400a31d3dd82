"""Durations as logged → seconds.

A duration is a value under a duration key (duration, elapsed, latency, took,
response_time, request_time, dur, time_taken, in any case, camelCase or not) or words of
the message (``values.py``: "in 8.2ms", "took 12ms", ``GET /x 200 198.7ms``). Its unit
is, in this order:

1. a unit written with the number: ``took=8.2ms``, ``"latency": "1.5s"``, ``350us``,
   ``350µs``, ``2m`` (ns, us/µs, ms, s/sec/seconds, m/min, h), and Go's durations
   (``16.460744ms``, ``1m2.5s``, ``1h0m0s``);
2. a unit suffix of the key: ``duration_ms=45.2``, ``elapsedMs``, ``latency_us``, ``took_s``;
3. a bare number under a key without a unit (``"duration": 16844547``) is the one thing
   a log does not say. Go writes a ``time.Duration`` as integer nanoseconds (slog's and
   logrus' JSON), zap as float seconds, zerolog as float milliseconds, pino-http's
   ``responseTime`` is integer milliseconds. What the chunk itself shows decides, per key:

   a. the time a served request took by its own lines bounds its duration: from its
      ``server_start`` entry to its ``server`` entry (plus both timestamps' precision
      and 1 ms). The unit is the largest of s, ms, µs, ns under which 90% of those
      ``server`` entries' values fit in 1.5 times that bound. zerolog's 16.9 for a request
      whose start and end were logged in the same second is not seconds, hence ms;
   b. with no such pair in the chunk: integer values whose median is 1e5 or more are
      nanoseconds (as seconds or milliseconds that would be over a day or over 100 s);
   c. else a camelCase key (``responseTime``, ``elapsedTime``) is milliseconds: camelCase
      is JavaScript's and Java's, whose clocks count milliseconds;
   d. else seconds (``elapsed=0.0042`` is 4.2 ms).

   What stays ambiguous: floats under a bare key in a chunk without start/end pairs
   (zap's seconds and zerolog's milliseconds look alike; read as seconds), and requests
   shorter than the timestamps' precision (with whole-second timestamps, zerolog's
   0.5 ms and zap's 0.5 s cannot be told apart by 3a).
"""

from __future__ import annotations

import itertools

import polars as pl

from logtrace.applog.keys import VALUE_UNIT_SECONDS, key_suffix_unit
from logtrace.schema import MAX_SECONDS

_UNITS_IN_TEXT = "ms|us|µs|μs|ns|s|sec|secs|seconds|millis|milliseconds"
_DURATION_IN_TEXT = (
    r"(?i)(?:^|\s)(?:in|took|elapsed|after|duration|latency)[:=]?\s*"
    rf"(?<v>\d+(?:\.\d+)?)\s?(?<u>{_UNITS_IN_TEXT})(?-u:\b)"
)
_DURATION_AT_END = r"(?:^|\s)(?<v>\d+(?:\.\d+)?)\s?(?<u>ms|us|µs|μs|ns|s)\s*$"
# What a duration's number and its unit are made of ("1.5e-3s", "350µs", "12 ms").
_NUMBER_CHARS = "0123456789.+-eE"
_UNIT_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZµμ"
# Go's durations of a minute or more: "1m2.5s", "1h0m0s".
_GO_COMPOUND = r"^(?:(?<h>\d+)h)?(?:(?<m>\d+)m)?(?<s>\d+(?:\.\d+)?)s$"
_COMPOUND = r"^\d+[hm]\d"
# The units a bare number may be in, largest first (rule 3a).
CANDIDATE_UNITS = (1.0, 1e-3, 1e-6, 1e-9)
FIT_SHARE = 0.9
FIT_SLACK = 1.5
FIT_MARGIN_S = 1e-3
NANOS_MEDIAN = 1e5


def text_duration(message: pl.Expr) -> pl.Expr:
    """The words "in 8.2ms", "took 12 ms" ... in a message, or a number with a unit that
    ends it (``... 200 - application/json 12.3456ms``), as ``8.2ms`` (null: none)."""
    took = message.str.extract_groups(_DURATION_IN_TEXT).struct
    last = message.str.extract_groups(_DURATION_AT_END).struct
    return pl.coalesce(
        pl.concat_str(took.field("v"), took.field("u")),
        pl.concat_str(last.field("v"), last.field("u")),
    )


def with_duration_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` plus ``_number`` and ``_scale`` (seconds per unit) of ``duration_raw``
    under ``duration_key``.

    The scale is the unit written with the number, else the key's unit suffix; it is null
    for a bare number under a key without a unit (``resolve_bare_units`` decides those)
    and for an unknown unit (where the number is null too).

    Made in steps, each column once: in one expression polars worked out the stripped
    text and the unit once for every use (52 ms against 20 for a 93k-line logfmt chunk).
    """
    keys = frame["duration_key"].drop_nulls().unique().to_list()
    suffixed = {k: per for k in keys if (per := key_suffix_unit(k)) is not None}
    key_scale = pl.col("duration_key").replace_strict(
        suffixed, default=None, return_dtype=pl.Float64
    )
    raw = pl.col("duration_raw")
    if not frame["duration_raw"].str.contains(r"[a-zA-Zµμ]").any():  # bare numbers only
        return frame.with_columns(
            raw.cast(pl.Float64, strict=False).alias("_number"), key_scale.alias("_scale")
        )
    # Plain string stripping, not a regex capture: this runs on every entry.
    text, unit, unit_scale = (
        pl.col("_duration_text"),
        pl.col("_duration_unit"),
        pl.col("_duration_scale"),
    )
    number = text.str.strip_chars_end(_UNIT_LETTERS).str.strip_chars_end()
    # A unit written but unknown ("3parsecs") gives no duration, not a bare number.
    number = pl.when((unit == "") | unit_scale.is_not_null()).then(
        number.cast(pl.Float64, strict=False)
    )
    scale = pl.when(unit == "").then(key_scale).otherwise(unit_scale)
    if frame["duration_raw"].str.contains(_COMPOUND).any():
        compound, seconds = go_compound(text)
        number = pl.when(compound).then(seconds).otherwise(number)
        scale = pl.when(compound).then(pl.lit(1.0)).otherwise(scale)
    return (
        frame.lazy()
        .with_columns(raw.str.strip_chars().alias("_duration_text"))
        .with_columns(
            text.str.strip_chars_start(_NUMBER_CHARS)
            .str.strip_chars_start()
            .str.to_lowercase()
            .alias("_duration_unit")
        )
        .with_columns(
            unit.replace_strict(VALUE_UNIT_SECONDS, default=None, return_dtype=pl.Float64).alias(
                "_duration_scale"
            )
        )
        .with_columns(number.alias("_number"), scale.alias("_scale"))
        .drop("_duration_text", "_duration_unit", "_duration_scale")
        .collect()
    )


def go_compound(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Whether a duration is written as Go writes one above a minute (``1m2.5s``,
    ``2h0m3s``), and its seconds."""
    go = text.str.extract_groups(_GO_COMPOUND).struct
    seconds = (
        go.field("h").cast(pl.Float64).fill_null(0.0) * 3600
        + go.field("m").cast(pl.Float64).fill_null(0.0) * 60
        + go.field("s").cast(pl.Float64)
    )
    return text.str.contains(_COMPOUND), seconds


def seconds(number: pl.Expr, scale: pl.Expr) -> pl.Expr:
    """Seconds; null where the number is absurd (schema.MAX_SECONDS): it would overflow."""
    value = (number * scale).round(9)
    return pl.when(value.abs() < MAX_SECONDS).then(value)


def resolve_bare_units(frame: pl.DataFrame) -> pl.DataFrame:
    """``_scale`` filled in for bare numbers under keys without a unit (rule 3).

    ``frame`` has ``duration_key``, ``_number``, ``_scale`` and, for rule 3a, ``event``,
    ``request_id``, ``time`` and ``time_precision_s``.
    """
    bare = frame.select("duration_key", "_number").filter(
        frame["_scale"].is_null() & frame["_number"].is_not_null()
    )
    if bare.is_empty():
        return frame
    units: dict[str, float] = {}
    for key in bare["duration_key"].unique().drop_nulls().to_list():
        values = bare.filter(pl.col("duration_key") == key)["_number"]
        units[key] = _bounded_unit(frame, key) or _unit_by_form(key, values)
    return frame.with_columns(
        pl.coalesce(
            "_scale",
            pl.when(pl.col("_number").is_not_null()).then(
                pl.col("duration_key").replace_strict(units, default=None, return_dtype=pl.Float64)
            ),
        ).alias("_scale")
    )


def _bounded_unit(frame: pl.DataFrame, key: str) -> float | None:
    """Rule 3a: the largest unit under which the key's values fit the time their served
    requests took by their own start and end entries; None without such a pair."""
    if "event" not in frame.columns or frame["time"].null_count() == frame.height:
        return None
    starts = (
        frame.filter((pl.col("event") == "server_start") & pl.col("request_id").is_not_null())
        .group_by("request_id")
        .agg(pl.col("time").min().alias("_start_time"), pl.col("time_precision_s").max())
    )
    if starts.is_empty():
        return None
    ends = frame.filter(
        (pl.col("event") == "server")
        & (pl.col("duration_key") == key)
        & pl.col("_number").is_not_null()
        & pl.col("_scale").is_null()
    ).join(starts, on="request_id", how="inner", suffix="_start")
    ends = ends.filter(pl.col("time") >= pl.col("_start_time"))
    if ends.is_empty():
        return None
    took = (pl.col("time") - pl.col("_start_time")).dt.total_microseconds() / 1e6
    bound = (
        took * FIT_SLACK
        + pl.col("time_precision_s").fill_null(1.0)
        + pl.col("time_precision_s_start").fill_null(1.0)
        + FIT_MARGIN_S
    )
    for unit in CANDIDATE_UNITS:
        fits = ends.select((pl.col("_number") * unit <= bound).mean()).item()
        if fits is not None and fits >= FIT_SHARE:
            return unit
    return None


def _unit_by_form(key: str, values: pl.Series) -> float:
    """Rules 3b-3d: integer nanoseconds, a camelCase key's milliseconds, else seconds."""
    integral = (values == values.round(0)).all()
    median = values.median()
    if integral and isinstance(median, float | int) and median >= NANOS_MEDIAN:
        return 1e-9
    if any(a.islower() and b.isupper() for a, b in itertools.pairwise(key)):
        return 1e-3
    return 1.0
