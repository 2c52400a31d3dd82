"""nginx access log lines: the edge (trace format) and the internal mesh proxy."""

from __future__ import annotations

import polars as pl

from loggen.fmt import NGINX_TIME_LOCAL, fixed, timestamp

TRACE_FORMAT = (
    "$remote_addr - $remote_user [$time_local] "
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" '
    "$request_time $upstream_response_time $request_id"
)
# The mesh nginx sits between the api and inventory; it logs the id the api forwarded
# in X-Request-ID, and $msec because whole seconds cannot place a 5 ms hop.
MESH_FORMAT = (
    '$msec $remote_addr "$request" $status $body_bytes_sent $request_time '
    "$upstream_addr $upstream_response_time $http_x_request_id"
)
API_ADDRS = ("10.0.1.11", "10.0.1.12")
MESH_URL = "http://10.0.0.5:8080"
INVENTORY_ADDR = "10.0.2.11:8000"

EVENT_COLUMNS = ("t_us", "i", "seq", "line")


def event(t_us: pl.Expr, seq: int | pl.Expr, line: pl.Expr) -> list[pl.Expr]:
    """The columns every log file's event frame has: sort time, request, order (a number,
    or a column: a call's index), text."""
    return [
        t_us.cast(pl.Int64).alias("t_us"),
        pl.col("i"),
        (pl.lit(seq) if isinstance(seq, int) else seq).cast(pl.Int8).alias("seq"),
        line.alias("line"),
    ]


def edge_events(frame: pl.DataFrame) -> pl.DataFrame:
    """One trace-format line per request, ordered by when the request really ended."""
    line = pl.concat_str(
        [
            pl.col("remote_addr"), pl.lit(" - "), pl.col("remote_user"), pl.lit(" ["),
            timestamp(pl.col("edge_end_us"), NGINX_TIME_LOCAL), pl.lit('] "'),
            pl.col("request"), pl.lit('" '), pl.col("status").cast(pl.String), pl.lit(" "),
            pl.col("body_bytes").cast(pl.String), pl.lit(' "'), pl.col("referer"),
            pl.lit('" "'), pl.col("user_agent"), pl.lit('" '),
            fixed(pl.col("request_time_ms"), 3), pl.lit(" "),
            pl.col("upstream_response_time"), pl.lit(" "), pl.col("request_id"),
        ]
    )  # fmt: skip
    return frame.select(event(pl.col("end_true_us"), 0, line))


def mesh_events(frame: pl.DataFrame, api_hosts: int) -> pl.DataFrame:
    """One mesh-format line per api → inventory call."""
    api_addr = pl.lit(pl.Series(API_ADDRS)).gather(pl.col("api_host") % api_hosts)
    body = pl.when(pl.col("inventory_status") == 204).then(0).otherwise(80 + pl.col("i") % 3900)
    line = pl.concat_str(
        [
            fixed(pl.col("mesh_end_us") // 1000, 3), pl.lit(" "), api_addr, pl.lit(' "'),
            pl.col("inventory_method"), pl.lit(" "), pl.col("inventory_path"),
            pl.lit(' HTTP/1.1" '), pl.col("inventory_status").cast(pl.String), pl.lit(" "),
            body.cast(pl.String), pl.lit(" "), fixed(pl.col("mesh_ms"), 3),
            pl.lit(" " + INVENTORY_ADDR + " "), fixed(pl.col("mesh_upstream_ms"), 3),
            pl.lit(" "), pl.col("request_id"),
        ]
    )  # fmt: skip
    return frame.filter(pl.col("calls_inventory")).select(event(pl.col("mesh_end_us"), 0, line))
