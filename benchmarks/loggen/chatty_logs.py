"""The log lines of the chatty deployment (`chatty.py`), one builder per file.

Each builder takes a chunk's call rows and returns an event frame (t_us, i, seq, line)
for `writer.py` to order; `t_us` is the true time, `seq` orders one request's lines.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from loggen import catalogue as cat
from loggen.chatty import SERVICE_INDEX, SERVICES, SHAPES, SKEW_US, call_index, fill_path
from loggen.edge import TRACE_FORMAT, edge_events, event
from loggen.fmt import (
    ISO_MICROS_Z,
    NGINX_TIME_LOCAL,
    PY_LOGGING,
    fixed,
    json_object,
    lit,
    status_level,
    timestamp,
)
from loggen.rng import Rng, gather, log_uniform_int

# The proxy logs the id the web app forwarded in X-Request-ID, not one of its own.
PROXY_FORMAT = TRACE_FORMAT.replace("$request_id", "$http_x_request_id")
PROXY_AGENT = "python-httpx/0.27.2"
WEB_ADDRS = ("10.0.1.21", "10.0.1.22")
PROBE_ADDR, PROBE_AGENT = "10.0.0.2", "kube-probe/1.31"
CLIENTS = 200_000
Builder = Callable[[pl.DataFrame, Rng, int], pl.DataFrame]


def _ms(us: pl.Expr) -> pl.Expr:
    return fixed(us, 3)


def request_path() -> pl.Expr:
    """The path the client asked for."""
    return fill_path([s.path for s in SHAPES], pl.col("shape"))


def request_method() -> pl.Expr:
    """The client's method."""
    return gather([s.method for s in SHAPES], pl.col("shape"))


def web_status() -> pl.Expr:
    """What the web app answered: its last call's failure, else 200 (201 for a POST)."""
    ok = pl.when(request_method() == "POST").then(201).otherwise(200)
    return pl.when(pl.col("last_status") != 200).then(pl.col("last_status")).otherwise(ok)


def _client_columns(rng: Rng) -> list[pl.Expr]:
    """`remote_addr`, `user_agent`, `referer` of the edge line; probes come from inside."""
    client = log_uniform_int(rng.uniform("client"), CLIENTS)
    h = rng.u64("ip", client)
    first = gather(list(cat.FIRST_OCTETS), (h % len(cat.FIRST_OCTETS)).cast(pl.Int64))
    rest = [((h // (1 << shift)) % 256).cast(pl.String) for shift in (8, 16, 24)]
    address = pl.concat_str([first.cast(pl.String), *rest], separator=".")
    agent_idx = rng.choice("agent", [w for _, w, _ in cat.AGENTS], client)
    agent = gather([a for a, _, _ in cat.AGENTS], agent_idx)
    sends = gather([s for _, _, s in cat.AGENTS], agent_idx)
    referer = gather([r for r, _ in cat.REFERERS], rng.choice("ref", [w for _, w in cat.REFERERS]))
    probe = request_path() == "/health"
    return [
        pl.when(probe).then(lit(PROBE_ADDR)).otherwise(address).alias("remote_addr"),
        pl.when(probe).then(lit(PROBE_AGENT)).otherwise(agent).alias("user_agent"),
        pl.when(sends & ~probe).then(referer).otherwise(lit("-")).alias("referer"),
    ]


def edge(frame: pl.DataFrame, rng: Rng, _hosts: int) -> pl.DataFrame:
    """edge.log: one `trace` line per request, written at its end (whole seconds)."""
    rows = frame.filter(pl.col("k") == 0)
    has_calls = pl.col("n_calls") > 0
    static = request_path().str.starts_with("/static/")
    status = (
        pl.when(has_calls).then(web_status())
        .when(static & (rng.uniform("304") < 0.75)).then(304)
        .otherwise(200)
    )  # fmt: skip
    proto = pl.when(request_path() == "/health").then(lit("HTTP/1.1"))
    proto = proto.otherwise(gather(["HTTP/2.0", "HTTP/1.1"], rng.choice("proto", [0.6, 0.4])))
    first_try, last_try = pl.col("edge_first_try_ms"), pl.col("edge_upstream_ms")
    upstream = (
        pl.when(last_try.is_null()).then(lit("-"))
        .when(first_try.is_null()).then(_ms(last_try))
        .otherwise(pl.concat_str([_ms(first_try), lit(", "), _ms(last_try)]))
    )  # fmt: skip
    body = (
        pl.when(pl.col("status") == 304).then(0)
        .when(static).then(184_211)
        .when(~has_calls).then(2)
        .when(pl.col("status") >= 400).then(60 + rng.below("err", 120))
        .otherwise(300 + rng.below("body", 9_000))
    )  # fmt: skip
    rows = rows.with_columns(status.alias("status"), *_client_columns(rng)).with_columns(
        pl.col("edge_end_us").alias("end_true_us"),
        pl.concat_str([request_method(), request_path(), proto], separator=" ").alias("request"),
        lit("-").alias("remote_user"),
        body.alias("body_bytes"),
        upstream.alias("upstream_response_time"),
    )
    return edge_events(rows)


def web(host: int) -> Builder:
    """web-N.log: JSON lines, request start / one per call / request end; web-2's clock
    is ahead (SKEW_US)."""
    skew = SKEW_US.get(f"web-{host}", 0)

    def build(frame: pl.DataFrame, _rng: Rng, _hosts: int) -> pl.DataFrame:
        rows = frame.filter((pl.col("n_calls") > 0) & (pl.col("web") == host))

        def head(t: pl.Expr, level: pl.Expr, name: str) -> list[tuple[str, pl.Expr, bool]]:
            return [
                ("ts", timestamp(t + skew, ISO_MICROS_Z), True),
                ("level", level, True),
                ("event", lit(name), True),
                ("request_id", pl.col("request_id"), True),
            ]

        levels = ("info", "warning", "error")
        method, path = ("method", request_method(), True), ("path", request_path(), True)
        start = [*head(pl.col("web_start_us"), lit("info"), "request_start"), method, path]
        end = [
            *head(pl.col("web_end_us"), status_level(web_status(), levels), "request_end"),
            *(method, path, ("status", web_status(), False)),
            ("duration_ms", _ms(pl.col("web_dur_us")), False),
        ]
        status = pl.col("call_status")
        call = [
            *head(pl.col("call_end_us"), status_level(status, levels), "downstream_call"),
            ("target", _service_name() + lit("-svc"), True),
            ("method", pl.col("call_method"), True),
            ("path", pl.col("call_path"), True),
            ("status", status, False),
            ("duration_ms", _ms(pl.col("call_dur_us")), False),
        ]
        firsts = rows.filter(pl.col("k") == 0)
        return pl.concat(
            [
                firsts.select(event(pl.col("web_start_us"), 0, json_object(start))),
                rows.select(event(pl.col("call_end_us"), 1 + pl.col("k"), json_object(call))),
                firsts.select(event(pl.col("web_end_us"), 127, json_object(end))),
            ]
        )

    return build


def _service_name() -> pl.Expr:
    return gather([s.name for s in SERVICES], pl.col("svc"))


def proxy(frame: pl.DataFrame, rng: Rng, _hosts: int) -> pl.DataFrame:
    """proxy.log: the internal nginx, one line per call, the path under /<service>-svc."""
    rows = frame.filter(pl.col("n_calls") > 0)
    status = pl.col("call_status")
    body = (
        pl.when(status >= 400)
        .then(40 + rng.below("proxy/body/e", 80, call_index()))
        .otherwise(120 + rng.below("proxy/body", 4_000, call_index()))
    )
    line = pl.concat_str(
        [
            gather(list(WEB_ADDRS), pl.col("web") - 1), lit(" - - ["),
            timestamp(pl.col("proxy_end_us"), NGINX_TIME_LOCAL), lit('] "'),
            pl.col("call_method"), lit(" /"), _service_name(), lit("-svc"),
            pl.col("call_path"), lit(' HTTP/1.1" '), status.cast(pl.String), lit(" "),
            body.cast(pl.String), lit(f' "-" "{PROXY_AGENT}" '), _ms(pl.col("proxy_ms")),
            lit(" "), _ms(pl.col("proxy_upstream_ms")), lit(" "), pl.col("request_id"),
        ]
    )  # fmt: skip
    return rows.select(event(pl.col("proxy_end_us"), pl.col("k"), line))


def logfmt_service(name: str) -> Builder:
    """users-1.log, items-1.log: logfmt, one `request finished` line per call served."""

    def build(frame: pl.DataFrame, _rng: Rng, _hosts: int) -> pl.DataFrame:
        rows = frame.filter((pl.col("n_calls") > 0) & (pl.col("svc") == SERVICE_INDEX[name]))
        status = pl.col("call_status")
        line = pl.concat_str(
            [
                lit("ts="), timestamp(pl.col("svc_end_us"), ISO_MICROS_Z), lit(" level="),
                status_level(status, ("info", "warn", "error")), lit(' msg="request finished"'),
                lit(" request_id="), pl.col("request_id"), lit(" method="),
                pl.col("call_method"), lit(" path="), pl.col("call_path"), lit(" status="),
                status.cast(pl.String), lit(" duration_ms="), _ms(pl.col("svc_dur_us")),
            ]
        )  # fmt: skip
        return rows.select(event(pl.col("svc_end_us"), pl.col("k"), line))

    return build


def orders(frame: pl.DataFrame, _rng: Rng, _hosts: int) -> pl.DataFrame:
    """orders-1.log: Python logging text (ms stamps), one `request completed` per call."""
    rows = frame.filter((pl.col("n_calls") > 0) & (pl.col("svc") == SERVICE_INDEX["orders"]))
    status = pl.col("call_status")
    line = pl.concat_str(
        [
            timestamp(pl.col("svc_end_us"), PY_LOGGING), lit(" "),
            status_level(status, ("INFO", "WARNING", "ERROR")),
            lit(" orders.http request completed request_id="), pl.col("request_id"),
            lit(" method="), pl.col("call_method"), lit(" path="), pl.col("call_path"),
            lit(" status="), status.cast(pl.String), lit(" duration_ms="),
            fixed(pl.col("svc_dur_us") // 100, 1),
        ]
    )  # fmt: skip
    return rows.select(event(pl.col("svc_end_us"), pl.col("k"), line))


# (file, host, shape, what it holds, builder); edge.log first.
FILES: tuple[tuple[str, str, str, str, Builder], ...] = (
    ("edge.log", "edge", "nginx:trace", TRACE_FORMAT, edge),
    ("web-1.log", "web-1", "json", "JSON lines: request_start, downstream_call, request_end",
     web(1)),
    ("web-2.log", "web-2", "json", "as web-1, clock 180 ms ahead", web(2)),
    ("proxy.log", "proxy", "nginx:proxy", PROXY_FORMAT, proxy),
    ("users-1.log", "users-1", "logfmt", 'logfmt: msg="request finished" per call',
     logfmt_service("users")),
    ("items-1.log", "items-1", "logfmt", 'logfmt: msg="request finished" per call',
     logfmt_service("items")),
    ("orders-1.log", "orders-1", "python-logging",
     "%(asctime)s %(levelname)s %(name)s %(message)s: request completed request_id=... (ms stamps)",
     orders),
)  # fmt: skip
FORMATS = {"trace": TRACE_FORMAT, "proxy": PROXY_FORMAT}
