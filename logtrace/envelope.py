"""Envelopes around log lines (container runtimes', syslog's), taken off before parsing.

A program in a container logs to stdout, and the runtime writes each line to the node's
disk wrapped in an envelope of its own; nginx can log to syslog, whose daemon writes each
line it receives in one too:

- CRI (containerd, CRI-O: Kubernetes' ``/var/log/containers/*.log``, ``/var/log/pods/``)::

      2026-11-26T12:37:13.123456789Z stdout F 10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET ...

  ``F`` ends a line; ``P`` is a part of a longer one (cut at 16 KB), the rest following
  (Docker's json-file driver cuts so too: a part's ``log`` lacks the line's end).
- Docker's json-file driver (``/var/lib/docker/containers/<id>/<id>-json.log``)::

      {"log":"10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] \\"GET ...\\n","stream":"stdout",...}

- syslog, as rsyslog and syslog-ng write what nginx sends with ``access_log
  syslog:server=...`` (on a central log host, the lines of many hosts in one file)::

      Nov 26 12:37:13 web-1 nginx: 10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET ...
      2026-11-26T12:37:13.123456+00:00 web-1 nginx: 10.0.0.1 - - [26/Nov/2026:...

  and as ``journalctl -o short`` or ``-o short-iso`` prints the journal's lines; and
  ``journalctl -o json``, a record a line (its fields in no set order)::

      {"_HOSTNAME":"web-1","MESSAGE":"10.0.0.1 - - [26/Nov/2026:...","__CURSOR":"s=...

- ``kubectl logs --prefix`` (of many pods at once: ``-l app=api``)::

      [pod/api-7d9f8b6c5d-x2x4z/api] {"time": "2026-11-26T12:37:13.123Z", "msg": ...

  Each line names its pod: the line's ``host``, and its workload the ``service``.
- ``docker compose logs`` (the services of a compose file in one stream; its prefix is
  padded to the longest name, and coloured only on a terminal)::

      web-1  | 10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET ...
      api-1  | {"time": "2026-11-26T12:37:13.123Z", "msg": ...

  Each line names its container: the line's ``host``, and its compose service (the
  container without its instance number) the ``service``.
- ``kubectl logs --timestamps``, ``docker logs --timestamps``: each line after the time
  the runtime took it down, RFC 3339 with nine digits of fraction (Go's RFC3339NanoFixed)::

      2026-11-26T12:37:13.123456789Z 10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET ...

A syslog line names the host that sent it: the line's ``host`` (and ``service``, the host
without its instance number), whatever the file's name says.

Envelopes nest: ``docker compose logs --timestamps`` and ``kubectl logs --prefix
--timestamps`` put a time inside the prefix, and each is taken off in turn
(:func:`detect_all`, :func:`unwrap_all`).

The time an envelope gives a line (CRI's, Docker's, ``--timestamps``', the journal's,
syslog's RFC 3339 one) is kept beside it (``envelope_time``): an app that logs no time of
its own (in a container, the runtime's time is often all there is) gets it as its
entries' time; an nginx log in whole seconds, written as requests end and unbuffered,
gets it within each line's second (:func:`refinement`). Other lines keep their own.

A source is enveloped when most of its first lines are (:func:`detect`);
then each of its lines is unwrapped (:func:`unwrap`, vectorised) and parsed as the line
the program wrote.
A line not in the envelope is left as it is, to be parsed or rejected as such. A line the
runtime cut in parts is joined again (:func:`join_parts`), and counted as one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import polars as pl

from logtrace.hosts import service_of, workloads_of

SAMPLE_LINES = 200  # first non-blank lines looked at
SHARE = 0.9  # of them in one envelope: the source is in it
_LEAD = 3  # first lines of which one at least is in it (docker compose up: one line first)


class Envelope(Enum):
    """The envelopes known, by the name the report gives them."""

    CRI = "cri"
    DOCKER = "docker-json"
    SYSLOG = "syslog"
    KUBECTL = "kubectl"
    JOURNAL = "journal-json"
    COMPOSE = "compose"
    TIMESTAMPS = "timestamped"


ENVELOPE_TIME = "envelope_time"  # the column of the time a line's envelope gives it
PART = "_part"  # the column saying a line is a part of a longer one (join_parts)
_STREAM = "_stream"
ORIGIN = "_origin"  # of a SPLIT envelope's line: the program it is of (sources.py)
STRAY = "_stray"  # of a split stream's lines: one that names no program (sources.py)
STRAY_REASON = "the stream's own line, of no container"  # docker compose's "Attaching to"
MAX_DEPTH = 3  # envelopes taken off one inside the other, at most
# Envelopes of a stream of many programs' lines, whose formats differ: such a file is read
# as a log per program its lines name (sources.py), a compose service's container, a pod's
# container (the pods of one container, kubectl logs -l app=api, stay one log).
SPLIT = frozenset({Envelope.COMPOSE, Envelope.KUBECTL})


@dataclass(frozen=True)
class _Record:
    """The members of a JSON record a line is (Docker's json-file, the journal's): the
    line it holds, when it was taken down, the host, the stream (None: not written)."""

    line: str
    time: str
    host: str | None = None
    stream: str | None = None
    prefix: str = ""  # before the record (json-seq's RS)

    @property
    def members(self) -> list[str]:
        return [m for m in (self.line, self.time, self.host, self.stream) if m is not None]


@dataclass(frozen=True)
class _Split:
    """A start ``head.*tail``, tested in parts: ``head`` anchored (a few bytes), ``tail``
    sought where it is (the regex engine finds its literal with SIMD), not by a regex that
    walks every byte of the line to reach it. ``overlap``: the lines on which ``tail`` may
    begin inside ``head`` (where the whole regex would not take it), left to the regex."""

    head: str
    tail: str
    overlap: str | None = None

    @property
    def start(self) -> str:
        return f"{self.head}.*{self.tail}"


@dataclass(frozen=True)
class _Shape:
    """How a line in an envelope begins (a regex; its groups ``host`` (or ``host_*``, in
    another alternative) and ``time``, if any, the host the line names and the time it was
    taken down), and the line it holds: what follows, or, of a JSON ``record``, its
    member ``decoded`` (with its time and host)."""

    start: str
    decoded: Callable[[pl.Expr], pl.Expr] | None = None  # the record's line member as held
    service: Callable[[pl.Expr], pl.Expr] = service_of  # of the host a line names
    record: _Record | None = None
    # a runtime's: whether a line (a record's line member) is a part of a longer one, the
    # rest on the next lines of its stream (``stream``: stdout, stderr), the last part not
    part: Callable[[pl.Expr], pl.Expr] | None = None
    stream: Callable[[pl.Expr], pl.Expr] | None = None
    # of a stream of many programs' lines: the group naming the program a line is of
    # (SPLIT): "host", or a group of its own (a pod's container)
    origin: str | None = None
    split: _Split | None = None  # ``start`` in parts (``in_envelope``)
    # the host a line in the envelope names, made without the start's captures: exactly
    # what its host groups capture, on the lines in the envelope
    host: Callable[[pl.Expr], pl.Expr] | None = None

    def held(self, line: str) -> str:
        """The line one line in this envelope holds (in Python: a sample's few lines)."""
        if self.decoded is None:
            return re.sub(self.start, "", line, count=1)
        try:
            record = json.loads(line.removeprefix("\x1e"))
            value = record.get("log", record.get("MESSAGE"))
        except (ValueError, AttributeError):
            return line
        return value.removesuffix("\n").removesuffix("\r") if isinstance(value, str) else line


# Docker's json-file: the log member first, the stream after it. The tail could begin
# at the head's last quote only on a line whose log value starts with a comma outside any
# string: the whole regex decides those.
_DOCKER = _Split(
    r'^\{\s*"log"\s*:\s*"',
    r'"\s*,\s*"stream"\s*:\s*"(?:stdout|stderr)"',
    overlap=r'^\{\s*"log"\s*:\s*"\s*,',
)
# The journal's JSON: the tail begins with a quote, the head holds none.
_JOURNAL = _Split(r"^\x1e?\{", r'"__CURSOR"\s*:\s*"s=[0-9a-f]+;i=[0-9a-f]+;b=[0-9a-f]+;')
_RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"
_CONTAINER = r"[A-Za-z0-9][A-Za-z0-9_.-]*[-_][0-9]+"  # web-1, proj-web-1, proj_web_1


# RFC 3164's time (rsyslog's traditional format, journalctl's short) or RFC 3339's
# (journalctl's short-iso writes +0000), the host, the tag (nginx, nginx[1234]), ": "
_SHAPES = {
    Envelope.CRI: _Shape(
        rf"^(?P<time>{_RFC3339}) (?:stdout|stderr) [FP] ",
        part=lambda line: line.str.contains(r"^\S+ (?:stdout|stderr) P "),
        stream=lambda line: line.str.extract(r"^\S+ (stdout|stderr) ", 1),
    ),
    Envelope.DOCKER: _Shape(
        _DOCKER.start,
        # JSON-decoded; the line's end is part of the value
        lambda log: log.str.strip_suffix("\n").str.strip_suffix("\r"),
        record=_Record("log", "time", stream="stream"),
        # a part of a longer line (over 16 KB) is one without the line's end
        part=lambda log: ~log.str.ends_with("\n"),
        stream=lambda stream: stream,
        split=_DOCKER,
    ),
    # journalctl -o json (and json-seq, each record after an RS): a record a line, its
    # fields in no set order, the cursor always among them (the time in microseconds since
    # the epoch, the host, the message)
    Envelope.JOURNAL: _Shape(
        _JOURNAL.start,
        lambda message: message.str.strip_suffix("\n"),
        record=_Record("MESSAGE", "__REALTIME_TIMESTAMP", host="_HOSTNAME", prefix="\x1e"),
        split=_JOURNAL,
    ),
    # kubectl logs --timestamps, docker logs --timestamps: RFC3339NanoFixed and a space
    Envelope.TIMESTAMPS: _Shape(
        r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}(?:Z|[+-]\d{2}:\d{2})) "
    ),
    Envelope.SYSLOG: _Shape(
        r"^(?:[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
        r"(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))) (?P<host>[A-Za-z0-9][\w.-]*) [^\s:\[]+(?:\[\d+\])?: ?"
    ),
    # kubectl logs --prefix (-l app=api, --all-containers: many pods in one stream)
    # (--all-containers: an app's and its sidecars', each container's lines its own log)
    Envelope.KUBECTL: _Shape(
        r"^\[pod/(?P<host>[^/\]\s]+)/(?P<container>[^\]\s]+)\] ",
        service=workloads_of,
        origin="container",
    ),
    # docker compose logs: "%-{width}s | " (cmd/formatter/logs.go), the width one more than
    # the longest container name; a name ends in its instance number (web-1, proj_web_1)
    # (coloured, with --ansi always: "\x1b[36m" before it, "\x1b[0m" after it)
    Envelope.COMPOSE: _Shape(
        rf"^(?:\x1b\[[0-9;]*m(?P<host>{_CONTAINER}) +\| \x1b\[0m"
        rf"|(?P<host_plain>{_CONTAINER}) +\| )",
        origin="host",
        host=lambda line: _first_word(line).str.replace(r"^\x1b\[[0-9;]*m", ""),
    ),
}
_STARTS = {envelope: re.compile(shape.start) for envelope, shape in _SHAPES.items()}


def _first_word(line: pl.Expr) -> pl.Expr:
    """What comes before the line's first space (a compose line's container, in its
    colour: the name holds no space, and the start's alternatives capture just it; a
    split and a prefix taken off cost 8 ms a 16 MB chunk, the captures 25 ms)."""
    return line.str.split_exact(" ", 1).struct.field("field_0")


def _hosts(envelope: Envelope, inside: pl.Expr) -> list[pl.Expr]:
    """The hosts the lines in the envelope name (the others: null), one expression a way
    of writing them (the start's ``host`` and ``host_*`` groups) to coalesce."""
    shape, groups = _SHAPES[envelope], _STARTS[envelope].groupindex
    if shape.host is not None:
        return [pl.when(inside).then(shape.host(pl.col("line")))]
    line = pl.col("line")
    return [line.str.extract(shape.start, i) for g, i in groups.items() if g.startswith("host")]


def in_envelope(line: pl.Series, envelope: Envelope) -> pl.Series:
    """Whether each line is in the envelope: matches its start (a null line: null). A
    start in parts (``_Split``: Docker's records, the journal's) is tested by them, to the
    same answer: 29 → 11 ms a 16 MB chunk of Docker's lines."""
    shape = _SHAPES[envelope]
    if shape.split is None:
        return line.str.contains(shape.start)
    split = shape.split
    found = line.str.contains(split.head) & line.str.contains(split.tail)
    if split.overlap is None:
        return found
    doubt = line.str.contains(split.overlap).fill_null(value=False)
    if not doubt.any():
        return found
    at = doubt.arg_true()
    return found.scatter(at, line.gather(at).str.contains(shape.start))


def _members(frame: pl.DataFrame, inside: pl.Expr, record: _Record) -> Callable[[str], pl.Expr]:
    """Each member of the records, by name (null on the lines that are none): the records
    decoded once for all their members (Docker's 1M lines: 151 → 65 ms a 16 MB chunk,
    against a search of the text for each), or, when a line is no JSON object of them
    (cut short; a member an array: the journal's binary message), each member sought in
    the text, as it was."""
    line = pl.col("line")
    text = pl.when(inside).then(line.str.strip_prefix(record.prefix) if record.prefix else line)
    fields = pl.Struct(dict.fromkeys(record.members, pl.String))
    try:
        decoded = frame.select(text.str.json_decode(fields)).to_series()
    except pl.exceptions.PolarsError:
        return lambda member: text.str.json_path_match(f"$.{member}")
    return pl.lit(decoded).struct.field


def detect(frame: pl.DataFrame) -> Envelope | None:
    """The envelope most of the first lines (``line``) are in, if any (a runtime writes
    its file's every line in it; ``docker compose up`` a line of its own first). Looked
    at in Python: on every file read (folders of thousands), compiling polars' regexes
    would cost more."""
    return _detect(_sample(frame), ())


def detect_all(frame: pl.DataFrame) -> tuple[Envelope, ...]:
    """The envelopes the first lines are in, the outer first: :func:`detect` on the
    lines, then again on the lines it holds (``docker compose logs --timestamps``)."""
    lines = _sample(frame)
    found: tuple[Envelope, ...] = ()
    while len(found) < MAX_DEPTH:
        envelope = _detect(lines, found)
        if envelope is None:
            break
        found += (envelope,)
        shape, start = _SHAPES[envelope], _STARTS[envelope]
        lines = [shape.held(line) if start.match(line) else line for line in lines]
    return found


def _sample(frame: pl.DataFrame) -> list[str]:
    head = frame.get_column("line").head(SAMPLE_LINES * 2).drop_nulls().head(SAMPLE_LINES)
    return head.to_list()


def _detect(lines: list[str], outer: tuple[Envelope, ...]) -> Envelope | None:
    for envelope, start in _STARTS.items():
        if envelope in outer:
            continue
        # one of the first few lines in it, else not looked at further (every file read)
        if any(start.match(line) for line in lines[:_LEAD]) and _share(start, lines) >= SHARE:
            return envelope
    return None


def _share(pattern: re.Pattern[str], lines: list[str]) -> float:
    return sum(1 for line in lines if pattern.match(line)) / len(lines)


def unwrap(frame: pl.DataFrame, envelope: Envelope, *, streams: bool = False) -> pl.DataFrame:
    """``frame`` with each line in the envelope replaced by the line it holds; with the
    ``host`` and ``service`` each names, for an envelope whose lines name their host."""
    shape, record = _SHAPES[envelope], _SHAPES[envelope].record
    line = pl.col("line")
    # which lines are in it, found once: each select below would look again (28 ms a
    # 16 MB chunk of Docker's lines, each time)
    inside = pl.lit(in_envelope(frame.get_column("line"), envelope))
    member = _members(frame, inside, record) if record is not None else None
    if member is not None and record is not None and shape.decoded is not None:
        held = shape.decoded(member(record.line))
    else:
        held = line.str.replace(shape.start, "")
    # a line that held nothing (an empty line logged) is blank, as in a plain log
    columns = [pl.when(inside).then(held).otherwise(line).replace("", None).alias("line")]
    groups = _STARTS[envelope].groupindex
    named = _hosts(envelope, inside)
    if member is not None and record is not None and record.host is not None:
        named.append(pl.when(inside).then(member(record.host)))
    host = None
    if named:  # before the line is replaced; host_*: another way of writing the line
        hosts = frame.select(named[0] if len(named) == 1 else pl.coalesce(named)).to_series()
        host = pl.lit(hosts)
        columns += [host.alias("host"), pl.lit(_services(hosts, shape.service)).alias("service")]
    if shape.origin == "host" and host is not None:
        columns.append(host.alias(ORIGIN))
    elif shape.origin is not None:
        columns.append(line.str.extract(shape.start, groups[shape.origin]).alias(ORIGIN))
    time = (
        line.str.extract(shape.start, groups["time"])
        if "time" in groups
        else member(record.time)
        if member is not None and record is not None
        else None
    )
    if time is not None:  # an inner envelope's time is the nearer the program's
        if ENVELOPE_TIME in frame.columns:
            time = pl.coalesce(time, pl.col(ENVELOPE_TIME))
        columns.append(time.alias(ENVELOPE_TIME))
    if shape.part is not None and shape.stream is not None:
        # which lines are parts, and (only if any, or a part is pending) their streams; of
        # a record, of its line member and its stream member
        whole, stream = line, line
        if member is not None and record is not None and record.stream is not None:
            whole, stream = member(record.line), member(record.stream)
        part = frame.select((inside & shape.part(whole)).fill_null(value=False)).to_series()
        columns.append(pl.lit(part).alias(PART))
        if streams or part.any():
            columns.append(pl.when(inside).then(shape.stream(stream)).alias(_STREAM))
        else:
            columns.append(pl.lit(None, pl.String).alias(_STREAM))
    return frame.with_columns(columns)


def _services(hosts: pl.Series, service: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """The service of each host, made once a host: a log's lines name a few hosts (over
    a 16 MB chunk: 5 ms, against 51 ms line by line)."""
    distinct = hosts.drop_nulls().unique()
    services = pl.select(service(pl.lit(distinct))).to_series()
    return hosts.replace_strict(distinct, services, default=None, return_dtype=pl.String)


USEFUL = 0.1  # of a log's precision: refined times known at least this much better are used


def refinement(lines: pl.DataFrame, frame: pl.DataFrame, precision: float) -> float | None:
    """How well the times their envelope gives nginx LINES known to ``precision`` (whole
    seconds: ``$time_local``) tell when each was written, if well enough to be used
    (:func:`refine_times`); None when they do not. ``frame``: the raw lines, with
    ``ENVELOPE_TIME``. nginx writes a line as its request ends, and a runtime takes it down
    as it comes, unless the log is buffered.

    The test: a line taken down ``d`` after it was written falls in its logged second,
    ``0 <= taken - time < precision``, unless its request ended within ``d`` of the second's
    end. Over lines that end anywhere in their second, the share outside is about the mean
    delay over ``precision``, and twice that the longest (delays spread evenly, as a
    buffer's are). That (at least one line's worth, 1 ms, and the envelope's own: rsyslog
    may write whole seconds) is how well the runtime's times are known; they are used when
    it is a tenth of the logged precision or better (``USEFUL``). A buffered log, flushed
    every second or when full, lags by far more; so do too few lines to tell."""
    joined, own = _taken(lines, frame, precision)
    inside = int(joined.get_column("_within").sum())
    timed = int(joined.get_column("_taken").is_not_null().sum())
    if not inside:
        return None
    held = own if own is not None else precision
    # the longest delay, lines arriving evenly (the mean is half of it); one line's worth
    longest = 2 * max((timed - inside) / timed, 1 / timed) * precision
    estimate = max(longest, held, 1e-3)
    return estimate if estimate <= precision * USEFUL else None


def refine_times(
    lines: pl.DataFrame, frame: pl.DataFrame, precision: float, known: float
) -> tuple[pl.DataFrame, int]:
    """nginx LINES known to ``precision`` (whole seconds) placed at the times their
    envelope gives them, those known to ``known`` (:func:`refinement` of the log's first
    lines): each line taken down within its logged second; a line outside it keeps its own
    time. Also how many lines were placed."""
    joined, _ = _taken(lines, frame, precision)
    refined = joined.with_columns(
        pl.when("_within").then(pl.col("_taken")).otherwise(pl.col("time")).alias("time"),
        pl.when("_within")
        .then(pl.lit(known))
        .otherwise(pl.col("time_precision_s"))
        .alias("time_precision_s"),
    )
    if "start" in lines.columns and "request_time_s" in lines.columns:
        micros = (pl.col("request_time_s") * 1e6).round(0).cast(pl.Int64)
        refined = refined.with_columns(
            pl.when("_within")
            .then(pl.col("time") - pl.duration(microseconds=micros))
            .otherwise(pl.col("start"))
            .alias("start")
        )
    return refined.select(lines.columns), int(joined.get_column("_within").sum())


def _taken(
    lines: pl.DataFrame, frame: pl.DataFrame, precision: float
) -> tuple[pl.DataFrame, float | None]:
    """LINES with the time each was taken down (``_taken``) and whether that is within its
    logged time's ``precision`` (``_within``); and how well the envelope's times are known
    themselves."""
    from logtrace.applog.times import parse_times  # noqa: PLC0415 (applog imports this module)

    raw = frame.select(
        pl.col("line_no").cast(lines.schema["line_no"]), pl.col(ENVELOPE_TIME).alias("time_raw")
    )
    taken = parse_times(raw, "UTC")
    own = taken.get_column("time_precision_s").max()
    taken = taken.select("line_no", pl.col("time").alias("_taken"))
    joined = lines.join(taken, on="line_no", how="left", maintain_order="left")
    gap = pl.col("_taken") - pl.col("time")
    within = (gap >= pl.duration()) & (gap < pl.duration(microseconds=round(precision * 1e6)))
    joined = joined.with_columns(within.fill_null(value=False).alias("_within"))
    return joined, float(own) if isinstance(own, int | float) else None


def join_parts(frame: pl.DataFrame, *, final: bool) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """A frame unwrapped from a runtime's envelope (with ``PART``) with each line the
    runtime cut in parts whole again, at the number of its first part; the parts of lines
    whose last part is not in the frame yet (to come first in the next frame: ``final``,
    there is none, and they are joined as they are); and how many parts were joined into
    the line before them. A stream's parts are joined with the next of the same stream
    (stdout and stderr lines interleave)."""
    if not frame.get_column(PART).any():
        return frame.drop(PART, _STREAM), frame.clear(), 0
    end = (~pl.col(PART)).cast(pl.UInt32)
    runs = frame.with_columns((end.cum_sum().over(_STREAM) - end).alias("_run"))
    others = [c for c in frame.columns if c not in ("line_no", "line", PART, _STREAM)]
    whole = runs.group_by(_STREAM, "_run", maintain_order=True).agg(
        pl.col("line_no").first(),
        pl.col("line").str.join("").replace("", None),
        *(pl.col(c).first() for c in others),
        pl.len().alias("_parts"),
        pl.col(PART).last().alias("_open"),
    )
    done = whole if final else whole.filter(~pl.col("_open"))
    rest = (
        frame.clear()
        if final
        else runs.join(whole.filter(pl.col("_open")), on=[_STREAM, "_run"], how="semi")
    )
    joined = int(done.get_column("_parts").sum()) - done.height
    kept = frame.drop(PART, _STREAM)
    out = done.select(kept.columns).sort("line_no").cast(kept.schema)
    return out, rest.select(frame.columns), joined


class Parts:
    """A log's lines as they come, frame by frame, each line a runtime cut in parts
    (``PART``) whole again (:func:`join_parts`): the parts whose rest is in the next frame
    are held for it."""

    def __init__(self) -> None:
        self.held: pl.DataFrame | None = None
        self.joined = 0  # parts joined into the line before them

    @property
    def pending(self) -> bool:
        """Whether parts wait for their rest (:func:`unwrap` must then give every line's
        stream, so that the rest finds them)."""
        return self.held is not None and self.held.height > 0

    def add(self, frame: pl.DataFrame) -> pl.DataFrame:
        """An unwrapped frame with its lines whole, the parts held before it first."""
        if PART not in frame.columns:
            return frame
        if self.held is not None and self.held.height:
            frame = pl.concat([self.held, frame], how="vertical_relaxed")
        frame, self.held, joined = join_parts(frame, final=False)
        self.joined += joined
        return frame

    def rest(self) -> pl.DataFrame | None:
        """The parts still held, each line joined as it is (its last part never came: the
        log ended); None when none are."""
        if self.held is None or not self.held.height:
            return None
        frame, _, joined = join_parts(self.held, final=True)
        self.held, self.joined = None, self.joined + joined
        return frame


def origins(frame: pl.DataFrame, envelopes: tuple[Envelope, ...]) -> set[str]:
    """The programs the lines of a stream of a SPLIT envelope name (:func:`unwrap`'s
    ``ORIGIN``), found with no more than that: a stream is looked through once for them."""
    for envelope in envelopes:
        shape, groups = _SHAPES[envelope], _STARTS[envelope].groupindex
        if envelope not in SPLIT:
            frame = unwrap(frame, envelope)
            continue
        if shape.origin == "host":
            inside = pl.lit(in_envelope(frame.get_column("line"), envelope))
            names = _hosts(envelope, inside)
        else:
            names = [pl.col("line").str.extract(shape.start, groups[str(shape.origin)])]
        found = frame.select(pl.coalesce(names).drop_nulls().unique()).to_series()
        return set(found.to_list())
    return set()


def unwrap_all(
    frame: pl.DataFrame, envelopes: tuple[Envelope, ...], *, streams: bool = False
) -> pl.DataFrame:
    """:func:`unwrap` of each envelope in turn, the outer first (``streams``: each line's
    stream wanted, a line's parts waiting for the rest: :func:`join_parts`)."""
    for envelope in envelopes:
        frame = unwrap(frame, envelope, streams=streams)
    return frame


def name(envelopes: tuple[Envelope, ...]) -> str | None:
    """How a report names a log's envelopes: ``compose+timestamped``; None for none."""
    return "+".join(e.value for e in envelopes) or None


class Text:
    """:func:`text_of` a frame, made only if asked for (``bytes(text)``): an nginx log's
    chunk is parsed from its lines, and only its length is wanted (``len(text)``)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame
        self._len: int | None = None

    def __len__(self) -> int:
        if self._len is None:  # asked for by the reader and by the progress it shows
            lines = self._frame.get_column("line")
            self._len = int(lines.str.len_bytes().sum() or 0) + lines.len()
        return self._len

    def __bytes__(self) -> bytes:
        return text_of(self._frame)


def text_of(frame: pl.DataFrame) -> bytes:
    """The UTF-8 text of an unwrapped frame's lines, a line each (blank ones empty): what
    the frame would have been read from had the log been written without its envelope."""
    lines = frame.get_column("line").fill_null("")
    return (lines.str.join("\n").item() + "\n").encode() if lines.len() else b""
