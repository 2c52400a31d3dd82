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


def upstream_retries(spans: pl.DataFrame, options: InsightOptions) -> pl.DataFrame:
    del options
    attempts = spans.filter(
        (pl.col("origin") == "nginx")
        & (pl.col("kind") == "CLIENT")
        & pl.col("attempt").is_not_null()
    ).with_columns(((pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6).alias("d"))
    last = pl.col("attempt") == pl.col("attempt").max().over("line_sid")
    per_line = (
        attempts.with_columns(last.alias("_last"))
        .group_by("request_id", "line_sid", "service")
        .agg(
            pl.len().alias("n"),
            pl.col("d").filter(~pl.col("_last")).sum().alias("cost"),
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
    ordered = (
        c.filter(pl.col("target").is_not_null())
        .sort("start")
        .with_columns(
            pl.col("start").shift(-1).over(["caller_sid", "method", "target"]).alias("next_start")
        )
    )
    failed = ordered.filter(bad & pl.col("next_start").is_not_null()).with_columns(
        (
            pl.col("duration_s")
            + (pl.col("next_start") - pl.col("end")).dt.total_microseconds() / 1e6
        ).alias("cost")
    )
    grouped = failed.group_by("request_id", "caller_sid", "callee", "method", "target").agg(
        pl.len().alias("n"), pl.col("cost").sum(), pl.col("status").first()
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
    answered_later = c.sort("start").with_columns(
        pl.col("status")
        .fill_null(0)
        .lt(500)
        .cast(pl.Int8)
        .reverse()
        .cum_max()
        .reverse()
        .shift(-1)
        .over(["caller_sid", "method", "target"])
        .fill_null(0)
        .alias("_later_ok")
    )
    errors = answered_later.filter(
        (pl.col("status").fill_null(0) >= 500) & (pl.col("_later_ok") == 0)
    ).join(ok_roots, on="request_id", how="semi")
    grouped = errors.group_by("request_id", "callee").agg(
        pl.len().alias("n"),
        pl.col("duration_s").sum(),
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
