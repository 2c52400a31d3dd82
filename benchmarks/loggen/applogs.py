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
from loggen.fmt import (
    ISO_MICROS,
    ISO_MICROS_Z,
    PY_LOGGING,
    SLASHED_MICROS,
    fixed,
    json_object,
    lit,
    status_level,
    timestamp,
)
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


def _tenths_ms(us: pl.Expr) -> pl.Expr:
    return fixed(us // 100, 1)


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
            ("service", lit("api"), True),
            ("msg", lit(msg), True),
        ]

    rid: Field = ("request_id", pl.col("request_id"), True)
    method: Field = ("method", pl.col("method"), True)
    path: Field = ("path", pl.col("app_path"), True)
    status = pl.col("status")
    started = [*head(pl.col("api_start_us"), lit("INFO"), "request started"), rid, method, path]
    finished = [
        *head(API_END, status_level(status, levels), "request finished"),
        *(rid, method, path, ("status", status, False)),
        ("duration_ms", _tenths_ms(pl.col("api_dur_us")), False),
    ]
    frames = [
        rows.select(event(pl.col("api_start_us"), 0, json_object(started))),
        rows.select(event(API_END, 3, json_object(finished))),
    ]
    for peer in PEERS:
        call_status = pl.col(f"{peer.name}_status")
        fields = [
            *head(peer.call_end, status_level(call_status, levels), "downstream call"),
            rid,
            ("peer", lit(peer.name), True),
            ("method", pl.col(f"{peer.name}_method"), True),
            ("url", lit(peer.base_url) + pl.col(f"{peer.name}_path"), True),
            ("status", call_status, False),
            ("duration_ms", _tenths_ms(peer.call_dur), False),
        ]
        calls = rows.filter(pl.col(f"calls_{peer.name}"))
        frames.append(calls.select(event(peer.call_end, peer.seq, json_object(fields))))
    noise = [
        *head(API_END + 1, lit("INFO"), "db pool stats"),
        ("pool", lit("primary"), True),
        ("in_use", pl.col("i") % 17, False),
        ("idle", 3 + pl.col("i") % 5, False),
    ]
    frames.append(
        rows.filter(_noisy(rng, "json")).select(event(API_END + 1, 4, json_object(noise)))
    )
    return pl.concat(frames)


def api_logfmt_events(frame: pl.DataFrame, rng: Rng, api_hosts: int) -> pl.DataFrame:
    """api-2: logfmt (call finished / request finished)."""
    rows = _on_host(frame, 1, api_hosts)
    levels = ("info", "warn", "error")

    def line(t: pl.Expr, level: pl.Expr, msg: str, *rest: pl.Expr) -> pl.Expr:
        ts = timestamp(t, ISO_MICROS_Z)
        head = [lit("ts="), ts, lit(" level="), level, lit(f' service=api msg="{msg}"')]
        return pl.concat_str([*head, *rest])

    status = pl.col("status")
    finished = line(
        API_END, status_level(status, levels), "request finished",
        lit(" req_id="), pl.col("request_id"), lit(" method="), pl.col("method"),
        lit(" path="), pl.col("app_path"), lit(" status="), status.cast(pl.String),
        lit(" took="), _tenths_ms(pl.col("api_dur_us")), lit("ms"),
    )  # fmt: skip
    frames = [rows.select(event(API_END, 3, finished))]
    for peer in PEERS:
        call_status = pl.col(f"{peer.name}_status")
        call = line(
            peer.call_end, status_level(call_status, levels), "call finished",
            lit(" req_id="), pl.col("request_id"), lit(f" peer={peer.name} method="),
            pl.col(f"{peer.name}_method"), lit(" url="), pl.col(f"{peer.name}_path"),
            lit(" status="), call_status.cast(pl.String), lit(" took="),
            _tenths_ms(peer.call_dur), lit("ms"),
        )  # fmt: skip
        calls = rows.filter(pl.col(f"calls_{peer.name}"))
        frames.append(calls.select(event(peer.call_end, peer.seq, call)))
    noise = line(
        API_END + 1, lit("debug"), "cache stats",
        lit(" hits="), (pl.col("i") % 9000).cast(pl.String),
        lit(" misses="), (pl.col("i") % 700).cast(pl.String),
    )  # fmt: skip
    frames.append(rows.filter(_noisy(rng, "logfmt")).select(event(API_END + 1, 4, noise)))
    return pl.concat(frames)


def inventory_events(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """inventory-1: Python logging text; a 500 is followed by its traceback."""
    rows = frame.filter(pl.col("calls_inventory"))
    status, end = pl.col("inventory_status"), pl.col("inventory_end_us")
    levels = ("INFO", "WARNING", "ERROR")
    line = pl.concat_str(
        [
            timestamp(end, PY_LOGGING), lit(" "), status_level(status, levels),
            lit(" inventory rid="), pl.col("request_id"), lit(" "), pl.col("inventory_method"),
            lit(" "), pl.col("inventory_path"), lit(" "), status.cast(pl.String), lit(" in "),
            _tenths_ms(pl.col("inventory_dur_us")), lit("ms"),
        ]
    )  # fmt: skip
    line = pl.when(status == 500).then(line + lit("\n" + TRACEBACK)).otherwise(line)
    noise = pl.concat_str(
        [
            timestamp(end + 1000, PY_LOGGING), lit(" WARNING inventory low stock sku=SKU-"),
            (pl.col("i") % 99_991).cast(pl.String), lit(" left="),
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
            lit("["), timestamp(end, SLASHED_MICROS), lit("] users served "),
            pl.col("users_method"), lit(" "), pl.col("users_path"), lit(" status="),
            pl.col("users_status").cast(pl.String), lit(" elapsed="),
            fixed(pl.col("users_dur_us") // 100, 4), lit(" request_id="), pl.col("request_id"),
        ]
    )  # fmt: skip
    noise = pl.concat_str(
        [
            lit("["), timestamp(end + 1, SLASHED_MICROS),
            lit("] users token cache refreshed size="), (pl.col("i") % 5000).cast(pl.String),
        ]
    )  # fmt: skip
    return pl.concat(
        [
            rows.select(event(end, 0, line)),
            rows.filter(_noisy(rng, "users")).select(event(end + 1, 1, noise)),
        ]
    )
