"""Read every source and build the timelines of all requests in them."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import polars as pl

from logtrace.ingest import (
    PLAN_BYTES,
    Choice,
    FormatOptions,
    FormatResolver,
    IngestReport,
    choices,
    first_lines,
    iter_lines,
    plan_sources,
    require_parsed,
    twin_sources,
)
from logtrace.log_format.compiler import ANY_ID, is_id_column
from logtrace.sources import Source, source_size
from logtrace.timelines import partitioned, units
from logtrace.timelines.assemble import MAX_TRACE_SPANS, Timelines, assemble
from logtrace.timelines.paths import PathMappings
from logtrace.timelines.select import RequestSelection, Selector
from logtrace.timelines.spans import app_spans, nginx_spans
from logtrace.twins import (
    Twins,
    WrittenBefore,
    drop_app_twins,
    drop_repeats,
    drop_twins,
    repeat_note,
)

# The nginx columns spans are made of (absent ones are simply not in the format).
NGINX_COLUMNS = frozenset(
    {
        "time",
        "request_time_s",
        "status",
        "method",
        "path",
        "target",
        "request_id",
        "upstream_response_time_s",
        "upstream_status",
        "upstream_addr",
    }
)
# A W3C traceparent (``00-<trace id>-<parent id>-<flags>``): the trace id is the request id.
TRACEPARENT = r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$"

# How the join holds its input: "memory" (all at once), "partitioned" (spilled to disk by
# request id, joined a part at a time: see partitioned.py) or "auto" (partitioned above
# PARTITION_ABOVE_BYTES of input). LOGTRACE_JOIN in the environment overrides "auto".
JoinMode = Literal["auto", "memory", "partitioned"]
PARTITION_ABOVE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class TimelineOptions:
    """How to read the sources and build timelines."""

    formats: FormatOptions = field(default_factory=FormatOptions)
    skew_correction: bool = True
    id_field: str | None = None  # an nginx variable or app field holding the request id
    keep_lines: bool = False  # keep raw lines (needed when a source cannot be read twice)
    columns: frozenset[str] = frozenset()  # more nginx columns to keep (for analyze)
    select: RequestSelection | None = None  # read only these requests and a sample (trace)
    progress: Callable[[int], None] | None = field(default=None, compare=False)  # bytes read
    join: JoinMode = "auto"  # see JoinMode
    parts: int | None = None  # partitions of the partitioned join (None: from the input size)
    # the app LINES columns the caller uses from the result (None: all): the others are
    # dropped as soon as the join is done with them (a part at a time when partitioned)
    app_columns: frozenset[str] | None = None
    # the parsers analyze chose on the sources' first lines to plan (ingest.choices): not
    # chosen again (app logs: 20-40 ms a file)
    chosen: Mapping[str, Choice] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Loaded:
    """Everything read: counts per source, the timelines, and the app log entries."""

    ingest: IngestReport
    timelines: Timelines
    nginx: pl.DataFrame  # nginx LINES (with the chosen request_id)
    app: pl.DataFrame  # app LINES (all entries, including plain log lines)
    id_columns: dict[str, str]  # nginx source -> the column used as request id
    # with a selection that left requests out: how many requests the timelines (and the
    # clock offsets and path mappings) were built from; None when every request was read,
    # or none but those selected (a sample of none: one service, nothing to estimate)
    sampled_requests: int | None = None


def id_columns(nginx: pl.DataFrame, forced: str | None) -> list[str]:
    """The nginx columns that may hold the request id, ``$request_id`` first."""
    if forced:
        return [forced] if forced in nginx.columns else []
    found = [c for c in nginx.columns if is_id_column(c)]
    return sorted(found, key=lambda c: (c != "request_id", c))


def choose_id_columns(nginx: pl.DataFrame, app: pl.DataFrame, forced: str | None) -> dict[str, str]:
    """Which id each nginx source's lines are joined on.

    An edge nginx knows the request by ``$request_id`` (the id it sent upstream); an
    internal proxy by the header it received (``$http_x_request_id``,
    ``$http_x_correlation_id``, ``$http_traceparent`` ...). Where a format logs several,
    the one that also appears most in the other sources wins (``$request_id`` on a tie).
    """
    if nginx.is_empty():
        return {}
    present = id_columns(nginx, forced)
    choice: dict[str, str] = {}
    # the columns each source logs an id in, for every source at once (thousands of logs)
    logged = nginx.group_by("source").agg(
        pl.len().alias("_lines"), *(pl.col(c).null_count().alias(c) for c in present)
    )
    for row in logged.iter_rows(named=True):
        source = row["source"]
        usable = [c for c in present if row[c] < row["_lines"]]
        if len(usable) <= 1:
            choice[source] = usable[0] if usable else "request_id"
            continue
        rows = nginx.filter(pl.col("source") == source)
        others = [app.get_column("request_id")] if "request_id" in app.columns else []
        others += [nginx.filter(pl.col("source") != source).get_column(c) for c in present]
        known = (
            pl.concat(others).drop_nulls().unique() if others else pl.Series([], dtype=pl.String)
        )
        overlap = {c: int(rows.get_column(c).is_in(known.implode()).sum()) for c in usable}
        choice[source] = max(usable, key=lambda c: (overlap[c], c == "request_id"))
    return choice


def with_trace_ids(nginx: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Id columns holding W3C traceparents hold their trace ids instead (checked on a
    sample first: most formats have none)."""
    out = []
    for column in columns:
        sample = nginx.get_column(column).drop_nulls().head(1000)
        if sample.str.contains(TRACEPARENT).any():
            trace_id = pl.col(column).str.extract(TRACEPARENT, 1)
            out.append(pl.coalesce(trace_id, pl.col(column)).alias(column))
    return nginx.with_columns(out) if out else nginx


def with_ids(nginx: pl.DataFrame, choice: dict[str, str]) -> pl.DataFrame:
    if nginx.is_empty():
        return nginx
    sources: dict[str, list[str]] = {}  # by the id column they are joined on: few
    for source, column in choice.items():
        if column in nginx.columns:
            sources.setdefault(column, []).append(source)
    expr = pl.lit(None, dtype=pl.String)
    for column, named in sources.items():
        expr = pl.when(pl.col("source").is_in(named)).then(pl.col(column)).otherwise(expr)
    return nginx.with_columns(expr.alias("request_id"))


def input_bytes(sources: Sequence[Source]) -> int | None:
    """The bytes of text the sources hold (a gzip'd file's as its trailer tells), or
    None when one cannot be known before reading it: stdin that did not end within what
    is read of it ahead of its reader (``PLAN_BYTES``)."""
    total = 0.0
    for source in sources:
        if source.only is None or source.strays:  # a split stream's file: once
            total += source_size(source, ahead=PLAN_BYTES)
    return None if math.isinf(total) else int(total)


def join_mode(sources: Sequence[Source], options: TimelineOptions) -> JoinMode:
    """Whether to join in memory or a partition at a time (see ``JoinMode``)."""
    mode = options.join
    if options.select is not None:
        return "memory"  # the lines of a few requests and a bounded sample: small
    if mode == "auto":
        forced = os.environ.get("LOGTRACE_JOIN", "auto")
        mode = forced if forced in ("memory", "partitioned") else "auto"  # type: ignore[assignment]
    if mode != "auto":
        return mode
    size = input_bytes(sources)  # None: a pipe, however long: memory bounded by a part
    return "partitioned" if size is None or size > PARTITION_ABOVE_BYTES else "memory"


def _without_a_sample(
    sources: Sequence[Source], resolver: FormatResolver, options: TimelineOptions
) -> TimelineOptions:
    """A selection's options without its sample of other requests when the sources are
    one service's nginx logs: no calls between hosts, so neither clock offsets nor path
    mappings to learn from them. Their first lines, read to tell, choose their parsers."""
    firsts = first_lines(sources, resolver)
    kinds = plan_sources(sources, resolver, firsts)
    nginx = {s.service for s in sources if kinds.get(s.label) == "nginx"}
    if len(nginx) != 1 or any(kind != "nginx" for kind in kinds.values()):
        return options
    assert options.select is not None
    chosen = {**choices(firsts), **options.chosen}
    return replace(options, select=replace(options.select, sample=0), chosen=chosen)


def read_columns(options: TimelineOptions) -> frozenset[str]:
    """The nginx columns parsed for the join."""
    forced = {options.id_field} if options.id_field else {ANY_ID}
    return frozenset(NGINX_COLUMNS | options.columns | forced)


def load(sources: Sequence[Source], options: TimelineOptions) -> Loaded:
    """Parse all sources and assemble the timelines of every request."""
    if join_mode(sources, options) == "partitioned":
        return partitioned.load_partitioned(sources, options)
    resolver = FormatResolver.from_options(options.formats)
    if options.select is not None and options.select.sample:
        options = _without_a_sample(sources, resolver, options)
    report = IngestReport()
    nginx_parts: list[pl.DataFrame] = []
    app_parts: list[pl.DataFrame] = []
    selector = Selector(options.select) if options.select else None
    written = WrittenBefore()
    for chunk in iter_lines(
        sources,
        resolver,
        report,
        read_columns(options),
        keep_line=options.keep_lines,
        id_field=options.id_field,
        progress=options.progress,
        prefilter=None if selector is None else selector.raw,
        chosen=options.chosen,
    ):
        frame = chunk.frame
        if chunk.kind == "nginx":  # the order it was written in, kept for drop_repeats
            frame = written.add(frame, chunk.source.label)
        frame = frame if selector is None else selector.keep(frame)
        (app_parts if chunk.kind == "app" else nginx_parts).append(frame)
    require_parsed(report, resolver)
    nginx = pl.concat(nginx_parts, how="diagonal_relaxed") if nginx_parts else pl.DataFrame()
    app = pl.concat(app_parts, how="diagonal_relaxed") if app_parts else pl.DataFrame()
    if selector is not None:
        nginx, app = selector.final(nginx), selector.final(app)
    del nginx_parts, app_parts
    loaded = join_lines(
        sources,
        options=options,
        resolver=resolver,
        report=report,
        nginx=nginx,
        app=app,
        selector=selector,
    )
    return kept_app_columns(loaded, options.app_columns)


def kept_app_columns(loaded: Loaded, columns: frozenset[str] | None) -> Loaded:
    """``loaded`` with only ``columns`` of its app LINES (all when None)."""
    if columns is None or loaded.app.is_empty():
        return loaded
    return replace(loaded, app=loaded.app.select(c for c in loaded.app.columns if c in columns))


def join_lines(
    sources: Sequence[Source],
    *,
    options: TimelineOptions,
    resolver: FormatResolver,
    report: IngestReport,
    nginx: pl.DataFrame,
    app: pl.DataFrame,
    selector: Selector | None = None,
) -> Loaded:
    """The timelines of every request in nginx and app LINES, all at once (``selector``:
    the lines were those of some requests and a sample, see :mod:`timelines.select`)."""
    nginx, repeats = drop_repeats(nginx, minted_ids(report))
    warn_repeats(report, repeats)
    if not nginx.is_empty():
        nginx = with_trace_ids(nginx, id_columns(nginx, options.id_field))
    choice = choose_id_columns(nginx, app, options.id_field)
    nginx = _without_copies(nginx, sources, resolver, report)
    nginx, twins = drop_twins(with_ids(nginx, choice))
    warn_twins(report, twins)
    app, app_twins = drop_app_twins(app)
    warn_twins(report, app_twins)
    spans = lines_to_spans(nginx, app)
    spans, unit_notes = units.rescale(spans)
    warn_units(report, unit_notes)
    configured = configured_mappings(sources, resolver, _labels(nginx))
    timelines = assemble(spans, skew_correction=options.skew_correction, configured=configured)
    warn_oversized(report, timelines.oversized, oversized_hits(timelines.oversized, spans))
    if selector is None:  # a selection keeps no line without an id
        warn_missing_ids(report, missing_ids(nginx, app))
    sampled = None
    if selector is not None and selector.sampled and selector.size:
        sampled = timelines.spans.get_column("request_id").n_unique()
    return Loaded(
        ingest=report,
        timelines=timelines,
        nginx=nginx,
        app=app,
        id_columns=choice,
        sampled_requests=sampled,
    )


def lines_to_spans(nginx: pl.DataFrame, app: pl.DataFrame) -> pl.DataFrame:
    """The spans of nginx and app LINES that carry a request id."""
    spans = pl.concat([nginx_spans(nginx), app_spans(app)], how="diagonal_relaxed")
    return spans.filter(pl.col("request_id").is_not_null() & (pl.col("request_id") != ""))


def warn_twins(report: IngestReport, twins: Twins) -> None:
    """Tell each source whose lines repeat another's that they were counted once."""
    for (_, gone, _), note in zip(twins.dropped, twins.notes(), strict=True):
        for stats in report.sources:
            if stats.path == gone:
                stats.warnings.append(note)


def minted_ids(report: IngestReport) -> set[str]:
    """The nginx sources whose format logs nginx's own ``$request_id`` (one per request)."""
    return {
        label
        for label, cf in report.formats.items()
        if any(f.var.name == "request_id" for f in cf.fields)
    }


def warn_repeats(report: IngestReport, repeats: dict[str, int]) -> None:
    """Tell each nginx source whose lines repeat its own that they were counted once."""
    for stats in report.sources:
        if repeats.get(stats.path):
            stats.warnings.append(repeat_note(stats.path, repeats[stats.path]))


def warn_units(report: IngestReport, unit_notes: dict[str, str]) -> None:
    """Tell each app source whose durations were rescaled."""
    for stats in report.sources:
        if stats.path in unit_notes:
            stats.warnings.append(unit_notes[stats.path])


def _labels(nginx: pl.DataFrame) -> set[str]:
    return set(nginx.get_column("source").unique().to_list()) if not nginx.is_empty() else set()


def _without_copies(
    nginx: pl.DataFrame, sources: Sequence[Source], resolver: FormatResolver, report: IngestReport
) -> pl.DataFrame:
    """nginx LINES without the sources that repeat another one from their first lines on
    (a log and its copy, in a format without request ids: nothing else tells them apart)."""
    labels = set(nginx.get_column("source").unique().to_list()) if nginx.height else set()
    if len(labels) < 2 or (
        "request_id" in nginx.columns and nginx["request_id"].is_not_null().any()
    ):
        return nginx
    copies = twin_sources([s for s in sources if s.label in labels], resolver)
    gone = {dropped: kept for kept, dropped in copies}
    for stats in report.sources:
        if stats.path in gone:
            stats.warnings.append(
                f"{stats.path}: the same lines as {gone[stats.path]} (a copy?): counted once"
            )
    return nginx.filter(~pl.col("source").is_in(list(gone))) if gone else nginx


def configured_mappings(
    sources: Sequence[Source], resolver: FormatResolver, read: set[str]
) -> PathMappings:
    """The path rewrites nginx.conf gives for the nginx sources read (their labels)."""
    if not resolver.configs or not read:
        return PathMappings.empty()
    rows = [
        (source.label, r.prefix, r.replacement, f"{r.file}:{r.line}")
        for source in sources
        if source.label in read
        for config in resolver.configs
        for r in config.rewrites_for_log(source.path)
    ]
    return PathMappings.configured_by(rows)


def oversized_hits(oversized: dict[str, int], spans: pl.DataFrame) -> pl.DataFrame:
    """``source``, ``ids``, ``spans``: the spans of each source under oversized ids (ids
    are whole in one part of the requests: the counts of several parts add up)."""
    ids = pl.Series("request_id", list(oversized), dtype=pl.String)
    return (
        spans.filter(pl.col("request_id").is_in(ids.implode()))
        .group_by("source")
        .agg(
            pl.col("request_id").n_unique().cast(pl.Int64).alias("ids"),
            pl.len().cast(pl.Int64).alias("spans"),
        )
    )


def warn_oversized(report: IngestReport, oversized: dict[str, int], hits: pl.DataFrame) -> None:
    """Tell each source whose lines carry an id too common to be one request."""
    if not oversized:
        return
    by_source = {source: (n_ids, n) for source, n_ids, n in hits.iter_rows()}
    # the most spans, then the first id: the same example whatever order the ids came in
    worst, most = min(oversized.items(), key=lambda item: (-item[1], item[0]))
    shown = worst if len(worst) <= 40 else worst[:39] + "…"
    for stats in report.sources:
        if stats.path not in by_source:
            continue
        n_ids, n = by_source[stats.path]
        stats.warnings.append(
            f"{stats.path}: {n:,} span(s) here belong to {n_ids:,} request id(s) with more "
            f"than {MAX_TRACE_SPANS:,} spans each (e.g. '{shown}': {most:,} in all), too many "
            "for one request (an X-Request-ID reused by clients?): they were not joined into "
            "traces; each hangs under its id's first request"
        )


def missing_ids(nginx: pl.DataFrame, app: pl.DataFrame) -> pl.DataFrame:
    """``source``, ``n``, ``missing``: requests and calls of each source, and those without
    a request id (``-``, empty or absent); counts of several parts add up."""
    frames = [nginx.select("source", "request_id")] if not nginx.is_empty() else []
    if not app.is_empty() and {"event", "request_id"} <= set(app.columns):
        spans = app.filter(pl.col("event").is_in(["server", "client"]))
        frames.append(spans.select("source", "request_id"))
    schema = {"source": pl.String, "n": pl.Int64, "missing": pl.Int64}
    if not frames:
        return pl.DataFrame(schema=schema)
    missing = pl.col("request_id").is_null() | (pl.col("request_id") == "")
    return (
        pl.concat(frames, how="vertical_relaxed")
        .group_by("source")
        .agg(pl.len().alias("n"), missing.sum().alias("missing"))
        .cast(schema)  # type: ignore[arg-type]
    )


def warn_missing_ids(report: IngestReport, counts: pl.DataFrame) -> None:
    """Tell each source how many of its requests and calls carry no id: they cannot be
    joined into any trace."""
    by_source = {source: (n, m) for source, n, m in counts.iter_rows() if m}
    for stats in report.sources:
        if stats.path in by_source:
            n, m = by_source[stats.path]
            stats.warnings.append(
                f"{stats.path}: {m:,} of {n:,} requests and calls have no request id: "
                "they are in no trace"
            )
