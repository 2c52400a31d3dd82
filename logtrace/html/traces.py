"""The traces a report embeds: those of the slowest requests and of the top insights'
first examples, as ``logtrace trace`` builds them.

Logs joined across hosts are already in memory after ``analyze`` (``keep_timelines``).
A single service's nginx log is reduced by ``analyze`` without building timelines, so
it is read once more, keeping only the lines of the slowest requests: memory stays
bounded whatever the input. Not the sample of other requests ``logtrace trace`` reads
to learn clock offsets and path mappings: one service's logs have no calls between
hosts to learn them from (the traces are the same with it; reading it took 0.7 s of a
page of 1M lines' 3.7 s)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from logtrace.analysis.analyze import Analysis
from logtrace.analysis.trace import trace
from logtrace.analysis.trace_view import RequestTrace
from logtrace.errors import NotFoundError
from logtrace.ingest import FormatOptions
from logtrace.sources import Source
from logtrace.timelines.load import Loaded, TimelineOptions, load
from logtrace.timelines.select import RequestSelection


@dataclass(frozen=True)
class Traced:
    """The waterfalls a report holds, and why some slow requests have none."""

    traces: tuple[RequestTrace, ...]
    notes: tuple[str, ...] = ()


INSIGHT_EXAMPLES = 10  # findings (the most to save first) whose first example gets a waterfall


def slowest_ids(analysis: Analysis, top: int) -> list[str]:
    """The request ids of the ``top`` slowest requests (those that have one), slowest first."""
    frame = analysis.latency.slowest
    if "request_id" not in frame.columns:
        return []
    ids = [str(i) for i in frame.get_column("request_id").to_list() if i]
    return list(dict.fromkeys(ids))[:top]


def example_ids(analysis: Analysis) -> list[str]:
    """The first example request of each of the top insights (with logs of several hosts)."""
    cross = analysis.cross_host
    if cross is None or cross.insights.summary.is_empty():
        return []
    examples = cross.insights.summary.head(INSIGHT_EXAMPLES).get_column("examples").to_list()
    return [str(e[0]) for e in examples if e]


def report_traces(
    analysis: Analysis,
    sources: Sequence[Source],
    *,
    top: int,
    formats: FormatOptions,
    skew_correction: bool = True,
    id_field: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Traced:
    """The traces of the ``top`` slowest requests with a request id, then those of the
    top insights' first examples."""
    ids = list(dict.fromkeys(slowest_ids(analysis, top) + example_ids(analysis)))
    if not ids:
        note = "the slowest requests have no request id: no waterfall can be drawn"
        return Traced((), (note,) if analysis.latency.requests else ())
    loaded: Loaded | None = analysis.loaded
    if loaded is None:
        if any(s.read_once for s in sources):
            return Traced(
                (), ("logs read from stdin or a pipe cannot be read again for waterfalls",)
            )
        # one service's nginx logs: no calls between hosts, so nothing is learnt across
        # requests (clock offsets, path mappings) and no other request's lines are read
        options = TimelineOptions(
            formats=formats,
            skew_correction=skew_correction,
            id_field=id_field,
            select=RequestSelection(prefix=ids[0], ids=tuple(ids), sample=0),
            progress=progress,
        )
        loaded = load(sources, options)
    found: list[RequestTrace] = []
    missing = 0
    for rid in ids:
        try:
            found.append(trace(loaded, rid))
        except NotFoundError:
            missing += 1
    notes = (f"{missing} of the slowest requests have no trace",) if missing else ()
    return Traced(tuple(found), notes)
