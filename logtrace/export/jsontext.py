"""JSON text built by polars expressions, a whole batch of spans at a time.

Every string value goes through polars' JSON encoder (:func:`js`), numbers and booleans
are written as their decimal text (:func:`scalar`), every key through ``json.dumps``;
objects and arrays are those encoded pieces joined with ``,`` (:func:`obj`, :func:`arr`),
the way a streaming JSON writer joins ``json.dumps`` of each item. No value is pasted into
JSON unencoded; U+2028, U+2029 and NEL are escaped too (``ids.LINE_BREAKS``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

import polars as pl

from logtrace.export.ids import escape_line_breaks

AttrType = Literal["string", "int", "double", "bool"]


def js(value: pl.Expr) -> pl.Expr:
    """The JSON text of a string column (polars' JSON encoder escapes it); null stays null."""
    encoded = pl.struct(value.alias("v")).struct.json_encode()
    return pl.when(value.is_not_null()).then(encoded.str.slice(5).str.strip_suffix("}"))


def scalar(value: pl.Expr, kind: AttrType) -> pl.Expr:
    """The JSON text of a column of ``kind``; null (and NaN or infinity) stay null.

    Numbers and booleans need no escaping: polars' decimal text of an integer, a finite
    float (``0.25``, ``1e-7``) or a boolean (``true``) is already valid JSON.
    """
    if kind == "string":
        return js(value)
    if kind == "double":
        return pl.when(value.is_finite()).then(value.cast(pl.String))
    if kind == "int":
        return value.cast(pl.Int64).cast(pl.String)
    return value.cast(pl.String)


SLOT = "\0"
"""Marks where :func:`template` puts its value."""


def template(shape: dict[str, object], value: pl.Expr) -> pl.Expr:
    """JSON text of ``shape`` (constants) with its one :data:`SLOT` replaced by ``value``
    (JSON text); null when ``value`` is null."""
    prefix, suffix = json.dumps(shape, separators=(",", ":")).split(json.dumps(SLOT))
    return pl.concat_str(pl.lit(prefix), value, pl.lit(suffix))


def const(value: object) -> pl.Expr:
    """A constant as JSON text (``json.dumps``)."""
    return pl.lit(json.dumps(value, separators=(",", ":")))


def obj(fields: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """A JSON object from (key, JSON text) pairs; a field whose text is null is left out."""
    parts = [pl.concat_str(pl.lit(json.dumps(k) + ":"), v) for k, v in fields]
    return pl.concat_str(
        pl.lit("{"), pl.concat_str(parts, separator=",", ignore_nulls=True), pl.lit("}")
    )


def arr(items: Sequence[pl.Expr]) -> pl.Expr:
    """A JSON array of JSON texts; null items are left out."""
    return pl.concat_str(
        pl.lit("["), pl.concat_str(items, separator=",", ignore_nulls=True), pl.lit("]")
    )


def joined(items: pl.Expr) -> pl.Expr:
    """A JSON array from a column that already holds comma-joined JSON items (or null)."""
    return pl.concat_str(pl.lit("["), items.fill_null(""), pl.lit("]"))


def grouped(
    frame: pl.DataFrame, keys: Sequence[str], head: pl.Expr, item: pl.Expr, tail: pl.Expr
) -> bytes:
    """Each group's items (JSON text) between its ``head`` and ``tail``, all joined by ``,``
    (UTF-8, see :func:`join_json`).

    Groups come in order of first appearance, items in row order: ``head item,item tail,
    head item tail``. Used to write a group's JSON object around its members (a resource
    around its spans, a trace around its spans) without building each object apart.
    """
    if frame.is_empty():
        return b""
    rank = pl.int_range(pl.len()).over(keys)
    text = pl.concat_str(
        pl.when(rank == 0).then(head).otherwise(pl.lit("")),
        item,
        pl.when(rank == pl.len().over(keys) - 1).then(tail).otherwise(pl.lit("")),
    )
    row = pl.col("_row")
    ordered = frame.with_row_index("_row").sort(row.min().over(keys), row)
    return join_json(ordered.select(text).to_series(), ",")


def join_json(texts: pl.Series, separator: str) -> bytes:
    """JSON texts joined into UTF-8 bytes, :data:`LINE_BREAKS` escaped; the text goes from
    polars to the output without becoming a Python string."""
    escaped = escape_line_breaks(texts)
    return bytes(escaped.str.join(separator).cast(pl.Binary).item())
