"""Log lines → spans, before parents and clocks are worked out.

* An nginx access line is a SERVER span that ends at the line's time (nginx writes the
  line at the request's END) and starts ``$request_time`` earlier. Each upstream attempt
  in ``$upstream_*`` becomes a CLIENT span under it. nginx does not log when an attempt
  started; attempts are laid back to back, the last one ending when the line was written
  (right for small responses and for buffered uploads, where nginx reads the body first).
* An app ``server`` event (a request it finished, with its duration) is a SERVER span; an
  app ``client`` event (a call it made) is a CLIENT span. A ``start`` event without a
  matching duration pairs with the next ``server`` event of the same request and host.

Internal frames use UInt64 span ids (``sid``); they are formatted as 16 hex digits only
where people or other tools see them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import polars as pl

from logtrace.routes import with_routes
from logtrace.schema import RAW_SPANS

SPAN_COLUMNS = list(RAW_SPANS)


def source_keys(sources: Iterable[str]) -> dict[str, int]:
    """A 24-bit key per source label, from a cryptographic hash of the label (the same on
    every machine and version); two labels that share one get salted keys, in order."""
    keys: dict[str, int] = {}
    taken: set[int] = set()
    for label in sorted(set(sources)):
        salt = 0
        while True:
            digest = hashlib.blake2b(f"{label}#{salt}".encode(), digest_size=3).digest()
            key = int.from_bytes(digest, "big")
            if key not in taken:
                break
            salt += 1
        keys[label] = key
        taken.add(key)
    return keys


def span_id(frame: pl.DataFrame, line_no: pl.Expr, attempt: pl.Expr) -> pl.Expr:
    """A span's 64-bit id: its source's key, its line number and its upstream attempt
    (24 + 32 + 8 bits). The same input gives the same ids on any machine and polars
    version (a hash of polars' own is stable only within one version)."""
    keys = source_keys(frame.get_column("source").unique().drop_nulls().to_list())
    key = pl.col("source").replace_strict(keys, default=0, return_dtype=pl.UInt64)
    line = line_no.cast(pl.UInt64) & 0xFFFFFFFF
    return (key * (1 << 40) + line * (1 << 8) + (attempt.cast(pl.UInt64) & 0xFF)).alias("sid")


def _micros(seconds: pl.Expr) -> pl.Expr:
    return pl.duration(microseconds=(seconds * 1e6).round(0).cast(pl.Int64))


# The LINES columns spans are made of; any others are dropped before the first join.
_USED = frozenset(
    {
        "request_id",
        "event",
        "source",
        "host",
        "service",
        "line_no",
        "time",
        "time_precision_s",
        "method",
        "path",
        "target",
        "peer",
        "status",
        "duration_s",
        "request_time_s",
        "upstream_response_time_s",
        "upstream_addr",
        "upstream_status",
        "started",  # an app end's start line (``_paired``)
    }
)


def _with_route(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.select(c for c in frame.columns if c in _USED)
    if "path" not in frame.columns:
        return frame.with_columns(pl.lit(None, pl.String).alias("route"))
    return with_routes(frame).collect()


def nginx_spans(lines: pl.DataFrame) -> pl.DataFrame:
    """SERVER spans for nginx lines and CLIENT spans for their upstream attempts."""
    if lines.is_empty():
        return pl.DataFrame(schema=RAW_SPANS)
    lines = _with_route(lines)
    cols = lines.columns
    duration = pl.col("request_time_s").fill_null(0.0) if "request_time_s" in cols else pl.lit(0.0)
    base = (
        lines.select(
            "request_id",
            span_id(lines, pl.col("line_no"), pl.lit(0)),
            pl.lit("SERVER").alias("kind"),
            pl.lit("nginx").alias("origin"),
            "source",
            "host",
            "service",
            "line_no",
            pl.lit(None, pl.UInt32).alias("attempt"),
            *(
                pl.col(c) if c in cols else pl.lit(None, pl.String).alias(c)
                for c in ("method", "path", "target", "route")
            ),
            pl.lit(None, pl.String).alias("peer"),
            pl.col("status").cast(pl.UInt16)
            if "status" in cols
            else pl.lit(None, pl.UInt16).alias("status"),
            (pl.col("time") - _micros(duration)).alias("raw_start"),
            pl.col("time").alias("raw_end"),
            pl.col("time_precision_s").alias("precision_s"),
        )
        .with_columns(pl.col("sid").alias("line_sid"))
        .cast(pl.Schema(RAW_SPANS))
    )
    if "upstream_response_time_s" not in cols:
        return base.cast(pl.Schema(RAW_SPANS))
    attempts = _attempts(lines)
    spans = pl.concat([base, attempts], how="diagonal_relaxed").select(SPAN_COLUMNS)
    return spans.cast(pl.Schema(RAW_SPANS))


def _attempts(lines: pl.DataFrame) -> pl.DataFrame:
    """One CLIENT span per upstream attempt, laid back to back before the line's end and
    never before its start: nginx truncates the upstream times and $request_time to the
    millisecond on two clocks, so the attempts can add up to 1 ms more than the request."""
    cols = lines.columns
    lists = ["upstream_response_time_s"] + [
        c for c in ("upstream_addr", "upstream_status") if c in cols
    ]
    attempts = pl.col("upstream_response_time_s").list.len()
    took = pl.col("request_time_s") if "request_time_s" in cols else pl.lit(None, pl.Float64)
    frame = lines.filter(attempts > 0).select(
        "request_id",
        "source",
        "host",
        "service",
        "line_no",
        "time",
        (pl.col("time") - _micros(took)).alias("_line_start"),
        "time_precision_s",
        *(
            pl.col(c) if c in cols else pl.lit(None, pl.String).alias(c)
            for c in ("method", "path", "target", "route")
        ),
        *lists,
    )
    # Most lines have one attempt: nothing to explode, nothing after it.
    first = pl.col("upstream_response_time_s").fill_null(0.0)
    one = (
        frame.filter(attempts == 1)
        .with_columns(pl.col(c).list.first() for c in lists)
        .with_columns((first - first).alias("_later"), pl.lit(1, pl.UInt32).alias("attempt"))
    )
    many = (
        frame.filter(attempts > 1)
        .with_columns(
            # time of the attempts after each one (they end when the line is written)
            pl.col("upstream_response_time_s")
            .list.eval(
                pl.element().fill_null(0.0).reverse().cum_sum().reverse()
                - pl.element().fill_null(0.0)
            )
            .alias("_later"),
            pl.int_ranges(1, attempts + 1, dtype=pl.UInt32).alias("attempt"),
        )
        .explode("attempt")
        # Lists of one line can differ in length in old nginx versions: index, don't explode.
        .with_columns(
            pl.col(c).list.get(pl.col("attempt").cast(pl.Int64) - 1, null_on_oob=True)
            for c in [*lists, "_later"]
        )
    )
    frame = pl.concat([one, many])
    urt = pl.col("upstream_response_time_s").fill_null(0.0)
    floor = pl.col("_line_start").fill_null(pl.col("time") - _micros(pl.col("_later") + urt))
    end = pl.max_horizontal(pl.col("time") - _micros(pl.col("_later")), floor)
    return frame.select(
        "request_id",
        span_id(frame, pl.col("line_no"), pl.col("attempt")),
        pl.lit("CLIENT").alias("kind"),
        pl.lit("nginx").alias("origin"),
        "source",
        "host",
        "service",
        "line_no",
        "attempt",
        "method",
        "path",
        "target",
        "route",
        (pl.col("upstream_addr") if "upstream_addr" in cols else pl.lit(None, pl.String)).alias(
            "peer"
        ),
        (
            pl.col("upstream_status").cast(pl.UInt16)
            if "upstream_status" in cols
            else pl.lit(None, pl.UInt16)
        ).alias("status"),
        pl.max_horizontal(end - _micros(urt), floor).alias("raw_start"),
        end.alias("raw_end"),
        pl.col("time_precision_s").alias("precision_s"),
        span_id(frame, pl.col("line_no"), pl.lit(0)).alias("line_sid"),
    )


# Start events and the end events they begin (an end without a logged duration).
_STARTS = {"server": ("server_start", "start"), "client": ("client_start",)}


def _paired(ends: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """``ends`` (server/client events) with the start line that began each: ``started``,
    and the method, path, target and peer the start named where the end names none
    ("calling inventory: GET /items/7" ... "inventory responded 200 in 15.7ms").

    The start is the latest one before the end of the same request, source and kind,
    naming the same peer where both name one.
    """
    kinds = {start: kind for kind, starts in _STARTS.items() for start in starts}
    named = ["method", "path", "target", "peer"]
    peer_key = pl.col("peer").str.to_lowercase().fill_null("")
    starts = (
        events.filter(pl.col("event").is_in(list(kinds)) & pl.col("request_id").is_not_null())
        .with_columns(pl.col("event").replace_strict(kinds, return_dtype=pl.String))
        .select(
            "request_id",
            "source",
            "event",
            peer_key.alias("_pk"),
            pl.col("time").alias("started"),
            *(pl.col(c).alias(f"_s_{c}") for c in named),
        )
        .sort("started")
    )
    ends = ends.with_columns(peer_key.alias("_pk")).sort("time")
    took = ["started", *(f"_s_{c}" for c in named)]
    by_peer, by_kind = (
        # Both sides are sorted by time overall, hence within every group.
        ends.join_asof(
            starts.drop(*([] if keys else ["_pk"])),
            left_on="time",
            right_on="started",
            by=["request_id", "source", "event", *keys],
            strategy="backward",
            check_sortedness=False,
        ).select(took)
        for keys in (["_pk"], [])
    )
    return (
        ends.drop("_pk")
        .with_columns(
            *(pl.coalesce(by_peer.get_column(c), by_kind.get_column(c)).alias(c) for c in took)
        )
        .with_columns(pl.coalesce(c, f"_s_{c}").alias(c) for c in named)
        .drop(f"_s_{c}" for c in named)
    )


def app_spans(events: pl.DataFrame) -> pl.DataFrame:
    """SERVER and CLIENT spans from app events that carry a duration, or whose start was
    logged on a line of its own (``server_start``/``client_start``)."""
    if events.is_empty():
        return pl.DataFrame(schema=RAW_SPANS)
    with_id = pl.col("request_id").is_not_null()
    ends = events.filter(pl.col("event").is_in(["server", "client"]) & with_id)
    spans = _with_route(_paired(ends.select(c for c in ends.columns if c in _USED), events))
    start = (
        pl.when(pl.col("duration_s").is_not_null())
        .then(pl.col("time") - _micros(pl.col("duration_s")))
        .otherwise(pl.col("started"))
    )
    return (
        spans.select(
            "request_id",
            span_id(spans, pl.col("line_no"), pl.lit(0)),
            pl.col("event").str.to_uppercase().alias("kind"),
            pl.lit("app").alias("origin"),
            "source",
            "host",
            "service",
            "line_no",
            pl.lit(None, pl.UInt32).alias("attempt"),
            "method",
            "path",
            "target",
            "route",
            "peer",
            pl.col("status").cast(pl.UInt16),
            start.fill_null(pl.col("time")).alias("raw_start"),
            pl.col("time").alias("raw_end"),
            pl.col("time_precision_s").alias("precision_s"),
        )
        .with_columns(pl.col("sid").alias("line_sid"))
        .cast(pl.Schema(RAW_SPANS))
    )
