"""Route templates: ``/users/12345/orders`` → ``/users/{id}/orders``.

A path segment that is an id rather than a name becomes ``{id}``: all digits, a UUID, or
a long hex string (16+ digits). A long mixed token such as a session or a content hash
(20+ letters and digits, with both) becomes ``{token}``, and a hash inside a file name
becomes ``{hash}`` (``/app.3f2a9c1e.js`` → ``/app.{hash}.js``). A list (``a,b,c``, also
percent-encoded as ``a%2Cb``) becomes ``{list}``, and any other segment with
percent-encoded UTF-8 text, a name of a product or a tag in words nobody writes into the
code (``/product/7/%D8%B3%D8%B4...``), ``{slug}``. Templating runs once per distinct
path, a few regex passes each; paths without a digit, ``%`` or ``,`` are their own route.
"""

from __future__ import annotations

import polars as pl

BAD_REQUEST = "(no path)"  # garbage request lines, TLS probes, empty requests

# One alternation for every kind of id, between two slashes: paths get a "/" appended
# first, so the end of a path needs no "$" alternative and the replacement no capture
# group (a capture makes the regex engine several times slower). A pass consumes the
# slash after a segment, so it runs twice (/1/2).
_ID = r"/(?:[0-9]+|[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{16,})/"
_LONG = r"/[A-Za-z0-9_-]{20,}(/|$)"
_TOKEN = r"/([A-Za-z0-9_-]{20,})(/|$)"
_HASH_IN_NAME = r"\.[0-9a-f]{8,}\."
_LIST = r"/[^/]*(?:,|%2[Cc])[^/]*/"
_SLUG = r"/[^/]*%[89A-Fa-f][0-9A-Fa-f][^/]*/"  # a byte of UTF-8 text, not %20 or %7B


def _template(path: pl.Expr) -> pl.Expr:
    padded = path + pl.lit("/")
    out = padded.str.replace_all(_ID, "/{id}/").str.replace_all(_ID, "/{id}/").str.head(-1)
    return out.str.replace(_HASH_IN_NAME, ".{hash}.")


def _tokens(routes: pl.DataFrame) -> pl.DataFrame:
    """Long segments that mix letters and digits become {token} (rare: a subset pass)."""
    long = routes.get_column("route").str.contains(_LONG).fill_null(value=False)
    if not long.any():
        return routes
    subset = routes.filter(long)
    token = pl.col("route").str.extract(_TOKEN, 1)
    mixed = (token.str.contains("[0-9]") & token.str.contains("[A-Za-z]")).fill_null(value=False)
    fixed = subset.with_columns(
        pl.when(mixed)
        .then(pl.col("route").str.replace(_TOKEN, "/{token}${2}"))
        .otherwise(pl.col("route"))
    )
    return pl.concat([routes.filter(~long), fixed])


def _encoded(routes: pl.DataFrame) -> pl.DataFrame:
    """Lists and percent-encoded segments become {list} and {slug} (a subset pass: most
    paths have neither)."""
    marked = routes.get_column("route").str.contains("[%,]").fill_null(value=False)
    if not marked.any():
        return routes
    padded = pl.col("route") + pl.lit("/")
    once = padded.str.replace_all(_LIST, "/{list}/").str.replace_all(_LIST, "/{list}/")
    twice = once.str.replace_all(_SLUG, "/{slug}/").str.replace_all(_SLUG, "/{slug}/")
    fixed = routes.filter(marked).with_columns(twice.str.head(-1).alias("route"))
    return pl.concat([routes.filter(~marked), fixed])


def template_paths(paths: pl.Series) -> pl.Series:
    """The route template of each path (null paths become ``(no path)``), in order."""
    frame = pl.DataFrame({"path": paths}).with_row_index("_i")
    digits = frame.get_column("path").str.contains("[0-9%,]").fill_null(value=False)
    plain = frame.filter(~digits).with_columns(pl.col("path").alias("route"))
    ids = frame.filter(digits).with_columns(_template(pl.col("path")).alias("route"))
    out = _encoded(_tokens(pl.concat([plain, ids]))).sort("_i")
    return out.get_column("route").fill_null(BAD_REQUEST).alias("route")


def with_routes(lines: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Add a ``route`` column to LINES, templating each distinct path once."""
    lf = lines.lazy()
    unique = lf.select(pl.col("path").unique()).collect()
    mapping = unique.with_columns(template_paths(unique.get_column("path")).alias("route"))
    return lf.join(mapping.lazy(), on="path", how="left", nulls_equal=True)
