"""Detectors over the calls a service makes while serving one request.

A *call* is an app's CLIENT span (a call it logged), with the service it called (the
``peer`` it named, else the service of the span that served it). All three detectors
look inside one caller span at a time, so two requests never mix.

* **N+1** (``n_plus_one``): at least ``min_calls`` calls from one caller to one service and
  route template, one after another: a loop, not a fan-out. A fan-out's calls overlap
  each other, all but the first; a loop's at most where a time is off (a call placed
  inside a whole second by the spans around it, a line written late on a busy host), so
  the calls are taken as parallel when most of them overlap an earlier one. Saving: a
  single batched call would cost about one of them, so ``(n - 1) × mean call time``.
  False positives: calls that must be sequential because each needs the previous answer
  (pagination); a batch endpoint that is slower than one call.
* **Sequential independent calls** (``sequential``): calls to two or more different
  services, none overlapping another. Saving if run in parallel: ``sum − max`` of the
  time spent per service. Calls that already overlap are never flagged. False positives:
  a call that needs the previous one's result (logs cannot show data dependencies).
* **Repeated identical calls** (``repeated``): the same GET/HEAD method and full target
  (path and query) more than once in one request, none of them answered with an error
  (those are retries). Saving: every repeat after the first. False positives: reads that
  must see fresh data each time.
"""

from __future__ import annotations

import polars as pl

from logtrace.analysis.insights.model import InsightOptions, finding_frame
from logtrace.frames import max_before

CACHEABLE = ("GET", "HEAD")
# Durations logged to 0.1 ms ("took=8.2ms") put a start up to that much early: one call
# "overlapping" the previous one by less than this is still sequential.
OVERLAP_TOLERANCE = pl.duration(milliseconds=1)


def calls(spans: pl.DataFrame) -> pl.DataFrame:
    """Every app CLIENT span with its caller span and the service it called."""
    served_by = (
        spans.filter(pl.col("kind") == "SERVER")
        .select(pl.col("parent_sid").alias("sid"), pl.col("service").alias("child_service"))
        .unique("sid", keep="first")
    )
    return (
        spans.filter((pl.col("kind") == "CLIENT") & (pl.col("origin") == "app"))
        .join(served_by, on="sid", how="left")
        .select(
            "request_id",
            "sid",
            pl.col("parent_sid").alias("caller_sid"),
            pl.col("service").alias("caller"),
            pl.coalesce("peer", "child_service").fill_null("?").alias("callee"),
            "method",
            pl.coalesce("route", "path").alias("route"),
            "target",
            "start",
            "end",
            ((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("duration_s"),
            # sums and means in whole microseconds: a float sum's last bits depend on the
            # order polars adds in, and a saving must come out the same every run
            (pl.col("end") - pl.col("start")).dt.total_microseconds().alias("duration_us"),
            "status",
            pl.col("within_s") if "within_s" in spans.columns else pl.lit(0.0).alias("within_s"),
            # placed inside a coarser logged time (see _with_overlap)
            (
                pl.col("within_s") < pl.col("precision_s")
                if {"within_s", "precision_s"} <= set(spans.columns)
                else pl.lit(value=True)
            ).alias("_placed"),
        )
    )


def _with_overlap(c: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """``_overlap``: the call starts before an earlier call of the same ``keys`` ended, by
    more than the two can be off: ``OVERLAP_TOLERANCE``, plus how exactly each is known
    (``within_s``: a whole-second line placed by the spans around it is known to its
    window, and two such windows are off independently; calls logged as they are, to the
    millisecond say, are one caller's lines on one clock, all cut the same way, so the
    later start's precision alone bounds how far off their overlap can be)."""
    within = pl.duration(microseconds=(pl.col("within_s").fill_null(0.0) * 1e6).cast(pl.Int64))
    placed = pl.col("_placed").fill_null(value=True)
    ended = pl.when(placed).then(pl.col("end") - within).otherwise(pl.col("end"))
    surely_ended = c.with_columns(ended.alias("_surely_ended"))
    reached = max_before(surely_ended, keys, "start", "_surely_ended").alias("_reached")
    began = pl.col("start") + within + OVERLAP_TOLERANCE
    overlap = (began < pl.col("_reached")).fill_null(value=False)
    return c.with_columns(reached).with_columns(overlap.alias("_overlap")).drop("_reached")


def n_plus_one(c: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    groups = (
        _with_overlap(c, ["caller_sid", "callee", "route"])
        .group_by("request_id", "caller_sid", "callee", "route")
        .agg(
            pl.len().alias("n"),
            (pl.col("duration_us").sum() / pl.len() / 1e6).alias("mean_s"),
            (pl.col("_overlap").sum() * 2 > pl.len() - 1).alias("parallel"),
        )
        .filter((pl.col("n") >= options.min_calls) & ~pl.col("parallel"))
    )
    return finding_frame(
        groups,
        "n_plus_one",
        saving=(pl.col("n") - 1) * pl.col("mean_s"),
        detail=pl.format("{} calls to {} {}", pl.col("n"), pl.col("callee"), pl.col("route")),
    )


def sequential(c: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    del options
    per_caller = (
        _with_overlap(c, ["caller_sid"])
        .group_by("request_id", "caller_sid")
        .agg(
            pl.col("callee").n_unique().alias("services"),
            pl.col("_overlap").any().alias("parallel"),
        )
    )
    flagged = per_caller.filter((pl.col("services") >= 2) & ~pl.col("parallel"))
    per_service = (
        c.join(flagged.select("caller_sid"), on="caller_sid", how="semi")
        .group_by("request_id", "caller_sid", "callee")
        .agg(pl.col("duration_us").sum().alias("spent_us"))
        .group_by("request_id", "caller_sid")
        .agg(
            ((pl.col("spent_us").sum() - pl.col("spent_us").max()) / 1e6).alias("saving"),
            pl.col("callee").sort().str.join(", ").alias("callees"),
            pl.len().alias("n"),
        )
    )
    return finding_frame(
        per_service,
        "sequential",
        saving=pl.col("saving"),
        detail=pl.format("{} services one after another: {}", pl.col("n"), pl.col("callees")),
    )


def repeated(c: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    ok = (pl.col("status").fill_null(200) < 500) & (pl.col("status").fill_null(200) != 429)
    groups = (
        c.filter(pl.col("method").is_in(CACHEABLE) & pl.col("target").is_not_null())
        .sort("start")
        .group_by("request_id", "caller_sid", "callee", "method", "target")
        .agg(
            pl.len().alias("n"),
            ok.all().alias("all_ok"),
            (pl.col("duration_us").slice(1).sum() / 1e6).alias("saving"),
        )
        .filter((pl.col("n") >= options.min_repeats) & pl.col("all_ok"))
    )
    return finding_frame(
        groups,
        "repeated",
        saving=pl.col("saving"),
        detail=pl.format(
            "{}× {} {} on {}", pl.col("n"), pl.col("method"), pl.col("target"), pl.col("callee")
        ),
    )


def hot_targets(c: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    """Identical GET targets called across many requests: cache candidates (hot keys).

    One row per target (not per request): ``requests`` is how many requests called it;
    the saving is the time all those calls took, an upper bound a cache approaches only
    with a perfect hit rate.
    """
    return hot_of([target_sums(c)], options)


def target_sums(c: pl.DataFrame) -> pl.DataFrame:
    """Per GET target called: requests, calls, microseconds and the first request ids
    (:func:`hot_of` adds up those of parts of disjoint requests)."""
    return (
        c.filter(pl.col("method").is_in(CACHEABLE) & pl.col("target").is_not_null())
        .group_by("callee", "method", "target")
        .agg(
            pl.col("request_id").n_unique().alias("requests"),
            pl.len().alias("calls"),
            pl.col("duration_us").sum().alias("total_us"),
            pl.col("request_id").unique().sort().head(3).alias("examples"),
        )
    )


def merged_targets(sums: list[pl.DataFrame]) -> pl.DataFrame:
    """:func:`target_sums` of parts of disjoint requests, added up."""
    return (
        pl.concat(sums)
        .group_by("callee", "method", "target")
        .agg(
            pl.col("requests").sum(),
            pl.col("calls").sum(),
            pl.col("total_us").sum(),
            pl.col("examples").explode().unique().sort().head(3),
        )
    )


def hot_of(sums: list[pl.DataFrame], options: InsightOptions) -> pl.DataFrame:
    """The hot targets of the calls of every part (see :func:`hot_targets`)."""
    return (
        merged_targets(sums)
        .with_columns((pl.col("total_us") / 1e6).alias("total_s"))
        .select("callee", "method", "target", "requests", "calls", "total_s", "examples")
        .filter(pl.col("requests") >= options.min_hot_requests)
        .sort("total_s", descending=True)
    )
