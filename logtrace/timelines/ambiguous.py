"""Calls the logs cannot tell apart (see :func:`swappable`)."""

from __future__ import annotations

import polars as pl

from logtrace.timelines import band


def swappable(pairs: pl.DataFrame, spans: pl.DataFrame) -> pl.Series:
    """The callees whose caller the logs cannot decide: two calls of one source and request
    to the same path whose callees (of one source) would nest just as well the other way
    round, within the timestamps' precision (identical calls at the same second through
    a whole-second proxy). Their pairing follows the order of the calls: a guess.

    The other calls whose span holds a callee are found by an inequality join (band.py):
    a loop of hundreds of identical calls would set each beside each."""
    known = pl.col("within_s") if "within_s" in spans.columns else pl.col("precision_s")
    info = spans.select("sid", "source", "path", "start", "end", known.alias("precision_s"))
    side = info.rename({c: f"{c}_c" for c in info.columns})
    chosen = pairs.select("request_id", "sid", "sid_c").join(info, on="sid").join(side, on="sid_c")
    keys = ["request_id", "source", "source_c", "path_c"]
    other = chosen.rename({c: f"{c}_o" for c in chosen.columns if c not in keys})
    # every other call whose span holds this callee within the largest slack there is;
    # then each pair's own slack, both ways round
    most = chosen.select(pl.col("precision_s").max() + pl.col("precision_s_c").max()).item()
    widest = 0 if most is None else round(most * 1e6)
    times = ("start", "end", "start_c_o", "end_c_o")
    both = band.containing(
        chosen, other, keys, times, widest, count_by=keys, same_rows=True
    ).filter(pl.col("sid") != pl.col("sid_o"))
    if both.is_empty():
        return pl.Series("sid", [], dtype=pl.UInt64)
    slack = pl.duration(
        microseconds=((pl.col("precision_s") + pl.col("precision_s_c_o")) * 1e6).cast(pl.Int64)
    )
    slack_o = pl.duration(
        microseconds=((pl.col("precision_s_o") + pl.col("precision_s_c")) * 1e6).cast(pl.Int64)
    )
    crossed = (
        (pl.col("start") >= pl.col("start_c_o") - slack)
        & (pl.col("end") <= pl.col("end_c_o") + slack)
        & (pl.col("start_o") >= pl.col("start_c") - slack_o)
        & (pl.col("end_o") <= pl.col("end_c") + slack_o)
    )
    return both.filter(crossed).get_column("sid").unique().sort()
