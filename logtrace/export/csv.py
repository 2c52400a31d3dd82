"""CSV output that opens safely in a spreadsheet.

Cells of text columns that start with ``=``, ``+``, ``-``, ``@``, TAB or CR get a leading
``'`` (OWASP's advice against CSV/formula injection); numeric columns are left alone, so
negative numbers stay numbers. Lists are joined the way nginx writes them (``, ``).

Seconds are rounded to the microsecond, the finest precision any log (or logtrace's own
times) has: a value computed from logged ones reads as the log wrote it (nginx's
``0.012 - 0.003`` is ``0.009``, not ``0.009000000000000341``).

Cells are made by polars expressions over whole columns (the formula check over all
text columns at once): no Python runs per row.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path

import polars as pl

_FORMULA_START = r"^[=+\-@\t\r]"
DECIMALS = 6  # microseconds
ISO_TIME = "%Y-%m-%dT%H:%M:%S%.6f%:z"


def iso_text(column: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    """A datetime column as ISO 8601 text with microseconds and the zone's offset."""
    if dtype.time_zone == "UTC":
        # The same text as ISO_TIME writes, without a per-value offset lookup (~40% faster).
        return column.dt.replace_time_zone(None).dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00")
    return column.dt.to_string(ISO_TIME)


def spreadsheet_safe(frame: pl.DataFrame, inert: Collection[str] = ()) -> pl.DataFrame:
    """Text cells made inert, lists joined, times as ISO 8601: ready for ``write_csv``.

    ``inert`` names text columns known never to start a formula (hex ids), left unchecked.
    """
    exprs = []
    texts = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List):
            item = pl.element()
            if dtype.inner.is_float():
                item = item.round(DECIMALS)
            exprs.append(col.list.eval(item.cast(pl.String)).list.join(", "))
            texts.append(name)
        elif dtype.is_float():
            exprs.append(col.round(DECIMALS))
        elif dtype == pl.String:
            exprs.append(col)
            if name not in inert:
                texts.append(name)
        elif isinstance(dtype, pl.Datetime):
            exprs.append(iso_text(col, dtype))
        else:
            exprs.append(col)
    if texts:
        cells = pl.col(texts)
        formula = pl.when(cells.str.contains(_FORMULA_START)).then(pl.lit("'") + cells)
        # The checked columns replace their plain versions, in place.
        return frame.select(exprs).with_columns(formula.otherwise(cells).name.keep())
    return frame.select(exprs)


def write_csv(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as spreadsheet-safe CSV ("-" writes to stdout)."""
    safe = spreadsheet_safe(frame)
    if str(path) == "-":
        sys.stdout.write(safe.write_csv())
        return
    safe.write_csv(path)
