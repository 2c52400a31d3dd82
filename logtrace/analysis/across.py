"""The cross-host sections of ``analyze``, reduced a part of the join at a time.

A partitioned join (``timelines/partitioned.py``) gives the traces of disjoint sets of
requests, one part after another. Each section keeps what it needs of a part and lets
the spans go: the service table its sums per service and the counts of each span
duration (exact percentiles), the host table its counts per host, the slow paths the
spans of the slowest requests so far, the insights their findings per request and the
GET targets called. So memory holds one part's spans and these reductions, whatever the
input; the sections are those of all the spans at once (tests/test_analyze_parts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from logtrace.analysis.insights import (
    InsightOptions,
    InsightPart,
    Insights,
    find_insights,
    insight_part,
    insights_of,
)
from logtrace.analysis.insights.calls import merged_targets
from logtrace.analysis.services import (
    ServicePart,
    host_part,
    hosts_of,
    merged_services,
    service_part,
    services_of,
)
from logtrace.analysis.slow_paths import SlowPath, slow_paths, slowest_traces
from logtrace.schema import SPANS
from logtrace.timelines.paths import PathMappings
from logtrace.timelines.skew import HostOffset


@dataclass(frozen=True)
class CrossHost:
    """What only logs of several hosts can tell."""

    services: pl.DataFrame  # service_table
    hosts: pl.DataFrame  # host_table
    offsets: dict[str, HostOffset]
    corrected_requests: int
    slow_paths: list[SlowPath]
    slow_path_summary: pl.DataFrame
    # the sources whose requests the latency report covers: nginx sources where requests
    # enter, or without nginx lines the app logs whose served requests are trace roots
    entry_sources: list[str]
    traces: int
    insights: Insights
    mappings: PathMappings = field(default_factory=PathMappings.empty)  # path rewrites per hop


MERGE_EVERY = 8  # parts' call sums held before they are added up: the sum grows with the targets


@dataclass
class CrossPartials:
    """The cross-host sections of the traces seen so far (each request in one part)."""

    top: int
    insight_options: InsightOptions
    _services: ServicePart | None = None
    _hosts: list[pl.DataFrame] = field(default_factory=list)
    _slowest: pl.DataFrame | None = None
    _findings: list[pl.DataFrame] = field(default_factory=list)
    _targets: list[pl.DataFrame] = field(default_factory=list)  # merged now and then
    _requests: int = 0
    _total_s: float = 0.0
    _traces: int = 0
    _empty: pl.DataFrame | None = None  # spans with their columns, when none was added

    def add(self, spans: pl.DataFrame) -> None:
        """Reduce the spans of some whole traces (no other part has their requests)."""
        if spans.is_empty():
            self._empty = spans if self._empty is None and spans.width else self._empty
            return
        self._traces += spans.get_column("request_id").n_unique()
        part = service_part(spans)
        self._services = part if self._services is None else merged_services([self._services, part])
        self._hosts.append(host_part(spans))
        kept = slowest_traces(spans, self.top)
        if self._slowest is not None:
            both = pl.concat([self._slowest, kept], how="diagonal_relaxed")
            kept = slowest_traces(both, self.top)
        self._slowest = kept
        found = insight_part(spans, self.insight_options)
        self._findings.append(found.per_request)
        self._targets.append(found.targets)
        if len(self._targets) > MERGE_EVERY:  # the sums so far grow with the targets called
            self._targets = [merged_targets(self._targets)]
        self._requests += found.requests
        self._total_s += found.total_s

    def finish(
        self,
        *,
        offsets: dict[str, HostOffset],
        corrected_requests: int,
        entry_sources: list[str],
        mappings: PathMappings,
    ) -> CrossHost:
        """The sections of every part added, with what the join learnt."""
        if not self._targets:  # no trace at all: the insights of no span
            spans = self._empty if self._empty is not None else pl.DataFrame(schema=SPANS)
            insights = find_insights(spans, self.insight_options, required=False)
        else:
            found = InsightPart(
                pl.concat(self._findings),
                merged_targets(self._targets),
                self._requests,
                self._total_s,
            )
            insights = insights_of([found], self.insight_options)
        slowest = self._slowest if self._slowest is not None else pl.DataFrame()
        paths, summary = slow_paths(slowest, self.top)
        return CrossHost(
            services=services_of([self._services] if self._services is not None else []),
            hosts=hosts_of(self._hosts, dict(offsets)),
            offsets=offsets,
            corrected_requests=corrected_requests,
            slow_paths=paths,
            slow_path_summary=summary,
            entry_sources=entry_sources,
            traces=self._traces,
            insights=insights,
            mappings=mappings,
        )
