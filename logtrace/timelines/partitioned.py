"""The join a part of the requests at a time, for inputs larger than memory.

1. One streaming pass over the input: each parsed chunk is split by a hash of its request
   id into the parts of a temporary :class:`spill.Spill` (lines without an id go to a
   part of their own); what the id columns hold is counted on the way.
2. The global facts (``docs/scale.md``): which nginx sources are twins, the units of app
   durations, the path mappings, the clock offsets and placement windows, the upstream
   addresses, which sources are called: learnt by the in-memory join on a sample, the
   first parts (all of them when they are small: then the results are exactly those of
   the in-memory join).
3. Each part is joined on its own with those facts fixed: memory is bounded by a part.

The in-memory join (``load.load``) is used instead when a nginx source logs several
columns that may hold the request id (which one is meant is decided on every line), or
when no nginx line has an id while several nginx logs are read (copies are found by
their first lines): those need every line at once.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import polars as pl

from logtrace.ingest import FormatResolver, IngestReport, iter_lines, require_parsed
from logtrace.sources import Source
from logtrace.timelines import load as joined
from logtrace.timelines import units
from logtrace.timelines.assemble import Timelines, assemble
from logtrace.timelines.paths import PathMappings
from logtrace.timelines.skew import HostOffset
from logtrace.timelines.spill import NO_ID, Slice, Spill, spill
from logtrace.twins import (
    Twins,
    WrittenBefore,
    app_twin_pairs,
    drop_app_twins,
    drop_repeats,
    drop_twins,
    twin_pairs,
)

PART_BYTES = 32 * 1024 * 1024  # input bytes per part (a part takes ~1 GB to join)
# Parts of an input whose size is not known before it is read (a pipe). They are joined as
# many lines at a time as PART_BYTES of its text holds (``Partitioned.job_lines``): a few
# small parts together, a big one in slices of whole requests (``spill.Slice``), so that
# memory stays bounded by a part's worth whatever the pipe holds.
UNKNOWN_SIZE_PARTS = 64
SAMPLE_LINES = 300_000  # lines of the parts the global facts are learnt on
# Parts joined side by side while the caller uses the one it was given: a part's join
# leaves a core idle part of the time (polars steps that run on one thread), which the
# other fills (chatty benchmark's join: 0.91-1.00 of the time in 7 interleaved pairs on a
# quiet machine, peak RSS 1.2 -> 1.5 GB: docs/scale.md).
JOINS_AHEAD = 2
_TRACE_SAMPLE = 1000  # id values looked at for traceparents (as with_trace_ids does)


@dataclass
class _Ids:
    """What the streaming pass saw of the nginx id columns."""

    columns: dict[str, list[str]] = field(default_factory=dict)  # source -> id columns
    filled: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, col) -> values
    samples: dict[str, list[pl.Series]] = field(default_factory=dict)  # first values per col

    def see(self, source: str, frame: pl.DataFrame, present: list[str]) -> None:
        self.columns.setdefault(source, present)
        for column in present:
            values = frame.get_column(column).drop_nulls()
            key = (source, column)
            self.filled[key] = self.filled.get(key, 0) + values.len()
            kept = self.samples.setdefault(column, [])
            if sum(s.len() for s in kept) < _TRACE_SAMPLE:
                kept.append(values.head(_TRACE_SAMPLE))

    def ambiguous(self) -> bool:
        """Whether a source logs several columns that may hold the id."""
        return any(len(c) > 1 for c in self.columns.values())

    def choice(self) -> dict[str, str]:
        """The id column of each nginx source (as ``choose_id_columns`` decides it when
        each source has one column at most)."""
        return {
            source: next((c for c in present if self.filled.get((source, c), 0) > 0), "request_id")
            for source, present in self.columns.items()
        }

    def traced(self) -> list[str]:
        """The id columns whose first values hold W3C traceparents."""
        out = []
        for column, kept in self.samples.items():
            sample = pl.concat(kept).head(_TRACE_SAMPLE) if kept else pl.Series([], dtype=pl.String)
            if sample.cast(pl.String).str.contains(joined.TRACEPARENT).any():
                out.append(column)
        return out


@dataclass
class _Tally:
    """What joined parts add to the report's warnings."""

    dropped: dict[tuple[str, str], int] = field(default_factory=dict)  # (kept, gone) -> lines
    repeats: dict[str, int] = field(default_factory=dict)  # a log's lines that repeat its own
    missing: list[pl.DataFrame] = field(default_factory=list)  # lines without an id
    hits: list[pl.DataFrame] = field(default_factory=list)  # oversized ids' lines
    oversized: dict[str, int] = field(default_factory=dict)

    def add(self, other: _Tally) -> None:
        for key, n in other.dropped.items():
            self.dropped[key] = self.dropped.get(key, 0) + n
        for source, n in other.repeats.items():
            self.repeats[source] = self.repeats.get(source, 0) + n
        self.missing += other.missing
        self.hits += other.hits
        self.oversized.update(other.oversized)


@dataclass
class Partitioned:
    """The input spilled by request id, the facts learnt, and the parts to join."""

    sources: Sequence[Source]
    options: joined.TimelineOptions
    ingest: IngestReport
    spill: Spill
    choice: dict[str, str]
    traced: list[str]
    twins: list[tuple[str, str, list[str]]]
    app_twins: list[tuple[str, str, list[str]]]
    factors: dict[str, float]
    configured: PathMappings
    sample: Timelines
    # about this many lines joined at once (None: a part): the input's size was not known
    # when it was cut in UNKNOWN_SIZE_PARTS parts
    job_lines: int | None = None
    _tally: _Tally = field(default_factory=_Tally)
    _jobs: list[list[Slice]] = field(default_factory=list)  # what is joined at once, in order
    _sampled: int = 0  # the first jobs, which the facts were learnt on
    _first: joined.Loaded | None = None  # their join, until handed on

    @property
    def offsets(self) -> dict[str, HostOffset]:
        """Each host's clock offset (NTP and whole-second windows), as the join uses them."""
        return self.sample.offsets

    def _read(self, slices: list[Slice]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """nginx LINES (with their request ids) and app LINES of some parts (slices)."""
        nginx = self.spill.read_slices(slices, "nginx")
        if not nginx.is_empty():
            present = [c for c in self.traced if c in nginx.columns]
            nginx = joined.with_trace_ids(nginx, present) if present else nginx
            nginx = joined.with_ids(nginx, self.choice)
        return nginx, self.spill.read_slices(slices, "app")

    def part(self, job: list[Slice]) -> tuple[joined.Loaded, _Tally]:
        """One part (a few, or a slice of one: ``job_lines``) joined alone, with the global
        facts fixed (safe in several threads at once: what the part adds to the warnings
        is returned, not kept)."""
        tally = _Tally()
        loaded = self._join(job, learn=False, tally=tally)
        assert loaded is not None
        return loaded, tally

    def _join(self, slices: list[Slice], *, learn: bool, tally: _Tally) -> joined.Loaded | None:
        """Some parts (slices) joined together; with ``learn``, the global facts are learnt
        from them (None: their twins are told apart without ids, a join of every line)."""
        nginx, app = self._read(slices)
        nginx, repeats = drop_repeats(nginx, joined.minted_ids(self.ingest))
        for source, n in repeats.items():
            tally.repeats[source] = tally.repeats.get(source, 0) + n
        if learn:
            self.twins = twin_pairs(nginx) if not nginx.is_empty() else []
            if any("request_id" not in cols for _, _, cols in self.twins):
                return None  # twins told apart without ids: their lines are in different parts
            self.app_twins = app_twin_pairs(app)
        self.spill.release(slices)  # read once for all: what memory holds of them can go
        nginx, twins = drop_twins(nginx, self.twins)
        app, app_twins = drop_app_twins(app, self.app_twins)
        for kept, gone, n in [*twins.dropped, *app_twins.dropped]:
            tally.dropped[(kept, gone)] = tally.dropped.get((kept, gone), 0) + n
        spans = joined.lines_to_spans(nginx, app)
        if learn:
            self.factors = units.wrong_units(spans)
        spans, _ = units.rescale(spans, self.factors)
        timelines = assemble(
            spans,
            skew_correction=self.options.skew_correction,
            configured=self.configured,
            facts=None if learn else self.sample.facts,
        )
        if learn:
            self.sample = timelines
        tally.missing.append(joined.missing_ids(nginx, app))
        if timelines.oversized:
            tally.oversized.update(timelines.oversized)
            tally.hits.append(joined.oversized_hits(timelines.oversized, spans))
        timelines = replace(timelines, offsets=self.offsets)
        return joined.Loaded(self.ingest, timelines, nginx, app, self.choice)

    def parts(self) -> Iterator[joined.Loaded]:
        """Every part joined, in order (then the report's warnings are complete): the
        sample's parts first, as the facts were learnt on them, then the others. The next
        parts (``JOINS_AHEAD``) are joined in threads of their own while the caller uses
        the one it was given (tables it, writes it): the caller's part and the next ones
        are in memory, no more. Each part's warnings are added as it is handed on."""
        first, self._first = self._first, None
        todo = self._jobs[self._sampled :]
        with ThreadPoolExecutor(max_workers=JOINS_AHEAD, thread_name_prefix="part") as ahead:
            joining = deque(ahead.submit(self.part, p) for p in todo[:JOINS_AHEAD])
            if first is not None:
                yield first
            del first
            for following in todo[JOINS_AHEAD:]:
                done, tally = joining.popleft().result()
                joining.append(ahead.submit(self.part, following))  # while `done` is used
                self._tally.add(tally)
                yield done
                del done
            while joining:
                done, tally = joining.popleft().result()
                self._tally.add(tally)
                yield done
                del done
        self._warn()

    def _warn(self) -> None:
        report = self.ingest
        tally = self._tally
        for pairs, app in ((self.twins, False), (self.app_twins, True)):
            dropped = [(kept, gone, tally.dropped.get((kept, gone), 0)) for kept, gone, _ in pairs]
            joined.warn_twins(report, Twins(dropped, app=app))
        joined.warn_repeats(report, tally.repeats)
        joined.warn_units(report, units.notes(self.factors))
        hits = pl.concat(tally.hits) if tally.hits else None
        if hits is not None:
            hits = hits.group_by("source").agg(pl.col("ids").sum(), pl.col("spans").sum())
            joined.warn_oversized(report, tally.oversized, hits)
        if tally.missing:
            counts = pl.concat(tally.missing).group_by("source").agg(pl.all().sum())
            joined.warn_missing_ids(report, counts)

    def whole(self) -> joined.Loaded:
        """Every part joined and put together: the in-memory join's ``Loaded`` (lines and
        spans grouped by part rather than in the order they were read)."""
        # the app lines' columns the caller does not use dropped as each part comes
        keep = self.options.app_columns
        loaded = [joined.kept_app_columns(part, keep) for part in self.parts()]
        spans = [p.timelines.spans for p in loaded]
        notes = list(dict.fromkeys(n for p in loaded for n in p.timelines.notes))
        timelines = Timelines(
            spans=pl.concat(spans) if spans else self.sample.spans.clear(),
            offsets=self.offsets,
            corrected_requests=sum(p.timelines.corrected_requests for p in loaded),
            notes=notes,
            oversized=dict(self._tally.oversized),
            mappings=self.sample.mappings,
            facts=self.sample.facts,
        )
        nginx = [p.nginx for p in loaded if not p.nginx.is_empty()]
        app = [p.app for p in loaded if not p.app.is_empty()]
        return joined.Loaded(
            self.ingest,
            timelines,
            pl.concat(nginx, how="diagonal_relaxed") if nginx else pl.DataFrame(),
            pl.concat(app, how="diagonal_relaxed") if app else pl.DataFrame(),
            self.choice,
        )


def part_count(sources: Sequence[Source], options: joined.TimelineOptions) -> tuple[int, bool]:
    """How many parts: one per ``PART_BYTES`` of input (``options.parts`` when given), or
    ``UNKNOWN_SIZE_PARTS`` when the input's size is not known (a pipe); and whether it is
    not known (then none was given)."""
    if options.parts:
        return options.parts, False
    size = joined.input_bytes(sources)
    return (max(1, math.ceil(size / PART_BYTES)), False) if size else (UNKNOWN_SIZE_PARTS, True)


@contextmanager
def partitioned(
    sources: Sequence[Source], options: joined.TimelineOptions
) -> Iterator[Partitioned | joined.Loaded]:
    """The input read once and spilled by request id, with the global facts learnt; or,
    when the input needs every line at once (see the module's docstring), the in-memory
    join's result. The spill is removed when the block ends, however it ends."""
    resolver = FormatResolver.from_options(options.formats)
    report = IngestReport()
    ids = _Ids()
    nginx_read: set[str] = set()
    written = WrittenBefore()
    parts, unknown = part_count(sources, options)
    with spill(parts) as store:
        for chunk in iter_lines(
            sources,
            resolver,
            report,
            joined.read_columns(options),
            keep_line=options.keep_lines,
            id_field=options.id_field,
            progress=options.progress,
            chosen=options.chosen,
        ):
            frame = chunk.frame
            if chunk.kind == "app":
                has = "request_id" in frame.columns
                store.add("app", frame, pl.col("request_id") if has else pl.lit(None, pl.String))
                continue
            source = chunk.source.label
            nginx_read.add(source)
            frame = written.add(frame, source)  # the order it was written in: drop_repeats
            present = joined.id_columns(frame, options.id_field)
            ids.see(source, frame, present)
            rid = pl.col(present[0]) if present else pl.lit(None, pl.String)
            store.add("nginx", frame, rid.cast(pl.String))
        require_parsed(report, resolver)
        no_ids = not any(ids.filled.values())
        if ids.ambiguous() or (no_ids and len(nginx_read) > 1):
            yield _in_memory(sources, options, resolver, report, store)
            return
        yield _learn(
            sources,
            options=options,
            resolver=resolver,
            report=report,
            store=store,
            ids=ids,
            nginx_read=nginx_read,
            # the lines of PART_BYTES of the text read: a part's worth, as with a known size
            job_lines=(
                math.ceil(sum(store.lines.values()) * PART_BYTES / report.text_bytes)
                if unknown and report.text_bytes
                else None
            ),
        )


def _jobs(store: Spill, most: int | None) -> list[list[Slice]]:
    """What is joined at once, in order: each part (``most`` None), or about ``most``
    lines: consecutive small parts together, a bigger one in slices. The lines without an
    id come last, alone."""
    lines = store.lines  # (waits for the spill's writes: none is left when jobs read)
    parts = [p for p in range(store.parts) if lines[p]]
    jobs: list[list[Slice]] = []
    held = 0
    for part in parts:
        subs = 1 if most is None else max(1, round(lines[part] / most))
        if subs > 1:
            jobs += [[(part, sub, subs)] for sub in range(subs)]
            held = most or 0
        elif most is None or not jobs or held + lines[part] > most:
            jobs.append([(part, 0, 1)])
            held = lines[part]
        else:
            jobs[-1].append((part, 0, 1))
            held += lines[part]
    return jobs + ([[(NO_ID, 0, 1)]] if lines[NO_ID] else [])


def _sample(jobs: list[list[Slice]], store: Spill) -> int:
    """How many of the first jobs the facts are learnt on: up to ``SAMPLE_LINES`` lines
    (one at least, but not the lines without an id)."""
    lines = store.lines
    taken = held = 0
    for job in jobs:
        size = sum(lines[part] // subs for part, _, subs in job)
        if job == [(NO_ID, 0, 1)] or (taken and held + size > SAMPLE_LINES):
            break
        taken += 1
        held += size
    return taken


def _learn(
    sources: Sequence[Source],
    *,
    options: joined.TimelineOptions,
    resolver: FormatResolver,
    report: IngestReport,
    store: Spill,
    ids: _Ids,
    nginx_read: set[str],
    job_lines: int | None,
) -> Partitioned | joined.Loaded:
    """The global facts, learnt by the in-memory join of the sample parts."""
    configured = joined.configured_mappings(sources, resolver, nginx_read)
    run = Partitioned(
        sources,
        options,
        report,
        store,
        ids.choice(),
        ids.traced(),
        [],
        [],
        {},
        configured,
        Timelines(pl.DataFrame(), {}),
        job_lines,
    )
    run._jobs = _jobs(store, job_lines)
    run._sampled = _sample(run._jobs, store)
    sample = [s for job in run._jobs[: run._sampled] for s in job]
    if store.lines[NO_ID] <= SAMPLE_LINES and [(NO_ID, 0, 1)] in run._jobs[run._sampled :]:
        run._jobs.remove([(NO_ID, 0, 1)])  # learnt on with the sample, as they are few
        sample.append((NO_ID, 0, 1))
    run._first = run._join(sample, learn=True, tally=run._tally)
    if run._first is None:
        return _in_memory(sources, options, resolver, report, store)
    return run


def _in_memory(
    sources: Sequence[Source],
    options: joined.TimelineOptions,
    resolver: FormatResolver,
    report: IngestReport,
    store: Spill,
) -> joined.Loaded:
    """The in-memory join of every spilled line (read back in the order it was read)."""
    nginx, app = store.read_many(None, "nginx"), store.read_many(None, "app")
    return joined.join_lines(
        sources, options=options, resolver=resolver, report=report, nginx=nginx, app=app
    )


@dataclass(frozen=True)
class Joined:
    """A join's result, a part at a time (the in-memory join: one part)."""

    ingest: IngestReport
    offsets: dict[str, HostOffset]
    run: Partitioned | None = None
    loaded: joined.Loaded | None = None

    @property
    def traceless(self) -> bool:
        """Whether no line has a request id: there is no trace at all."""
        if self.run is None:
            return False
        store = self.run.spill
        return not any(store.lines[p] for p in range(store.parts))

    def each(self) -> Iterator[joined.Loaded]:
        """Every part joined, one at a time; the ingest report is complete after the last."""
        if self.loaded is not None:
            yield self.loaded
        elif self.run is not None:
            yield from self.run.parts()

    def whole(self) -> joined.Loaded:
        """Every part joined and put together (see :meth:`Partitioned.whole`)."""
        if self.loaded is not None:
            return self.loaded
        assert self.run is not None
        return self.run.whole()


@contextmanager
def joined_parts(sources: Sequence[Source], options: joined.TimelineOptions) -> Iterator[Joined]:
    """The join of ``load.load``, a part at a time when the input is large (see
    ``load.join_mode``); the parts are joined as :meth:`Joined.each` is consumed, inside
    the ``with`` block (the spill is removed at its end)."""
    if joined.join_mode(sources, options) == "memory":
        loaded = joined.load(sources, replace(options, join="memory"))
        yield Joined(loaded.ingest, loaded.timelines.offsets, loaded=loaded)
        return
    with partitioned(sources, options) as run:
        if isinstance(run, joined.Loaded):
            yield Joined(run.ingest, run.timelines.offsets, loaded=run)
        else:
            yield Joined(run.ingest, run.offsets, run=run)


def load_partitioned(sources: Sequence[Source], options: joined.TimelineOptions) -> joined.Loaded:
    """``load.load``, a part at a time; the result is put together at the end."""
    with partitioned(sources, options) as run:
        if isinstance(run, joined.Loaded):
            return joined.kept_app_columns(run, options.app_columns)
        return run.whole()
