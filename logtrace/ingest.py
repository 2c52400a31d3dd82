"""Sources in, LINES chunks out: parse each source in its format, count everything.

Each source's format is decided by ``resolve`` (options, nginx.conf, or detection on its
first lines); its chunks are parsed in worker threads and come back in order, every line
either parsed or counted as rejected with a reason.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import polars as pl

from logtrace import envelope, errorlog
from logtrace.applog import (
    DEFAULT_ID_FIELDS,
    AppFormat,
    AppLogOptions,
    Leading,
    attach_leading,
    detect_app_format,
    parse_app_chunk,
)
from logtrace.applog.detect import DETECT_LINES as APP_DETECT_LINES
from logtrace.applog.shapes import is_blank
from logtrace.applog.zone import envelope_zone
from logtrace.ingest_report import (
    PRETTY_JSON,
    PRETTY_JSON_HINT,
    IngestReport,
    count_chunk,
    hold_unfinished,
    note_error_log,
    reject_all,
    require_parsed,
    skip_error_log,
)
from logtrace.log_format.compiler import CompiledFormat
from logtrace.log_format.presets import PRESETS
from logtrace.parse import AppEvents, SourceStats, parse_chunk, reads_rows
from logtrace.resolve import DETECT_LINES, Detection, FormatOptions, FormatResolver, infer
from logtrace.schema import REJECTS
from logtrace.sources import (
    WORKERS,
    ReadReport,
    Source,
    head_frame,
    iter_texts,
    source_size,
)
from logtrace.twins import find_twins

__all__ = [
    "Batch",
    "BatchParser",
    "FormatOptions",
    "FormatResolver",
    "IngestReport",
    "LinesChunk",
    "iter_lines",
    "require_parsed",
]

ORPHAN_CONTINUATION = "continuation line before any entry"
MIXED_MIN_SHARE = 0.1  # below half but at least this: a file of mixed formats


@dataclass(frozen=True)
class LinesChunk:
    """Parsed lines of one source: nginx access lines or app-log entries."""

    source: Source
    kind: str  # "nginx" | "app"
    frame: pl.DataFrame


@dataclass
class _Parser:
    """How one source is parsed, decided on its first lines."""

    kind: str
    nginx: CompiledFormat | None = None
    app: AppFormat | None = None

    @property
    def name(self) -> str:
        if self.nginx is not None:
            return self.nginx.name
        if self.kind == errorlog.KIND:
            return errorlog.FORMAT
        return self.app.value if self.app is not None else "unknown"


def _label(frame: pl.DataFrame, source: Source) -> pl.DataFrame:
    """Source, host and service columns; a host or service a line names itself wins."""

    def named(column: str, default: str) -> pl.Expr:
        if column in frame.columns:
            return pl.coalesce(pl.col(column), pl.lit(default)).alias(column)
        return pl.lit(default).alias(column)

    return frame.with_columns(
        pl.lit(source.label).alias("source"),
        named("host", source.host),
        named("service", source.service),
        pl.col("line_no").cast(pl.UInt64),
    )


def _choose(
    frame: pl.DataFrame, fixed: CompiledFormat | None, resolver: FormatResolver, stats: SourceStats
) -> _Parser | None:
    """nginx with the fixed or detected format, else an app log shape, else None. An
    nginx error log is told apart first: it is neither, whatever format was given."""
    if errorlog.is_error_log(frame):
        return _Parser(errorlog.KIND)
    detection = resolver.detect(frame, [fixed] if fixed is not None else None)
    if detection.format is not None:
        if fixed is None:
            stats.detected = f"{detection.matched}/{detection.tried} sample lines"
        return _Parser("nginx", nginx=detection.format)
    inferable = fixed is None and resolver.app_format is None
    guess = infer(resolver, frame) if inferable and _mostly_json(frame) else None
    if guess is None or guess.format is None:
        app_parser = _app_parser(frame, resolver, stats)
        if app_parser is not None:
            return app_parser
        guess = infer(resolver, frame) if inferable else None
    if guess is not None and guess.format is not None:
        stats.detected = f"inferred from the lines, {guess.matched}/{guess.tried} sample lines"
        stats.warnings.append(
            f"{stats.path}: no known log_format matches; the format was inferred from its "
            f"lines: '{guess.format.format.text}' (give the real one with --nginx-conf or "
            "--log-format to be sure)"
        )
        return _Parser("nginx", nginx=guess.format)
    if fixed is not None:
        _note_better(stats, fixed, detection, resolver.detect(frame))
        return _Parser("nginx", nginx=fixed)  # the user said so: report its mismatches
    if detection.best is not None and detection.matched >= MIXED_MIN_SHARE * detection.tried:
        # Several formats in one file (two nginx configs appending to one log): read the
        # lines of the commonest one and count the others as rejected, rather than none.
        stats.detected = f"{detection.matched}/{detection.tried} sample lines"
        others = ", ".join(f"{name} {n}" for name, n in detection.scores[1:3])
        stats.warnings.append(
            f"{stats.path}: no format matches most lines (mixed formats?): "
            f"{detection.best.name!r} matches {detection.matched:,} of the first "
            f"{detection.tried:,} and was used, the other lines are rejected ({others})"
        )
        return _Parser("nginx", nginx=detection.best)
    _note_unknown(stats, detection, frame)
    return None


# A member of a JSON object printed over many lines: indented, a key, a colon, a value.
_PRETTY_MEMBER = r'^\s+"(?:[^"\\]|\\.)*"\s*:\s*(?:"|-?[0-9]|\[|\{|true|false|null)'
_BRACES = ["{", "}", "},", "[", "]"]


def pretty_json(frame: pl.DataFrame) -> bool:
    """Whether the first lines are JSON objects printed over many lines each: lines that
    are a brace alone and indented members, nearly all of them."""
    lines = frame.get_column("line").head(200).drop_nulls()
    lines = lines.filter(lines.str.strip_chars() != "")
    braces = int(lines.str.strip_chars().is_in(_BRACES).sum())
    members = int(lines.str.contains(_PRETTY_MEMBER).sum())
    return braces >= 2 and members >= braces and braces + members >= 0.9 * lines.len()


def _mostly_json(frame: pl.DataFrame) -> bool:
    """Whether most of the first lines are JSON objects (an nginx escape=json log is told
    from an app's JSON by inference first; any other app log by its shape first)."""
    head = frame.get_column("line").head(200).drop_nulls()
    return bool(head.len()) and head.str.starts_with("{").mean() > 0.5  # type: ignore[operator]


def _app_parser(
    frame: pl.DataFrame, resolver: FormatResolver, stats: SourceStats
) -> _Parser | None:
    """The app log shape given or detected, or None."""
    app: AppFormat | None
    if resolver.app_format is not None:
        app, matched, tried = resolver.app_format, 0, 0
    else:
        app, matched, tried = detect_app_format(frame)
    if app is not None:
        if resolver.app_format is None:
            stats.detected = f"{matched}/{tried} sample lines"
        return _Parser("app", app=app)
    return None


def _note_better(
    stats: SourceStats, fixed: CompiledFormat, mine: Detection, others: Detection
) -> None:
    """The given format matches under half the first lines: say so, and which known
    formats would match more of them."""
    for name, n in others.scores:
        if n > mine.matched and name != fixed.name and len(stats.better) < 2:
            option = f"--preset {name}" if name in PRESETS else f"--format-name {name}"
            stats.better.append(f"{option} (matches {n:,} of {_first(others.tried)})")
    better = f"; these match more: {', '.join(stats.better)}" if stats.better else ""
    stats.warnings.append(
        f"{stats.path}: only {mine.matched:,} of {_first(mine.tried)} match the "
        f"format {fixed.name!r}{better}"
    )


PLAN_BYTES = 256 * 1024


@dataclass(frozen=True)
class Choice:
    """A source's parser as chosen on its first lines, with what choosing it said of the
    source, to be given to its stats when it is read (``iter_lines``) without choosing
    again: on a folder of rotated logs, once per file on the main thread."""

    parser: _Parser | None
    detected: str | None
    format: str
    warnings: tuple[str, ...]
    better: tuple[str, ...]
    unreadable: str | None = None

    @classmethod
    def of(cls, parser: _Parser | None, scratch: SourceStats) -> Choice:
        return cls(
            parser,
            scratch.detected,
            scratch.format,
            tuple(scratch.warnings),
            tuple(scratch.better),
            scratch.unreadable,
        )

    def told(self, stats: SourceStats) -> _Parser | None:
        """The parser, its notes given to ``stats`` as ``_choose`` would have given them."""
        stats.detected = self.detected
        stats.format = self.format
        stats.warnings.extend(self.warnings)
        stats.better.extend(self.better)
        stats.unreadable = self.unreadable
        return self.parser


# The most non-blank first lines any part of ``_choose`` looks at (nginx formats, app log
# shapes; error logs and inference look at fewer): first lines holding as many choose as
# the source's first chunk would.
_CHOICE_LINES = max(DETECT_LINES, APP_DETECT_LINES)


class FirstLines(NamedTuple):
    """A file's first lines (``PLAN_BYTES``), the parser they choose, and (``choice``)
    that choice when the whole of it was made on these lines."""

    source: Source
    frame: pl.DataFrame
    parser: _Parser | None
    choice: Choice | None


def first_lines(sources: Sequence[Source], resolver: FormatResolver) -> list[FirstLines]:
    """Each source's first lines and the parser they choose, for :func:`plan_sources` and
    :func:`twin_sources` to share (read once); empty sources left out."""
    return list(_first_lines(sources, resolver))


def choices(firsts: Sequence[FirstLines]) -> dict[str, Choice]:
    """The parsers the first lines chose whole, by source (``iter_lines``'s ``chosen``)."""
    return {f.source.label: f.choice for f in firsts if f.choice is not None}


def plan_sources(
    sources: Sequence[Source], resolver: FormatResolver, firsts: Sequence[FirstLines] | None = None
) -> dict[str, str]:
    """Each source's kind ("nginx", "app" or "unknown") from its first lines, read cheaply
    (or given: ``firsts``); stdin's too, from what is read of it ahead of its reader.
    analyze uses this to choose between streaming one nginx log and building timelines
    across hosts.
    """
    return {
        source.label: parser.kind if parser is not None else "unknown"
        for source, _, parser, _ in (_first_lines(sources, resolver) if firsts is None else firsts)
    }


def _first_lines(sources: Sequence[Source], resolver: FormatResolver) -> Iterator[FirstLines]:
    """Each source's first lines (``PLAN_BYTES``) and the parser they choose; empty ones
    left out. stdin's are read ahead and given to its reader again (sources.first_frame).
    Read and chosen side by side (rotated logs: tens of files)."""

    def first(source: Source) -> FirstLines | None:
        frame, entire = head_frame(source, PLAN_BYTES)
        if frame is None:
            return None
        scratch = SourceStats(path=source.label, host=source.host, service=source.service)
        parser = _choose(frame, resolver.for_source(source), resolver, scratch)
        # as the first chunk would choose: on the whole file, or on as many lines as it looks at
        whole = entire or frame.select((~is_blank()).sum()).item() >= _CHOICE_LINES
        return FirstLines(source, frame, parser, Choice.of(parser, scratch) if whole else None)

    # stdin on this thread: a read that waits on a pipe stays open to Ctrl-C
    piped = {s.label: first(s) for s in sources if s.read_once}
    files = [s for s in sources if not s.read_once]
    if len(files) < 2:
        found = {s.label: first(s) for s in files}
    else:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            found = dict(zip([s.label for s in files], pool.map(first, files), strict=True))
    found |= piped
    yield from (f for f in (found.get(s.label) for s in sources) if f is not None)


# What tells two logs of the same requests apart (twins.py), read from their first lines.
TWIN_COLUMNS = frozenset(
    {"request_id", "status", "request_time_s", "path", "method", "remote_addr", "time",
     "time_precision_s", "body_bytes_sent", "bytes_sent", "http_user_agent", "upstream_addr",
     "upstream_status", "upstream_response_time_s"}
)  # fmt: skip


def twin_sources(
    sources: Sequence[Source], resolver: FormatResolver, firsts: Sequence[FirstLines] | None = None
) -> list[tuple[str, str]]:
    """(kept, dropped) nginx sources that log the same requests, judged on their first
    lines (two access logs of one server, or a log and its copy; ``firsts``: those of
    :func:`first_lines`, when read already)."""
    if firsts is None:
        firsts = list(_first_lines(sources, resolver))
    else:
        labels = {s.label for s in sources}
        firsts = [f for f in firsts if f.source.label in labels]
    nginx = [
        (source, frame, parser.nginx)
        for source, frame, parser, _ in firsts
        if parser is not None and parser.nginx is not None
    ]
    if len(nginx) < 2:
        return []

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        frames = list(pool.map(_twin_lines, _batches(nginx)))
    sizes = {source.label: source_size(source) for source, _, _ in nginx}
    return find_twins(pl.concat(frames, how="diagonal_relaxed"), sizes)


TWIN_BATCH_LINES = 1 << 20  # first lines of several files of one format parsed at once


def _batches(
    nginx: list[tuple[Source, pl.DataFrame, CompiledFormat]],
) -> list[list[tuple[Source, pl.DataFrame, CompiledFormat]]]:
    """The files in batches of one format (``TWIN_BATCH_LINES`` lines at most, or one
    file): a parse has a fixed cost, and a folder of rotated logs is tens of files."""
    batches: list[list[tuple[Source, pl.DataFrame, CompiledFormat]]] = []
    open_: dict[CompiledFormat, list[tuple[Source, pl.DataFrame, CompiledFormat]]] = {}
    lines: dict[CompiledFormat, int] = {}  # in the open batch of each format
    for item in nginx:
        _, frame, cf = item
        if cf not in open_ or lines[cf] + frame.height > TWIN_BATCH_LINES:
            open_[cf], lines[cf] = [], 0
            batches.append(open_[cf])
        open_[cf].append(item)
        lines[cf] += frame.height
    return batches


def _twin_lines(batch: list[tuple[Source, pl.DataFrame, CompiledFormat]]) -> pl.DataFrame:
    """The TWIN_COLUMNS of a batch's lines, with their source and host: parsed as one
    frame, the files' line numbers shifted apart and put back."""
    starts: list[int] = []
    frames: list[pl.DataFrame] = []
    shift = 0
    for _, frame, _ in batch:
        starts.append(shift)
        # the lines alone: a syslog file's also name their hosts, a plain file's do not
        lines = frame.select(pl.col("line_no") + pl.lit(shift, pl.UInt32), "line")
        frames.append(lines)
        shift += frame.height
    parsed = parse_chunk(pl.concat(frames), batch[0][2], TWIN_COLUMNS, keep_line=True).lines
    line_no = parsed.get_column("line_no")
    shifts = pl.Series(starts, dtype=pl.UInt32)
    which = shifts.search_sorted(line_no - 1, side="right") - 1  # the file of each line
    labels = pl.Series([source.label for source, _, _ in batch], dtype=pl.String)
    hosts = pl.Series([source.host for source, _, _ in batch], dtype=pl.String)
    return (
        parsed.with_columns(
            (line_no - shifts.gather(which)).alias("line_no"),
            labels.gather(which).alias("source"),
            hosts.gather(which).alias("host"),
            which.alias("_file"),
        )
        .sort("_file", "line_no")  # as the files one after another give them
        .drop("_file")
    )


Transform = Callable[[pl.DataFrame], pl.DataFrame]


@dataclass(frozen=True)
class _Parsed:
    """What a worker thread returns for one chunk."""

    lines: pl.DataFrame
    rejects: pl.DataFrame
    in_entries: int  # lines that belong to parsed entries (app logs: + tracebacks)
    leading: Leading | None = None
    events: AppEvents = field(default_factory=AppEvents)
    skipped: int = 0  # lines the job's prefilter left unparsed
    cut: pl.DataFrame | None = None  # the raw lines it kept, not parsed yet


_NONE = pl.DataFrame()
# Lines a prefilter kept are parsed in batches of about this many: a chunk cut to a few
# hundred lines costs about as much to parse as it would whole (the parse's fixed cost
# is per call, ~100 polars queries for an app log).
CUT_BATCH = 50_000


@dataclass
class _Cuts:
    """The raw lines prefilters kept in one source's chunks, waiting to be parsed."""

    frames: list[pl.DataFrame] = field(default_factory=list)
    rows: int = 0

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self.frames.append(frame)
            self.rows += frame.height

    def take(self) -> pl.DataFrame:
        frame = pl.concat(self.frames, how="vertical_relaxed")
        self.frames, self.rows = [], 0
        return frame


@dataclass(frozen=True)
class _Job:
    """How every chunk of one source is parsed."""

    parser: _Parser
    source: Source
    columns: frozenset[str] | None
    keep_line: bool
    app_options: AppLogOptions
    transform: Transform | None
    prefilter: Transform | None = None  # raw lines worth parsing; the rest are skipped
    # nginx: how well the times its envelope gives place a line within its second, if they
    # do (envelope.refinement of the log's first lines: one answer for all its chunks)
    refine: float | None = None


REFINE_LINES = 5000  # of a log's first lines, read to tell whether envelope times refine its


def _refinement(parser: _Parser, frame: pl.DataFrame) -> float | None:
    """envelope.refinement of a coarse nginx log's first lines, if they have envelope
    times; decided once, on the first chunk, so that every chunk (and every command: a
    ``trace`` parses only its request's lines) reads the log the same way."""
    cf = parser.nginx
    if cf is None or envelope.ENVELOPE_TIME not in frame.columns:
        return None
    if cf.time_precision_s is None or cf.time_precision_s < 1:
        return None
    head = frame.head(REFINE_LINES)
    lines = parse_chunk(head, cf, frozenset({"time"})).lines
    if "time" not in lines.columns or lines.is_empty():
        return None
    return envelope.refinement(lines, head, cf.time_precision_s)


def _zoned(
    parser: _Parser, frame: pl.DataFrame, options: AppLogOptions, stats: SourceStats
) -> AppLogOptions:
    """The options an app log is read with: in the zone its envelope's times show its
    zoneless times are written in, when that is not ``options.timezone`` (said in its
    warnings), each entry off it by an hour or less in its own; decided on its first
    lines, for all its chunks (applog/zone.py)."""
    if parser.app is None:
        return options
    found = envelope_zone(frame.head(REFINE_LINES), parser.app, options)
    if found is None:
        return options
    said = found.describe(stats.path, stats.envelope, options.timezone)
    if said is not None:
        stats.warnings.append(said)
    return replace(options, timezone=found.timezone, follow_envelope=True)


def _parse(job: _Job, frame: pl.DataFrame, text: bytes | None) -> _Parsed:
    """Parse one chunk (runs in a worker thread: polars releases the GIL); ``text`` is
    the bytes ``frame`` was read from."""
    if job.prefilter is not None:
        whole = frame.height
        frame = job.prefilter(frame)
        if frame.height < whole:  # left for the reading thread to batch (see _Cuts)
            # the kept lines copied: else they hold the whole chunk's text until parsed
            kept = frame.with_columns(pl.concat_str(pl.col("line"), pl.lit("")))
            return _Parsed(_NONE, _NONE, 0, skipped=whole - frame.height, cut=kept)
    frame, text, strays = _without_strays(frame, text)
    parsed = _parsed(job, frame, text)
    if strays is None:
        return parsed
    rejects = (
        pl.concat([parsed.rejects, strays], how="vertical_relaxed")
        if parsed.rejects.height
        else strays
    )
    return replace(parsed, rejects=rejects.sort("line_no"))


def _without_strays(
    frame: pl.DataFrame, text: bytes | None
) -> tuple[pl.DataFrame, bytes | None, pl.DataFrame | None]:
    """A split stream's chunk without the lines of the stream's own (envelope.STRAY), and
    those as rejected lines (None: none); the text, if they were taken out, is no more."""
    if envelope.STRAY not in frame.columns:
        return frame, text, None
    marked = frame.get_column(envelope.STRAY)
    if not marked.any():
        return frame, text, None
    strays = frame.filter(marked).select(
        "line_no", pl.lit(envelope.STRAY_REASON).alias("reason"), pl.col("line").fill_null("")
    )
    return frame.filter(~marked), None, strays.cast(pl.Schema(REJECTS))


def _parsed(job: _Job, frame: pl.DataFrame, text: bytes | None) -> _Parsed:
    """:func:`_parse` of a chunk's lines in its source's format."""
    parser, source, columns, keep_line = job.parser, job.source, job.columns, job.keep_line
    transform, app_options = job.transform, job.app_options
    named = [c for c in ("host", "service") if c in frame.columns]  # syslog: each line's
    if parser.nginx is not None:
        cf = parser.nginx
        parsed = parse_chunk(frame, cf, columns, keep_line=keep_line, text=text)
        lines = parsed.lines
        refined = 0
        known, logged = job.refine, cf.time_precision_s
        if known is not None and logged is not None and "time" in lines.columns and lines.height:
            lines, refined = envelope.refine_times(lines, frame, logged, known)
        if named and lines.height:
            lines = _named_by_lines(lines, frame, named)
        lines = _label(lines, source) if lines.height else lines
        if transform is not None and lines.height:
            lines = transform(lines)
        events = AppEvents(
            envelope_timed=refined, envelope_precision_s=job.refine if refined else None
        )
        return _Parsed(lines, parsed.rejects, parsed.lines.height, events=events)
    assert parser.app is not None
    app = parse_app_chunk(frame, parser.app, app_options, text=text)
    in_entries = app.lines.height + int(app.lines.get_column("extra_lines").sum() or 0)
    lines = app.lines
    if keep_line and lines.height:
        lines = lines.join(
            frame.select("line_no", "line"), on="line_no", how="left", maintain_order="left"
        )
    if named and lines.height:
        lines = _named_by_lines(lines, frame, named)
    return _Parsed(_label(lines, source), app.rejects, in_entries, app.leading, app.events)


def _named_by_lines(lines: pl.DataFrame, frame: pl.DataFrame, named: Sequence[str]) -> pl.DataFrame:
    """Parsed ``lines`` with the host and service their raw lines name (``frame``'s, from
    a syslog envelope), before those a line's own fields name."""
    names = frame.select("line_no", *named).cast({"line_no": lines.schema["line_no"]})
    joined = lines.join(names, on="line_no", how="left", suffix="_named", maintain_order="left")
    own = [c for c in named if f"{c}_named" in joined.columns]
    return joined.with_columns(pl.coalesce(f"{c}_named", c).alias(c) for c in own).drop(
        [f"{c}_named" for c in own]
    )


# A chunk of an nginx log with fewer lines than this (a small file, or a file's last
# chunk) is parsed together with the next ones of the same format, as one chunk of up to
# about ``SMALL_BATCH_ROWS`` lines: a parse and its ``transform`` cost ~3 ms each whatever
# the lines. ``analyze`` of 1M lines in 100 files of ~10,000: 3.43 → 2.76 s (4.3 → 3.5
# CPU-s), peak RSS 300 → 420 MB, that of the same lines in one file.
SMALL_CHUNK_ROWS = 1 << 15
SMALL_BATCH_ROWS = 1 << 16
SMALL_BATCH_CHUNKS = 64  # and of at most this many chunks: each waits in the flight


@dataclass
class _Small:
    """Small nginx chunks of one or more sources of one format, parsed as one chunk."""

    pieces: list[tuple[_Job, pl.DataFrame]] = field(default_factory=list)
    rows: int = 0
    future: Future[list[_Parsed]] | None = None

    def takes(self, job: _Job) -> bool:
        """Whether a chunk of ``job`` may join the chunks held (not parsed yet)."""
        if self.future is not None or self.rows >= SMALL_BATCH_ROWS:
            return False
        if len(self.pieces) >= SMALL_BATCH_CHUNKS:
            return False
        if not self.pieces:
            return True
        first = self.pieces[0][0]
        return (
            (job.parser.nginx is first.parser.nginx or job.parser.nginx == first.parser.nginx)
            and job.columns == first.columns
            and job.keep_line == first.keep_line
            and job.transform is first.transform
        )

    def add(self, job: _Job, frame: pl.DataFrame) -> int:
        self.pieces.append((job, frame))
        self.rows += frame.height
        return len(self.pieces) - 1

    def submit(self, pool: ThreadPoolExecutor) -> None:
        if self.future is None:
            self.future = pool.submit(_parse_small, self.pieces)


@dataclass(frozen=True)
class _Piece:
    """One chunk of a :class:`_Small`: its result, the held chunks sent off first."""

    small: _Small
    index: int
    pool: ThreadPoolExecutor

    def result(self) -> _Parsed:
        self.small.submit(self.pool)
        assert self.small.future is not None
        return self.small.future.result()[self.index]


def _small_chunk(job: _Job, frame: pl.DataFrame, text: bytes | None) -> bool:
    """Whether a chunk is parsed with others (:class:`_Small`): a small one of an nginx
    log, without a prefilter, whose bytes are not read again."""
    return (
        job.parser.nginx is not None
        and job.prefilter is None
        and text is None
        and frame.height < SMALL_CHUNK_ROWS
        and "host" not in frame.columns  # a line's own host: parsed with its own chunk
        and envelope.ENVELOPE_TIME not in frame.columns  # a line's own time: the same
    )


def _parse_small(pieces: list[tuple[_Job, pl.DataFrame]]) -> list[_Parsed]:
    """Parse the chunks as one (runs in a worker thread); the lines and rejects of each,
    as :func:`_parse` gives them for it alone. Lines are numbered by their row in all the
    chunks while parsed, then each chunk's numbers are given back."""
    job = pieces[0][0]
    if len(pieces) == 1:
        return [_parse(job, pieces[0][1], None)]
    assert job.parser.nginx is not None
    starts = [0, *itertools.accumulate(frame.height for _, frame in pieces)]
    whole = pl.concat([frame.select("line") for _, frame in pieces], rechunk=False)
    whole = whole.with_row_index("line_no")
    parsed = parse_chunk(whole, job.parser.nginx, job.columns, keep_line=job.keep_line)

    def cut(frame: pl.DataFrame) -> list[pl.DataFrame]:
        """``frame`` (in row order) cut at each chunk's first row, numbered as its chunk."""
        at = frame.get_column("line_no").search_sorted(pl.Series(starts), side="left")
        out = []
        for i, (_, chunk) in enumerate(pieces):
            part = frame.slice(at[i], at[i + 1] - at[i])
            first = chunk.get_column("line_no").item(0) if chunk.height else 0
            number = pl.col("line_no").cast(pl.Int64) - starts[i] + first
            dtype = frame.schema["line_no"]
            out.append(part.with_columns(number.cast(dtype).alias("line_no")))
        return out

    lines, rejects = cut(parsed.lines), cut(parsed.rejects)
    labelled = [
        _label(part, piece_job.source) if part.height else part
        for part, (piece_job, _) in zip(lines, pieces, strict=True)
    ]
    if job.transform is not None:
        shown = [part for part in labelled if part.height]
        done = job.transform(pl.concat(shown, rechunk=False)) if shown else None
        if done is not None and done.height == sum(part.height for part in shown):
            at = 0
            for i, part in enumerate(labelled):
                if part.height:
                    labelled[i] = done.slice(at, part.height)
                    at += part.height
        else:  # a transform that drops or adds rows: each chunk's own
            labelled = [job.transform(part) if part.height else part for part in labelled]
    return [
        _Parsed(done_lines, chunk_rejects, parsed_lines.height)
        for done_lines, chunk_rejects, parsed_lines in zip(labelled, rejects, lines, strict=True)
    ]


def iter_lines(
    sources: Sequence[Source],
    resolver: FormatResolver,
    report: IngestReport,
    columns: frozenset[str] | None = None,
    *,
    keep_line: bool = False,
    id_field: str | None = None,
    transform: Transform | None = None,
    progress: Callable[[int], None] | None = None,
    prefilter: Transform | None = None,
    chosen: Mapping[str, Choice] | None = None,
) -> Iterator[LinesChunk]:
    """Parsed chunks of every source, in order; ``report`` collects counts and samples.

    Chunks are parsed in worker threads (``WORKERS``) while the next ones are read, the
    next source's included: the workers do not wait for a source's last chunk before the
    next source's first (rotated logs: many files of a few chunks each), unless a
    ``prefilter`` is given (it learns from the lines yielded). ``transform``
    (nginx chunks only) runs in the worker too. Results come back in order.
    ``progress`` is called with the bytes read so far. ``prefilter`` cuts a chunk's raw
    lines (``line_no``, ``line``) to those worth parsing, once its format is known; the
    others are counted as skipped (``lines_skipped``), neither parsed nor rejected.
    ``chosen``: the parsers the sources' first lines chose (:func:`choices`), not chosen
    again.
    """
    chosen = chosen or {}
    app_options = AppLogOptions(
        id_fields=(id_field, *DEFAULT_ID_FIELDS) if id_field else DEFAULT_ID_FIELDS,
        timezone=resolver.timezone,
    )
    done_bytes = 0
    # In order: each source's chunks being parsed, then its end (None), after which its
    # counts are complete.
    flight: deque[tuple[_Reading, _Done | None]] = deque()
    small = _Small()  # small chunks held to be parsed as one
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for source in sources:
            reading = _Reading(
                SourceStats(path=source.label, host=source.host, service=source.service)
            )
            stats, read = reading.stats, reading.read
            report.sources.append(stats)
            fixed = resolver.for_source(source)
            parser: _Parser | None = None
            unknown = False
            for text, frame in iter_texts(source, read):
                stats.lines_total += frame.height
                stats.envelope = envelope.name(read.envelopes)
                if "host" in frame.columns:  # lines that name their host (syslog)
                    stats.name_hosts(frame.get_column("host"), frame.get_column("service"))
                report.text_bytes += len(text)
                if progress is not None:
                    progress(done_bytes + read.bytes_read)
                if parser is None and not unknown:
                    choice = chosen.get(source.label)
                    parser = (
                        choice.told(stats)
                        if choice is not None
                        else _choose(frame, fixed, resolver, stats)
                    )
                    unknown = parser is None
                if parser is None:
                    reject_all(stats, frame)
                    continue
                if stats.format == "?":
                    stats.kind, stats.format = parser.kind, parser.name
                    if parser.nginx is not None:
                        report.formats[source.label] = parser.nginx
                if reading.job is None:
                    reading.job = _Job(
                        parser,
                        source,
                        columns,
                        keep_line,
                        _zoned(parser, frame, app_options, stats),
                        transform,
                        prefilter,
                        _refinement(parser, frame),
                    )
                if parser.kind == errorlog.KIND:
                    skip_error_log(stats, frame)
                    continue
                # the bytes again only for a format read as rows (JSON lines: app logs,
                # nginx's when rows are on): else they would be held for nothing
                keep = (
                    reads_rows(parser.nginx)
                    if parser.nginx is not None
                    else parser.app is AppFormat.JSON
                )
                job = reading.job
                assert job is not None
                chunk_text = bytes(text) if keep else None
                if _small_chunk(job, frame, chunk_text):
                    if not small.takes(job):
                        small.submit(pool)
                        small = _Small()
                    flight.append((reading, _Piece(small, small.add(job, frame), pool)))
                else:
                    small.submit(pool)  # the chunks held go first
                    flight.append((reading, pool.submit(_parse, job, frame, chunk_text)))
                while _parsing(flight) > WORKERS:
                    yield from _next(flight, pool)
            done_bytes += read.bytes_read
            flight.append((reading, None))
            while prefilter is not None and flight:  # it learns from the lines yielded
                yield from _next(flight, pool)
        while flight:
            yield from _next(flight, pool)


@dataclass
class _Reading:
    """One source's state from its first chunk read to its last chunk counted."""

    stats: SourceStats
    read: ReadReport = field(default_factory=ReadReport)
    job: _Job | None = None  # how its chunks are parsed, once its format is known
    pending: dict[str, pl.DataFrame | None] = field(default_factory=lambda: {"pending": None})
    cuts: _Cuts = field(default_factory=_Cuts)


_Done = Future[_Parsed] | _Piece


def _parsing(flight: deque[tuple[_Reading, _Done | None]]) -> int:
    """The parses sent off and not yet taken: a chunk's own, or the one of the small
    chunks it was held with (counted once, and not before it is sent off); counted up to
    one more than ``WORKERS``, which is all the reading loop asks."""
    jobs = set()
    for _, done in flight:
        if isinstance(done, _Piece):
            if done.small.future is not None:
                jobs.add(id(done.small))
        elif done is not None:
            jobs.add(id(done))
        if len(jobs) > WORKERS:
            break
    return len(jobs)


def _next(
    flight: deque[tuple[_Reading, _Done | None]], pool: ThreadPoolExecutor
) -> Iterator[LinesChunk]:
    """Count and yield the oldest chunk in flight, or end its source."""
    reading, done = flight.popleft()
    job, stats, read, cuts = reading.job, reading.stats, reading.read, reading.cuts
    if done is None:
        yield from _end(reading)
        return
    assert job is not None
    yield from _collect(job, stats, reading.pending, done, read=read, cuts=cuts)
    if cuts.rows >= CUT_BATCH:  # next: they come before the chunks in flight
        uncut = replace(job, prefilter=None)
        flight.appendleft((reading, pool.submit(_parse, uncut, cuts.take(), None)))


def _end(reading: _Reading) -> Iterator[LinesChunk]:
    """A source's last lines (those a prefilter kept, an app entry held for the lines
    that continue it) and its counts completed, once every chunk of it is counted."""
    job, stats, read, state = reading.job, reading.stats, reading.read, reading.pending
    if reading.cuts.rows:
        assert job is not None
        uncut = replace(job, prefilter=None)
        yield from _counted(job, stats, state, _parse(uncut, reading.cuts.take(), None), read)
    if state["pending"] is not None:
        assert job is not None
        yield LinesChunk(job.source, "app", state["pending"])
    stats.warnings.extend(read.warnings)
    stats.warn_untimed()
    stats.note_envelope_times()
    note_error_log(stats)
    stats.damaged = read.truncated
    if not stats.lines_total and not read.warnings:
        stats.warnings.append(f"{stats.path}: empty, not a single line")


def _collect(
    job: _Job,
    stats: SourceStats,
    state: dict[str, pl.DataFrame | None],
    done: _Done,
    *,
    read: ReadReport,
    cuts: _Cuts,
) -> Iterator[LinesChunk]:
    """Count a parsed chunk (in order) and yield its lines; app entries wait one chunk
    for the continuation lines at the top of the next. The lines a prefilter kept go to
    ``cuts``; a chunk parsed whole is preceded by the cut lines before it."""
    parsed = done.result()
    stats.lines_skipped += parsed.skipped
    if parsed.cut is not None:
        cuts.add(parsed.cut)
        return
    if cuts.rows:  # rare: a prefilter that kept every line of this chunk
        uncut = replace(job, prefilter=None)
        yield from _counted(job, stats, state, _parse(uncut, cuts.take(), None), read)
    yield from _counted(job, stats, state, parsed, read)


def _counted(
    job: _Job,
    stats: SourceStats,
    state: dict[str, pl.DataFrame | None],
    parsed: _Parsed,
    read: ReadReport,
) -> Iterator[LinesChunk]:
    source = job.source
    rejects = hold_unfinished(stats, parsed.rejects, read.unfinished_line)
    count_chunk(stats, parsed.in_entries, rejects, job.parser.nginx)
    stats.add_app_events(parsed.events)
    if job.parser.kind == "nginx":
        if parsed.lines.height:
            yield LinesChunk(source, "nginx", parsed.lines)
        return
    leading = parsed.leading or Leading()
    pending = state["pending"]
    if pending is not None:
        stats.lines_parsed += leading.lines
        yield LinesChunk(source, "app", attach_leading(pending, leading))
        state["pending"] = None
    elif leading.lines:
        stats.lines_rejected += leading.lines
        stats.reasons[ORPHAN_CONTINUATION] += leading.lines
    if parsed.lines.height:
        state["pending"] = parsed.lines


def _first(n: int) -> str:
    return "the first line" if n == 1 else f"the first {n:,} lines"


def _note_unknown(stats: SourceStats, detection: Detection, frame: pl.DataFrame) -> None:
    stats.format = "unknown"
    if pretty_json(frame):
        stats.unreadable = PRETTY_JSON
        stats.warnings.append(f"{stats.path}: {PRETTY_JSON}: {PRETTY_JSON_HINT}")
        return
    best = ", ".join(f"{name} {n}" for name, n in detection.scores[:3])
    stats.warnings.append(
        f"no known log format matches {stats.path} (sample lines matched, of "
        f"{detection.tried}: {best}; no app log shape either)"
    )


# --- one batch at a time (logtrace top: lines as they are written) ------------------------


@dataclass(frozen=True)
class Batch:
    """What a batch of lines of one source gave: its LINES (nginx or app), its rejected
    lines (REJECTS), and how many lines belong to parsed entries."""

    kind: str  # "nginx" | "app" | errorlog.KIND
    lines: pl.DataFrame
    rejects: pl.DataFrame
    in_entries: int


@dataclass
class BatchParser:
    """Parses the batches of one source as they come, in the format its first batch
    chooses (as :func:`iter_lines` chooses on a file's first chunk); ``stats`` counts."""

    source: Source
    resolver: FormatResolver
    columns: frozenset[str] | None = None
    id_field: str | None = None
    stats: SourceStats = field(init=False)
    _parser: _Parser | None = field(default=None, init=False)
    _unknown: bool = field(default=False, init=False)
    _refine: float | None = field(default=None, init=False)  # as _Job.refine
    _options: AppLogOptions | None = field(default=None, init=False)  # as _Job.app_options

    def __post_init__(self) -> None:
        source = self.source
        self.stats = SourceStats(path=source.label, host=source.host, service=source.service)

    @property
    def kind(self) -> str:
        """ "nginx", "app", the error log's kind, or "?" before the first batch."""
        return self._parser.kind if self._parser is not None else "?"

    def parse(self, frame: pl.DataFrame) -> Batch:
        """Parse a frame of whole lines (``line_no``/``line``); count them in ``stats``."""
        stats = self.stats
        stats.lines_total += frame.height
        if self._parser is None and not self._unknown:
            fixed = self.resolver.for_source(self.source)
            self._parser = _choose(frame, fixed, self.resolver, stats)
            self._unknown = self._parser is None
            if self._parser is not None:
                stats.kind, stats.format = self._parser.kind, self._parser.name
                self._refine = _refinement(self._parser, frame)
        parser = self._parser
        empty = pl.DataFrame()
        if parser is None:
            reject_all(stats, frame)
            return Batch("?", empty, empty, 0)
        if parser.kind == errorlog.KIND:
            skip_error_log(stats, frame)
            return Batch(parser.kind, empty, empty, 0)
        id_fields = (self.id_field, *DEFAULT_ID_FIELDS) if self.id_field else DEFAULT_ID_FIELDS
        if self._options is None:  # decided on the first batch, as the refinement
            options = AppLogOptions(id_fields=id_fields, timezone=self.resolver.timezone)
            self._options = _zoned(parser, frame, options, stats)
        job = _Job(
            parser, self.source, self.columns, False, self._options, None, refine=self._refine
        )
        parsed = _parse(job, frame, None)
        # continuation lines at the top of a batch belong to the last entry of the one before
        leading = parsed.leading.lines if parsed.leading is not None else 0
        count_chunk(stats, parsed.in_entries + leading, parsed.rejects, parser.nginx)
        stats.add_app_events(parsed.events)
        return Batch(parser.kind, parsed.lines, parsed.rejects, parsed.in_entries)
