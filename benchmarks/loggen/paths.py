"""Request paths: each route's template filled with per-request ids, UUIDs, hashes."""

from __future__ import annotations

import re

import polars as pl

from loggen import catalogue as cat
from loggen.fmt import hex4
from loggen.rng import Rng, gather, log_uniform_int

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _uuid(rng: Rng) -> pl.Expr:
    """A version-4 UUID: 8-4-4-4-12 lowercase hex with the version and variant bits set."""
    a, b = rng.u64("uuid/a"), rng.u64("uuid/b")
    dash = pl.lit("-")
    version = hex4(0x4000 + (a // (1 << 48)) % 0x1000)
    variant = hex4(0x8000 + b % 0x4000)
    return pl.concat_str(
        [
            hex4(a, 0), hex4(a, 1), dash, hex4(a, 2), dash, version, dash, variant, dash,
            hex4(b, 1), hex4(b, 2), hex4(b, 3),
        ]
    )  # fmt: skip


def _weighted(stream: str, table: tuple[tuple[str, float], ...], rng: Rng) -> pl.Expr:
    return gather([v for v, _ in table], rng.choice(stream, [w for _, w in table]))


def _placeholder(name: str, rng: Rng) -> pl.Expr:
    """The value of one placeholder, drawn per request."""
    match name:
        case "id":
            return log_uniform_int(rng.uniform("id"), 250_000).cast(pl.String)
        case "id2":
            return log_uniform_int(rng.uniform("id2"), 5_000).cast(pl.String)
        case "uuid":
            return _uuid(rng)
        case "hex":  # 24 hex digits: a session or tracking id
            a, b = rng.u64("hex/a"), rng.u64("hex/b")
            return pl.concat_str([hex4(a, k) for k in range(4)] + [hex4(b, k) for k in range(2)])
        case "build":
            return _weighted("build", cat.BUILDS, rng)
        case "q":
            return _weighted("q", cat.QUERIES, rng)
        case "page":
            return (rng.below("page", 20) + 1).cast(pl.String)
        case "since":
            epoch_s = pl.col("start_us") // 1_000_000
            return (epoch_s - 30 - rng.below("since", 600)).cast(pl.String)
    raise ValueError(f"unknown placeholder {{{name}}}")


def _template(text: str | None) -> pl.Expr:
    """A template as a concat of literals and placeholder columns (`_ph_<name>`)."""
    if text is None:
        return pl.lit(None, pl.String)
    pieces = _PLACEHOLDER.split(text)  # literal, name, literal, name, ...
    parts = [pl.lit(p) if k % 2 == 0 else pl.col("_ph_" + p) for k, p in enumerate(pieces) if p]
    return pl.concat_str(parts)


def fill_paths(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """Add `path`, `users_path`, `inventory_path`, one route at a time.

    Working per route means each row draws only the placeholders its route uses, and a
    downstream call reuses the request's own values (`/api/products/17` calls
    `/inventory/items/17`). Row order changes; nothing downstream depends on it.
    """
    parts = []
    for key, rows in frame.partition_by("route", as_dict=True, maintain_order=True).items():
        route = cat.ROUTES[int(key[0])]
        templates = {
            "path": route.path,
            "users_path": route.users.path if route.users else None,
            "inventory_path": route.inventory.path if route.inventory else None,
        }
        names = sorted({n for t in templates.values() if t for n in _PLACEHOLDER.findall(t)})
        filled = rows.with_columns(_placeholder(n, rng).alias("_ph_" + n) for n in names)
        filled = filled.with_columns(_template(t).alias(col) for col, t in templates.items())
        parts.append(filled.drop("_ph_" + n for n in names))
    return pl.concat(parts, rechunk=True)
