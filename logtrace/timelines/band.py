"""Joins that pair the rows of one key only with those that can matter.

A plain join pairs every row of a key with every other: the square of its rows. Identical
calls in a loop make keys of hundreds of rows (400 calls of one request to one path:
160,000 pairs, for that request alone). So a step that needs only the rows of close rank
joins by band (:func:`near`), a step that needs only the spans that contain others joins
by an inequality join (:func:`containing`), and a step that learns from a sample takes a
loop's first rows (:func:`first_of_each`): cost and memory grow with the rows, not their
square. The pairs are found on whole numbers alone (a key's code, a rank, a time), and
only the pairs found are gathered in full.
"""

from __future__ import annotations

import functools
import operator

import polars as pl

ROOM = 1 << 62  # microseconds (band.containing): keys placed side by side fit in an Int64
PLAIN_PAIRS = 256  # (band.containing) a key with no more pairs is joined whole
# Spans of one loop (one source, request and path) that a step learning from a sample of
# requests looks at (paths.learn, units.wrong_units): a loop of identical calls says the
# same thing 8 times as 400, and their pairs grow as the square of their number.
LOOP_SAMPLE = 8


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
    """Each row's key as a whole number from 1, the same on both sides for the same key;
    keys of strings by a hash of them, which two keys may share (see :func:`_contained`)."""
    keys = pl.concat([left.select(on), right.select(on)])
    if len(on) == 1 and keys.dtypes[0].is_integer():
        code = keys.get_column(on[0]).rank("dense")
    else:
        code = keys.select(_hash(on)).to_series().rank("dense")
    return code.head(left.height), code.tail(right.height)


def containing(
    inner: pl.DataFrame,
    outer: pl.DataFrame,
    by: list[str],
    times: tuple[str, str, str, str],
    tol_us: int,
    *,
    count_by: list[str] | None = None,
    same_rows: bool = False,
) -> pl.DataFrame:
    """``inner`` joined with ``outer`` on ``by``, each inner row only with the outer rows
    whose time span contains its own, ``tol_us`` microseconds either way: ``times`` names
    inner's start and end, then outer's (outer start <= inner start + tol, outer end >=
    inner end - tol). The other columns of the two sides must have different names.

    The keys with few pairs (counted per ``count_by``, the first of ``by`` unless given:
    a coarser key only overcounts) are joined whole and filtered; those with more than
    ``PLAIN_PAIRS`` (a loop) by an inequality join (polars' IEJoin) on times that put each
    key in a range of its own, whose cost grows with the pairs it finds, not with the rows
    of a key squared. Rows without a time contain and are contained by nothing.
    ``same_rows``: ``outer`` is ``inner`` renamed (its keys are counted once).
    """
    start, end, o_start, o_end = times
    many, many_o = _many_pairs(inner, None if same_rows else outer, count_by or by[:1])
    tol = pl.duration(microseconds=tol_us)
    # (a row without a time fails this: null)
    within = (pl.col(o_start) <= pl.col(start) + tol) & (pl.col(o_end) >= pl.col(end) - tol)
    if not many.any():  # (a key with many pairs has rows on both sides)
        return inner.join(outer, on=by, how="inner").filter(within)
    plain = inner.filter(~many).join(outer.filter(~many_o), on=by, how="inner").filter(within)
    timed = inner.select(pl.col(start).is_not_null() & pl.col(end).is_not_null()).to_series()
    timed_o = outer.select(pl.col(o_start).is_not_null() & pl.col(o_end).is_not_null())
    loop = _contained(
        inner.filter(many & timed), outer.filter(many_o & timed_o.to_series()), by, times, tol_us
    )
    return pl.concat([plain, loop])


def _many_pairs(
    inner: pl.DataFrame, outer: pl.DataFrame | None, key: list[str]
) -> tuple[pl.Series, pl.Series]:
    """Which rows of either side (``outer`` None: the same rows as ``inner``) are of a
    ``key`` with more than ``PLAIN_PAIRS`` pairs, told by a hash of the key: a collision
    only sends a few more rows the longer way."""
    hashed = [f.select(_hash(key)).to_series() for f in (inner, outer) if f is not None]
    runs = [h.sort().rle().struct.unnest() for h in hashed]
    counts = (
        runs[0]
        .rename({"len": "_n"})
        .join(runs[-1].rename({"len": "_n_o"}), on="value", how="inner")
    )
    many = (
        counts.filter(pl.col("_n").cast(pl.Int64) * pl.col("_n_o") > PLAIN_PAIRS)
        .get_column("value")
        .implode()
    )
    mask = hashed[0].is_in(many)
    return mask, hashed[1].is_in(many) if outer is not None else mask


def _hash(key: list[str]) -> pl.Expr:
    """A hash of the columns ``key`` (each column's own, combined: several times faster
    than a hash of their struct)."""
    return functools.reduce(operator.xor, (pl.col(c).hash(seed=i) for i, c in enumerate(key)))


def _contained(
    inner: pl.DataFrame,
    outer: pl.DataFrame,
    by: list[str],
    times: tuple[str, str, str, str],
    tol_us: int,
) -> pl.DataFrame:
    """:func:`containing` by an inequality join, of rows that all have their times."""
    start, end, o_start, o_end = times
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
    left, right = pairs.get_column("_l"), pairs.get_column("_r")
    # two keys of one hash: their rows were placed together, and only the pairs of one
    # key are kept
    same = pl.concat(
        [inner.select(by)[left], outer.select(by).rename(lambda c: f"_{c}_o")[right]],
        how="horizontal",
    ).select(pl.all_horizontal(pl.col(c) == pl.col(f"_{c}_o") for c in by))
    pairs = pairs.filter(same.to_series())
    left, right = pairs.get_column("_l"), pairs.get_column("_r")
    return pl.concat([inner[left], outer.drop(by)[right]], how="horizontal")


def common(values: pl.Series, more_than: int) -> pl.Series:
    """The values that occur more than ``more_than`` times (counted on the sorted values:
    a window or a group-by over hundreds of thousands of keys costs several times more)."""
    runs = values.sort().rle().struct.unnest()
    return runs.filter(pl.col("len") > more_than).get_column("value")


def first_of_each(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """``frame`` with only the first ``LOOP_SAMPLE`` rows of each ``key`` (told by a hash
    of it: two keys of one hash share theirs), in the frame's order. Only the keys of more
    rows are numbered (a window over every key costs ~0.9 s for 1.3M spans)."""
    hashed = frame.select(_hash(key)).to_series()
    many = common(hashed, LOOP_SAMPLE)
    if many.is_empty():
        return frame
    loop = hashed.is_in(many.implode())
    numbered = hashed.filter(loop).to_frame("_h").select(pl.int_range(pl.len()).over("_h"))
    late = pl.repeat(value=False, n=frame.height, eager=True).scatter(
        loop.arg_true(), numbered.to_series() >= LOOP_SAMPLE
    )
    return frame.filter(~late)
