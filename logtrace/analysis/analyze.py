"""``logtrace analyze``: read the sources once and report where the time goes.

One nginx log (or several of one service) is reduced chunk by chunk, so memory does not
grow with the input. Logs of several hosts or services are joined into timelines first,
a part of the requests at a time when the input is large (timelines/partitioned.py), and
each part is reduced as it comes (analysis/across.py): the latency report then covers
the requests that enter the system (the root spans' nginx), and per-service time, slow
paths, insights and clock offsets are added.

Filters choose requests by their entry line, and every section but the clock offsets
(measured on all requests) covers those requests and their traces.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import polars as pl

from logtrace.analysis.across import CrossHost, CrossPartials
from logtrace.analysis.breakdowns import BreakdownPartials, By, by_columns, require_dimensions
from logtrace.analysis.buckets import BucketPartials, Every
from logtrace.analysis.derive import (
    ANALYZE_COLUMNS,
    Filters,
    Unfiltered,
    derive,
    select_traces,
)
from logtrace.analysis.gate import Rule, Verdict, measure
from logtrace.analysis.insights import InsightOptions
from logtrace.analysis.latency import LatencyReport, Partials, finish
from logtrace.ingest import (
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
from logtrace.sources import Source
from logtrace.timelines.load import Loaded, TimelineOptions, load, minted_ids
from logtrace.timelines.partitioned import joined_parts
from logtrace.twins import RepeatSample, WrittenBefore
from logtrace.write_behind import WriteBehind


@dataclass(frozen=True)
class AnalyzeOptions:
    """Everything ``analyze`` needs besides the sources."""

    formats: FormatOptions = field(default_factory=FormatOptions)
    filters: Filters = field(default_factory=Filters)
    top: int = 10
    keep_lines: bool = False  # keep the raw line of the slowest requests (CSV export)
    skew_correction: bool = True
    id_field: str | None = None
    insights: InsightOptions = field(default_factory=InsightOptions)
    progress: Callable[[int], None] | None = None  # called with bytes read so far
    every: Every | None = None  # time buckets of this size (seconds) or auto; None: none
    bucket_offset_s: int = 0  # buckets start at whole hours of this UTC offset (--tz's)
    gate: tuple[Rule, ...] = ()  # --fail-if rules, measured on the report
    keep_timelines: bool = False  # keep what was read across hosts (Analysis.loaded)
    by: tuple[By, ...] = ()  # --by: requests by the values of these fields

    @property
    def columns(self) -> frozenset[str]:
        """The nginx columns to parse."""
        return ANALYZE_COLUMNS | by_columns(self.by)


@dataclass(frozen=True)
class Analysis:
    """What ``analyze`` found: per-source counts, the latency report, cross-host views."""

    ingest: IngestReport
    latency: LatencyReport
    filters: Filters
    cross_host: CrossHost | None = None
    unfiltered: Unfiltered | None = None  # with filters: what they were applied to
    gate: tuple[Verdict, ...] | None = None  # with rules: each rule and what was measured
    # with keep_timelines, when the logs were joined across hosts: every timeline read
    loaded: Loaded | None = field(default=None, repr=False)

    @property
    def gate_broken(self) -> bool:
        """Whether any --fail-if rule is broken."""
        return any(v.broken for v in self.gate or ())


def _needs_timelines(sources: Sequence[Source], kinds: dict[str, str]) -> bool:
    nginx_services = {s.service for s in sources if kinds.get(s.label) == "nginx"}
    return "app" in kinds.values() or len(nginx_services) > 1


def analyze(sources: Sequence[Source], options: AnalyzeOptions) -> Analysis:
    """Parse every source and reduce it to the latency report (and cross-host views)."""
    if options.filters.zoneless:
        options = replace(options, filters=options.filters.for_logs(sources))
    resolver = FormatResolver.from_options(options.formats)
    firsts = first_lines(sources, resolver)
    kinds = plan_sources(sources, resolver, firsts)
    chosen = choices(firsts)
    if _needs_timelines(sources, kinds):
        return _analyze_timelines(sources, options, chosen)
    nginx = [s for s in sources if kinds.get(s.label) == "nginx"]
    twins = twin_sources(nginx, resolver, firsts) if len(nginx) > 1 else []
    del firsts
    gone = {dropped: kept for kept, dropped in twins}
    ingest = IngestReport()
    partials = _partials(options)
    unfiltered = Unfiltered() if options.filters.given else None
    columns = options.columns | ({"line"} if options.keep_lines else set())
    repeats = RepeatSample(set())  # lines that repeat their own log's: only told
    written = WrittenBefore()

    def prepare(frame: pl.DataFrame) -> pl.DataFrame:
        return _derived(frame, options.filters, fingerprints=True)

    behind = WriteBehind(REDUCE_AHEAD, "reduce")
    held = _Held(partials, unfiltered, repeats, lambda: minted_ids(ingest), behind)
    try:
        for chunk in iter_lines(
            sources,
            resolver,
            ingest,
            frozenset(columns),
            keep_line=options.keep_lines,
            transform=prepare,  # in the worker threads, next to the parsing
            progress=options.progress,
            chosen=chosen,
        ):
            if chunk.kind == "nginx" and chunk.source.label not in gone:
                held.add(written.add(chunk.frame, chunk.source.label))
        held.flush()
        behind.wait()
    finally:
        behind.close()
    require_parsed(ingest, resolver)
    require_dimensions(ingest, options.by)
    notes = repeats.notes()
    for stats in ingest.sources:
        if stats.path in notes:
            stats.warnings.append(notes[stats.path])
        if stats.path in gone:
            stats.warnings.append(
                f"{stats.path}: the same requests as {gone[stats.path]} (the same request ids "
                "and times, or the same lines: two access_log files of one server, or a "
                "copy?): counted once, from the other"
            )
    latency = finish(partials)
    return Analysis(
        ingest=ingest,
        latency=latency,
        filters=options.filters,
        unfiltered=unfiltered,
        gate=_gate(options, latency),
    )


def _gate(options: AnalyzeOptions, latency: LatencyReport) -> tuple[Verdict, ...] | None:
    if not options.gate:
        return None
    return measure(
        options.gate, latency.route_hist, latency.route_upstream_hist, latency.route_statuses
    )


def _partials(options: AnalyzeOptions) -> Partials:
    every = options.every
    return Partials(
        top=options.top,
        buckets=None if every is None else BucketPartials.of(every, options.bucket_offset_s),
        breakdowns=BreakdownPartials(options.by) if options.by else None,
    )


KEPT = "_kept"  # whether the filters keep the line


def _derived(frame: pl.DataFrame, filters: Filters, *, fingerprints: bool = False) -> pl.DataFrame:
    """Routes and upstream times added, (``fingerprints``) the hashes a ``RepeatSample``
    keeps, and (with filters) whether they keep each line."""
    cols = frame.columns
    if fingerprints:  # in the parsing threads, beside the rest
        frame = frame.with_columns(RepeatSample.fingerprints(cols))
    lf = derive(frame.lazy(), cols)
    keep = filters.expr([*cols, "route"])
    if keep is not None:
        lf = lf.with_columns(keep.alias(KEPT))
    return lf.collect()


# Derived lines reduced at once: a chunk of 16 MB holds ~66k nginx lines; a folder of
# small files gives a chunk each, and a reduction costs ~5 ms whatever its size.
HELD_ROWS = 1 << 16
REDUCE_AHEAD = 1  # held lines waiting for the reducing thread, at most (HELD_ROWS each)


@dataclass
class _Held:
    """Derived chunks held until ``HELD_ROWS`` lines (of one schema) are, then reduced
    together: the same partial aggregates (sums, counts, a total order of the slowest),
    and the same lines seen by ``repeats`` (of the sources ``minted`` says, as the chunks
    read so far tell), one reduction rather than one per small file. The reductions are
    made in order by ``behind``'s thread while this one reads and hands out the next
    chunks: the parsing threads waited on it (1M ``trace`` lines, 5 interleaved pairs,
    with the repeat columns no longer dropped: 1.94 → 1.78 s)."""

    partials: Partials
    unfiltered: Unfiltered | None
    repeats: RepeatSample
    minted: Callable[[], set[str]]
    behind: WriteBehind
    frames: list[pl.DataFrame] = field(default_factory=list)
    rows: int = 0

    def add(self, frame: pl.DataFrame) -> None:
        if self.frames and frame.schema != self.frames[0].schema:
            self.flush()  # another format's columns: reduced apart, as they were
        self.frames.append(frame)
        self.rows += frame.height
        if self.rows >= HELD_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.frames:
            frames, self.frames, self.rows = self.frames, [], 0
            lines = pl.concat(frames, rechunk=False)
            self.behind.submit(partial(self._reduce, lines, self.minted()))

    def _reduce(self, lines: pl.DataFrame, minted: set[str]) -> None:
        self.repeats.sources = minted
        self.repeats.see(lines)
        _add(self.partials, self.unfiltered, lines)  # the repeat columns go unread


def _add(partials: Partials, unfiltered: Unfiltered | None, frame: pl.DataFrame) -> None:
    """Count derived lines before the filters, and add those they keep to the report."""
    if unfiltered is None or KEPT not in frame.columns:
        partials.add(frame)
        return
    unfiltered.see(frame)
    partials.add(frame.filter(pl.col(KEPT)).drop(KEPT))


def entry_sources(loaded: Loaded) -> list[str]:
    """nginx sources whose lines are mostly trace roots: where requests enter."""
    spans = loaded.timelines.spans
    if spans.is_empty():
        return []
    share = (
        spans.filter((pl.col("origin") == "nginx") & (pl.col("kind") == "SERVER"))
        .group_by("source")
        .agg(pl.col("parent_sid").is_null().mean().alias("roots"))
        .filter(pl.col("roots") >= 0.5)
    )
    return sorted(share.get_column("source").to_list())


def entry_lines(loaded: Loaded, entries: list[str]) -> pl.DataFrame:
    """The nginx lines of requests as they entered: each trace's outermost nginx line (an
    internal proxy's lines are calls, never more requests), and the lines without a
    request id of the sources where requests enter."""
    nginx = loaded.nginx
    if nginx.is_empty():
        return nginx
    spans = loaded.timelines.spans
    roots = spans.filter(
        pl.col("parent_sid").is_null()
        & (pl.col("origin") == "nginx")
        & (pl.col("kind") == "SERVER")
    ).select("source", "line_no")
    no_id = pl.col("request_id").is_null() | (pl.col("request_id") == "")
    if not entries:  # no trace has an nginx root: every line is its own request
        return nginx.filter(no_id | pl.col("request_id").is_not_null())
    rooted = nginx.join(roots, on=["source", "line_no"], how="semi")
    unjoined = nginx.filter(no_id & pl.col("source").is_in(entries))
    return pl.concat([rooted, unjoined], how="vertical_relaxed")


# The app LINES columns app_entry_lines reads.
APP_ENTRY_COLUMNS = frozenset(
    {
        "source",
        "host",
        "service",
        "line_no",
        "event",
        "time",
        "time_precision_s",
        "duration_s",
        "request_id",
        "method",
        "path",
        "status",
    }
)


def app_entry_lines(
    app: pl.DataFrame, spans: pl.DataFrame, oversized: Collection[str] = ()
) -> pl.DataFrame:
    """Without an nginx line, the requests as they entered are the requests the apps
    served (their end lines) that no logged call made: those whose span has no parent,
    those without a request id, and those of an id reused too often to be joined
    (``oversized``: each is a request of its own). As LINES: their times as logged, the
    request time from their span (the duration the app logged, or from its start line to
    its end line; without an id, the duration the line gives; null when the app logged
    neither)."""
    if app.is_empty():
        return pl.DataFrame()
    placed = spans.filter((pl.col("origin") == "app") & (pl.col("kind") == "SERVER")).select(
        "source", "line_no", "raw_start", "raw_end", "parent_sid"
    )
    served = app.filter(pl.col("event") == "server").join(
        placed, on=["source", "line_no"], how="left"
    )
    span_s = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds() / 1e6
    # a span whose end line gives no duration and has no start line lasts no time; a
    # request without an id has no span: its line's duration
    took = (
        pl.when(pl.col("raw_end").is_null())
        .then(pl.col("duration_s"))
        .when(pl.col("duration_s").is_not_null() | (span_s > 0))
        .then(span_s)
    )
    entered = pl.col("parent_sid").is_null() | pl.col("request_id").is_in(list(oversized))
    lines = served.filter(entered).select(
        "source",
        "host",
        "service",
        "line_no",
        "time",
        (pl.col("time") - pl.duration(microseconds=(took * 1e6).round(0).cast(pl.Int64)))
        .fill_null(pl.col("time"))
        .alias("start"),
        took.alias("request_time_s"),
        "time_precision_s",
        "request_id",
        "method",
        "path",
        "status",
    )
    if lines.get_column("request_time_s").null_count() == lines.height:
        lines = lines.drop("request_time_s")  # "not in this log format", as for nginx
    return lines.sort("source", "line_no")


def _analyze_timelines(
    sources: Sequence[Source], options: AnalyzeOptions, chosen: dict[str, Choice]
) -> Analysis:
    timeline_options = TimelineOptions(
        chosen=chosen,
        formats=options.formats,
        skew_correction=options.skew_correction,
        id_field=options.id_field,
        keep_lines=options.keep_lines,
        columns=options.columns,
        progress=options.progress,
        # the report reads the app lines' entries only; a page keeps them whole
        app_columns=None if options.keep_timelines else APP_ENTRY_COLUMNS,
    )
    if options.keep_timelines:  # a page shows traces: every one is kept
        loaded = load(sources, timeline_options)
        return _reduced(options, loaded.ingest, iter([loaded]), loaded)
    with joined_parts(sources, timeline_options) as joined:
        return _reduced(options, joined.ingest, joined.each(), None)


def _reduced(
    options: AnalyzeOptions, ingest: IngestReport, parts: Iterator[Loaded], kept: Loaded | None
) -> Analysis:
    """The report of the timelines of every part, each reduced as it comes (a part's
    requests are in no other part): the entry lines to the latency report, the traces to
    the cross-host sections. The sources where requests enter are those of the first
    part: all of them in memory, the sample the join learnt its facts on a part at a
    time."""
    require_dimensions(ingest, options.by)
    partials = _partials(options)
    unfiltered = Unfiltered() if options.filters.given else None
    cross = CrossPartials(options.top, options.insights)
    has_nginx = any(s.kind == "nginx" and s.lines_parsed for s in ingest.sources)
    entries: list[str] | None = None
    served: set[str] = set()  # app logs alone: the sources whose requests entered
    last: Loaded | None = None
    corrected = 0
    for part in parts:
        timelines = part.timelines
        if not has_nginx:  # app logs alone: requests enter where the apps served them
            edge = app_entry_lines(part.app, timelines.spans, timelines.oversized)
            served.update(edge.get_column("source").unique().to_list() if edge.height else [])
        else:
            entries = entry_sources(part) if entries is None else entries
            edge = entry_lines(part, entries)
        if edge.height:
            _add(partials, unfiltered, _derived(edge, options.filters))
        # every section covers the traces of the requests the filters keep; clock offsets
        # are measured on all of them (more pairs, a better estimate)
        cross.add(select_traces(timelines.spans, options.filters))
        corrected += timelines.corrected_requests
        last = part
    assert last is not None
    latency = finish(partials)
    return Analysis(
        ingest=ingest,
        latency=latency,
        filters=options.filters,
        cross_host=cross.finish(
            offsets=last.timelines.offsets,
            corrected_requests=corrected,
            entry_sources=sorted(served) if not has_nginx else entries or [],
            mappings=last.timelines.mappings,
        ),
        unfiltered=unfiltered,
        gate=_gate(options, latency),
        loaded=kept,
    )
