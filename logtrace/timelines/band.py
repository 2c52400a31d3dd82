"""Joins that pair the rows of one key only with those of close rank.

A plain join pairs every row of a key with every other: the square of its rows. Identical
calls in a loop make keys of hundreds of rows (400 calls of one request to one path:
160,000 pairs, for that request alone), so where a step only needs rows of close rank it
joins by band: cost and memory grow with the rows, not their square. The bands are found
on whole numbers alone (a key's code, a rank, a row's place), and only the pairs found
are gathered in full.
"""

from __future__ import annotations

import polars as pl

ROOM = 1 << 62  # microseconds (band.containing): keys placed side by side fit in an Int64


def near(
    left: pl.DataFrame, right: pl.DataFrame, on: list[str], ranks: tuple[str, str], width: int
) -> pl.DataFrame:
    """``left`` joined with ``right`` on ``on``, only the pairs whose ranks (``ranks``:
    left's column, right's column; whole numbers) are at most ``width`` apart. The other
    columns of the two sides must have different names.

    Each row meets the rows of the other side in its band of ``width`` ranks and the two
    beside it, so no more than ``3 * width`` of them, however many its key has.
    """
    rank, rank_o = ranks
    code, code_o = _codes(left, right, on)
    slim = pl.DataFrame({"_g": code, "_x": left.get_column(rank).cast(pl.Int64)})
    slim_o = pl.DataFrame({"_g": code_o, "_y": right.get_column(rank_o).cast(pl.Int64)})
    slim = slim.with_row_index("_l").with_columns((pl.col("_x") // width).alias("_b"))
    slim_o = slim_o.with_row_index("_r").with_columns((pl.col("_y") // width).alias("_b"))
    beside = pl.concat([slim_o.with_columns(pl.col("_b") + step) for step in (-1, 0, 1)])
    found = (
        slim.join(beside, on=["_g", "_b"], how="inner")
        .filter((pl.col("_x") - pl.col("_y")).abs() <= width)
        .select("_l", "_r")
    )
    return pl.concat(
        [left[found.get_column("_l")], right.drop(on)[found.get_column("_r")]], how="horizontal"
    )


def _codes(left: pl.DataFrame, right: pl.DataFrame, on: list[str]) -> tuple[pl.Series, pl.Series]:
    """Each row's key as a whole number, the same on both sides for the same key."""
    keys = pl.concat([left.select(on), right.select(on)])
    code = keys.select(pl.struct(on).rank("dense")).to_series()
    return code.head(left.height), code.tail(right.height)


def large_keys(frames: list[pl.DataFrame], on: list[str], size: int) -> pl.DataFrame:
    """The keys (``on``) with more than ``size`` rows in all of ``frames``."""
    keys = pl.concat([f.select(on) for f in frames])
    return keys.group_by(on).len().filter(pl.col("len") > size).select(on)


def containing(
    inner: pl.DataFrame,
    outer: pl.DataFrame,
    by: list[str],
    times: tuple[str, str, str, str],
    tol_us: int,
) -> pl.DataFrame:
    """``inner`` joined with ``outer`` on ``by``, each inner row only with the outer rows
    whose time span contains its own, ``tol_us`` microseconds either way: ``times`` names
    inner's start and end, then outer's (outer start <= inner start + tol, outer end >=
    inner end - tol). The other columns of the two sides must have different names.

    Found by an inequality join (polars' IEJoin) on times that put each key in a range of
    its own, so its cost grows with the pairs it finds, not with the rows of a key
    squared. Rows without a time contain and are contained by nothing.
    """
    start, end, o_start, o_end = times
    inner = inner.filter(pl.col(start).is_not_null() & pl.col(end).is_not_null())
    outer = outer.filter(pl.col(o_start).is_not_null() & pl.col(o_end).is_not_null())
    if inner.is_empty() or outer.is_empty():
        return pl.concat([inner.clear(), outer.drop(by).clear()], how="horizontal")
    code, code_o = _codes(inner, outer, by)
    micros = [
        pl.DataFrame({"_g": code, "_s": inner.get_column(start), "_e": inner.get_column(end)}),
        pl.DataFrame(
            {"_g": code_o, "_s": outer.get_column(o_start), "_e": outer.get_column(o_end)}
        ),
    ]
    micros = [m.with_columns(pl.col("_s", "_e").dt.epoch("us")) for m in micros]
    # Each key's times from its earliest, shifted by the tolerance and spaced so far apart
    # that no shifted time of one key reaches the range of another.
    first = (
        pl.concat(micros)
        .group_by("_g")
        .agg(pl.col("_s").min().alias("_0"), (pl.col("_e").max() - pl.col("_s").min()).alias("_w"))
    )
    spacing = int(first.select(pl.col("_w").max()).item()) + 2 * tol_us + 2
    keys = first.height
    step = max(1, ROOM // spacing)  # keys a batch can place
    found: list[pl.DataFrame] = []
    for lo in range(1, keys + 1, step):
        batch = first.filter(pl.col("_g").is_between(lo, lo + step - 1))
        at = (pl.col("_g") - lo).cast(pl.Int64) * spacing - pl.col("_0") + tol_us + 1
        placed = [
            m.with_row_index("_r")
            .join(batch, on="_g")
            .with_columns((pl.col("_s") + at).alias("_s"), (pl.col("_e") + at).alias("_e"))
            for m in micros
        ]
        rows = placed[0].select(
            pl.col("_r").alias("_l"),
            (pl.col("_s") + tol_us).alias("_ls"),
            (pl.col("_e") - tol_us).alias("_le"),
        )
        rows_o = placed[1].select("_r", pl.col("_s").alias("_os"), pl.col("_e").alias("_oe"))
        found.append(
            rows.join_where(
                rows_o, pl.col("_os") <= pl.col("_ls"), pl.col("_oe") >= pl.col("_le")
            ).select("_l", "_r")
        )
    pairs = pl.concat(found)
    return pl.concat(
        [inner[pairs.get_column("_l")], outer.drop(by)[pairs.get_column("_r")]], how="horizontal"
    )
