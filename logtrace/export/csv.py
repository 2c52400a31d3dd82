"""CSV output that opens safely in a spreadsheet.

Cells of text columns that start with ``=``, ``+``, ``-``, ``@``, TAB or CR get a leading
``'`` (OWASP's advice against CSV/formula injection); numeric columns are left alone, so
negative numbers stay numbers. Lists are joined the way nginx writes them (``, ``).

Seconds are rounded to the microsecond, the finest precision any log (or logtrace's own
times) has: a value computed from logged ones reads as the log wrote it (nginx's
``0.012 - 0.003`` is ``0.009``, not ``0.009000000000000341``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

_FORMULA_START = r"^[=+\-@\t\r]"
DECIMALS = 6  # microseconds


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells made inert, lists joined, times as ISO 8601: ready for ``write_csv``."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        kind = dtype
        if isinstance(dtype, pl.List):
            item = pl.element()
            if dtype.inner.is_float():
                item = item.round(DECIMALS)
            col = col.list.eval(item.cast(pl.String)).list.join(", ")
            kind = pl.String()
        if kind.is_float():
            col = col.round(DECIMALS)
        elif kind == pl.String:
            col = pl.when(col.str.contains(_FORMULA_START)).then(pl.lit("'") + col).otherwise(col)
        elif isinstance(kind, pl.Datetime):
            col = col.dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%:z")
        exprs.append(col.alias(name))
    return frame.select(exprs)


def write_csv(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as spreadsheet-safe CSV ("-" writes to stdout)."""
    safe = spreadsheet_safe(frame)
    if str(path) == "-":
        sys.stdout.write(safe.write_csv())
        return
    safe.write_csv(path)
