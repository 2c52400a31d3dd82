"""Vectorised text formatting: hex ids, fixed-point numbers, timestamps, JSON objects."""

from __future__ import annotations

import polars as pl

_HEX4 = pl.Series("hex4", [f"{v:04x}" for v in range(1 << 16)], dtype=pl.String)
_HEX_BARE = pl.Series("hex", [f"{v:x}" for v in range(1 << 16)], dtype=pl.String)


def _u16(h: pl.Expr, k: int) -> pl.Expr:
    return ((h // (1 << (16 * k))) % (1 << 16)).cast(pl.Int64)


def hex4(h: pl.Expr, k: int = 0) -> pl.Expr:
    """Four lowercase hex digits: the k-th 16 bits of `h`."""
    return pl.lit(_HEX4).gather(_u16(h, k))


def hex16(h: pl.Expr) -> pl.Expr:
    """Sixteen lowercase hex digits of a u64 expression."""
    return pl.concat_str([pl.lit(_HEX4).gather(_u16(h, k)) for k in range(4)])


def hex_group(h: pl.Expr, k: int = 0) -> pl.Expr:
    """One IPv6-style group: the k-th 16 bits of `h` in hex without leading zeros."""
    return pl.lit(_HEX_BARE).gather(_u16(h, k))


def fixed(value: pl.Expr, decimals: int) -> pl.Expr:
    """An integer count of 10**-decimals units as a decimal string: fixed(47, 3) == "0.047"."""
    scale = 10**decimals
    whole = (value // scale).cast(pl.String)
    frac = (value % scale).cast(pl.String).str.zfill(decimals)
    return pl.concat_str([whole, pl.lit("."), frac])


def lit(text: str) -> pl.Expr:
    """A string literal."""
    return pl.lit(text, pl.String)


def status_level(status: pl.Expr, names: tuple[str, str, str]) -> pl.Expr:
    """The log level of a response status; names = (ok, client error, server error)."""
    return (
        pl.when(status >= 500)
        .then(lit(names[2]))
        .when(status >= 400)
        .then(lit(names[1]))
        .otherwise(lit(names[0]))
    )


def json_object(fields: list[tuple[str, pl.Expr, bool]]) -> pl.Expr:
    """A JSON object of (key, value, quoted); values here never need escaping (ids, clean
    paths, numbers)."""
    parts: list[pl.Expr] = []
    for n, (key, value, quoted) in enumerate(fields):
        quote = '"' if quoted else ""
        parts += [lit(("{" if n == 0 else ", ") + f'"{key}": {quote}'), value.cast(pl.String)]
        if quoted:
            parts.append(lit('"'))
    return pl.concat_str([*parts, lit("}")])


def timestamp(us: pl.Expr, pattern: str) -> pl.Expr:
    """Format epoch microseconds (UTC) with a chrono strftime pattern."""
    return us.cast(pl.Datetime("us", "UTC")).dt.strftime(pattern)


# strftime patterns of the formats we write (chrono syntax: %.6f is ".123456", %3f is "123").
NGINX_TIME_LOCAL = "%d/%b/%Y:%H:%M:%S +0000"
ISO_MICROS = "%Y-%m-%dT%H:%M:%S%.6f+00:00"
ISO_MICROS_Z = "%Y-%m-%dT%H:%M:%S%.6fZ"
PY_LOGGING = "%Y-%m-%d %H:%M:%S,%3f"
SLASHED_MICROS = "%Y/%m/%d %H:%M:%S%.6f"
