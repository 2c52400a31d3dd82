"""One row per request as the edge nginx sees it: route, client, status, timings, ids.

`requests()` builds a chunk of consecutive requests. Random draws come from `Rng`
streams keyed by the global request index, so a chunk does not depend on the ones
before it except through the arrival time it starts from.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from loggen import catalogue as cat
from loggen.catalogue import call_attr, route_attr
from loggen.clients import client_columns
from loggen.fmt import fixed, hex16
from loggen.paths import fill_paths
from loggen.rng import Rng, gather, log_uniform_int, pick, zipf_weights

ROUTE_WEIGHTS = zipf_weights(len(cat.ROUTES))
CLIENTS = 200_000
RETRY_SHARE = 0.002  # proxy_next_upstream: the first upstream failed, the second answered
_SLOTS = 1 << 16  # resolution of the status lookup table


def _status_table() -> tuple[pl.Series, list[str]]:
    """Inverse-CDF lookup of every status profile, `_SLOTS` entries per profile."""
    names = list(cat.STATUS_PROFILES)
    flat: list[int] = []
    for name in names:
        entries = cat.STATUS_PROFILES[name]
        total = sum(w for _, w in entries)
        acc, done = 0.0, 0
        for status, weight in entries:
            acc += weight
            end = round(acc / total * _SLOTS)
            flat.extend([status] * (end - done))
            done = end
    return pl.Series("status", flat, dtype=pl.Int64), names


_STATUS_LUT, _PROFILES = _status_table()


def _in(col: str, values: Collection[int]) -> pl.Expr:
    return pl.col(col).is_in(sorted(values))


def _latency_ms(rng: Rng) -> pl.Expr:
    """Log-normal per route, times a Pareto factor in the heavy tail, clipped below 59 s."""
    median = route_attr("median_ms", pl.Float64())
    base = median * (route_attr("sigma", pl.Float64()) * rng.normal("lat")).exp()
    pareto = (1.0 - rng.uniform("tail/size")) ** (-1.0 / 1.3)
    in_tail = rng.uniform("tail") < route_attr("tail", pl.Float64())
    factor = pl.when(in_tail).then(pareto).otherwise(1.0)
    return (base * factor).round(0).clip(0, 59_000).cast(pl.Int64)


PATH_KINDS = ("catalogue", "distinct", "few")
FEW_PATHS = 50


def _letters(u: pl.Expr) -> pl.Expr:
    """16 letters from 64 bits (hex with its digits written g..p): a name, never an id."""
    return hex16(u).str.replace_many([str(d) for d in range(10)], list("ghijklmnop"))


def _override_paths(frame: pl.DataFrame, rng: Rng, kind: str) -> pl.DataFrame:
    """`distinct`: every request its own untemplatable path (`/u/<16 letters>`); `few`:
    one of FEW_PATHS such paths. For timing what depends on the number of distinct paths."""
    if kind == "catalogue":
        return frame
    index = pl.col("i") if kind == "distinct" else pl.col("i") % FEW_PATHS
    return frame.with_columns((pl.lit("/u/") + _letters(rng.u64("path", index))).alias("path"))


def requests(
    rng: Rng, first: int, count: int, start_us: int, mean_gap_us: float, *, paths: str = "catalogue"
) -> pl.DataFrame:
    """Requests `first .. first+count-1`, arriving after `start_us` (epoch microseconds);
    `paths` is one of PATH_KINDS (the catalogue's templated routes by default)."""
    frame = pl.select(pl.int_range(first, first + count, dtype=pl.UInt64).alias("i"))
    gap = (-(1.0 - rng.uniform("gap")).log() * mean_gap_us).ceil().cast(pl.Int64)
    frame = frame.with_columns(
        (pl.lit(start_us, pl.Int64) + gap.cum_sum()).alias("start_us"),
        pick(rng.uniform("route"), ROUTE_WEIGHTS).alias("route"),
        log_uniform_int(rng.uniform("client"), CLIENTS).alias("client"),
        (rng.uniform("garbage") < cat.GARBAGE_RATE).alias("garbage"),
        rng.below("junk", len(cat.GARBAGE_REQUESTS)).alias("garbage_kind"),
    )
    profile = gather([_PROFILES.index(r.statuses) for r in cat.ROUTES], pl.col("route"))
    proto = gather(
        [p for p, _ in cat.PROTOCOLS], rng.choice("proto", [w for _, w in cat.PROTOCOLS])
    )
    frame = frame.with_columns(
        route_attr("service").alias("service"),
        route_attr("method").alias("method"),
        pl.lit(_STATUS_LUT).gather(profile * _SLOTS + rng.below("status", _SLOTS)).alias("status"),
        _latency_ms(rng).alias("latency_ms"),
        pl.when(route_attr("agent") == "probe")
        .then(pl.lit("HTTP/1.1"))
        .otherwise(proto)
        .alias("proto"),
        (hex16(rng.u64("rid/a")) + hex16(rng.u64("rid/b"))).alias("request_id"),
        *client_columns(rng),
    )
    return (
        frame.pipe(fill_paths, rng)
        .pipe(_override_paths, rng, paths)
        .pipe(_request_time, rng)
        .pipe(_upstream, rng)
        .pipe(_body, rng)
        .pipe(_downstream, rng)
        .pipe(_render)
    )


def _request_time(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """`$request_time` in ms, shaped by the status (nginx errors are fast, 504 is 60 s)."""
    status, lat = pl.col("status"), pl.col("latency_ms")
    api = pl.col("service") == "api"
    early = _in("status", cat.EARLY_REJECT)
    frame = frame.with_columns(
        rng.choice("ovh", [0.5, 0.35, 0.15]).alias("overhead_ms"),
        rng.below("small", 4).alias("_small"),
        (api & ~_in("status", cat.NGINX_ONLY) & (rng.uniform("retry") < RETRY_SHARE)).alias(
            "_retried"
        ),
        (1 + rng.below("first", 5)).alias("_first_try_ms"),
    )
    small, overhead = pl.col("_small"), pl.col("overhead_ms")
    by_status = (
        pl.when(status == 502).then(small + rng.below("small2", 4) + overhead)
        .when(status == 504).then(60_000 + small + overhead)
        .when(status == 499).then(lat * 2 + 1)  # clients give up on slow requests
        .when(early).then((lat * 0.15).round(0).cast(pl.Int64))
        .when(status == 304).then((lat * 0.6).round(0).cast(pl.Int64))
        .otherwise(lat)
    )  # fmt: skip
    # A call to inventory needs a few ms to be loggable on the mesh's ms grid (spans.py).
    calls_inventory = (
        api & pl.col("inventory_path").is_not_null() & ~early & ~_in("status", cat.NGINX_ONLY)
    )
    retry_floor = pl.col("_first_try_ms") + overhead + 2
    return frame.with_columns(
        pl.when(pl.col("garbage")).then(small // 2)
        .when(calls_inventory).then(by_status.clip(15, None))
        .when(pl.col("_retried")).then(pl.max_horizontal(by_status, retry_floor))
        .when(api).then(by_status.clip(2, None))
        .otherwise(by_status)
        .alias("request_time_ms")
    )  # fmt: skip


def _upstream(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """Upstream attempts in ms: `attempt1_ms` (a failed try, or null) and `attempt_last_ms`.

    nginx logs them as `0.003, 0.041`; `-` when it never reached an upstream.
    """
    status, small = pl.col("status"), pl.col("_small")
    proxied = (pl.col("service") == "api") & ~pl.col("garbage")
    frame = frame.with_columns(
        pl.when(~proxied).then(None)
        .when(status == 502).then(small)
        .when(pl.col("_retried")).then(pl.col("_first_try_ms"))
        .when((status == 504) & (rng.uniform("504") < 0.3)).then(30_000 + small)
        .alias("attempt1_ms")
    )  # fmt: skip
    spent = pl.col("request_time_ms") - pl.col("overhead_ms") - pl.col("attempt1_ms").fill_null(0)
    return frame.with_columns(
        pl.when(~proxied).then(None)
        .when((status == 499) & (rng.uniform("499") < 0.4)).then(None)
        .otherwise(spent.clip(0, None))
        .alias("attempt_last_ms")
    ).drop("_small", "_retried", "_first_try_ms")  # fmt: skip


def _body(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """`$body_bytes_sent`: nginx's own error pages, fixed-size static files, log-normal JSON."""
    status, api = pl.col("status"), pl.col("service") == "api"
    size = route_attr("size")
    static = pl.when(status == 206).then(rng.below("range", 65_536)).otherwise(size)
    dynamic = (size.cast(pl.Float64) * (0.4 * rng.normal("size")).exp()).round(0).cast(pl.Int64)
    garbage = gather([b for _, b in cat.GARBAGE_REQUESTS], pl.col("garbage_kind"))
    return frame.with_columns(
        pl.when(pl.col("garbage")).then(garbage)
        .when(_in("status", (204, 304, 499))).then(0)
        .when(status == 502).then(157)
        .when(status == 504).then(167)
        .when((status == 404) & ~api).then(153)
        .when(status >= 400).then(40 + rng.below("err", 160))
        .when(pl.col("service").is_in(["static", "nginx"])).then(static)
        .otherwise(dynamic)
        .alias("body_bytes"),
        pl.when(pl.col("garbage")).then(400).otherwise(status).alias("status"),
    )  # fmt: skip


def _downstream(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """Which requests reach the api's logs, which calls it makes and what they return."""
    status = pl.col("status")
    logged = (
        (pl.col("service") == "api")
        & ~pl.col("garbage")
        & ~_in("status", cat.NGINX_ONLY)
        & pl.col("attempt_last_ms").is_not_null()
    )
    proceeds = logged & ~_in("status", cat.EARLY_REJECT)
    calls_inventory = proceeds & pl.col("inventory_path").is_not_null()
    calls_users = proceeds & pl.col("users_path").is_not_null()
    # A 404/500/503 often comes from the last service called.
    blamed = _in("status", (404, 500, 503)) & (rng.uniform("blame") < 0.6)
    return frame.with_columns(
        logged.alias("app_logged"),
        rng.below("api_host", 2).alias("api_host"),
        calls_users.alias("calls_users"),
        calls_inventory.alias("calls_inventory"),
        call_attr("users", "method").alias("users_method"),
        call_attr("inventory", "method").alias("inventory_method"),
        pl.when(calls_users & blamed & ~calls_inventory)
        .then(status)
        .otherwise(call_attr("users", "ok_status"))
        .alias("users_status"),
        pl.when(calls_inventory & blamed)
        .then(status)
        .otherwise(call_attr("inventory", "ok_status"))
        .alias("inventory_status"),
        pl.col("path").str.replace(r"\?.*$", "").alias("app_path"),
    )


def _render(frame: pl.DataFrame) -> pl.DataFrame:
    """The `$request` and `$upstream_response_time` texts; a non-HTTP line has no headers."""
    first, last = pl.col("attempt1_ms"), pl.col("attempt_last_ms")
    upstream = (
        pl.when(last.is_null()).then(pl.lit("-"))
        .when(first.is_null()).then(fixed(last, 3))
        .otherwise(pl.concat_str([fixed(first, 3), pl.lit(", "), fixed(last, 3)]))
    )  # fmt: skip
    request = pl.concat_str([pl.col("method"), pl.col("path"), pl.col("proto")], separator=" ")
    garbage = gather([g for g, _ in cat.GARBAGE_REQUESTS], pl.col("garbage_kind"))
    return frame.with_columns(
        pl.when(pl.col("garbage")).then(garbage).otherwise(request).alias("request"),
        upstream.alias("upstream_response_time"),
        *(
            pl.when(pl.col("garbage")).then(pl.lit("-")).otherwise(pl.col(c)).alias(c)
            for c in ("user_agent", "referer", "remote_user")
        ),
    )
