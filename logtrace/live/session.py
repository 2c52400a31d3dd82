"""Lines as they are written → the rolling windows and the completed traces.

Each poll's new lines of a source are parsed as one polars frame by the source's
:class:`~logtrace.ingest.BatchParser` (its format chosen on its first batch, as
``analyze`` chooses it on a file's first chunk); nginx lines feed the windows, and, when
app logs are followed too, the traces.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from logtrace import envelope
from logtrace.analysis.derive import Filters
from logtrace.ingest import BatchParser, FormatOptions, FormatResolver
from logtrace.lines import frame_of
from logtrace.live.follow import Follower
from logtrace.live.traces import Traces
from logtrace.live.windows import Windows
from logtrace.parse import SourceStats
from logtrace.routes import with_routes
from logtrace.when import UTC_ZONE, Zone

LIVE_COLUMNS = frozenset({"time", "request_time_s", "status", "method", "path", "request_id"})


@dataclass(frozen=True)
class LiveOptions:
    """How ``logtrace top`` reads its inputs."""

    formats: FormatOptions = field(default_factory=FormatOptions)
    id_field: str | None = None
    filters: Filters = field(default_factory=Filters)
    zone: Zone = UTC_ZONE  # times on screen (--tz); UTC unless given


@dataclass(frozen=True)
class Summary:
    """What a session saw, for the lines printed when it ends."""

    sources: int
    lines: int
    rejected: int
    reasons: list[tuple[str, int]]  # commonest first
    requests: int
    untimed: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    max_s: float | None
    first: datetime | None
    last: datetime | None
    rotations: int
    traces: int
    zone: Zone = UTC_ZONE  # the times' zone on screen


class LiveSession:
    """Reads what the followed logs gained, parses it, and keeps the windows."""

    def __init__(self, follower: Follower, options: LiveOptions) -> None:
        self.follower = follower
        self.options = options
        self.resolver = FormatResolver.from_options(options.formats)
        self.parsers: dict[str, BatchParser] = {}
        # a container runtime's lines (envelope.py), decided on a log's first lines
        self.envelopes: dict[str, tuple[envelope.Envelope, ...]] = {}
        self.parts: dict[str, envelope.Parts] = {}  # lines cut by the runtime: whole again
        self.windows = Windows()
        self.traces = Traces()
        self.started = time.monotonic()
        self.last_arrival: float | None = None  # monotonic time new lines last came

    def _parser(self, label: str) -> BatchParser:
        parser = self.parsers.get(label)
        if parser is None:
            source = next(s for s in self.follower.sources if s.label == label)
            parser = BatchParser(source, self.resolver, LIVE_COLUMNS, self.options.id_field)
            self.parsers[label] = parser
        return parser

    @property
    def has_app_logs(self) -> bool:
        return any(p.kind == "app" for p in self.parsers.values())

    def step(self) -> int:
        """Read and count what the logs gained since the last step; the lines read."""
        read = 0
        for lines in self.follower.poll():
            frame = frame_of(lines.data, lines.first_line_no)
            label = lines.source.label
            if label not in self.envelopes and frame.get_column("line").drop_nulls().len():
                self.envelopes[label] = envelope.detect_all(frame)
            wrapped = self.envelopes.get(label, ())
            if wrapped:
                parts = self.parts.setdefault(label, envelope.Parts())
                frame = parts.add(envelope.unwrap_all(frame, wrapped, streams=parts.pending))
            frame = lines.source.lines_of(frame)  # a stream split by container: this one's
            read += frame.height
            batch = self._parser(lines.source.label).parse(frame)
            if batch.kind == "nginx" and batch.lines.height:
                nginx = self._select(batch.lines)
                self.windows.add(nginx)
                if self.has_app_logs:
                    self.traces.add_nginx(nginx)
            elif batch.kind == "app" and batch.lines.height:
                self.traces.add_app(batch.lines)
        if read:
            self.last_arrival = time.monotonic()
        if self.windows.now is not None and self.has_app_logs:
            self.traces.complete(self.windows.now)
        return read

    def _select(self, lines: pl.DataFrame) -> pl.DataFrame:
        """nginx LINES with their routes, filtered as asked."""
        frame = with_routes(lines) if "path" in lines.columns else lines.lazy()
        expr = self.options.filters.expr(frame.collect_schema().names())
        if expr is not None:
            frame = frame.filter(expr)
        return frame.collect()

    @property
    def stats(self) -> list[SourceStats]:
        return [p.stats for p in self.parsers.values()]

    def idle_s(self) -> float:
        """Seconds (wall clock) since new lines last came."""
        return time.monotonic() - (self.last_arrival or self.started)

    def rejected(self) -> tuple[int, list[tuple[str, int]]]:
        """Lines rejected so far (and unfinished lines lost to a rotation), by reason."""
        reasons: Counter[str] = Counter()
        for stats in self.stats:
            reasons.update(stats.reasons)
        reasons.update(self.follower.dropped)
        return sum(reasons.values()), reasons.most_common()

    def summary(self) -> Summary:
        windows = self.windows
        p50, p95, p99, top = windows.overall_percentiles()
        rejected, reasons = self.rejected()

        def at(second: int | None) -> datetime | None:
            return None if second is None else datetime.fromtimestamp(second, UTC)

        return Summary(
            sources=len(self.follower.tails),
            lines=sum(s.lines_total for s in self.stats),
            rejected=rejected,
            reasons=reasons,
            requests=windows.requests,
            untimed=windows.untimed,
            p50_s=p50,
            p95_s=p95,
            p99_s=p99,
            max_s=top,
            first=at(windows.first),
            last=at(windows.now),
            rotations=self.follower.rotations,
            traces=self.traces.completed,
            zone=self.options.zone,
        )
