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

# Each rule replaces whole segments; the trailing (/|$) makes "/123" not match "/123abc".
# A pass consumes the slash after a segment, so each rule runs twice for runs like /1/2.
_RULES = (
    (r"/[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(/|$)", "{uuid}"),
    (r"/[0-9]+(/|$)", "{id}"),
    (r"/[0-9A-Fa-f]{16,}(/|$)", "{hex}"),
)
_TOKEN = r"/([A-Za-z0-9_-]{20,})(/|$)"
_HASH_IN_NAME = r"\.[0-9a-f]{8,}\."


def _template(path: pl.Expr) -> pl.Expr:
    out = path
    for pattern, name in _RULES:
        for _ in range(2):
            out = out.str.replace_all(pattern, f"/{name}${{1}}")
    # Long tokens (sessions, hashes) only when they mix letters and digits.
    token = out.str.extract(_TOKEN, 1)
    mixed = token.str.contains("[0-9]") & token.str.contains("[A-Za-z]")
    out = pl.when(mixed.fill_null(value=False)).then(
        out.str.replace(_TOKEN, "/{token}${2}")
    ).otherwise(out)
    return out.str.replace(_HASH_IN_NAME, ".{hash}.")


def template_paths(paths: pl.Series) -> pl.Series:
    """The route template of each path (null paths become ``(no path)``)."""
    frame = pl.DataFrame({"path": paths})
    # Only paths with a digit can hold an id; the others are their own route.
    routes = frame.select(
        pl.when(pl.col("path").str.contains("[0-9]"))
        .then(_template(pl.col("path")))
        .otherwise(pl.col("path"))
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
