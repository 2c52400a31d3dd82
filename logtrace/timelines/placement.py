"""Whole-second lines placed inside their second by the precise spans around them.

nginx's ``$time_local`` (and ``$time_iso8601``) floor the time a line was written to the
second, while ``$request_time`` and the upstream times stay exact to the millisecond;
app loggers that print whole seconds (logrus, zerolog, structlog's console) still log
durations to the millisecond. A line's true end ``E`` (on the reference clock) therefore
lies in ``[T − o, T + 1 − o)`` where ``T`` is the logged second and ``o`` the host's clock
offset, and every matched span around it narrows that down (an app's call is a line whose
only "attempt" is itself):

* **below**: an upstream attempt ``a`` of the line and the span ``s`` it reached. ``s``
  lies inside ``a``, and the attempts end back to back when the line is written, so
  ``s.end + later(a) ≤ E ≤ s.start + to_end(a)`` (``later``: the upstream time of the
  attempts after ``a``; ``to_end``: that plus ``a``'s own);
* **above**: the call ``c`` that reached the line. The line lies inside it, so
  ``c.start + duration ≤ E ≤ c.end``.

A span is *known* when its timestamps are precise, or once it has been placed. Lines are
placed in passes: those with a known neighbour first, then those whose neighbours were
placed in the pass before (an edge whose only precise spans sit behind another
whole-second proxy). Each host's offset comes from the windows of all its anchored lines
(``skew.window_offsets``); a line with no anchor at all sits in the middle of its second.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from logtrace.schema import TIME
from logtrace.timelines import skew
from logtrace.timelines.matching import COARSE_S
from logtrace.timelines.parents import us
from logtrace.timelines.skew import HostOffset

MAX_PASSES = 4
_DISAGREE_S = 0.003
_NEARLY_ONE_S = 0.999999


def _attempt_spans(coarse: pl.DataFrame) -> pl.DataFrame:
    """Each attempt of a coarse line with its upstream time to the end of the line (an
    app's call: itself, the whole of its line)."""
    attempts = coarse.filter(pl.col("kind") == "CLIENT").with_columns(
        (pl.col("raw_end") - pl.col("raw_start")).alias("_urt")
    )
    # Summed from the last attempt back, sorted once: no window per line.
    attempts = attempts.sort("line_sid", "attempt", descending=[False, True])
    summed = pl.col("_urt").cum_sum()
    new_line = pl.col("line_sid").ne_missing(pl.col("line_sid").shift(1))
    before_line = pl.when(new_line).then(summed - pl.col("_urt")).forward_fill()
    return attempts.with_columns((summed - before_line).alias("_to_end")).select(
        "sid", "line_sid", "_to_end", (pl.col("_to_end") - pl.col("_urt")).alias("_later")
    )


def _bounds(
    pairs: pl.DataFrame,
    attempts: pl.DataFrame,
    lines: pl.DataFrame,
    known: pl.DataFrame,
    calls: pl.DataFrame,
) -> pl.DataFrame:
    """``line_sid``, ``lo``, ``hi``: where each line's end can be, from known neighbours.

    ``calls`` are the app's CLIENT spans with their request and source: an app's served
    request holds the calls it made (same process, same clock).
    """
    # A callee that outlived its caller (the caller gave up: a timeout) bounds nothing but
    # where the attempt started; a line that outlived the call reaching it, likewise.
    hi_below = pl.col("start") + pl.col("_to_end")
    below = (
        pairs.select(pl.col("sid_c").alias("sid"), pl.col("sid").alias("_n"))
        .join(attempts, on="sid", how="inner")
        .join(known.rename({"sid": "_n"}), on="_n", how="inner")
        .select(
            "line_sid",
            pl.min_horizontal(pl.col("end") + pl.col("_later"), hi_below).alias("lo"),
            hi_below.alias("hi"),
        )
    )
    lo_above = pl.col("start") + pl.col("_dur")
    above = (
        pairs.select(pl.col("sid").alias("line_sid"), pl.col("sid_c").alias("_n"))
        .join(lines.select("line_sid", "_dur"), on="line_sid", how="inner")
        .join(known.rename({"sid": "_n"}), on="_n", how="inner")
        .select("line_sid", lo_above.alias("lo"), pl.max_horizontal("end", lo_above).alias("hi"))
    )
    served = lines.filter(pl.col("_app_server")).select("line_sid", "request_id", "source", "_dur")
    own = (
        calls.join(known, on="sid", how="inner")
        .join(served, on=["request_id", "source"], how="inner")
        .filter(pl.col("sid") != pl.col("line_sid"))
        .select(
            "line_sid",
            pl.col("end").alias("lo"),
            pl.max_horizontal("end", pl.col("start") + pl.col("_dur")).alias("hi"),
        )
    )
    both = pl.concat([below, above, own])
    mid = pl.col("lo") + (pl.col("hi") - pl.col("lo")) / 2
    per_line = both.group_by("line_sid").agg(
        pl.col("lo").max().alias("lo"),
        pl.col("hi").min().alias("hi"),
        mid.median().alias("_mid"),
    )
    # Neighbours that disagree (an outlier, a retry's odd timing): the median of theirs.
    consistent = pl.col("lo") <= pl.col("hi")
    return per_line.select(
        "line_sid",
        pl.when(consistent)
        .then(pl.col("lo") + (pl.col("hi") - pl.col("lo")) / 2)
        .otherwise(pl.col("_mid"))
        .alias("true_end"),
        # how far off the placed end can be: half the window, or a few ms when they disagree
        pl.when(consistent)
        .then((pl.col("hi") - pl.col("lo")).dt.total_microseconds() / 2e6)
        .otherwise(_DISAGREE_S)
        .alias("within_s"),
    )


def place(
    spans: pl.DataFrame,
    pairs: pl.DataFrame,
    given: Sequence[dict[str, HostOffset]] | None = None,
    seen: list[dict[str, HostOffset]] | None = None,
) -> tuple[pl.DataFrame, dict[str, HostOffset]]:
    """``spans`` with whole-second lines (and nginx's upstream attempts) moved inside their
    second, and the window offsets of their hosts. ``pairs`` are the matched pairs
    (``sid`` called by ``sid_c``); times are taken from ``spans`` as corrected so far.

    The windows of each pass come from the anchors of every line so far; ``given`` (what
    ``seen`` collected on all requests: each pass's windows, the final ones last) holds
    them fixed, so that a part of the requests is placed as it would be among all.
    """

    def windows_now(k: int, anchored: pl.DataFrame) -> dict[str, HostOffset]:
        if given is None:
            found = skew.window_offsets(anchored)
        else:
            found = given[min(k, len(given) - 1)] if given else {}
        if seen is not None:
            seen.append(found)
        return found

    is_coarse = pl.col("precision_s") >= COARSE_S
    coarse = spans.filter(is_coarse)
    if coarse.is_empty():
        return spans.with_columns(pl.col("precision_s").alias("within_s")), {}
    lines = coarse.filter(pl.col("line_sid") == pl.col("sid")).select(
        pl.col("sid").alias("line_sid"),
        "host",
        "request_id",
        "source",
        ((pl.col("origin") == "app") & (pl.col("kind") == "SERVER")).alias("_app_server"),
        pl.col("raw_end").alias("logged_end"),
        (pl.col("raw_end") - pl.col("raw_start")).alias("_dur"),
    )
    calls = spans.filter((pl.col("origin") == "app") & (pl.col("kind") == "CLIENT")).select(
        "sid", "request_id", "source"
    )
    attempts = _attempt_spans(coarse)
    known = spans.filter(~is_coarse).select("sid", "start", "end")
    anchors = pl.DataFrame(
        schema={"line_sid": pl.UInt64, "true_end": pl.Datetime("us", "UTC"), "within_s": pl.Float64}
    )
    # A line left unanchored by a pass had no known neighbour: what can anchor it in the
    # next pass are the lines that pass placed (``fresh``), not all that is known.
    fresh = known
    for k in range(MAX_PASSES):
        found = _bounds(pairs, attempts, lines, fresh, calls).join(
            anchors, on="line_sid", how="anti"
        )
        if found.is_empty():
            break
        anchors = pl.concat([anchors, found.cast(anchors.schema)])
        windows = windows_now(k, lines.join(anchors, on="line_sid", how="inner"))
        placed = _placed(lines.join(found, on="line_sid", how="inner"), windows)
        fresh = _line_times(placed, coarse)
        known = pl.concat([known, fresh])
    final = len(given) - 1 if given else MAX_PASSES
    windows = windows_now(final, lines.join(anchors, on="line_sid", how="inner"))
    anchors = _nested_in_loose(
        pairs,
        attempts=attempts,
        lines=lines,
        known=known,
        calls=calls,
        coarse=coarse,
        anchors=anchors,
        windows=windows,
    )
    placed = _placed(lines.join(anchors, on="line_sid", how="left"), windows)
    return _shifted(spans, placed), windows


def _nested_in_loose(
    pairs: pl.DataFrame,
    *,
    attempts: pl.DataFrame,
    lines: pl.DataFrame,
    known: pl.DataFrame,
    calls: pl.DataFrame,
    coarse: pl.DataFrame,
    anchors: pl.DataFrame,
    windows: dict[str, HostOffset],
) -> pl.DataFrame:
    """``anchors`` plus the lines that no precise span reaches, laid inside each other:
    the outermost of such a group sits in the middle of its second, the lines it called
    inside it (an edge and an app both logging whole seconds, with nothing precise around:
    where in the second is unknown, which ran longer after the other gave up is not)."""
    loose = lines.join(anchors, on="line_sid", how="anti")
    if loose.is_empty():
        return anchors
    # the line each call came from: an attempt's nginx line, an app call's own span
    caller_line = pairs.select("sid", "sid_c").join(
        coarse.select(pl.col("sid").alias("sid_c"), pl.col("line_sid").alias("_from")),
        on="sid_c",
        how="inner",
    )
    for _ in range(MAX_PASSES):
        if loose.is_empty():
            break
        called = caller_line.join(loose.select(pl.col("line_sid").alias("_from")), on="_from")
        top = loose.join(called.select(pl.col("sid").alias("line_sid")), on="line_sid", how="anti")
        if top.is_empty():
            top = loose
        unplaced = top.with_columns(
            pl.lit(None, TIME).alias("true_end"), pl.lit(None, pl.Float64).alias("within_s")
        )
        middle = _placed(unplaced, windows)
        known = pl.concat([known, _line_times(middle, coarse)])
        rest = loose.join(top.select("line_sid"), on="line_sid", how="anti")
        found = _bounds(pairs, attempts, rest, known, calls).join(
            rest.select("line_sid"), on="line_sid", how="semi"
        )
        loose = rest.join(found.select("line_sid"), on="line_sid", how="anti")
        anchors = pl.concat([anchors, found.with_columns(pl.lit(0.5).alias("within_s"))])
        if found.height:
            placed = _placed(rest.join(found, on="line_sid", how="inner"), windows)
            known = pl.concat([known, _line_times(placed, coarse)])
    return anchors


def _placed(lines: pl.DataFrame, windows: dict[str, HostOffset]) -> pl.DataFrame:
    """``line_sid``, ``_shift`` (placed end − logged end) and ``offset_s`` of each line:
    its anchored end kept inside the second the host logged, else mid-second."""
    offsets = pl.DataFrame(
        {"host": list(windows), "offset_s": [o.offset_s for o in windows.values()]},
        schema={"host": pl.String, "offset_s": pl.Float64},
    )
    lo = pl.col("logged_end") - us(pl.col("offset_s").fill_null(0.0))
    end = (
        pl.when(pl.col("true_end").is_not_null())
        .then(
            pl.max_horizontal(
                lo, pl.min_horizontal(pl.col("true_end"), lo + us(pl.lit(_NEARLY_ONE_S)))
            )
        )
        .otherwise(lo + us(pl.lit(0.5)))  # unanchored: the middle of its second
    )
    within = pl.when(pl.col("true_end").is_not_null()).then(pl.col("within_s")).otherwise(0.5)
    return lines.join(offsets, on="host", how="left").select(
        "line_sid",
        (end - pl.col("logged_end")).alias("_shift"),
        "offset_s",
        within.alias("_within"),
    )


def _line_times(placed: pl.DataFrame, coarse: pl.DataFrame) -> pl.DataFrame:
    """The placed times of the lines' spans (the line and its attempts)."""
    return coarse.join(placed, on="line_sid", how="inner").select(
        "sid",
        (pl.col("raw_start") + pl.col("_shift")).alias("start"),
        (pl.col("raw_end") + pl.col("_shift")).alias("end"),
    )


def _shifted(spans: pl.DataFrame, placed: pl.DataFrame) -> pl.DataFrame:
    shifts = spans.select("line_sid").join(placed, on="line_sid", how="left", maintain_order="left")
    out = spans.with_columns(
        shifts.get_column("_shift"), shifts.get_column("offset_s"), shifts.get_column("_within")
    )
    moved = pl.col("_shift").is_not_null()
    out = out.with_columns(
        pl.when(moved)
        .then(pl.col("raw_start") + pl.col("_shift"))
        .otherwise("start")
        .alias("start"),
        pl.when(moved).then(pl.col("raw_end") + pl.col("_shift")).otherwise("end").alias("end"),
        pl.when(moved).then(pl.col("offset_s").fill_null(0.0)).otherwise("skew_s").alias("skew_s"),
    )
    # How exactly the times are known now (internal: the timelines drop it once used).
    out = out.with_columns(
        pl.when(moved).then(pl.col("_within")).otherwise("precision_s").alias("within_s")
    )
    return out.drop("_shift", "offset_s", "_within")
