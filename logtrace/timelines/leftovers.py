"""A second look for the spans the paths could not pair (see :func:`leftovers`)."""

from __future__ import annotations

import polars as pl

from logtrace.timelines import names
from logtrace.timelines.matching import (
    NAME_FITS,
    SLACK_US,
    START_GAP,
    STATUS_DIFFERS,
    WAITED_MORE,
    assign,
)

FALLBACK = 3.0
_MAX_LEFT = 64  # spans left over in one request beyond which it gets no second look


def leftovers(
    spans: pl.DataFrame,
    assigned: pl.DataFrame,
    called: pl.Series | None = None,
    links: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Pairs for the spans the paths could not pair: a proxy that rewrote the whole path,
    a call logged without one. A callee and a caller of the same request that both have
    no partner pair when the callee lies inside the call (within both timestamps'
    precision; one for the very path the call named need only begin inside it), the
    methods agree, and something else ties them: the call names the callee, one of them
    has no path, their paths end alike, or the two sources are a hop
    other requests take. Costed like :func:`costed` (plus ``FALLBACK``), then assigned.

    ``called`` (:func:`called_sources`) and ``links`` (:func:`hops`) are learnt from every
    request; given, they are used as they are (a part of the requests joined alone).
    """
    free = spans.filter(
        pl.col("kind").is_in(["SERVER", "CLIENT"]) & pl.col("request_id").is_not_null()
    ).join(
        pl.concat([assigned.select("sid"), assigned.select(pl.col("sid_c").alias("sid"))]),
        on="sid",
        how="anti",
    )
    crowded = free.group_by("request_id").len().filter(pl.col("len") > _MAX_LEFT)
    free = free.join(crowded, on="request_id", how="anti")
    cols = ["request_id", "sid", "source", "host", "service", "origin", "method", "status"]
    cols += ["path", "peer", "start", "end", "raw_start", "raw_end", "precision_s"]
    # Only a source whose spans are mostly called by another gets a caller this way: the
    # requests entering at an edge are nobody's calls, whatever their paths and times.
    called = called_sources(spans, assigned) if called is None else called
    callees = free.filter(
        (pl.col("kind") == "SERVER") & pl.col("source").is_in(called.implode())
    ).select(cols)
    callers = free.filter(pl.col("kind") == "CLIENT").select(cols)
    if callees.is_empty() or callers.is_empty():
        return assigned.clear()
    pairs = callees.join(callers, on="request_id", suffix="_c").filter(
        (pl.col("source") != pl.col("source_c"))
        & (
            pl.col("method").is_null()
            | pl.col("method_c").is_null()
            | (pl.col("method") == pl.col("method_c"))
        )
    )
    slack = pl.duration(
        microseconds=((pl.col("precision_s") + pl.col("precision_s_c")) * 1e6).cast(pl.Int64)
        + SLACK_US
    )
    # A caller that gave up (a timeout, a client gone) may end before its callee.
    gave_up = pl.col("status_c").is_null() | pl.col("status_c").is_in([408, 499, 504])
    # A callee that began inside a call for its very path may log its end late (work after
    # the response, a descheduled logger): the start and the path tie it all the same.
    began = (pl.col("start") >= pl.col("start_c") - slack) & (
        pl.col("start") <= pl.col("end_c") + slack
    )
    same_path = (pl.col("path") == pl.col("path_c")).fill_null(value=False)
    inside = began & ((pl.col("end") <= pl.col("end_c") + slack) | gave_up | same_path)
    pairs = pairs.filter(inside)
    if pairs.is_empty():
        return assigned.clear()
    fitting = names.fit_table(
        pairs.with_columns(pl.lit(None, pl.String).alias("via")), "peer_c", "service", "host", "via"
    )
    pairs = pairs.with_columns(pl.lit(None, pl.String).alias("via")).join(
        fitting, on=["peer_c", "service", "host", "via"], how="left", nulls_equal=True
    )
    links = hops(spans, assigned) if links is None else links
    pairs = pairs.join(links, on=["source", "source_c"], how="left").with_columns(
        pl.col("_link").fill_null(False), _tails_alike().alias("_alike")
    )
    tied = (
        pl.col("_fits").fill_null(False)
        | pl.col("path").is_null()
        | pl.col("path_c").is_null()
        | pl.col("_alike")
        | pl.col("_link")
    )
    blocked = (~pl.col("_fits")).fill_null(False) & (pl.col("origin") == "app")
    pairs = pairs.filter(tied & ~blocked)
    if pairs.is_empty():
        return assigned.clear()
    status_gap = (
        pl.when(pl.col("status").is_null() | pl.col("status_c").is_null())
        .then(0.0)
        .when(pl.col("status") == pl.col("status_c"))
        .then(0.0)
        .otherwise(STATUS_DIFFERS)
    )
    duration = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    duration_c = (pl.col("raw_end_c") - pl.col("raw_start_c")).dt.total_microseconds()
    waited = ((duration_c - duration) / 1e6).clip(0.0, 1.0) * WAITED_MORE
    gap_s = ((pl.col("start") - pl.col("start_c")).dt.total_microseconds().abs() / 1e6).clip(
        upper_bound=5.0
    )
    cost = (
        FALLBACK
        + status_gap
        + waited
        + pl.when(pl.col("_fits").fill_null(False)).then(NAME_FITS).otherwise(0.0)
        + pl.when(pl.col("_alike")).then(0.0).otherwise(0.5)
        + gap_s * START_GAP
    )
    costed_pairs = pairs.select(
        "request_id",
        "sid",
        "host",
        pl.col("precision_s").alias("precision"),
        "start",
        "end",
        "sid_c",
        "host_c",
        pl.col("precision_s_c").alias("precision_c"),
        "start_c",
        "end_c",
        cost.alias("cost"),
        # Tied by time and a weak hint, not by the path: a guess unless the call named it.
        (~pl.col("_fits").fill_null(False) & ~same_path).alias("guessed"),
    )
    return assign(costed_pairs.cast(assigned.schema))


def _tails_alike() -> pl.Expr:
    """The last named segments of the two paths are equal (``/v2/user/profile`` and
    ``/users/profile``); ids are no names (a request's paths often share an id)."""
    name = r"([A-Za-z_][\w.-]*[A-Za-z][\w.-]*)/?(?:/[^/]*\d[^/]*/?)*$"
    last = pl.col("path").str.extract(name)
    last_c = pl.col("path_c").str.extract(name)
    return (last == last_c).fill_null(False)


def called_sources(spans: pl.DataFrame, assigned: pl.DataFrame) -> pl.Series:
    """Sources most of whose SERVER spans the assigned pairs give a caller."""
    callees = assigned.select("sid").with_columns(pl.lit(value=True).alias("_c"))
    return (
        spans.filter(pl.col("kind") == "SERVER")
        .select("sid", "source")
        .join(callees, on="sid", how="left")
        .group_by("source")
        .agg(pl.col("_c").fill_null(False).mean().alias("_share"))
        .filter(pl.col("_share") > 0.5)
        .get_column("source")
    )


def hops(spans: pl.DataFrame, assigned: pl.DataFrame) -> pl.DataFrame:
    """(callee source, caller source) pairs that the assigned pairs show to be hops."""
    source = spans.select("sid", "source")
    return (
        assigned.select("sid", "sid_c")
        .join(source, on="sid")
        .join(source.rename({"sid": "sid_c", "source": "source_c"}), on="sid_c")
        .select("source", "source_c")
        .unique()
        .with_columns(pl.lit(value=True).alias("_link"))
    )
