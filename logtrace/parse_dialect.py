"""The fast path of parse.py: a chunk's lines read as CSV rows by polars' CSV reader.

Only the lines that match the dialect's shape regex (capture-free, which polars runs as
a DFA many times faster than it captures groups) are taken as rows: such a line splits
into exactly the planned cells, and each cell, with the literal text around its variable
cut off, is the raw value the strict regex would have captured (the request line split
at its two spaces). parse.py types them with the strict regex's conversions, so both
paths give the same LINES rows. The other lines are left to the regexes, and so is the
whole chunk when polars does not read one row of the planned cells per line.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from logtrace.log_format.compiler import CompiledFormat
from logtrace.log_format.dialect import QUOTE, SEPARATOR, Dialect
from logtrace.log_format.variables import Shape

# A line polars reads as one row whatever its cells: quotes only around whole cells.
_CSV_LINE = r'^(?:"[^"]*"|[^" ]*)(?: (?:"[^"]*"|[^" ]*))*$'


def _cell(i: int) -> str:
    return f"column_{i + 1}"


def read_rows(
    lines: pl.DataFrame,
    cf: CompiledFormat,
    dialect: Dialect,
    needed: frozenset[str] | None,
    keep: list[str],
    *,
    text: bytes | None = None,
) -> tuple[pl.LazyFrame | None, pl.DataFrame]:
    """(``keep`` columns plus the raw groups of the lines read as rows, or None; the lines
    left for the regexes). ``text`` is the bytes ``lines`` was read from, if at hand.
    The groups are a lazy plan: those the conversions after it do not use are never made."""
    line = lines.get_column("line")
    fits = _fit(
        line, dialect.shape_regex(cf.escape), ascii_text=text is not None and text.isascii()
    )
    if dialect.is_json:  # JSON string escapes: the reader's value is not the raw text
        fits &= ~line.str.contains("\\", literal=True)
    fits = fits.fill_null(value=False)
    count = int(fits.sum())
    if count == 0:
        return None, lines
    if count == lines.height:
        rows, rest = lines, lines.clear()
    else:
        rows, rest = lines.filter(fits), lines.filter(~fits)
    picks = _picks(dialect, cf, needed)
    read = _read_json if dialect.is_json else _read_csv
    cells: pl.DataFrame | None = None
    if text is not None and (rest.is_empty() or (not dialect.is_json and _reads_as_rows(rest))):
        # Every line reads as one row: read the chunk's own bytes, keep the rows that fit.
        cells = read(text, dialect, picks, lines.height)
        if cells is not None and rows.height != lines.height:
            cells = cells.filter(fits)
    if cells is None:
        data = rows.select("line").write_csv(include_header=False, quote_style="never")
        cells = read(data.encode("utf-8"), dialect, picks, rows.height)
    if cells is None:
        return None, lines
    if not picks:
        return rows.select(keep).lazy(), rest
    kept = cells.with_columns(rows.get_column(c) for c in keep)
    return kept.lazy().select(*keep, *_groups(picks)), rest


def _fit(line: pl.Series, shape: str, *, ascii_text: bool) -> pl.Series:
    """Whether each line matches the shape regex. Lines of ASCII alone are matched by its
    ASCII twin (:func:`ascii_only`: a third faster on JSON lines, whose classes of any
    character but a quote make the regex engine decode UTF-8), the others by the regex."""
    fast = ascii_only(shape)
    if ascii_text:
        return line.str.contains(fast)
    plain = (line.str.len_bytes() == line.str.len_chars()).fill_null(value=True)
    if not plain.any():
        return line.str.contains(shape)
    if plain.all():
        return line.str.contains(fast)
    fits = pl.repeat(value=False, n=line.len(), eager=True)
    fits = fits.scatter(plain.arg_true(), line.filter(plain).str.contains(fast))
    return fits.scatter((~plain).arg_true(), line.filter(~plain).str.contains(shape))


_NOT_ASCII = r"\x{80}-\x{10FFFF}"


@lru_cache(maxsize=256)
def ascii_only(regex: str) -> str:
    """``regex`` with every negated class (``[^"]``) kept from matching what is not ASCII:
    on a line of ASCII alone the two match the same, and the engine need not decode UTF-8
    to step over a character the class allows."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":  # an escape: itself and the character after it
            out.append(regex[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            if regex.startswith("[^", i):
                out.append("[^" + _NOT_ASCII)
                i += 2
                continue
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


def _reads_as_rows(rest: pl.DataFrame) -> bool:
    """Whether polars reads each of these lines as one row (quotes only around cells)."""
    return bool(rest.get_column("line").str.contains(_CSV_LINE).fill_null(value=True).all())


# the columns read (CSV cells, or a JSON member), prefix, suffix, group, request line?
_Pick = tuple[tuple[str, ...], str, str, str, bool]


def _picks(dialect: Dialect, cf: CompiledFormat, needed: frozenset[str] | None) -> list[_Pick]:
    wanted = {f.index for f in cf.fields_for(needed)}
    return [
        (
            (cell.key,) if cell.key is not None else tuple(_cell(at + k) for k in range(cell.span)),
            cell.prefix,
            cell.suffix,
            cell.field.group,
            cell.field.var.shape is Shape.REQUEST,
        )
        for at, cell in dialect.positions()
        if cell.field is not None and cell.field.index in wanted
    ]


def _read_csv(
    data: bytes, dialect: Dialect, picks: list[_Pick], height: int
) -> pl.DataFrame | None:
    """The cells the picks use; None unless polars reads ``height`` rows without error."""
    names = {_cell(i): i for i in range(dialect.width)}
    used = sorted({names[c] for columns, *_ in picks for c in columns} or {0})
    try:
        cells = pl.read_csv(
            data,
            has_header=False,
            separator=SEPARATOR,
            quote_char=QUOTE,
            schema={_cell(i): pl.String for i in range(dialect.width)},
            columns=used,
            empty_string_is_null=False,
            missing_columns="insert",
            extra_columns="ignore",
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    return cells if cells.height == height else None


def _read_json(
    data: bytes, dialect: Dialect, picks: list[_Pick], height: int
) -> pl.DataFrame | None:
    """The members the picks use; None unless polars reads ``height`` objects without
    error (the reader skips blank lines: the chunk's bytes are read only if it has none)."""
    keys = [c.key for c in dialect.cells if c.key is not None]
    used = {columns[0] for columns, *_ in picks} or {keys[0]}
    try:
        cells = pl.read_ndjson(data, schema={k: pl.String for k in keys if k in used})
    except pl.exceptions.PolarsError:
        return None
    return cells if cells.height == height else None


def _groups(picks: list[_Pick]) -> list[pl.Expr]:
    """The raw groups from the cells: what the strict regex captures."""
    out: list[pl.Expr] = []
    for columns, prefix, suffix, group, request in picks:
        value = pl.col(columns[0])
        if len(columns) > 1:
            value = pl.concat_str([pl.col(c) for c in columns], separator=" ")
        if prefix:
            value = value.str.strip_prefix(prefix)
        if suffix:
            value = value.str.strip_suffix(suffix)
        out.append(value.alias(group))
        if request:  # METHOD TARGET PROTOCOL (dialect.REQUEST_ROW), the path up to a "?"
            parts = value.str.split_exact(" ", 2)
            target = parts.struct.field("field_1").str.splitn("?", 2)
            out += [
                parts.struct.field("field_0").alias(f"{group}_method"),
                target.struct.field("field_0").alias(f"{group}_path"),
                target.struct.field("field_1").alias(f"{group}_query"),
                parts.struct.field("field_2").alias(f"{group}_protocol"),
            ]
    return out
