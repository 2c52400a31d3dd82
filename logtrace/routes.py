"""Route templates: ``/users/12345/orders`` → ``/users/{id}/orders``.

A path segment that is an id rather than a name becomes ``{id}``: all digits, a UUID, or
a long hex string (16+ digits), also with a file extension (``/images/65710.webp`` →
``/images/{id}.webp``); a number of 4+ digits inside a name too (``IMG_1234.jpg`` →
``IMG_{id}.jpg``). A date becomes ``{date}`` (``report-2026-11-26.pdf``,
``backup_20261126.sql``; a segment that is only digits, ``20261126``, stays ``{id}``: an
order number can read as a date, and one position would then split in two routes). A
long mixed token such as a session or a content hash (20+ letters and digits, with both)
becomes ``{token}``, and a hash inside a file name becomes ``{hash}``
(``/app.3f2a9c1e.js`` → ``/app.{hash}.js``, also ``app-3f2a9c1e.js``). Words joined by
hyphens with a number among them (``how-to-fix-502-errors``, 3+ words) become
``{slug}``; a name with a digit but fewer words (``v2``, ``oauth2``, ``covid-19``,
``error-404.html``) stays. A list (``a,b,c``, also percent-encoded as ``a%2Cb``) becomes
``{list}``, and any other segment with percent-encoded UTF-8 text, a name of a product or
a tag in words nobody writes into the code (``/product/7/%D8%B3%D8%B4...``), ``{slug}``.
Templating runs once per distinct path, a few regex passes each; paths without a digit,
``%`` or ``,`` are their own route (or fall under ``{*}`` when there are hundreds of them
at one position: see ``route_guard.py``).
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

# Segment rules of names with numbers (a subset pass over paths with a digit next to a
# separator). Separators are captured and put back: Rust regexes have no look-around.
_NAMED = r"[0-9][-_.]|[-_.][0-9]"
_DATE_DASHED = r"(^|[^0-9])(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])([^0-9]|$)"
_DATE_COMPACT = r"(^|[-_.])(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])([-_.]|$)"
_EXT = r"((?:\.[A-Za-z][A-Za-z0-9]{0,7})+)$"  # .webp, .tar.gz
_ID_EXT = (
    r"^(?:[0-9]+|[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{16,})" + _EXT
)
_WORDS = r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+){2,}(?:\.[A-Za-z][A-Za-z0-9]{0,7})*$"
_NUMBER_IN_NAME = r"(^|[-_])[0-9]{4,}([-_.]|$)"
_HASH_AFTER_DASH = r"-[0-9a-f]{8,}\."


def _template(path: pl.Expr) -> pl.Expr:
    padded = path + pl.lit("/")
    out = padded.str.replace_all(_ID, "/{id}/").str.replace_all(_ID, "/{id}/").str.head(-1)
    return out.str.replace(_HASH_IN_NAME, ".{hash}.")


def _segment(seg: pl.Expr) -> pl.Expr:
    """One path segment with its dates, ids and numbers in names templated."""
    # twice: a match takes the separator after it, which the next date may begin with
    for _ in range(2):
        seg = seg.str.replace_all(_DATE_DASHED, "${1}{date}${2}")
        seg = seg.str.replace_all(_DATE_COMPACT, "${1}{date}${2}")
    seg = seg.str.replace(_ID_EXT, "{id}${1}")
    words = seg.str.replace(_EXT, "")
    slug = seg.str.contains(_WORDS) & words.str.contains("[0-9]") & words.str.contains("[A-Za-z]")
    ext = seg.str.extract(_EXT, 1).fill_null("")
    seg = pl.when(slug).then(pl.lit("{slug}") + ext).otherwise(seg)
    seg = seg.str.replace_all(_NUMBER_IN_NAME, "${1}{id}${2}")
    seg = seg.str.replace_all(_NUMBER_IN_NAME, "${1}{id}${2}")  # IMG_1234_5678
    return seg.str.replace(_HASH_AFTER_DASH, "-{hash}.")


def _named(routes: pl.DataFrame) -> pl.DataFrame:
    """Names with numbers in them (a subset pass: only paths with a digit next to a ``-``,
    ``_`` or ``.``), segment by segment."""
    marked = routes.get_column("route").str.contains(_NAMED).fill_null(value=False)
    if not marked.any():
        return routes
    fixed = routes.filter(marked).with_columns(
        pl.col("route").str.split("/").list.eval(_segment(pl.element())).list.join("/")
    )
    return pl.concat([routes.filter(~marked), fixed])


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
    out = _encoded(_tokens(_named(pl.concat([plain, ids])))).sort("_i")
    return out.get_column("route").fill_null(BAD_REQUEST).alias("route")


# Lines in the sample that tells whether a chunk's paths are mostly distinct.
_SAMPLE = 1024


def route_column(paths: pl.Series) -> pl.Series:
    """The route of each path, in order, templating each distinct path once where paths
    repeat; where they are mostly distinct (a sample spread over them says), each path
    is templated as it comes: looking routes up costs more than making them (65,536
    lines of distinct paths: 8 against 26 ms; of 50 paths: 1 ms to template them and
    1 ms to look them up)."""
    step = max(1, paths.len() // _SAMPLE)
    sample = paths.gather_every(step)
    if sample.n_unique() * 2 > sample.len():
        return template_paths(paths)
    distinct = paths.unique().drop_nulls()
    # a join of the one column, not ``replace_strict``: it builds its map 10 times slower
    # (46 against 5 ms for 65,536 distinct paths)
    lookup = pl.DataFrame({"path": distinct, "route": template_paths(distinct)})
    looked = pl.DataFrame({"path": paths}).join(
        lookup, on="path", how="left", maintain_order="left", nulls_equal=False
    )
    return looked.get_column("route").fill_null(BAD_REQUEST)


def with_routes(lines: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Add a ``route`` column to LINES (:func:`route_column`).

    The routes are made from the path column and set beside it, not joined to the lines:
    a join gathers every other column again (48 against 40 ms for 140k app lines of 17
    columns)."""
    frame = lines.collect() if isinstance(lines, pl.LazyFrame) else lines
    return frame.lazy().with_columns(route_column(frame.get_column("path")).alias("route"))
