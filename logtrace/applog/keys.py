"""The keys an entry's fields go by, one registry for every shape.

A *role* is what a value means (the request id, the status ...); each role lists the
keys that carry it, best first, compared without regard to case. The request id's keys
come from ``AppLogOptions.id_fields``; a duration's key is recognised by a rule (a
duration word plus an optional unit suffix) because the unit lives in the key.

The field extractors turn an entry into the RAW frame below (every value as the text
logged); ``values.py`` and ``events.py`` turn RAW into typed LINES.
"""

from __future__ import annotations

import re

import polars as pl

ROLE_KEYS: dict[str, tuple[str, ...]] = {
    "time": ("time", "ts", "timestamp", "@timestamp", "datetime", "asctime", "t"),
    "level": ("level", "lvl", "severity", "loglevel", "levelname", "log.level"),
    # structlog writes the message under "event"
    "message": ("msg", "message", "event"),
    "method": (
        "method",
        "http_method",
        "request_method",
        "http.method",
        "http.request.method",
        "req.method",
        "request.method",
    ),
    "url": (
        "path",
        "uri",
        "url",
        "request_uri",
        "http.target",
        "http.url",
        "url.path",
        "url.full",
        "req.url",
        "request.url",
        "request",  # logrus' request logger: request=/users/7 (a request line is no path)
    ),
    # A path (the target, after "path") or a name (the peer, after the peer keys).
    "target": ("target",),
    "status": (
        "status",
        "status_code",
        "http_status",
        "http.status_code",
        "http.response.status_code",
        "res.statusCode",
        "res.status",
        "response.status",
        "response.status_code",
        "code",
    ),
    "peer": (
        "peer",
        "peer_service",
        "peer.service",
        "upstream",
        "upstream_service",
        "callee",
        "callee_service",
        "downstream",
        "downstream_service",
        "target_service",
        "remote_service",
        "backend",
        "dependency",
        "to",
    ),
    # Who sent a request this service served: its address or agent, as access logs and
    # request loggers write them, or the response object pino-http logs with it.
    "caller": (
        "remote_addr",
        "remote_ip",
        "remote_address",
        "client_ip",
        "client_addr",
        "client_address",
        "client.address",
        "http.client_ip",
        "user_agent",
        "http_user_agent",
        "user_agent.original",
        "req.remoteAddress",
        "req.remote_addr",
        "res",
    ),
    "service": ("service", "service.name", "service_name", "app"),
    "host": ("host", "hostname", "host.name"),
}

# A duration's key: a duration word, then optionally the unit (duration_ms, tookMs, elapsed_s).
DURATION_WORDS = (
    "duration",
    "elapsed",
    "elapsed_time",
    "latency",
    "took",
    "response_time",
    "responsetime",
    "request_time",
    "requesttime",
    "time_taken",
    "dur",
)
UNIT_SECONDS: dict[str, float] = {
    "ns": 1e-9,
    "nanos": 1e-9,
    "nanoseconds": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "micros": 1e-6,
    "microseconds": 1e-6,
    "ms": 1e-3,
    "millis": 1e-3,
    "milliseconds": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "seconds": 1.0,
}
# Units a value may carry but a key suffix never does ("took=2m" is two minutes, "dur_m" is odd).
VALUE_UNIT_SECONDS: dict[str, float] = {**UNIT_SECONDS, "m": 60.0, "min": 60.0, "h": 3600.0}
_KEY_UNITS = "|".join(sorted(UNIT_SECONDS, key=len, reverse=True))
_DURATION_KEY = re.compile(
    rf"(?:{'|'.join(DURATION_WORDS)})(?:[_.-]?({_KEY_UNITS}))?", re.IGNORECASE
)

# The RAW frame: what every field extractor returns, one row per entry.
RAW: dict[str, pl.DataType] = {
    "line_no": pl.UInt32(),
    "time_raw": pl.String(),
    "level": pl.String(),
    "message": pl.String(),
    "request_id": pl.String(),
    "method": pl.String(),
    "url": pl.String(),
    "status": pl.String(),
    "duration_key": pl.String(),
    "duration_raw": pl.String(),
    "target": pl.String(),
    "peer": pl.String(),
    "caller": pl.String(),
    "service": pl.String(),  # named by a field
    "logger": pl.String(),  # the service a logger's name suggests
    "host": pl.String(),
    "reason": pl.String(),  # why the entry cannot be read; null when it can
}


_SEPARATORS = re.compile(r"[_.\-]")

# Keys are looked for on a sample of a chunk: its first lines and every 13th line after.
SAMPLE_HEAD = 1000
SAMPLE_EVERY = 13


def role_keys(role: str, id_fields: tuple[str, ...]) -> tuple[str, ...]:
    """The keys of a role, best first."""
    return id_fields if role == "request_id" else ROLE_KEYS[role]


def sample_of(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows a chunk's keys are learnt from."""
    return pl.concat([frame.head(SAMPLE_HEAD), frame.slice(SAMPLE_HEAD).gather_every(SAMPLE_EVERY)])


def normal_key(key: str) -> str:
    """A key as compared: lower case, without ``_ . -`` (``peerService`` = ``peer_service``)."""
    return _SEPARATORS.sub("", key.lower())


def keys_of(role: str, present: list[str], id_fields: tuple[str, ...]) -> list[str]:
    """The keys of a role that the chunk uses, as spelt there, best first."""
    if role == "duration":
        return [k for k in present if key_unit_seconds(k) is not None]
    by_normal: dict[str, list[str]] = {}
    for k in present:
        by_normal.setdefault(normal_key(k), []).append(k)
    found = [
        k for alias in role_keys(role, id_fields) for k in by_normal.get(normal_key(alias), [])
    ]
    return list(dict.fromkeys(found))


def key_unit_seconds(key: str) -> float | None:
    """Seconds per unit that a duration key names (``duration_ms`` → 0.001), else None.

    None when the key is no duration key; 1.0 when it is one without a unit suffix.
    """
    m = _DURATION_KEY.fullmatch(key)
    if m is None:
        return None
    return UNIT_SECONDS[m[1].lower()] if m[1] else 1.0


def key_suffix_unit(key: str) -> float | None:
    """Seconds per unit that a duration key's suffix names (``took_s`` → 1.0), else None."""
    m = _DURATION_KEY.fullmatch(key)
    return UNIT_SECONDS[m[1].lower()] if m is not None and m[1] else None


def alternation(keys: tuple[str, ...] | list[str], *, any_case: bool = False) -> str:
    """A regex alternation of keys, longest first (so ``rid`` loses to ``rid_x``)."""
    unique = {k.lower(): k for k in keys}.values() if any_case else set(keys)
    body = "|".join(re.escape(k) for k in sorted(unique, key=len, reverse=True))
    return f"(?i:{body})" if any_case else f"(?:{body})"


def fill_missing_ids(
    raw: pl.DataFrame, lines: pl.DataFrame, id_fields: tuple[str, ...]
) -> pl.DataFrame:
    """RAW rows with a request id wherever their line has one that the learnt keys missed.

    Looks, only in lines that came out without an id, for any id key in any case: as a
    JSON member (which also finds one nested a level down) or a ``key=value`` pair. So a
    key first used after the sample still yields its ids.
    """
    missing = raw.filter(pl.col("request_id").is_null()).select("line_no")
    if missing.is_empty():
        return raw
    keys = alternation(id_fields, any_case=True)
    pattern = rf'(?:"{keys}"\s*:\s*|(?:^|[ \t\[(,;{{]){keys}=)"?([^ \t",;()\[\]{{}}]+)'
    found = (
        lines.join(missing, on="line_no", how="semi")
        .select("line_no", pl.col("line").str.extract(pattern, 1).alias("_id"))
        .filter(pl.col("_id").is_not_null() & (pl.col("_id") != "-"))
    )
    if found.is_empty():
        return raw
    return (
        raw.join(found, on="line_no", how="left", maintain_order="left")
        .with_columns(pl.coalesce("request_id", "_id").alias("request_id"))
        .drop("_id")
    )
