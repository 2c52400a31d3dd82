"""Application log lines of the services behind the edge, one builder per log shape.

api-1 writes JSON lines, api-2 logfmt, inventory-1 Python `logging` text, users-1 free
text. Each builder returns an event frame (t_us, i, seq, line) for `writer.py` to order.
A few lines carry no request id (pool stats, cache notes) and inventory's 500s come
with a multi-line traceback, as real services do.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from loggen.edge import MESH_URL, event
from loggen.fmt import ISO_MICROS, ISO_MICROS_Z, PY_LOGGING, SLASHED_MICROS, fixed, timestamp
from loggen.rng import Rng

USERS_URL = "http://10.0.0.6:8080"
NOISE_RATE = 1 / 300
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/inventory/app/handlers.py", line 88, in handle\n'
    "    row = await db.fetch_one(query, item_id)\n"
    '  File "/srv/inventory/app/db.py", line 41, in fetch_one\n'
    "    return await self.pool.fetchrow(sql, *args)\n"
    "asyncpg.exceptions.QueryCanceledError: canceling statement due to statement timeout"
)
Field = tuple[str, pl.Expr, bool]  # JSON key, value, quoted


@dataclass(frozen=True)
class Peer:
    """A downstream service the api calls, and the span columns of that call."""

    name: str
    prefix: str  # of the *_call_start_us / *_call_dur_us columns
    base_url: str
    seq: int  # order among one request's lines that share a timestamp

    @property
    def call_end(self) -> pl.Expr:
        """When the api saw the call return."""
        return pl.col(f"{self.prefix}_call_start_us") + pl.col(f"{self.prefix}_call_dur_us")

    @property
    def call_dur(self) -> pl.Expr:
        """The call's duration as the api measured it."""
        return pl.col(f"{self.prefix}_call_dur_us")


PEERS = (Peer("users", "users", USERS_URL, 1), Peer("inventory", "inv", MESH_URL, 2))
API_END = pl.col("api_start_us") + pl.col("api_dur_us")


def _lit(text: str) -> pl.Expr:
    return pl.lit(text, pl.String)


def _level(status: pl.Expr, names: tuple[str, str, str]) -> pl.Expr:
    """names = (ok, client error, server error)."""
    return (
        pl.when(status >= 500)
        .then(_lit(names[2]))
        .when(status >= 400)
        .then(_lit(names[1]))
        .otherwise(_lit(names[0]))
    )


def _tenths_ms(us: pl.Expr) -> pl.Expr:
    return fixed(us // 100, 1)


def _json(fields: list[Field]) -> pl.Expr:
    """A JSON object; values here never need escaping (ids, clean paths, numbers)."""
    parts: list[pl.Expr] = []
    for n, (key, value, quoted) in enumerate(fields):
        quote = '"' if quoted else ""
        parts += [_lit(("{" if n == 0 else ", ") + f'"{key}": {quote}'), value.cast(pl.String)]
        if quoted:
            parts.append(_lit('"'))
    return pl.concat_str([*parts, _lit("}")])


def _on_host(frame: pl.DataFrame, host: int, api_hosts: int) -> pl.DataFrame:
    return frame.filter(pl.col("app_logged") & (pl.col("api_host") % api_hosts == host))


def _noisy(rng: Rng, stream: str) -> pl.Expr:
    return rng.uniform("noise/" + stream) < NOISE_RATE


def api_json_events(frame: pl.DataFrame, rng: Rng, api_hosts: int) -> pl.DataFrame:
    """api-1: JSON lines (request started / downstream call / request finished)."""
    rows = _on_host(frame, 0, api_hosts)
    levels = ("INFO", "WARNING", "ERROR")

    def head(t: pl.Expr, level: pl.Expr, msg: str) -> list[Field]:
        return [
            ("time", timestamp(t, ISO_MICROS), True),
            ("level", level, True),
            ("service", _lit("api"), True),
            ("msg", _lit(msg), True),
        ]

    rid: Field = ("request_id", pl.col("request_id"), True)
    method: Field = ("method", pl.col("method"), True)
    path: Field = ("path", pl.col("app_path"), True)
    status = pl.col("status")
    started = [*head(pl.col("api_start_us"), _lit("INFO"), "request started"), rid, method, path]
    finished = [
        *head(API_END, _level(status, levels), "request finished"),
        *(rid, method, path, ("status", status, False)),
        ("duration_ms", _tenths_ms(pl.col("api_dur_us")), False),
    ]
    frames = [
        rows.select(event(pl.col("api_start_us"), 0, _json(started))),
        rows.select(event(API_END, 3, _json(finished))),
    ]
    for peer in PEERS:
        call_status = pl.col(f"{peer.name}_status")
        fields = [
            *head(peer.call_end, _level(call_status, levels), "downstream call"),
            rid,
            ("peer", _lit(peer.name), True),
            ("method", pl.col(f"{peer.name}_method"), True),
            ("url", _lit(peer.base_url) + pl.col(f"{peer.name}_path"), True),
            ("status", call_status, False),
            ("duration_ms", _tenths_ms(peer.call_dur), False),
        ]
        calls = rows.filter(pl.col(f"calls_{peer.name}"))
        frames.append(calls.select(event(peer.call_end, peer.seq, _json(fields))))
    noise = [
        *head(API_END + 1, _lit("INFO"), "db pool stats"),
        ("pool", _lit("primary"), True),
        ("in_use", pl.col("i") % 17, False),
        ("idle", 3 + pl.col("i") % 5, False),
    ]
    frames.append(rows.filter(_noisy(rng, "json")).select(event(API_END + 1, 4, _json(noise))))
    return pl.concat(frames)


def api_logfmt_events(frame: pl.DataFrame, rng: Rng, api_hosts: int) -> pl.DataFrame:
    """api-2: logfmt (call finished / request finished)."""
    rows = _on_host(frame, 1, api_hosts)
    levels = ("info", "warn", "error")

    def line(t: pl.Expr, level: pl.Expr, msg: str, *rest: pl.Expr) -> pl.Expr:
        ts = timestamp(t, ISO_MICROS_Z)
        head = [_lit("ts="), ts, _lit(" level="), level, _lit(f' service=api msg="{msg}"')]
        return pl.concat_str([*head, *rest])

    status = pl.col("status")
    finished = line(
        API_END, _level(status, levels), "request finished",
        _lit(" req_id="), pl.col("request_id"), _lit(" method="), pl.col("method"),
        _lit(" path="), pl.col("app_path"), _lit(" status="), status.cast(pl.String),
        _lit(" took="), _tenths_ms(pl.col("api_dur_us")), _lit("ms"),
    )  # fmt: skip
    frames = [rows.select(event(API_END, 3, finished))]
    for peer in PEERS:
        call_status = pl.col(f"{peer.name}_status")
        call = line(
            peer.call_end, _level(call_status, levels), "call finished",
            _lit(" req_id="), pl.col("request_id"), _lit(f" peer={peer.name} method="),
            pl.col(f"{peer.name}_method"), _lit(" url="), pl.col(f"{peer.name}_path"),
            _lit(" status="), call_status.cast(pl.String), _lit(" took="),
            _tenths_ms(peer.call_dur), _lit("ms"),
        )  # fmt: skip
        calls = rows.filter(pl.col(f"calls_{peer.name}"))
        frames.append(calls.select(event(peer.call_end, peer.seq, call)))
    noise = line(
        API_END + 1, _lit("debug"), "cache stats",
        _lit(" hits="), (pl.col("i") % 9000).cast(pl.String),
        _lit(" misses="), (pl.col("i") % 700).cast(pl.String),
    )  # fmt: skip
    frames.append(rows.filter(_noisy(rng, "logfmt")).select(event(API_END + 1, 4, noise)))
    return pl.concat(frames)


def inventory_events(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """inventory-1: Python logging text; a 500 is followed by its traceback."""
    rows = frame.filter(pl.col("calls_inventory"))
    status, end = pl.col("inventory_status"), pl.col("inventory_end_us")
    line = pl.concat_str(
        [
            timestamp(end, PY_LOGGING), _lit(" "), _level(status, ("INFO", "WARNING", "ERROR")),
            _lit(" inventory rid="), pl.col("request_id"), _lit(" "), pl.col("inventory_method"),
            _lit(" "), pl.col("inventory_path"), _lit(" "), status.cast(pl.String), _lit(" in "),
            _tenths_ms(pl.col("inventory_dur_us")), _lit("ms"),
        ]
    )  # fmt: skip
    line = pl.when(status == 500).then(line + _lit("\n" + TRACEBACK)).otherwise(line)
    noise = pl.concat_str(
        [
            timestamp(end + 1000, PY_LOGGING), _lit(" WARNING inventory low stock sku=SKU-"),
            (pl.col("i") % 99_991).cast(pl.String), _lit(" left="),
            (pl.col("i") % 7).cast(pl.String),
        ]
    )  # fmt: skip
    return pl.concat(
        [
            rows.select(event(end, 0, line)),
            rows.filter(_noisy(rng, "inventory")).select(event(end + 1000, 1, noise)),
        ]
    )


def users_events(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """users-1: free text, one `served` line per request."""
    rows = frame.filter(pl.col("calls_users"))
    end = pl.col("users_end_us")
    line = pl.concat_str(
        [
            _lit("["), timestamp(end, SLASHED_MICROS), _lit("] users served "),
            pl.col("users_method"), _lit(" "), pl.col("users_path"), _lit(" status="),
            pl.col("users_status").cast(pl.String), _lit(" elapsed="),
            fixed(pl.col("users_dur_us") // 100, 4), _lit(" request_id="), pl.col("request_id"),
        ]
    )  # fmt: skip
    noise = pl.concat_str(
        [
            _lit("["), timestamp(end + 1, SLASHED_MICROS),
            _lit("] users token cache refreshed size="), (pl.col("i") % 5000).cast(pl.String),
        ]
    )  # fmt: skip
    return pl.concat(
        [
            rows.select(event(end, 0, line)),
            rows.filter(_noisy(rng, "users")).select(event(end + 1, 1, noise)),
        ]
    )
