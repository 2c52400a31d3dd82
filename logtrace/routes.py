"""Route templates: ``/users/12345/orders`` → ``/users/{id}/orders``.

A path segment becomes a placeholder when it is an id rather than a name: all digits
(``{id}``), a UUID (``{uuid}``), a long hex string (``{hex}``), or a long mixed token such
as a session or hash (``{token}``); a content hash inside a file name becomes ``{hash}``
(``/app.3f2a9c1e.js`` → ``/app.{hash}.js``). Templating runs once per distinct path, not
per line.
"""

from __future__ import annotations

import polars as pl

BAD_REQUEST = "(no path)"  # garbage request lines, TLS probes, empty requests

_UUID = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_DIGITS = r"^[0-9]+$"
_HEX = r"^[0-9A-Fa-f]{16,}$"
_TOKEN = r"^[A-Za-z0-9_-]{20,}$"
_HASH_IN_NAME = r"\.[0-9a-f]{8,}\."


def _segment(e: pl.Expr) -> pl.Expr:
    is_token = e.str.contains(_TOKEN) & e.str.contains("[0-9]") & e.str.contains("[A-Za-z]")
    return (
        pl.when(e.str.contains(_DIGITS))
        .then(pl.lit("{id}"))
        .when(e.str.contains(_UUID))
        .then(pl.lit("{uuid}"))
        .when(e.str.contains(_HEX))
        .then(pl.lit("{hex}"))
        .when(is_token)
        .then(pl.lit("{token}"))
        .otherwise(e.str.replace(_HASH_IN_NAME, ".{hash}."))
    )


def template_paths(paths: pl.Series) -> pl.Series:
    """The route template of each path (null paths become ``(no path)``)."""
    frame = pl.DataFrame({"path": paths})
    routes = frame.select(
        pl.col("path")
        .str.split("/")
        .list.eval(_segment(pl.element()))
        .list.join("/")
        .fill_null(BAD_REQUEST)
        .alias("route")
    )
    return routes.get_column("route")


def with_routes(lines: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Add a ``route`` column to LINES, templating each distinct path once."""
    lf = lines.lazy()
    unique = lf.select(pl.col("path").unique()).collect()
    mapping = unique.with_columns(template_paths(unique.get_column("path")).alias("route"))
    return lf.join(mapping.lazy(), on="path", how="left", nulls_equal=True)
