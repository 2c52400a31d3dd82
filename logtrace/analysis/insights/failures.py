"""Detectors of work that failed, was repeated, or was thrown away.

* **Retries** (``retry``): an nginx line with more than one upstream attempt (``, `` in
  ``$upstream_*``): the failed attempts' time; and an app calling the same target again
  after an error answer (5xx, 429, or no answer): the failed calls plus the wait before
  the retry. Detail names the upstream that failed when the format logs it.
* **Timeouts and abandoned work** (``abandoned``): the request's entry span ended with
  504 (nginx gave up on the upstream) or 499 (the client gave up) while a span under it
  kept running; the time it ran on after nobody was waiting is the waste.
* **Swallowed errors** (``swallowed_error``): a call answered with a 5xx inside a request
  that still answered 2xx/3xx, and not retried successfully: the failed call's time.
  False positives: optional calls whose failure is expected (feature flags, best effort).
"""

from __future__ import annotations

import polars as pl

from logtrace.analysis.insights.model import InsightOptions, finding_frame
from logtrace.frames import max_before


def upstream_retries(spans: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    del options
    attempts = spans.filter(
        (pl.col("origin") == "nginx")
        & (pl.col("kind") == "CLIENT")
        & pl.col("attempt").is_not_null()
    )
    # Only lines with a second attempt retried: the others are left out before grouping.
    retried = attempts.filter(pl.col("attempt") > 1).select("line_sid").unique()
    attempts = attempts.join(retried, on="line_sid", how="semi").with_columns(
        (pl.col("end") - pl.col("start")).dt.total_microseconds().alias("d")
    )
    # Sorted by line and attempt, a line's last attempt is the row before the next line.
    last = pl.col("line_sid").ne_missing(pl.col("line_sid").shift(-1))
    per_line = (
        attempts.sort("line_sid", "attempt", maintain_order=True)
        .with_columns(last.alias("_last"))
        .group_by("request_id", "line_sid", "service")
        .agg(
            pl.len().alias("n"),
            (pl.col("d").filter(~pl.col("_last")).sum() / 1e6).alias("cost"),
            pl.col("peer")
            .filter(~pl.col("_last"))
            .drop_nulls()
            .unique()
            .sort()
            .str.join(", ")
            .alias("failed"),
        )
        .filter(pl.col("n") > 1)
    )
    failed = (
        pl.when(pl.col("failed") == "")
        .then(pl.lit("upstream not logged"))
        .otherwise(pl.col("failed"))
    )
    return finding_frame(
        per_line,
        "retry",
        saving=pl.col("cost"),
        detail=pl.format("{} attempts at {}; failed: {}", pl.col("n"), pl.col("service"), failed),
    )


def app_retries(c: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    del options
    bad = pl.col("status").is_null() | (pl.col("status") >= 500) | (pl.col("status") == 429)
    keys = ["caller_sid", "method", "target"]
    same_call = pl.all_horizontal(pl.col(k).eq_missing(pl.col(k).shift(-1)) for k in keys)
    ordered = (
        c.filter(pl.col("target").is_not_null())
        .sort([*keys, "start"], maintain_order=True)
        .with_columns(pl.when(same_call).then(pl.col("start").shift(-1)).alias("next_start"))
    )
    failed = ordered.filter(bad & pl.col("next_start").is_not_null()).with_columns(
        (
            pl.col("duration_us") + (pl.col("next_start") - pl.col("end")).dt.total_microseconds()
        ).alias("cost")
    )
    grouped = failed.group_by("request_id", "caller_sid", "callee", "method", "target").agg(
        pl.len().alias("n"), pl.col("cost").sum() / 1e6, pl.col("status").first()
    )
    return finding_frame(
        grouped,
        "retry",
        saving=pl.col("cost"),
        detail=pl.format(
            "{} retried {} {} after {}",
            pl.col("callee"),
            pl.col("method"),
            pl.col("target"),
            pl.col("status").cast(pl.String).fill_null("no answer"),
        ),
    )


def abandoned(spans: pl.DataFrame, roots: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    del options
    gave_up = roots.filter(pl.col("status").is_in([499, 504])).select(
        "request_id", pl.col("end").alias("root_end"), pl.col("status").alias("root_status")
    )
    late = (
        spans.join(gave_up, on="request_id", how="inner")
        .filter(pl.col("end") > pl.col("root_end"))
        .group_by("request_id", "root_status")
        .agg(
            (
                (pl.col("end").max() - pl.col("root_end").first()).dt.total_microseconds() / 1e6
            ).alias("waste"),
            pl.col("service").filter(pl.col("end") == pl.col("end").max()).first().alias("who"),
        )
    )
    why = (
        pl.when(pl.col("root_status") == 504)
        .then(pl.lit("504: nginx timed out"))
        .otherwise(pl.lit("499: client gave up"))
    )
    return finding_frame(
        late,
        "abandoned",
        saving=pl.col("waste"),
        detail=pl.format("{}; {} kept working", why, pl.col("who")),
    )


def swallowed(c: pl.DataFrame, roots: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    del options
    ok_roots = roots.filter(pl.col("status").fill_null(0) < 400).select("request_id")
    answered = c.with_columns(pl.col("status").fill_null(0).lt(500).cast(pl.Int8).alias("_ok"))
    later_ok = max_before(
        answered, ["caller_sid", "method", "target"], "start", "_ok", descending=True
    )
    answered_later = answered.with_columns(later_ok.fill_null(0).alias("_later_ok"))
    errors = answered_later.filter(
        (pl.col("status").fill_null(0) >= 500) & (pl.col("_later_ok") == 0)
    ).join(ok_roots, on="request_id", how="semi")
    grouped = errors.group_by("request_id", "callee").agg(
        pl.len().alias("n"),
        (pl.col("duration_us").sum() / 1e6).alias("duration_s"),
        pl.col("route").first(),
        pl.col("status").first(),
    )
    return finding_frame(
        grouped,
        "swallowed_error",
        saving=pl.col("duration_s"),
        detail=pl.format(
            "{} answered {} on {}; the request still succeeded",
            pl.col("callee"),
            pl.col("status"),
            pl.col("route"),
        ),
    )
