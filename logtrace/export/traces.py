"""Timelines → batches of whole traces for the exporters (logtrace export, push)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

import polars as pl

from logtrace.analysis.derive import Filters, select_traces
from logtrace.analysis.lacking import require, require_spans
from logtrace.analysis.trace import hex_id, match_request_id, public_spans
from logtrace.export.batch import TraceBatch
from logtrace.schema import EVENTS
from logtrace.timelines.load import Loaded

BATCH_SPANS = 50_000


def _with_lines(spans: pl.DataFrame, loaded: Loaded) -> pl.DataFrame:
    """Each span's original log line, when the lines were kept while reading."""
    texts = [
        f.select("source", "line_no", "line")
        for f in (loaded.nginx, loaded.app)
        if not f.is_empty() and "line" in f.columns
    ]
    if not texts:
        return spans
    lines = pl.concat(texts, how="vertical_relaxed").unique(["source", "line_no"])
    return spans.join(lines, on=["source", "line_no"], how="left", maintain_order="left")


def events(loaded: Loaded, spans: pl.DataFrame) -> pl.DataFrame:
    """App log lines that are not spans, each under the innermost span of its source
    that contains it (EVENTS shape; span ids in hex)."""
    app = loaded.app
    if app.is_empty() or "event" not in app.columns:
        return pl.DataFrame(schema=EVENTS)
    logs = app.filter((pl.col("event") == "log") & pl.col("request_id").is_not_null())
    if logs.is_empty():
        return pl.DataFrame(schema=EVENTS)
    owners = spans.select(
        "request_id",
        "source",
        "sid",
        pl.col("start").alias("s_start"),
        pl.col("end").alias("s_end"),
        # the event is as logged; exporters move it with its span's clock correction
        pl.col("skew_s"),
    )
    placed = (
        logs.select(
            "request_id",
            "source",
            "line_no",
            "time",
            "level",
            "message",
            *(["line"] if "line" in logs.columns else []),
        )
        .join(owners, on=["request_id", "source"], how="inner")
        .with_columns(
            (
                pl.col("time") - pl.duration(microseconds=(pl.col("skew_s") * 1e6).cast(pl.Int64))
            ).alias("_t")
        )
        .filter((pl.col("_t") >= pl.col("s_start")) & (pl.col("_t") <= pl.col("s_end")))
        # the span's id breaks ties (two identical spans: a log read twice)
        .sort(pl.col("s_end") - pl.col("s_start"), "sid")
        .group_by(["source", "line_no"], maintain_order=True)
        .first()
    )
    frame = placed.with_columns(hex_id("sid").alias("span_id"))
    return frame.select(
        *(
            pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in EVENTS.items()
        )
    )


def trace_batches(
    loaded: Loaded,
    *,
    request_ids: Collection[str] | None = None,
    filters: Filters | None = None,
    batch_spans: int = BATCH_SPANS,
) -> Iterator[TraceBatch]:
    """Whole traces, about ``batch_spans`` spans a batch, parents before children: every
    trace, those of ``request_ids`` or those whose entry request matches ``filters``.

    ``request_ids`` (each an id or a prefix only one id starts with) are looked up now,
    before anything is written: one that is not in the logs is a NotFoundError. Raises
    NoMatchError (before anything is written too) when the logs give no trace at all:
    their formats log no request id, or no line has one.
    """
    spans = loaded.timelines.spans
    if spans.is_empty():
        require(loaded.ingest, ("request_id",), "no trace to export")
        require_spans(spans, "no trace to export")
    if request_ids is not None:
        ids = spans.get_column("request_id")
        wanted = [match_request_id(ids, rid) for rid in request_ids]
        spans = spans.filter(pl.col("request_id").is_in(wanted))
    if filters is not None:
        spans = select_traces(spans, filters)
    return _batches(loaded, spans, batch_spans)


def part_batches(
    parts: Iterable[Loaded], *, filters: Filters | None = None, batch_spans: int = BATCH_SPANS
) -> Iterator[TraceBatch]:
    """:func:`trace_batches` of each part of a partitioned join in turn: whole traces,
    sorted within each part (each trace is in one part)."""
    for part in parts:
        if not part.timelines.spans.is_empty():
            yield from trace_batches(part, filters=filters, batch_spans=batch_spans)
        del part  # freed before the next part is joined


def _batches(loaded: Loaded, spans: pl.DataFrame, batch_spans: int) -> Iterator[TraceBatch]:
    if spans.is_empty():
        return
    spans = spans.sort(["request_id", "depth", "start", "sid"])  # the same order every run
    all_events = events(loaded, spans).sort("request_id", maintain_order=True)
    event_ids = all_events.get_column("request_id")
    # Once for all spans, then sliced: joins per batch would cost the whole input each.
    view = public_spans(_with_lines(spans, loaded), extra=("line",))
    ids = view.get_column("request_id")
    ends = spans.group_by("request_id", maintain_order=True).len().get_column("len").cum_sum()
    start = 0
    boundary = batch_spans
    last = ends[-1]
    for end in ends:
        if end < boundary and end != last:
            continue
        # requests are contiguous in both frames (sorted by id): the events of this batch's
        # first to last request are a slice too
        lo = event_ids.search_sorted(ids[start], side="left")
        hi = event_ids.search_sorted(ids[end - 1], side="right")
        yield TraceBatch(spans=view.slice(start, end - start), events=all_events.slice(lo, hi - lo))
        start = end
        boundary = end + batch_spans
