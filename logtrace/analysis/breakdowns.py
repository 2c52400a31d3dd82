"""Requests by one field of their line (``analyze --by``): per value, requests, share,
bytes sent, exact p50/p99 of request time and the 5xx rate; the top N values by requests
and one row for all the others, so the shares add up to 100%.

Like the overall percentiles (latency.py), lines are reduced to counts per (value,
millisecond of request time) that merge exactly, the value by its 64-bit hash (cheaper
to group than text), with the text of each hash kept from its first line. A chunk of
few values is counted at once; a chunk of many (client addresses) is kept as its lines
and counted at the end, or every RAW_LINES lines. The top values are only known at the
end, so every value's counts are kept (memory grows with the distinct values and
milliseconds, not the lines); the others' percentiles are those of all lines' counts
less the top values'. A value nginx logged as ``-`` (not found) is null, and is a row
of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from logtrace.analysis.lacking import require_columns
from logtrace.analysis.percentiles import percentiles
from logtrace.errors import UsageError
from logtrace.ingest_report import IngestReport
from logtrace.schema import LINES_NGINX

DEFAULT_TOP = 10


@dataclass(frozen=True)
class Dimension:
    """A field requests can be broken down by: what it reads and how it is shown."""

    name: str
    title: str  # a table's header
    needs: str | None  # the LINES column the format must log (None: always there)
    reads: str  # the LINES column it is made of
    logged_as: str  # what nginx logs it as, for messages
    key: Callable[[], pl.Expr]  # the value, in the column's own dtype (text at the end)
    dtype: pl.DataType  # of ``key``


def _column(column: str) -> Callable[[], pl.Expr]:
    return lambda: pl.col(column)


def _field(name: str, title: str, column: str, logged_as: str) -> Dimension:
    """A dimension that is one column the format must log, as text."""
    dtype = LINES_NGINX.get(column, pl.String())
    return Dimension(name, title, column, column, logged_as, _column(column), dtype)


# The address of the last upstream attempt: the one whose answer was sent ("a, b : c"
# lists every attempt; the earlier ones failed).
def _last_upstream() -> pl.Expr:
    return pl.col("upstream_addr").list.last()


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        _field("status", "status", "status", "$status"),
        _field("ip", "client address", "remote_addr", "$remote_addr"),
        _field("ua", "user agent", "http_user_agent", "$http_user_agent"),
        _field("referer", "referer", "http_referer", "$http_referer"),
        _field("method", "method", "method", "$request or $request_method"),
        Dimension("host", "host", None, "host", "$host", _column("host"), pl.String()),
        Dimension(
            "upstream",
            "upstream",
            "upstream_addr",
            "upstream_addr",
            "$upstream_addr",
            _last_upstream,
            pl.String(),
        ),
        Dimension(
            "source", "source", None, "source", "the log source", _column("source"), pl.String()
        ),
    )
}


def by_columns(bys: Sequence[By]) -> frozenset[str]:
    """The LINES columns these breakdowns read ("host": $host, when the format logs it)."""
    return frozenset(b.spec.reads for b in bys)


_BY = re.compile(r"([a-z]+)(?::(\d+|all))?")


@dataclass(frozen=True)
class By:
    """One ``--by``: a dimension and how many of its values to show (None: all)."""

    dimension: str
    top: int | None = DEFAULT_TOP

    @property
    def spec(self) -> Dimension:
        return DIMENSIONS[self.dimension]


def parse_by(text: str) -> By:
    """``ip``, ``ip:25``, ``ua:all`` as a :class:`By`."""
    found = _BY.fullmatch(text.strip().lower())
    names = ", ".join(DIMENSIONS)
    if found is None or found.group(1) not in DIMENSIONS:
        raise UsageError(
            f"--by {text!r} is not a breakdown",
            f"use one of {names}, with :N or :all for how many values (ip:25)",
        )
    n = found.group(2)
    if n is not None and n != "all" and int(n) == 0:
        raise UsageError(f"--by {text!r}: show at least 1 value", "use :1 or more, or :all")
    return By(found.group(1), None if n == "all" else int(n) if n else DEFAULT_TOP)


def require_dimensions(ingest: IngestReport, bys: Sequence[By]) -> None:
    """Raise NoMatchError (exit 5) when no nginx format read logs what a ``--by`` needs."""
    for b in bys:
        d = b.spec
        if d.needs is not None:
            require_columns(
                ingest,
                d.needs,
                f"no {d.logged_as}",
                f"--by {b.dimension}",
                f"log {d.logged_as} in the log_format and give it with --log-format, --preset "
                "or --nginx-conf (`logtrace formats` shows each preset's variables)",
            )


def bytes_expr(cols: Sequence[str]) -> pl.Expr | None:
    """Bytes sent to the client: $body_bytes_sent, else $bytes_sent (headers included)."""
    if "body_bytes_sent" in cols:
        return pl.col("body_bytes_sent")
    if "bytes_sent" in cols:
        return pl.col("bytes_sent")
    return None


SUMS = ["requests", "errors", "bytes"]
HASH = "_hash"
# Lines are kept as they come (hash, ms, 5xx, bytes: 21 bytes a line) and counted when
# the table is made, or once this many have come since the last count: one count over
# many lines costs less than one per chunk, and memory stays bounded.
RAW_LINES = 2_000_000
# A merge costs as much as the rows merged: counts are merged once what came since the
# last merge outgrows the merged counts (and this floor), so the merges of a run cost
# about as much as two merges of its final size.
MERGE_FLOOR = 2_000_000
# A chunk has few values when each comes on this many lines or more, on average.
FEW_VALUES = 16
_SCHEMA = {HASH: pl.UInt64, "ms": pl.Int32, "error": pl.Boolean, "bytes": pl.Int64}


@dataclass
class _Merged:
    """Counts merged now and then by their keys (see MERGE_FLOOR)."""

    keys: tuple[str, ...]
    done: pl.DataFrame | None = None
    pending: list[pl.DataFrame] = field(default_factory=list)
    pending_rows: int = 0

    def add(self, counts: pl.DataFrame) -> None:
        self.pending.append(counts)
        self.pending_rows += counts.height
        done = self.done.height if self.done is not None else 0
        if self.pending_rows > max(done, MERGE_FLOOR) or len(self.pending) > 64:
            self.done = self.merged()
            self.pending, self.pending_rows = [], 0

    def frames(self) -> list[pl.DataFrame]:
        return ([self.done] if self.done is not None else []) + self.pending

    def merged(self) -> pl.DataFrame:
        values = [c for c in self.frames()[0].columns if c not in self.keys]
        return (
            pl.concat(self.frames(), how="vertical_relaxed")
            .group_by(*self.keys)
            .agg(pl.col(values).sum())
        )


@dataclass
class _DimensionCounts:
    """One dimension's lines by the value's 64-bit hash (cheaper to group and merge than
    text). Counts: per hash the requests, 5xx and bytes, and per (hash, ms of request
    time) the requests. A chunk of few values is counted at once (its counts are small);
    a chunk of many values (client addresses) is kept as its lines, counted when the
    table is made or once RAW_LINES have come: one count over many lines costs less than
    one per chunk. Each hash's text is kept from its first line in each chunk (the top
    values' are looked up at the end)."""

    lines: list[pl.DataFrame] = field(default_factory=list)
    line_count: int = 0
    totals: _Merged = field(default_factory=lambda: _Merged((HASH,)))
    hist: _Merged = field(default_factory=lambda: _Merged((HASH, "ms")))
    names: list[pl.DataFrame] = field(default_factory=list)
    name_rows: int = 0
    names_done: int = 0
    few_values: bool = False  # the last chunk had few values: count the next at once

    def add(self, results: list[pl.DataFrame]) -> None:
        """One chunk's results: its lines and names, or (``few_values``) its counts per
        (value, ms)."""
        if len(results) == 2:
            lines, names = results
            self.lines.append(lines)
            self.line_count += lines.height
            height = lines.height
        else:
            counts = results[0].with_columns(pl.col("value").hash().alias(HASH))
            self.totals.add(counts.group_by(HASH).agg(pl.col(SUMS).sum()))
            timed = counts.filter(pl.col("ms").is_not_null())
            self.hist.add(timed.select(HASH, "ms", "requests"))
            names = counts.filter(pl.col(HASH).is_first_distinct()).select(HASH, "value")
            height = int(counts.get_column("requests").sum() or 0)
        self.few_values = names.height * FEW_VALUES <= height
        self.names.append(names)
        self.name_rows += names.height
        if self.line_count > RAW_LINES:
            totals, hist = pl.collect_all(_counted(self.kept()))
            self.totals.add(totals)
            self.hist.add(hist)
            self.lines, self.line_count = [], 0
        if self.name_rows > max(2 * self.names_done, MERGE_FLOOR):
            names_now = pl.concat(self.names, how="vertical_relaxed")
            self.names = [names_now.filter(pl.col(HASH).is_first_distinct())]
            self.name_rows = self.names_done = self.names[0].height

    def kept(self) -> pl.LazyFrame:
        """The lines not counted yet."""
        return pl.concat([pl.DataFrame(schema=_SCHEMA), *self.lines], how="vertical_relaxed").lazy()


def _counted(lines: pl.LazyFrame) -> list[pl.LazyFrame]:
    """Lines as counts per hash and per (hash, ms)."""
    return [
        lines.group_by(HASH).agg(
            pl.len().cast(pl.Int64).alias("requests"),
            pl.col("error").sum().cast(pl.Int64).alias("errors"),
            pl.col("bytes").sum().cast(pl.Int64),
        ),
        lines.filter(pl.col("ms").is_not_null())
        .group_by(HASH, "ms")
        .agg(pl.len().cast(pl.Int64).alias("requests")),
    ]


@dataclass
class BreakdownPartials:
    """Mergeable counts of each ``--by``, of the lines seen so far."""

    bys: tuple[By, ...]
    counts: dict[str, _DimensionCounts] = field(default_factory=dict)
    has_latency: bool = False
    has_bytes: bool = False
    _planned: list[int] = field(default_factory=list)  # results per dimension, in plans()

    def plans(self, lf: pl.LazyFrame, cols: list[str]) -> list[pl.LazyFrame]:
        """The queries that reduce one chunk, per dimension: its counts per (value, ms) when
        the last chunk had few values, else its lines (hash, ms, 5xx, bytes) and the
        values' text."""
        self.has_latency |= "request_time_s" in cols
        size = bytes_expr(cols)
        self.has_bytes |= size is not None
        status = pl.col("status") if "status" in cols else pl.lit(None, pl.UInt16)
        ms = (
            (pl.col("request_time_s") * 1000).round(0).cast(pl.Int32)
            if "request_time_s" in cols
            else pl.lit(None, pl.Int32)
        )
        sent = pl.lit(0, pl.Int64) if size is None else size.cast(pl.Int64)
        out = []
        for name in self._names():
            d = DIMENSIONS[name]
            key = pl.lit(None, d.dtype) if d.needs is not None and d.needs not in cols else d.key()
            if self.counts.setdefault(name, _DimensionCounts()).few_values:
                out.append(  # the chunk's counts are small: count them now
                    lf.group_by(key.alias("value"), ms.alias("ms")).agg(
                        pl.len().cast(pl.Int64).alias("requests"),
                        status.is_between(500, 599).sum().cast(pl.Int64).alias("errors"),
                        sent.sum().alias("bytes"),
                    )
                )
                self._planned.append(1)
                continue
            self._planned.append(2)
            out.append(
                lf.select(
                    key.hash().alias(HASH),
                    ms.alias("ms"),
                    status.is_between(500, 599).fill_null(False).alias("error"),
                    sent.alias("bytes"),
                )
            )
            out.append(
                lf.select(key.hash().alias(HASH), key.alias("value")).filter(
                    pl.col(HASH).is_first_distinct()
                )
            )
        return out

    def take(self, results: list[pl.DataFrame]) -> None:
        """Keep one chunk's results (in the order of :meth:`plans`)."""
        at = 0
        for name, size in zip(self._names(), self._planned, strict=True):
            self.counts[name].add(results[at : at + size])
            at += size
        self._planned = []

    def _names(self) -> list[str]:
        return list(dict.fromkeys(b.dimension for b in self.bys))


@dataclass(frozen=True)
class BreakdownTable:
    """Requests by the values of one field.

    ``rows``: value (null: not logged), requests, share, bytes (null when the format logs
    no bytes), p50_s, p99_s (null without request times), error_rate (5xx share), ordered
    by requests (then value). ``other``: one row of the same columns (value null) for the
    values past the top N, with ``values`` (how many), or None when every value is shown.
    """

    dimension: str
    top: int | None
    distinct: int  # distinct values (null counted as one)
    requests: int
    rows: pl.DataFrame
    other: pl.DataFrame | None


ROW_COLUMNS = ["value", "requests", "share", "bytes", "p50_s", "p99_s", "error_rate"]
RANK = "_rank"


def finish_breakdowns(p: BreakdownPartials) -> tuple[BreakdownTable, ...]:
    """Each ``--by``'s table, from the merged counts."""
    return tuple(_table(p, b) for b in p.bys)


def _table(p: BreakdownPartials, by: By) -> BreakdownTable:
    found = p.counts.get(by.dimension, _DimensionCounts())
    counting = _counted(found.kept())[0]
    if found.totals.frames():  # and counts of lines before
        counting = pl.concat([*(f.lazy() for f in found.totals.frames()), counting])
        counting = counting.group_by(HASH).agg(pl.col(SUMS).sum())
    totals = counting.collect()
    total = int(totals.get_column("requests").sum() or 0)
    shown = totals.height if by.top is None else min(by.top, totals.height)
    # only the values that may be in the top N are named and sorted
    least = totals.get_column("requests").top_k(shown).min() if shown else 0
    candidates = totals.filter(pl.col("requests") >= least) if shown < totals.height else totals
    names = pl.concat(found.names, how="vertical_relaxed") if found.names else None
    if names is not None:
        named = names.filter(pl.col(HASH).is_in(candidates.get_column(HASH).implode()))
        candidates = candidates.join(named.unique(HASH), on=HASH, how="left")
    else:
        candidates = candidates.with_columns(pl.lit(None, by.spec.dtype).alias("value"))
    top = (
        candidates.sort(["requests", "value"], descending=[True, False], nulls_last=True)
        .head(shown)
        .with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias(RANK))
    )
    # every value past the top N is in one row, of rank N: the totals less the top's
    rest = totals.select(pl.col(SUMS).sum()) - top.select(pl.col(SUMS).sum())
    sums = pl.concat(
        [
            top.with_columns(pl.lit(1, pl.UInt32).alias("values")),
            rest.with_columns(
                pl.lit(None, top.schema["value"]).alias("value"),
                pl.lit(shown, pl.Int64).alias(RANK),
                pl.lit(totals.height - shown, pl.UInt32).alias("values"),
            ),
        ],
        how="diagonal_relaxed",
    )
    if p.has_latency:
        lat = percentiles(_timed(found, top, shown), RANK)
        sums = sums.join(lat.select(RANK, "p50_s", "p99_s"), on=RANK, how="left")
    else:
        sums = sums.with_columns(
            pl.lit(None, pl.Float64).alias("p50_s"), pl.lit(None, pl.Float64).alias("p99_s")
        )
    sums = sums.sort(RANK).with_columns(
        pl.col("value").cast(pl.String),
        (pl.col("requests") / total).alias("share"),
        (pl.col("errors") / pl.col("requests")).alias("error_rate"),
        pl.col("bytes") if p.has_bytes else pl.lit(None, pl.Int64).alias("bytes"),
    )
    rows = sums.filter(pl.col(RANK) < shown).select(ROW_COLUMNS)
    other = (
        sums.filter(pl.col(RANK) >= shown).select(*ROW_COLUMNS, "values")
        if shown < totals.height
        else None
    )
    return BreakdownTable(by.dimension, by.top, totals.height, total, rows, other)


def _timed(found: _DimensionCounts, top: pl.DataFrame, shown: int) -> pl.DataFrame:
    """(rank, ms, count) of the top values' request times, found by their hashes, and of
    the others' (rank N): all lines' less the top values'."""
    one = pl.lit(1, pl.Int64).alias("requests")
    timed = pl.concat(
        [
            found.kept().filter(pl.col("ms").is_not_null()).select(HASH, "ms", one),
            *(f.lazy() for f in found.hist.frames()),
        ],
        how="vertical_relaxed",
    )
    in_top, every = pl.collect_all(
        [
            timed.filter(pl.col(HASH).is_in(top.get_column(HASH).implode()))
            .group_by(pl.col(HASH).replace_strict(top.get_column(HASH), top.get_column(RANK)), "ms")
            .agg(pl.col("requests").sum().alias("count"))
            .rename({HASH: RANK}),
            timed.group_by("ms").agg(pl.col("requests").sum().alias("all")),
        ]
    )
    top_ms = in_top.group_by("ms").agg(pl.col("count").sum().alias("top"))
    rest = (
        every.join(top_ms, on="ms", how="left")
        .select(
            pl.lit(shown, pl.Int64).alias(RANK),
            "ms",
            (pl.col("all") - pl.col("top").fill_null(0)).alias("count"),
        )
        .filter(pl.col("count") > 0)
    )
    return pl.concat([in_top.cast({RANK: pl.Int64}), rest], how="vertical_relaxed")
