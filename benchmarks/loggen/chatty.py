"""A chatty multi-host deployment: many lines per request, an internal proxy, N+1 loops.

    edge nginx → web-1 | web-2 (JSON) → proxy nginx → users-1, items-1 (logfmt),
                                                      orders-1 (Python logging)

`requests()` draws a chunk of requests and `place()` turns it into one row per call a
web app makes (one row for a request the edge answers alone), with every hop's times in
integer epoch microseconds. Durations are drawn bottom-up (the service's work, the proxy
around it, the app's call around that, the request around its calls, the edge around the
app) on the resolution each log prints, so that what a reader gets back nests:

    edge (s) ⊇ web ⊇ call ⊇ proxy (s) ⊇ proxy's upstream try ⊇ service

An nginx line's `$time_local` has whole seconds: its span is [T − $request_time, T] for
some T in the logged second (the true end), as on a real host; nothing ends on a whole
second on purpose. Every random value is a hash of (seed, stream, request or call).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from loggen.fmt import hex16
from loggen.rng import Rng, gather, log_uniform_int

SECOND = 1_000_000
MILLI = 1_000
MAX_CALLS = 64  # calls of one request, at most: the call's index is i * MAX_CALLS + k
WEB_HOSTS = 2
SKEW_US = {"web-2": 180_000}  # web-2's clock is 180 ms ahead
ERROR_SHARE = 0.01  # the request's last call answers 500, and so does the request
NOT_FOUND_SHARE = 0.01  # the request's last call answers 404, and so does the request
ITEM_MISS_SHARE = 0.02  # an items call answers 404; the page renders without it
RETRY_SHARE = 0.003  # the edge's first try failed fast (`0.002, 0.031`)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Service:
    """A service behind the proxy, and the resolution of its log."""

    name: str
    median_ms: float
    sigma: float
    stamp_us: int  # its timestamps' resolution: 1 (µs) or 1000 (Python logging's ms)
    duration_us: int  # its durations' resolution


SERVICES: tuple[Service, ...] = (
    Service("users", 2.2, 0.5, 1, 1),
    Service("items", 1.4, 0.6, 1, 1),
    Service("orders", 6.0, 0.6, MILLI, 100),
)
SERVICE_INDEX = {s.name: n for n, s in enumerate(SERVICES)}


@dataclass(frozen=True)
class Hop:
    """A call a web app makes through the proxy: the service and the path it asks for."""

    service: str
    method: str
    path: str  # at most one placeholder: {user}, {order}, {page}, {item}


@dataclass(frozen=True)
class Shape:
    """A kind of request: its route, its calls in order, then an N+1 loop."""

    method: str
    path: str
    weight: float
    calls: tuple[Hop, ...] = ()
    loop: Hop | None = None  # called loop_min..loop_max times after `calls`
    loop_min: int = 0
    loop_max: int = 0
    parallel: bool = False  # all calls at once instead of one after another
    edge_ms: int | None = None  # answered by the edge nginx alone, in 0..edge_ms ms


ITEM = Hop("items", "GET", "/items/{item}")
USER = Hop("users", "GET", "/users/{user}")
SHAPES: tuple[Shape, ...] = (
    Shape("GET", "/api/page/{page}", 26, (USER,), ITEM, 5, 12),
    Shape("GET", "/api/orders/{order}", 20, (Hop("orders", "GET", "/orders/{order}"),),
          ITEM, 2, 6),
    Shape("GET", "/api/users/{user}", 20, (USER,)),
    Shape("POST", "/api/checkout", 8, (USER, Hop("orders", "POST", "/orders"))),
    Shape("GET", "/api/dashboard/{user}", 14,
          (USER, Hop("orders", "GET", "/orders/by-user/{user}"),
           Hop("items", "GET", "/items/featured")), parallel=True),
    Shape("GET", "/api/wishlist/{user}", 8, (), ITEM, 3, 6, parallel=True),
    Shape("GET", "/health", 2, edge_ms=0),
    Shape("GET", "/static/js/app.{build}.js", 2, edge_ms=2),
)  # fmt: skip
BUILDS = ("3f9c2a1b", "8d04e6f7")
IDS = ("user", "order", "page", "item", "build")


def _split(template: str) -> tuple[str, int, str]:
    """A path template as (text before, IDS index or -1, text after)."""
    found = _PLACEHOLDER.split(template)
    if len(found) == 1:
        return template, -1, ""
    assert len(found) == 3, template
    return found[0], IDS.index(found[1]), found[2]


def fill_path(templates: list[str], which: pl.Expr) -> pl.Expr:
    """The path of template `which` with this row's ids (`_user`, `_order`, ...)."""
    parts = [_split(t) for t in templates]
    kind = gather([k for _, k, _ in parts], which)
    value = pl.lit("", pl.String)
    for n, name in enumerate(IDS):
        value = pl.when(kind == n).then(pl.col("_" + name)).otherwise(value)
    before = gather([b for b, _, _ in parts], which)
    after = gather([a for _, _, a in parts], which)
    return pl.concat_str([before, value, after])


def _hop_table() -> list[Hop | None]:
    """Each shape's hops then its loop's hop, `_SLOTS` a shape: call k of a request of
    shape s is entry s * _SLOTS + min(k, len(calls))."""
    table: list[Hop | None] = []
    for shape in SHAPES:
        hops = [*shape.calls, *([shape.loop] if shape.loop else [])]
        table += hops + [None] * (_SLOTS - len(hops))
    return table


_SLOTS = max(len(s.calls) + 1 for s in SHAPES)
_HOPS = _hop_table()


def _hop_attr(get: str, hop_index: pl.Expr) -> pl.Expr:
    values = [None if h is None else getattr(h, get) for h in _HOPS]
    return gather(values, hop_index)


def requests(rng: Rng, first: int, count: int, start_us: int, mean_gap_us: float) -> pl.DataFrame:
    """Requests `first .. first+count-1` arriving after `start_us`: shape, ids, calls, lines."""
    frame = pl.select(pl.int_range(first, first + count, dtype=pl.UInt64).alias("i"))
    gap = (-(1.0 - rng.uniform("gap")).log() * mean_gap_us).ceil().cast(pl.Int64)
    shape = rng.choice("shape", [s.weight for s in SHAPES])
    frame = frame.with_columns(
        (pl.lit(start_us, pl.Int64) + gap.cum_sum()).alias("arrival_us"), shape.alias("shape")
    )
    shape = pl.col("shape")
    loop_min = gather([s.loop_min for s in SHAPES], shape)
    loop_span = gather([s.loop_max - s.loop_min + 1 for s in SHAPES], shape)
    loop = loop_min + (rng.uniform("loop") * loop_span).floor().cast(pl.Int64)
    fixed = gather([len(s.calls) for s in SHAPES], shape)
    has_loop = gather([s.loop is not None for s in SHAPES], shape)
    n_calls = fixed + pl.when(has_loop).then(loop).otherwise(0)
    outcome = rng.uniform("outcome")
    return frame.with_columns(
        n_calls.alias("n_calls"),
        pl.when(n_calls == 0).then(1).otherwise(3 + 3 * n_calls).alias("lines"),
        gather([s.parallel for s in SHAPES], shape).alias("parallel"),
        pl.when(n_calls == 0).then(None)
        .when(outcome < ERROR_SHARE).then(500)
        .when(outcome < ERROR_SHARE + NOT_FOUND_SHARE).then(404)
        .otherwise(200)
        .alias("last_status"),
        (rng.below("web", WEB_HOSTS) + 1).alias("web"),
        (hex16(rng.u64("rid/a")) + hex16(rng.u64("rid/b"))).alias("request_id"),
        log_uniform_int(rng.uniform("user"), 500_000).cast(pl.String).alias("_user"),
        log_uniform_int(rng.uniform("order"), 3_000_000).cast(pl.String).alias("_order"),
        (1 + rng.below("page", 4_000)).cast(pl.String).alias("_page"),
        gather(BUILDS, rng.below("build", len(BUILDS))).alias("_build"),
        rng.below("item", 100_000).alias("_item0"),
    )  # fmt: skip


def _lognormal_us(rng: Rng, stream: str, median_ms: pl.Expr, sigma: pl.Expr, c: pl.Expr) -> pl.Expr:
    """A service's work in µs: log-normal, 1 % of it in a Pareto tail, below 5 s."""
    base = median_ms * (sigma * rng.normal(stream, c)).exp()
    tail = pl.when(rng.uniform(stream + "/tail", c) < 0.01)
    pareto = (1.0 - rng.uniform(stream + "/pareto", c)) ** (-1.0 / 1.3)
    return (tail.then(base * pareto).otherwise(base) * MILLI).clip(50, 5 * SECOND).cast(pl.Int64)


def _between(rng: Rng, stream: str, low: int, high: int, c: pl.Expr | None = None) -> pl.Expr:
    """An integer in [low, high] (µs of network time, work before or after the calls)."""
    return low + rng.below(stream, high - low + 1, c)


def _ceil(x: pl.Expr, step: int) -> pl.Expr:
    return (x + step - 1) // step


def call_index() -> pl.Expr:
    """The index of a call's random draws: one per (request, call)."""
    return pl.col("i").cast(pl.UInt64) * MAX_CALLS + pl.col("k").cast(pl.UInt64)


def _calls(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """One row per call (per request without calls), durations and offsets in µs."""
    rows = frame.with_columns(
        pl.int_ranges(0, pl.max_horizontal("n_calls", 1), dtype=pl.Int64).alias("k")
    ).explode("k")
    k, c = pl.col("k"), call_index()
    fixed = gather([len(s.calls) for s in SHAPES], pl.col("shape"))
    hop = pl.col("shape") * _SLOTS + pl.min_horizontal(k, fixed)
    svc = gather([SERVICE_INDEX.get(h.service, 0) if h else 0 for h in _HOPS], hop)
    rows = rows.with_columns(
        svc.alias("svc"),
        _hop_attr("method", hop).alias("call_method"),
        # N+1 over a list: distinct ids within a request
        ((pl.col("_item0") + k * 7_919) % 100_000 + 1).cast(pl.String).alias("_item"),
    ).with_columns(fill_path([h.path if h else "" for h in _HOPS], hop).alias("call_path"))
    service = pl.col("svc")
    stamp = gather([s.stamp_us for s in SERVICES], service)
    work = _lognormal_us(
        rng,
        "work",
        gather([s.median_ms for s in SERVICES], service),
        gather([s.sigma for s in SERVICES], service),
        c,
    )
    dur_step = gather([s.duration_us for s in SERVICES], service)
    rows = rows.with_columns(
        (work // dur_step * dur_step).clip(dur_step, None).alias("svc_dur_us"),
        _between(rng, "pad/in", 80, 400, c).alias("pad_in_us"),
        _between(rng, "pad/out", 80, 400, c).alias("pad_out_us"),
        stamp.alias("stamp_us"),
    )
    # The proxy's try must hold the service's span wherever its stamp rounds it to.
    upstream_ms = _ceil(
        pl.col("svc_dur_us") + pl.col("pad_in_us") + pl.col("pad_out_us") + pl.col("stamp_us"),
        MILLI,
    )
    rows = rows.with_columns(
        upstream_ms.alias("proxy_upstream_ms"),
        (upstream_ms + rng.choice("proxy/ovh", [0.7, 0.3], c)).alias("proxy_ms"),
        _between(rng, "net/a", 100, 500, c).alias("net_a_us"),
        _between(rng, "net/b", 100, 500, c).alias("net_b_us"),
    )
    call_dur = pl.col("proxy_ms") * MILLI + pl.col("net_a_us") + pl.col("net_b_us")
    step = call_dur + _between(rng, "call/gap", 50, 700, c)
    sequential = step.cum_sum().over("i") - step
    fan_out = k * _between(rng, "stagger", 20, 150)
    miss = (service == SERVICE_INDEX["items"]) & (rng.uniform("miss", c) < ITEM_MISS_SHARE)
    last = k == pl.col("n_calls") - 1
    return rows.with_columns(
        call_dur.alias("call_dur_us"),
        pl.when(pl.col("parallel")).then(fan_out).otherwise(sequential).alias("call_off_us"),
        pl.when(last & (pl.col("last_status") != 200)).then(pl.col("last_status"))
        .when(miss).then(404)
        .otherwise(pl.when(pl.col("call_method") == "POST").then(201).otherwise(200))
        .alias("call_status"),
    )  # fmt: skip


def place(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """Calls and times of a requests frame: one row per call, every hop's bounds in µs."""
    rows = _calls(frame, rng)
    has_calls = pl.col("n_calls") > 0
    lead, trail = _between(rng, "lead", 300, 2_500), _between(rng, "trail", 200, 3_000)
    net_in, net_out = _between(rng, "net/in", 100, 400), _between(rng, "net/out", 100, 400)
    calls_end = (pl.col("call_off_us") + pl.col("call_dur_us")).max().over("i")
    rows = rows.with_columns((lead + calls_end + trail).alias("web_dur_us"))
    web_dur = pl.col("web_dur_us")
    # The edge's last try to the app holds the app's span and a little network time.
    last_try = _ceil(web_dur + net_in + net_out, MILLI)
    retried = has_calls & (rng.uniform("retry") < RETRY_SHARE)
    first_try = pl.when(retried).then(1 + rng.below("first", 4))
    edge_span = gather([(s.edge_ms or 0) + 1 for s in SHAPES], pl.col("shape"))
    edge_alone = (rng.uniform("edge/alone") * edge_span).floor().cast(pl.Int64)
    request_ms = (
        pl.when(has_calls)
        .then(last_try + first_try.fill_null(0) + rng.choice("edge/ovh", [0.6, 0.3, 0.1]))
        .otherwise(edge_alone)
    )
    rows = rows.with_columns(
        pl.when(has_calls).then(last_try).alias("edge_upstream_ms"),
        first_try.alias("edge_first_try_ms"),
        request_ms.alias("request_time_ms"),
    )
    end = pl.col("arrival_us") + pl.col("request_time_ms") * MILLI
    rows = rows.with_columns(
        end.alias("edge_end_us"), (end - net_out - web_dur).alias("web_start_us")
    )
    call_start = pl.col("web_start_us") + lead + pl.col("call_off_us")
    rows = rows.with_columns(
        (pl.col("web_start_us") + web_dur).alias("web_end_us"),
        call_start.alias("call_start_us"),
        (call_start + pl.col("call_dur_us")).alias("call_end_us"),
    )
    proxy_end = pl.col("call_end_us") - pl.col("net_b_us")
    svc_end = proxy_end - pl.col("pad_out_us")
    return rows.with_columns(
        proxy_end.alias("proxy_end_us"),
        (svc_end // pl.col("stamp_us") * pl.col("stamp_us")).alias("svc_end_us"),
    )


def chunks(
    rng: Rng, lines: int, chunk: int, start_us: int, mean_gap_us: float
) -> Iterator[tuple[pl.DataFrame, int]]:
    """Frames of `chunk` requests until their lines reach `lines` (the last request is
    whole), each with its cutoff: no later request logs anything before it."""
    written, first, cursor = 0, 0, start_us
    while written < lines:
        frame = requests(rng, first, chunk, cursor, mean_gap_us)
        before = frame.get_column("lines").cum_sum() - frame.get_column("lines")
        frame = frame.filter(before < lines - written)
        written += int(frame.get_column("lines").sum())
        first += chunk
        cursor = int(frame.get_column("arrival_us").max())  # type: ignore[arg-type]
        # A request logs nothing before it arrives, and later ones arrive after `cursor`.
        yield place(frame, rng), cursor
