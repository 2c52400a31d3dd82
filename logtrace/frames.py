"""Running values within groups, computed by sorting once instead of by windows.

A window such as ``pl.col("end").cum_max().over("caller_sid")`` is evaluated group by
group: over the millions of small groups a join of a million requests has (one per
span), that is most of the time a report takes. Here the frame is sorted by group and
order once, and one cumulative max runs over the whole column: each value is replaced by
its rank and offset by its group's number times the row count, so no group's values can
reach the next group's.
"""

from __future__ import annotations

import polars as pl


def max_before(
    frame: pl.DataFrame, keys: list[str], order: str, value: str, *, descending: bool = False
) -> pl.Series:
    """Per group of ``keys``, rows in ``order`` (ties in row order): the largest ``value``
    among the rows before each row; null on a group's first row and where none is known.

    Row-aligned with ``frame``. ``descending=True`` walks each group from its last row
    back: the largest value among the rows *after* each row.
    """
    name = f"{value}_before"
    levels = frame.get_column(value).drop_nulls().unique().sort()
    if levels.is_empty():
        return pl.repeat(None, frame.height, dtype=levels.dtype, eager=True).alias(name)
    by = [*keys, order]
    idx = frame.select(
        pl.arg_sort_by(by, descending=[False] * len(keys) + [descending], maintain_order=True)
    ).to_series()
    rows = frame.height + 1
    new_group = pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys)
    group = new_group.cum_sum().cast(pl.UInt64) * rows
    # Rank 0 is "no value": a null never raises the running max.
    rank = pl.col(value).rank("dense").cast(pl.UInt64).fill_null(0)
    running = (group + rank).cum_max().shift(1)
    before = pl.when(~new_group).then(running - group).otherwise(0)
    ranked = frame.select(*keys, value).gather(idx).select(before.alias("_r")).to_series()
    found = levels.gather(ranked.clip(lower_bound=1) - 1).alias(name)
    found = pl.select(pl.when(ranked > 0).then(found)).to_series().alias(name)
    return found.gather(idx.arg_sort())
