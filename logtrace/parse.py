"""Lines → the LINES frame. Every line is either parsed or rejected with a reason.

Per chunk: one vectorised pass of the strict regex over every line, a second pass of the
lenient regex over the few lines the first one missed, typed conversion of the captured
groups, and a check that each typed value really converted. Nothing here loops over lines
in Python; only the handful of rejected samples shown to the user are diagnosed one by one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from logtrace.envelope import STRAY_REASON
from logtrace.log_format.compiler import MATCHED, CompiledFormat, regex_escape
from logtrace.log_format.convert import Conversion, conversions
from logtrace.log_format.dialect import plan_dialect
from logtrace.log_format.grammar import Literal
from logtrace.parse_dialect import read_rows
from logtrace.schema import REJECTS

# The dialects parse_chunk reads as rows by default: none. Measured in CPU time per 16 MB
# chunk, the CSV path costs what the regexes do (trace lines, analyze's columns: 110 ms
# against 112 ms; combined: 103 against 92): the shape check is a full pass of a regex
# (31 ms even without captures), the read 19 ms, splitting the request line 17 ms. The
# JSON reader costs 25% more than the regexes. Both stay tested against the regexes
# (tests/test_dialect.py); pass ``rows`` to use them.
ROW_DIALECTS: frozenset[str] = frozenset()
MAX_SAMPLES = 5
SAMPLE_CHARS = 64 * 1024  # of a sample line kept to show (a binary "line" can be 64 MB)
DIAGNOSE_CHARS = 1024 * 1024  # of a line searched for where it stops matching
BLANK = "blank line"
NO_MATCH = "does not match the log_format"
# lines not read in the format, so not diagnosed against it: blank, a stream's own
_UNDIAGNOSED = frozenset({BLANK, STRAY_REASON})


@dataclass(frozen=True)
class RejectedSample:
    """One rejected line as shown to the user, with where it went wrong."""

    line_no: int
    reason: str
    line: str
    column: int | None = None  # caret position in ``line``
    expected: str | None = None  # what the format wanted at ``column``


@dataclass(frozen=True)
class EntrySample:
    """One parsed line shown to the user as an example (an unclassified app event)."""

    line_no: int
    line: str


@dataclass(frozen=True)
class AppEvents:
    """What a chunk of an app log gave: its entries by event, those rejected for want of a
    time by event, its first few unclassified entries, and how many entries that log no
    time took their envelope's (envelope.py)."""

    parsed: Counter[str] = field(default_factory=Counter)
    untimed: Counter[str] = field(default_factory=Counter)
    unclassified: tuple[EntrySample, ...] = ()
    envelope_timed: int = 0
    envelope_precision_s: float | None = None  # nginx: how well the refined times are known
    envelope_offset: int = 0  # app entries off their log's offset, moved to their envelope's


_NAMED = 3  # hosts a source's row names; past that, it counts them


def _few(names: set[str], what: str) -> str:
    return ", ".join(sorted(names)) if len(names) <= _NAMED else f"{len(names)} {what}"


@dataclass
class SourceStats:
    """Lines a source gave, parsed and rejected; why; and a few examples.

    For an app log also its entries by event (``app_events``: served requests, calls,
    unclassified HTTP events ...), a few of the unclassified ones, and the events of the
    entries rejected for want of a time (``app_events_untimed``: what the log would have
    given with timestamps).
    """

    path: str
    host: str
    service: str
    format: str = "?"
    kind: str = "nginx"
    detected: str | None = None  # "998/1000 sample lines" when the format was detected
    envelope: str | None = None  # the lines the log's are in (cri, docker-json, syslog)
    named_hosts: set[str] = field(default_factory=set)  # that its lines name (syslog)
    named_services: set[str] = field(default_factory=set)
    lines_total: int = 0
    lines_parsed: int = 0
    lines_rejected: int = 0
    lines_skipped: int = 0  # left unparsed on purpose (trace ID: other requests' lines)
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[RejectedSample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    damaged: bool = False  # reading stopped early or skipped the source (see warnings)
    better: list[str] = field(default_factory=list)  # options that would match more lines
    # what the lines are, when no format reads them but their shape says (pretty JSON)
    unreadable: str | None = None
    app_events: Counter[str] = field(default_factory=Counter)
    unclassified: list[EntrySample] = field(default_factory=list)
    app_events_untimed: Counter[str] = field(default_factory=Counter)
    # entries that log no time, timed by their envelope (nginx: lines whose second it refines)
    envelope_timed: int = 0
    envelope_precision_s: float | None = None  # nginx: the worst precision of those
    envelope_offset: int = 0  # app entries that took their envelope's offset, not the log's
    error_log: Counter[str] = field(default_factory=Counter)  # nginx error log: lines by level

    def name_hosts(self, hosts: pl.Series, services: pl.Series) -> None:
        """Take the hosts and services a chunk's lines name (syslog) for the source's, in
        place of those its file's name gave: the one, a few, or how many."""
        self.named_hosts.update(hosts.drop_nulls().unique().to_list())
        self.named_services.update(services.drop_nulls().unique().to_list())
        if self.named_hosts:
            self.host = _few(self.named_hosts, "hosts")
            self.service = _few(self.named_services, "services")

    def add_app_events(self, events: AppEvents) -> None:
        """Count a chunk's app entries by event and keep the first few unclassified ones."""
        self.app_events.update(events.parsed)
        self.app_events_untimed.update(events.untimed)
        self.envelope_timed += events.envelope_timed
        self.envelope_offset += events.envelope_offset
        if events.envelope_precision_s is not None:
            worst = self.envelope_precision_s or 0.0
            self.envelope_precision_s = max(worst, events.envelope_precision_s)
        self.unclassified.extend(events.unclassified[: MAX_SAMPLES - len(self.unclassified)])

    def warn_untimed(self) -> None:
        """Say what the entries rejected for want of a time would have given."""
        untimed = self.app_events_untimed
        served = untimed["server"] + untimed["server_start"]
        calls = untimed["client"] + untimed["client_start"]
        if served or calls:
            self.warnings.append(
                f"{self.path}: {served:,} served-request and {calls:,} call lines have no "
                "date (no timestamp, or a time of day only) and are rejected: no span can be "
                "placed without one; a timestamp with a date in the log's format would give them"
            )

    def note_envelope_times(self) -> None:
        """Say which entries are placed at their envelope's time, not one they logged, and
        which are read in their envelope's offset, not their log's."""
        if self.envelope_offset:
            self.warnings.append(
                f"{self.path}: {self.envelope_offset:,} entries are an hour or less off the "
                "log's offset by their envelope's times, and are read in theirs (daylight "
                "saving time began or ended, or the program restarted in another zone)"
            )
        if self.envelope_timed and self.kind == "nginx":
            precision = self.envelope_precision_s or 0.0
            self.warnings.append(
                f"{self.path}: {self.envelope_timed:,} lines are placed within their logged "
                f"second at the time their {self.envelope} envelope gives them (to about "
                f"{precision * 1000:.0f} ms): the log is written as requests end, each line "
                "taken down by the runtime within its own second"
            )
        elif self.envelope_timed:
            self.warnings.append(
                f"{self.path}: {self.envelope_timed:,} entries log no time of their own, or "
                f"a time of day without a date: their {self.envelope} envelope's time places "
                "them (when the runtime took the line down, a little after the program wrote "
                "it; a time of day keeps its own time, on the day nearest the envelope's)"
            )

    def add_rejects(self, rejects: pl.DataFrame, cf: CompiledFormat | None) -> None:
        """Count a chunk's rejected lines and keep the first few as diagnosed samples."""
        if rejects.is_empty():
            return
        for reason, count in rejects.group_by("reason").len().iter_rows():
            self.reasons[reason] += count
        room = MAX_SAMPLES - len(self.samples)
        if room <= 0:
            return
        for line_no, reason, line in rejects.head(room).iter_rows():
            column, expected = (
                diagnose(line, cf)
                if cf is not None and reason not in _UNDIAGNOSED
                else (None, None)
            )
            sample = RejectedSample(line_no, reason, line[:SAMPLE_CHARS], column, expected)
            self.samples.append(sample)


def reads_rows(cf: CompiledFormat, rows: frozenset[str] = ROW_DIALECTS) -> bool:
    """Whether parse_chunk reads some lines of ``cf`` as rows (then it wants their bytes)."""
    dialect = plan_dialect(cf)
    return dialect is not None and dialect.kind in rows


@dataclass(frozen=True)
class ParsedChunk:
    """A chunk's parsed lines (LINES) and rejected lines (REJECTS)."""

    lines: pl.DataFrame
    rejects: pl.DataFrame


def _typed(frame: pl.LazyFrame, convs: list[Conversion], keep: list[str]) -> pl.LazyFrame:
    """Typed columns from captured groups; lines with an unconvertible value get a reason."""
    checks = [
        pl.when(c.invalid).then(pl.lit(f"{c.label}: not a valid value"))
        for c in convs
        if c.invalid is not None
    ]
    reason = pl.coalesce(checks) if checks else pl.lit(None, dtype=pl.String)
    return frame.select(*keep, *(c.expr for c in convs), reason.alias("_reason"))


def _extract(frame: pl.LazyFrame, regex: str) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Lines the regex matched (with its groups as columns) and lines it did not."""
    hit = frame.with_columns(pl.col("line").str.extract_groups(regex).alias("_m")).unnest("_m")
    matched = pl.col(MATCHED).is_not_null()
    return hit.filter(matched), hit.filter(~matched).select("line_no", "line")


def parse_chunk(
    lines: pl.DataFrame,
    cf: CompiledFormat,
    columns: frozenset[str] | None = None,
    *,
    keep_line: bool = False,
    rows: frozenset[str] = ROW_DIALECTS,
    text: bytes | None = None,
) -> ParsedChunk:
    """Parse a frame of ``line_no``/``line`` with a compiled format.

    ``columns`` limits the LINES columns produced (None: all the format has); the regex
    captures only what they need. Plans are lazy so polars spreads them over all cores.
    The lines a format's dialect fits, if its kind is in ``rows`` ("csv", "json"), are
    read as rows first (parse_dialect.py); the regexes parse the others, to the same values.
    ``text``: the bytes ``lines`` was read from (lines.text_and_frame), read again as CSV.
    """
    keep = ["line_no", "line"] if keep_line else ["line_no"]
    parsed: list[pl.DataFrame] = []
    pending = lines
    dialect = plan_dialect(cf)
    if dialect is not None and dialect.kind not in rows:
        dialect = None
    if dialect is not None:
        raw, pending = read_rows(lines, cf, dialect, columns, keep, text=text)
        if raw is not None:  # the groups the strict regex would capture: its conversions
            typed = _typed(raw, conversions(cf, columns, strict=True), keep)
            parsed.append(typed.collect())
    strict = cf.strict_regex(columns)
    if strict is not None and (pending.height or not parsed):
        ok, rest = _extract(pending.lazy(), strict)
        good, pending = pl.collect_all(
            [_typed(ok, conversions(cf, columns, strict=True), keep), rest]
        )
        parsed.append(good)
    if pending.height or not parsed:
        ok, rest = _extract(pending.lazy(), cf.lenient_regex(columns))
        good, pending = pl.collect_all(
            [_typed(ok, conversions(cf, columns, strict=False), keep), rest]
        )
        parsed.append(good)
    if len(parsed) > 1:  # rows, then the lines the regexes parsed: in the lines' order
        frame = pl.concat(parsed, how="diagonal_relaxed").sort("line_no")
    else:
        frame = parsed[0]
    rejects: list[pl.DataFrame] = []
    if frame.get_column("_reason").null_count() == frame.height:  # the common case
        good = frame.drop("_reason")  # no filter: it would copy every column
    else:
        failed = frame.filter(pl.col("_reason").is_not_null())
        good = frame.filter(pl.col("_reason").is_null()).drop("_reason")
        rejects.append(
            failed.select("line_no", pl.col("_reason").alias("reason")).join(
                lines.select("line_no", "line"), on="line_no", how="left"
            )
        )
    if pending.height:
        rejects.append(
            pending.select(
                "line_no",
                pl.when(pl.col("line").is_null() | (pl.col("line").str.strip_chars() == ""))
                .then(pl.lit(BLANK))
                .otherwise(pl.lit(NO_MATCH))
                .alias("reason"),
                pl.col("line").fill_null(""),
            )
        )
    good = _single_attempt_lists(good)
    if "time" in good.columns and cf.time_precision_s is not None:
        good = good.with_columns(pl.lit(cf.time_precision_s).alias("time_precision_s"))
        if "request_time_s" in good.columns:
            # nginx writes the line at the request's END: start = end - $request_time.
            micros = (pl.col("request_time_s") * 1e6).round(0).cast(pl.Int64)
            good = good.with_columns(
                (pl.col("time") - pl.duration(microseconds=micros)).alias("start")
            )
    if not rejects:
        return ParsedChunk(good, pl.DataFrame(schema=REJECTS))
    rejected = pl.concat(rejects, how="vertical_relaxed").cast(REJECTS).sort("line_no")  # type: ignore[arg-type]
    return ParsedChunk(good, rejected)


def _single_attempt_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """An upstream variable logged as a bare "-" is "no upstream" only if every upstream
    variable of the line says so; next to an attempt it is that one attempt's missing
    value (a 499 has ``us="-"`` but ``urt="0.502"``)."""
    lists = [
        c for c, t in frame.schema.items() if c.startswith("upstream_") and isinstance(t, pl.List)
    ]
    if len(lists) < 2 or frame.is_empty():
        return frame
    attempted = pl.any_horizontal([pl.col(c).is_not_null() for c in lists])
    return frame.with_columns(
        pl.when(pl.col(c).is_null() & attempted)
        .then(pl.lit([None], dtype=frame.schema[c]))
        .otherwise(pl.col(c))
        .alias(c)
        for c in lists
    )


# --- explaining a rejected line ------------------------------------------------------------


def diagnose(line: str, cf: CompiledFormat) -> tuple[int | None, str | None]:
    """Where ``line`` stops matching the format, and what the format expected there.

    Grows the lenient regex one format item at a time; where the next item no longer
    matches, the caret goes to the farthest end of the prefix that still does (its last
    value taken as long as it can be). The regexes run in polars' linear-time engine:
    Python's backtracking ``re`` needs hours for a hostile line under a format with a
    few free-text variables in a row.
    """
    line = line[:DIAGNOSE_CHARS]  # the regexes are linear, but 64 MB of them is slow
    pieces = _split_pieces(cf)
    try:
        if _match_end("".join(p for p, _ in pieces) + "$", line) is not None:
            return None, None
        prefix, last = "", ""
        for piece, what in pieces:
            if _match_end(prefix + last + piece, line) is None:
                return _farthest_end(prefix, last, line), what
            prefix, last = prefix + last, piece
        return _farthest_end(prefix, last, line), "end of line"
    except pl.exceptions.PolarsError:
        return None, None


def _match_end(regex: str, line: str) -> int | None:
    """End of the leftmost-first match of ``regex`` at the start of ``line``, or None."""
    found = pl.Series([line], dtype=pl.String).str.extract(f"(?s)^({regex})", 1).item()
    return None if found is None else len(found)


def _farthest_end(prefix: str, last: str, line: str) -> int:
    """Where ``prefix`` + ``last`` can end at the latest when ``last`` is a value taken as
    long as it can be: ``garbage - ...`` goes wrong after ``garbage``, not at column 0."""
    end = _match_end(prefix + last, line) or 0
    if last.startswith("("):  # a variable's value (literal pieces are never lazy)
        longest = _match_end(prefix + last.replace("*?", "*"), line)
        end = max(end, longest or 0)
    return end


def _split_pieces(cf: CompiledFormat) -> list[tuple[str, str]]:
    """The lenient regex cut at format items, each with a human name."""
    full = cf.lenient_regex(None).removeprefix(f"^(?P<{MATCHED}>)").removesuffix("$")
    pieces: list[tuple[str, str]] = []
    pos = 0
    fields = iter(cf.fields)
    for item in cf.format.items:
        if isinstance(item, Literal):
            lit = regex_escape(item.text)
            assert full.startswith(lit, pos)
            pieces.append((lit, repr(item.text)))
            pos += len(lit)
            continue
        f = next(fields)
        # The field's group starts right here: named when captured, ``(?:`` when not
        # (a second time variable, a repeated column).
        assert full.startswith("(", pos)
        end = _group_end(full, pos)
        pieces.append((full[pos:end], f"${f.var.name}"))
        pos = end
    return pieces


def _group_end(regex: str, start: int) -> int:
    depth = 0
    i = start
    in_class = False
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if regex[i + 1 : i + 2] == "^":
                i += 1
            if regex[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(regex)
