"""Durations in a unit the app log did not say, checked against the calls around them.

A bare number under ``duration`` is the one thing an app log does not say the unit of
(zerolog writes float milliseconds, zap float seconds, slog integer nanoseconds:
``applog/durations.py`` decides from the file itself where it can). The calls that
reached a service's spans, and the spans its calls reached, tell it too: a served request
cannot last a thousand times longer than the call that waited for it, nor a call a
thousand times longer than everything it reached. So for each app source, every span is
compared with the spans of other sources of the same request whose paths end alike, the
closest in duration kept; when two thirds of those pairs say the source's spans are off by
the same power of a thousand (from an nginx log, whose units are fixed, or from several
partners), its durations are in that other unit and are rescaled.
"""

from __future__ import annotations

import math

import polars as pl

from logtrace.timelines import band

MIN_PAIRS = 5
_MAX_SPANS = 200
_SAMPLE = 20_000
_SEED = 0x756E697473  # "units"
OFF_BY = 2.5  # log10 of the ratio beyond which a source's unit is wrong (over 300x)
MAJORITY = 2 / 3  # of the pairs (weighted by partner) that must say so


def _last_segment() -> pl.Expr:
    return pl.col("path").str.strip_chars_end("/").str.extract(r"/([^/]+)$")


def _ratios(spans: pl.DataFrame) -> pl.DataFrame:
    """Per app span: the log10 of its duration over the nearest partner's, and which
    source that partner is (and whether it is nginx)."""
    duration = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    base = spans.filter(pl.col("request_id").is_not_null() & pl.col("path").is_not_null()).select(
        "sid",
        "request_id",
        "source",
        "origin",
        "kind",
        _last_segment().alias("_last"),
        duration.alias("_us"),
    )
    # a loop's first spans only, before the requests' sizes are told (paths.learn)
    base = band.first_of_each(
        base.filter(pl.col("_us") > 0), ["request_id", "source", "kind", "_last"]
    )
    # Requests of a moderate size only (a reused id would make the join quadratic), and at
    # most a sample of them: the units of a source show in a few thousand of its spans.
    sizes = base.group_by("request_id").len().filter(pl.col("len") <= _MAX_SPANS)
    if sizes.height > _SAMPLE:
        sizes = sizes.filter(pl.col("request_id").hash(_SEED) % (sizes.height // _SAMPLE + 1) == 0)
    base = base.join(sizes.select("request_id"), on="request_id", how="semi")
    servers = base.filter(pl.col("kind") == "SERVER")
    clients = base.filter(pl.col("kind") == "CLIENT")
    pairs = servers.join(clients, on=["request_id", "_last"], suffix="_c").filter(
        pl.col("source") != pl.col("source_c")
    )
    # each side of a pair speaks about its own source: callee/caller, and caller/callee
    log_ratio = (pl.col("_us") / pl.col("_us_c")).log10()
    as_callee = pairs.filter(pl.col("origin") == "app").select(
        "sid", "source", pl.col("source_c").alias("partner"), pl.col("origin_c").alias("p_origin"),
        log_ratio.alias("lr"),
    )  # fmt: skip
    as_caller = pairs.filter(pl.col("origin_c") == "app").select(
        pl.col("sid_c").alias("sid"), pl.col("source_c").alias("source"),
        pl.col("source").alias("partner"), pl.col("origin").alias("p_origin"),
        (-log_ratio).alias("lr"),
    )  # fmt: skip
    both = pl.concat([as_callee, as_caller])
    return (
        both.sort(pl.col("lr").abs())
        .unique(["sid", "partner"], keep="first")
        .group_by("source", "partner")
        .agg(
            pl.len().alias("n"),
            pl.col("lr").median().alias("lr"),
            (pl.col("p_origin") == "nginx").any().alias("nginx"),
        )
        .filter(pl.col("n") >= MIN_PAIRS)
    )


def wrong_units(spans: pl.DataFrame) -> dict[str, float]:
    """App source → the factor its durations are off by (1000: milliseconds read as
    seconds): what most of its pairs with other sources say (a partner whose paths end
    like it by chance, an id shared by an edge request and a call, says little)."""
    found: dict[str, float] = {}
    votes: dict[str, dict[int, list[tuple[int, bool]]]] = {}
    for source, _, n, lr, nginx in _ratios(spans).iter_rows():
        power = round(lr / 3) if abs(lr) >= OFF_BY else 0
        votes.setdefault(source, {}).setdefault(power, []).append((n, nginx))
    for source, by_power in votes.items():
        weight = {p: sum(n for n, _ in v) for p, v in by_power.items()}
        power = max(weight, key=lambda p: weight[p])
        if power == 0 or weight[power] < MAJORITY * sum(weight.values()):
            continue
        winners = by_power[power]
        if len(winners) < 2 and not any(nginx for _, nginx in winners):
            continue  # one app against another: which of the two is wrong?
        found[source] = math.pow(1000.0, power)
    return found


def rescale(
    spans: pl.DataFrame, factors: dict[str, float] | None = None
) -> tuple[pl.DataFrame, dict[str, str]]:
    """``spans`` with the durations of app sources in a wrong unit put right (their
    start moves, their end stays where it was logged), and a note per source.

    ``factors`` (:func:`wrong_units` of every request) are used as given when known."""
    factors = wrong_units(spans) if factors is None else factors
    if not factors:
        return spans, {}
    factor = pl.col("source").replace_strict(factors, default=1.0, return_dtype=pl.Float64)
    duration = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    start = pl.col("raw_end") - pl.duration(
        microseconds=(duration / factor).round(0).cast(pl.Int64)
    )
    out = spans.with_columns(
        pl.when(factor != 1.0).then(start).otherwise(pl.col("raw_start")).alias("raw_start")
    )
    return out, notes(factors)


def notes(factors: dict[str, float]) -> dict[str, str]:
    """A note per app source whose durations are rescaled."""
    return {
        source: f"{source}: durations logged without a unit came out {_times(f)} the calls "
        f"around them (another unit than the file suggests): divided by {f:,.0f}"
        for source, f in factors.items()
    }


def _times(factor: float) -> str:
    return f"{factor:,.0f} times as long as" if factor > 1 else f"1/{1 / factor:,.0f} of"
