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

import polars as pl

from logtrace.routes import with_routes

_SEED = 0x6C6F677472616365  # "logtrace"

SPAN_COLUMNS = [
    "request_id",
    "sid",
    "kind",
    "origin",
    "source",
    "host",
    "service",
    "line_no",
    "attempt",
    "method",
    "path",
    "target",
    "route",
    "peer",
    "status",
    "raw_start",
    "raw_end",
    "precision_s",
    "line_sid",
]


def span_id(*parts: pl.Expr) -> pl.Expr:
    """A stable 64-bit span id from the columns that identify a span's origin."""
    return pl.struct(*parts).hash(seed=_SEED).alias("sid")


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
        return pl.DataFrame(schema=dict.fromkeys(SPAN_COLUMNS, pl.Null))
    lines = _with_route(lines)
    cols = lines.columns
    duration = pl.col("request_time_s").fill_null(0.0) if "request_time_s" in cols else pl.lit(0.0)
    base = lines.select(
        "request_id",
        span_id(pl.col("source"), pl.col("line_no"), pl.lit(0)),
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
    ).with_columns(pl.col("sid").alias("line_sid"))
    if "upstream_response_time_s" not in cols:
        return base
    attempts = _attempts(lines)
    return pl.concat([base, attempts], how="diagonal_relaxed").select(SPAN_COLUMNS)


def _attempts(lines: pl.DataFrame) -> pl.DataFrame:
    """One CLIENT span per upstream attempt, laid back to back before the line's end."""
    cols = lines.columns
    lists = ["upstream_response_time_s"] + [
        c for c in ("upstream_addr", "upstream_status") if c in cols
    ]
    attempts = pl.col("upstream_response_time_s").list.len()
    frame = lines.filter(attempts > 0).select(
        "request_id",
        "source",
        "host",
        "service",
        "line_no",
        "time",
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
    end = pl.col("time") - _micros(pl.col("_later"))
    return frame.select(
        "request_id",
        span_id(pl.col("source"), pl.col("line_no"), pl.col("attempt").cast(pl.Int64)),
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
        (end - _micros(urt)).alias("raw_start"),
        end.alias("raw_end"),
        pl.col("time_precision_s").alias("precision_s"),
        span_id(pl.col("source"), pl.col("line_no"), pl.lit(0)).alias("line_sid"),
    )


def app_spans(events: pl.DataFrame) -> pl.DataFrame:
    """SERVER and CLIENT spans from app events that carry a duration (or a start event)."""
    if events.is_empty():
        return pl.DataFrame(schema=dict.fromkeys(SPAN_COLUMNS, pl.Null))
    spans = _with_route(
        events.filter(
            pl.col("event").is_in(["server", "client"]) & pl.col("request_id").is_not_null()
        )
    )
    starts = (
        events.filter((pl.col("event") == "server_start") & pl.col("request_id").is_not_null())
        .select("request_id", "source", pl.col("time").alias("started"))
        .sort("started")
    )
    # A server event without a duration ends the span its start event began.
    # Both sides are sorted by time overall, hence within every (request, source) group.
    spans = spans.sort("time").join_asof(
        starts,
        left_on="time",
        right_on="started",
        by=["request_id", "source"],
        strategy="backward",
        check_sortedness=False,
    )
    start = (
        pl.when(pl.col("duration_s").is_not_null())
        .then(pl.col("time") - _micros(pl.col("duration_s")))
        .when(pl.col("event") == "server")
        .then(pl.col("started"))
        .otherwise(pl.col("time"))
    )
    return spans.select(
        "request_id",
        span_id(pl.col("source"), pl.col("line_no"), pl.lit(0)),
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
    ).with_columns(pl.col("sid").alias("line_sid"))
