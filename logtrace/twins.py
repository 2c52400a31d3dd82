"""Two access logs of one server (or a log and its copy): the same requests, counted once.

nginx can write each request to several ``access_log`` files (a ``trace`` log and a JSON
one, a global log and a per-server one). Read together they would double every request
and draw a hop between the twins. Two nginx sources are twins when nearly every line of
the smaller one has a line in the other with the same request id, status and
``$request_time``, and the same value of every other variable both log that a proxy in
front would see differently (client address, bytes sent, user agent, upstream lists,
the second it was written): two hops of one request (an edge and the proxy behind it)
differ in some of those. Two logs of one host whose formats share no request id (a
``combined`` log and its escape=json twin with ``$request_id``) are compared on every
variable both log, the status, path and second at least. The twin that tells less
(coarser timestamps, fewer columns) gives way: its lines that have a twin are dropped;
any others are kept.

Within one nginx log, a line that repeats an earlier line of the same log to the last
value, its ``$request_id`` included, and that comes after a line written later than
it, is a copy (the log, or a piece of it, read twice: ``cat`` of overlapping rotations,
a shipper that sent lines again): nginx mints one ``$request_id`` per request and writes
its lines in the order it ends them (``drop_repeats``). Both conditions, because a log
described with ``$request_id`` may carry an id from upstream (the same on every call of
an N+1 loop through an internal proxy), and with whole-second times two such calls'
lines can be equal: in the order they were written, they are two calls. Without that
variable, or out of order, two equal lines may be two requests, and both are kept. A
report made in one streaming pass (``analyze`` of one log) cannot hold every line to
compare: it counts the repeats among a sample of request ids (``RepeatSample``) and says
so.

App logs are compared the same way on everything a line says (request id, event, time to
its last digit, level, message, status, duration, peer): a log and its copy (a folder
given twice, a log shipped to two places) say all of it alike; two services, or two
replicas of one, differ in the ids they saw or in the times, nearly always.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from logtrace.plural import noun, plural

TWIN_SHARE = 0.9  # of the smaller source's lines found in the other
_MIN_LINES = 10
_SEED = 0x7477696E73  # "twins"


@dataclass(frozen=True)
class Twins:
    """What was dropped: (kept source, dropped source, lines dropped)."""

    dropped: list[tuple[str, str, int]]
    app: bool = False  # app logs (else nginx access logs)

    def notes(self) -> list[str]:
        if self.app:
            return [
                f"{gone}: {plural(n, 'line')} {'repeats' if n == 1 else 'repeat'} {kept} "
                f"(the same request ids, times and messages; a copy of one log?): "
                f"counted once, from {kept}"
                for kept, gone, n in self.dropped
            ]
        return [
            f"{gone}: {plural(n, 'line')} {'is' if n == 1 else 'are'} the same "
            f"{noun(n, 'request')} as in {kept} (the same request ids, "
            f"statuses and times; two access_log files of one server?): counted once, "
            f"from {kept}"
            for kept, gone, n in self.dropped
        ]


_BASIC = ("request_id", "status", "request_time_s")
# Equal in two logs of one server; some of them differ between two hops of one request.
_CONFIRM = (
    "path",
    "method",
    "remote_addr",
    "body_bytes_sent",
    "bytes_sent",
    "http_user_agent",
    "upstream_addr",
    "upstream_status",
    "upstream_response_time_s",
    "time",
)


# Everything an app line says (applog/): a copy says all of it alike.
_APP = (
    "request_id",
    "event",
    "time",
    "level",
    "message",
    "method",
    "target",
    "status",
    "duration_s",
    "peer",
)
# Above this many app lines with a request id, twins are found on the lines of some ids
# (about this many lines): a copy has the same ids, so its share of lines is kept.
_APP_SAMPLE = 100_000
# The app lines' key tells the time to the microsecond: only a copy repeats it.
_EXACT = "exact"


# Two logs of one host in formats that share no request id (combined and a JSON twin)
# are told by these, at least: what was asked, what was answered, and the second.
_ACROSS_FORMATS = frozenset({"status", "path", "time"})


def _keys(nginx: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Per line: its source, a hash of ``columns`` (``time`` to the second, unless
    ``_EXACT`` is among them) and whether it has a request id."""
    whole_seconds = _EXACT not in columns
    parts = [
        pl.col(c).dt.truncate("1s") if c == "time" and whole_seconds else pl.col(c)
        for c in columns
        if c in nginx.columns
    ]
    return nginx.select(
        "source",
        pl.struct(parts).hash(_SEED).alias("_k"),
        (
            pl.col("request_id").is_not_null() if "request_id" in nginx.columns else pl.lit(True)
        ).alias("_has_id"),
    ).with_row_index("_row")


def _detail(nginx: pl.DataFrame) -> pl.DataFrame:
    """Per source: how precise its times are, how many variables it logs (has a value of
    in some line) and how many values a line carries."""
    values = [c for c in nginx.columns if c not in ("source", "line")]
    filled = pl.sum_horizontal(pl.col(values).is_not_null().cast(pl.UInt32))
    logs = pl.sum_horizontal([pl.col(c).is_not_null().any().cast(pl.UInt32) for c in values])
    return nginx.group_by("source").agg(
        pl.col("time_precision_s").min().alias("precision")
        if "time_precision_s" in nginx.columns
        else pl.lit(1.0).alias("precision"),
        logs.alias("logs"),
        filled.mean().alias("filled"),
    )


def _confirmed(nginx: pl.DataFrame, a: str, b: str) -> bool:
    """Whether the lines of two sources agree on every variable both log (see above)."""
    pair = nginx.filter(pl.col("source").is_in([a, b]))
    both = [
        c
        for c in (*_BASIC, *_CONFIRM)
        if c in pair.columns
        and all(
            pair.filter(pl.col("source") == s).get_column(c).null_count()
            < pair.filter(pl.col("source") == s).height
            for s in (a, b)
        )
    ]
    keys = _keys(pair, both).filter("_has_id")
    left = keys.filter(pl.col("source") == a).select("_k").unique()
    right = keys.filter(pl.col("source") == b).select("_k").unique()
    shared = left.join(right, on="_k", how="semi").height
    return shared >= TWIN_SHARE * min(left.height, right.height)


def _basic(nginx: pl.DataFrame) -> list[str]:
    """The key columns: the request id and its outcome, or (a format without ids) the
    whole line, which two logs of one server in one format share."""
    if "request_id" in nginx.columns and nginx.get_column("request_id").null_count() < nginx.height:
        return list(_BASIC)
    return ["line"] if "line" in nginx.columns else []


def find_twins(
    nginx: pl.DataFrame, sizes: Mapping[str, float] | None = None
) -> list[tuple[str, str]]:
    """(kept source, dropped source) for each pair of sources that log the same requests.

    ``nginx`` holds LINES of several sources (``source`` and the key columns; ``line`` is
    used when the format has no request id; ``host``, when given, lets two logs of one
    host in formats without a shared request id be compared on what both log).
    ``sizes``: each source's whole size when ``nginx`` holds only its first lines: of two
    alike, the longer is kept (a log and the first part of it: the log).
    """
    return [(kept, gone) for kept, gone, _ in _find(nginx, sizes)]


def _logged(nginx: pl.DataFrame) -> dict[str, set[str]]:
    """Per source, the key and confirming columns some line of it has a value in."""
    columns = [c for c in (*_BASIC, *_CONFIRM) if c in nginx.columns]
    counts = nginx.group_by("source").agg(
        pl.len().alias("_lines"), *(pl.col(c).null_count() for c in columns)
    )
    return {
        row["source"]: {c for c in columns if row[c] < row["_lines"]}
        for row in counts.iter_rows(named=True)
    }


def _across_formats(
    nginx: pl.DataFrame, found: list[tuple[str, str, list[str]]]
) -> list[tuple[str, str, list[str]]]:
    """Twins among sources of one host that share no request id (``combined`` and an
    escape=json log with ``$request_id``): keyed on every variable both log.

    Each pair is judged on its distinct keys, but the keys and the keys the sources share
    are made at once for every pair that keys on the same columns: tens of rotated files
    of one host are thousands of pairs."""
    if "host" not in nginx.columns:
        return []
    paired = {s for kept, gone, _ in found for s in (kept, gone)}
    hosts = nginx.group_by("host", "source").len().sort("source")
    logged = _logged(nginx)
    wanted: list[tuple[str, str, tuple[str, ...]]] = []
    for (_host,), group in hosts.group_by("host", maintain_order=True):
        sources = [s for s in group.get_column("source").to_list() if s not in paired]
        sizes = dict(group.select("source", "len").iter_rows())
        for i, a in enumerate(sources):
            for b in sources[i + 1 :]:
                cols = tuple(sorted(logged[a] & logged[b]))
                if "request_id" in cols or not set(cols) >= _ACROSS_FORMATS:
                    continue  # ids in both were compared already
                if min(sizes[a], sizes[b]) < _MIN_LINES:
                    continue
                wanted.append((a, b, cols))
    twins: set[tuple[str, str, tuple[str, ...]]] = set()
    for cols in {c for _, _, c in wanted}:
        pairs = [(a, b) for a, b, c in wanted if c == cols]
        involved = {s for pair in pairs for s in pair}
        keys = _keys(nginx.filter(pl.col("source").is_in(list(involved))), list(cols))
        distinct = keys.select("source", "_k").unique()
        keyed = dict(distinct.group_by("source").len().iter_rows())  # distinct keys
        other = distinct.select(pl.col("source").alias("source_o"), "_k")
        shared = {
            (a, b): n
            for a, b, n in distinct.join(other, on="_k", how="inner")
            .filter(pl.col("source") < pl.col("source_o"))
            .group_by("source", "source_o")
            .len()
            .iter_rows()
        }
        for a, b in pairs:
            if shared.get((a, b), 0) >= TWIN_SHARE * min(keyed[a], keyed[b]):
                twins.add((a, b, cols))
    return [(a, b, list(cols)) for a, b, cols in wanted if (a, b, cols) in twins]


def _find(
    nginx: pl.DataFrame, sizes: Mapping[str, float] | None = None
) -> list[tuple[str, str, list[str]]]:
    """(kept source, dropped source, the columns their lines are matched on)."""
    basic = _basic(nginx)
    if nginx.is_empty() or not basic:
        return []
    found = _same_format(nginx, basic)
    found += _across_formats(nginx, found)
    return _ordered(nginx, found, sizes or {})


def _ordered(
    lines: pl.DataFrame, found: list[tuple[str, str, list[str]]], sizes: Mapping[str, float]
) -> list[tuple[str, str, list[str]]]:
    """Each pair as (kept, dropped, columns): the finer clock is kept, then the one that
    logs more variables, then the longer source (``sizes``: a log rather than its first
    part, whose sample's lines differ), then the more values per line, then the first
    name."""
    if not found:
        return []
    detail = {s: (p, n, f) for s, p, n, f in _detail(lines).iter_rows()}

    def rank(s: str) -> tuple[float, int, float, float, str]:
        precision, logs, filled = detail[s]
        return precision, -logs, -sizes.get(s, 0), -filled, s

    out = []
    for a, b, cols in found:
        better = min((a, b), key=rank)
        out.append((better, b if better == a else a, cols))
    return out


def _same_format(nginx: pl.DataFrame, basic: list[str]) -> list[tuple[str, str, list[str]]]:
    """Twins by request id, status and request time (or, without ids, the whole line)."""
    keys = _keys(nginx, basic).filter("_has_id") if basic != ["line"] else _keys(nginx, basic)
    return [
        (a, b, basic) for a, b in _sharing(keys) if basic == ["line"] or _confirmed(nginx, a, b)
    ]


def _sharing(keys: pl.DataFrame) -> list[tuple[str, str]]:
    """The pairs of sources (in name order) where ``TWIN_SHARE`` of the smaller one's
    lines have a key the other has."""
    sizes = dict(keys.group_by("source").len().iter_rows())
    if len(sizes) < 2:
        return []
    # Per pair, the lines of each source whose key the other has: lines, not distinct
    # keys, as a log with several lines per request (an internal proxy's hops) has many
    # lines to a key.
    distinct = keys.unique(["source", "_k"]).select(pl.col("source").alias("source_o"), "_k")
    found_in = {
        (a, b): n
        for a, b, n in keys.join(distinct, on="_k", how="inner")
        .filter(pl.col("source") != pl.col("source_o"))
        .group_by("source", "source_o")
        .len()
        .iter_rows()
    }
    found: list[tuple[str, str]] = []
    for a, b in sorted(pair for pair in found_in if pair[0] < pair[1]):
        smaller = a if sizes[a] <= sizes[b] else b
        n = found_in.get((smaller, b if smaller == a else a), 0)
        if sizes[smaller] >= _MIN_LINES and n >= TWIN_SHARE * sizes[smaller]:
            found.append((a, b))
    return found


def twin_pairs(nginx: pl.DataFrame) -> list[tuple[str, str, list[str]]]:
    """(kept source, dropped source, the columns their lines are matched on)."""
    return _find(nginx)


def app_twin_pairs(app: pl.DataFrame) -> list[tuple[str, str, list[str]]]:
    """(kept source, dropped source, the columns their lines are matched on) for each pair
    of app sources whose lines with a request id nearly all repeat the other's. Their
    lines say the same to the last digit: the larger log is kept (a piece of a log
    beside the whole gives way), then the first name."""
    if app.is_empty() or "request_id" not in app.columns or app["source"].n_unique() < 2:
        return []
    columns = [c for c in _APP if c in app.columns] + [_EXACT]
    lines = app.select("source", *columns[:-1]).filter(pl.col("request_id").is_not_null())
    if lines.height > _APP_SAMPLE:  # a log and its copy have the same ids: some suffice
        every = -(-lines.height // _APP_SAMPLE)
        lines = lines.filter(pl.col("request_id").hash(_SEED) % every == 0)
    keys = _keys(lines, columns)
    sizes = dict(keys.group_by("source").len().iter_rows())
    out = []
    for a, b in _sharing(keys):
        kept = min((a, b), key=lambda s: (-sizes[s], s))
        out.append((kept, b if kept == a else a, columns))
    return out


def drop_app_twins(
    app: pl.DataFrame, pairs: list[tuple[str, str, list[str]]] | None = None
) -> tuple[pl.DataFrame, Twins]:
    """app LINES without the lines of a log that repeat its twin's (``pairs``: the
    :func:`app_twin_pairs` of every line, when known); lines without a request id too."""
    kept, twins = drop_twins(app, app_twin_pairs(app) if pairs is None else pairs)
    return kept, Twins(twins.dropped, app=True)


def drop_twins(
    nginx: pl.DataFrame, pairs: list[tuple[str, str, list[str]]] | None = None
) -> tuple[pl.DataFrame, Twins]:
    """``nginx`` LINES without the second copy of each request logged twice (``pairs``:
    the :func:`twin_pairs` of every line, when known)."""
    drop = _find(nginx) if pairs is None else pairs
    if not drop or nginx.is_empty():
        return nginx, Twins([])
    gone_rows: list[pl.Series] = []
    dropped: list[tuple[str, str, int]] = []
    for kept, gone, cols in drop:
        keys = _keys(nginx, cols)
        twin = keys.filter(pl.col("source") == gone).join(
            keys.filter(pl.col("source") == kept).select("_k").unique(), on="_k", how="semi"
        )
        gone_rows.append(twin.get_column("_row"))
        lines = twin.height
        if "extra_lines" in nginx.columns:  # an app entry's continuation lines (tracebacks)
            lines += int(nginx.get_column("extra_lines").gather(twin.get_column("_row")).sum())
        dropped.append((kept, gone, lines))
    rows = pl.concat(gone_rows).unique()
    kept_lines = nginx.with_row_index("_row").filter(~pl.col("_row").is_in(rows.implode()))
    return kept_lines.drop("_row"), Twins(dropped)


def repeat_note(source: str, n: int) -> str:
    """The warning of a log whose lines repeat its own (``drop_repeats``)."""
    verb = "repeats an earlier line" if n == 1 else "repeat earlier lines"
    return (
        f"{source}: {plural(n, 'line')} {verb} of this log to the last value, its "
        "$request_id included, after lines of a later time (the log, or a piece of it, "
        "read twice?): counted once"
    )


WRITTEN_BEFORE = "_written_before"  # the latest time its log wrote before a line


@dataclass
class WrittenBefore:
    """The latest time each nginx log wrote so far, as its chunks come in order."""

    latest: dict[str, datetime] = field(default_factory=dict)

    def add(self, lines: pl.DataFrame, source: str) -> pl.DataFrame:
        """One chunk of a log's LINES, in order, with ``WRITTEN_BEFORE``: the latest
        ``time`` of the lines before each (null for the log's first, or without times)."""
        if lines.is_empty() or "time" not in lines.columns:
            return lines
        running = pl.col("time").cum_max().forward_fill().shift(1)
        before = self.latest.get(source)
        if before is not None:
            running = pl.max_horizontal(running, pl.lit(before, lines.schema["time"]))
        out = lines.with_columns(running.alias(WRITTEN_BEFORE))
        latest = lines.get_column("time").max()
        if isinstance(latest, datetime):
            self.latest[source] = latest if before is None else max(before, latest)
        return out


def _late() -> pl.Expr:
    """A line written after a line of a later time (``WRITTEN_BEFORE``)."""
    return (pl.col("time") < pl.col(WRITTEN_BEFORE)).fill_null(value=False)


def drop_repeats(nginx: pl.DataFrame, sources: set[str]) -> tuple[pl.DataFrame, dict[str, int]]:
    """``nginx`` LINES (with ``WRITTEN_BEFORE``, which goes) without the lines of
    ``sources`` (logs whose format has nginx's ``$request_id``) that repeat an earlier
    line of their own log in every column but the line number and come after a line of
    a later time; and how many each log lost. The lines are in the order they were read
    (within each log), and the first of equal lines is kept."""
    plain = nginx.drop(WRITTEN_BEFORE, strict=False)
    needed = {"request_id", "time", WRITTEN_BEFORE}
    if nginx.is_empty() or not sources or not needed <= set(nginx.columns):
        return plain, {}
    columns = [c for c in plain.columns if c != "line_no"]
    mine = pl.col("source").is_in(list(sources)) & pl.col("request_id").is_not_null()
    # a repeat has its request id twice: the full comparison only among those lines
    twice = mine & pl.struct("source", "request_id").is_duplicated()
    if not nginx.select((twice & _late()).any()).item():
        return plain, {}
    marked = nginx.with_row_index("_row")
    suspects = marked.filter(twice)
    repeats = suspects.filter(~pl.struct(columns).is_first_distinct() & _late())
    if repeats.is_empty():
        return plain, {}
    counts = dict(repeats.group_by("source").len().iter_rows())
    gone = repeats.get_column("_row").implode()
    kept = marked.filter(~pl.col("_row").is_in(gone)).drop("_row", WRITTEN_BEFORE)
    return kept, counts


def sampled_repeat_note(source: str, n: int, every: int) -> str:
    """The warning of a log whose lines repeat its own, found by a ``RepeatSample``:
    exact when it held every request id (``every`` 1), else an estimate."""
    verb = "repeats an earlier line" if n == 1 else "repeat earlier lines"
    count = plural(n, "line") if every == 1 else f"about {plural(n, 'line')}"
    how = "" if every == 1 else f" (counted among 1 request id in {every:,})"
    return (
        f"{source}: {count}{how} {verb} of this log (the same $request_id, time, "
        "request, status and request time, after lines of a later time: the log, or a "
        "piece of it, read twice?): each is counted as a request here (`trace` and "
        "`export` count them once); awk '!seen[$0]++' keeps one of each"
    )


REPEAT_HELD = 1 << 18  # lines a RepeatSample remembers at most (two 8-byte hashes each)
REPEAT_ID, REPEAT_VALUES = "_repeat_id", "_repeat_values"  # the hashes, as columns
# What a RepeatSample compares besides the request id: what tells a request's line from
# another's with the same id (a subrequest's, with log_subrequest on), and cheap to hash.
_REPEAT_VALUES = (
    "time",
    "method",
    "path",
    "query",
    "status",
    "request_time_s",
    "body_bytes_sent",
    "bytes_sent",
    "upstream_addr",
    "upstream_status",
)


@dataclass
class RepeatSample:
    """The lines of nginx logs whose format has ``$request_id`` (``sources``) that repeat
    an earlier line of their log, counted in one pass in bounded memory.

    A line is remembered by two hashes, of its request id and of its time, request,
    status, durations and sizes (``_REPEAT_VALUES``), and whether it came after a line of
    a later time (``WRITTEN_BEFORE``, when the lines have it), when
    its request id's hash falls in the sample: every id at first, then, whenever more
    than ``REPEAT_HELD`` lines are held, half as many (1 in ``every``). The count is exact
    while every id is held, an estimate (``every`` times the sample's) after that.
    """

    sources: set[str]
    every: int = 1
    _held: list[pl.DataFrame] = field(default_factory=list)
    _rows: int = 0

    @staticmethod
    def fingerprints(columns: list[str]) -> list[pl.Expr]:
        """The two hashes ``see`` keeps of a line (none without a request id column), to
        add to LINES where it is cheap: the parsing threads."""
        if "request_id" not in columns:
            return []
        # each column hashed alone, with a seed of its own, and combined: a third of the
        # cost of hashing them as one struct
        hashes = [pl.col(c).hash(_SEED + i) for i, c in enumerate(_REPEAT_VALUES) if c in columns]
        values = functools.reduce(operator.xor, hashes, pl.lit(0, pl.UInt64))
        return [
            pl.col("request_id").hash(_SEED).alias(REPEAT_ID),
            values.alias(REPEAT_VALUES),
        ]

    def see(self, lines: pl.DataFrame) -> None:
        """Remember the sampled lines of one chunk of LINES (with ``source``, the
        ``fingerprints`` and ``WRITTEN_BEFORE``: without it no line counts as a repeat)."""
        if lines.is_empty() or not self.sources or REPEAT_ID not in lines.columns:
            return
        frame = lines.lazy()
        mine = pl.col("source").is_in(list(self.sources)) & pl.col("request_id").is_not_null()
        late = _late() if WRITTEN_BEFORE in lines.columns else pl.lit(value=False)
        picked = (
            frame.filter(mine & (pl.col(REPEAT_ID) % self.every == 0))
            .select("source", REPEAT_ID, REPEAT_VALUES, late.alias("_late"))
            .collect()
        )
        if picked.is_empty():
            return
        self._held.append(picked)
        self._rows += picked.height
        while self._rows > REPEAT_HELD:
            self.every *= 2
            kept = pl.concat(self._held).filter(pl.col(REPEAT_ID) % self.every == 0)
            self._held, self._rows = [kept], kept.height

    def counts(self) -> dict[str, int]:
        """Each source's lines that repeat an earlier one (estimated when ``every`` > 1)."""
        if not self._held:
            return {}
        first = pl.struct(REPEAT_ID, REPEAT_VALUES).is_first_distinct().over("source")
        held = pl.concat(self._held).with_columns(first.alias("_first"))
        per = held.group_by("source").agg((~pl.col("_first") & pl.col("_late")).sum().alias("n"))
        return {source: n * self.every for source, n in per.iter_rows() if n}

    def notes(self) -> dict[str, str]:
        """The warning of each source with repeats."""
        return {s: sampled_repeat_note(s, n, self.every) for s, n in self.counts().items()}
