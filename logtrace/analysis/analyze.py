"""``logtrace analyze``: read the sources once and report where the time goes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from logtrace.analysis.latency import (
    ANALYZE_COLUMNS,
    Filters,
    LatencyReport,
    Partials,
    derive,
    finish,
)
from logtrace.ingest import (
    FormatOptions,
    FormatResolver,
    IngestReport,
    iter_lines,
    require_parsed,
)
from logtrace.sources import Source


@dataclass(frozen=True)
class AnalyzeOptions:
    """Everything ``analyze`` needs besides the sources."""

    formats: FormatOptions = field(default_factory=FormatOptions)
    filters: Filters = field(default_factory=Filters)
    top: int = 10
    keep_lines: bool = False  # keep the raw line of the slowest requests (CSV export)


@dataclass(frozen=True)
class Analysis:
    """What ``analyze`` found: per-source counts and the latency report."""

    ingest: IngestReport
    latency: LatencyReport
    filters: Filters


def analyze(sources: Sequence[Source], options: AnalyzeOptions) -> Analysis:
    """Parse every source chunk by chunk and reduce it to the latency report."""
    resolver = FormatResolver.from_options(options.formats)
    ingest = IngestReport()
    partials = Partials(top=options.top)
    columns = ANALYZE_COLUMNS | ({"line"} if options.keep_lines else set())
    for chunk in iter_lines(
        sources, resolver, ingest, frozenset(columns), keep_line=options.keep_lines
    ):
        if chunk.kind != "nginx":
            continue
        cols = chunk.frame.columns
        lf = derive(chunk.frame.lazy(), cols)
        keep = options.filters.expr([*cols, "route"])
        if keep is not None:
            lf = lf.filter(keep)
        partials.add(lf.collect())
    require_parsed(ingest, resolver)
    return Analysis(ingest=ingest, latency=finish(partials), filters=options.filters)
