"""Requests by one field of their line (``analyze --by``): per value, requests, share,
bytes sent, exact p50/p99 of request time and the 5xx rate; the top N values by requests
and one row for all the others, so the shares add up to 100%.

Like the overall percentiles (latency.py), lines are reduced to counts per (value,
millisecond of request time) that merge exactly, the value by its 64-bit hash (cheaper
to group than text), with the text of each hash. Lines are kept as they come (what the
breakdowns read of them) and counted at the end, or once they hold RAW_BYTES. The top
values are only known at the end, so every value's counts are kept (memory grows with
the distinct values and milliseconds, not the lines); the others' percentiles are those
of all lines' counts less the top values'. A value nginx logged as ``-`` (not found) is
null, and is a row of its own.
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
# Lines are kept as they come (per dimension the value and its hash; ms, 5xx, bytes) and
# counted when the tables are made, or once they hold this many bytes: one count over
# many lines costs less than one per chunk, and memory stays bounded.
RAW_BYTES = 48 << 20
# A merge costs as much as the rows merged: counts are merged once what came since the
# last merge outgrows the merged counts (and this floor), so the merges of a run cost
# about as much as two merges of its final size.
MERGE_FLOOR = 2_000_000
_SHARED: dict[str, type[pl.DataType]] = {"ms": pl.Int32, "error": pl.Boolean, "bytes": pl.Int64}


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
    """One dimension's lines counted so far, by the value's 64-bit hash (cheaper to group
    and merge than text): per hash the requests, 5xx and bytes, and per (hash, ms of
    request time) the requests; and each hash's text."""

    totals: _Merged = field(default_factory=lambda: _Merged((HASH,)))
    hist: _Merged = field(default_factory=lambda: _Merged((HASH, "ms")))
    names: list[pl.DataFrame] = field(default_factory=list)
    name_rows: int = 0
    names_done: int = 0

    def add(self, lines: pl.LazyFrame) -> None:
        """Count lines (HASH, value, ms, error, bytes)."""
        totals, hist, names = pl.collect_all(
            [*_counted(lines), lines.select(HASH, "value").unique(HASH, keep="any")]
        )
        self.totals.add(totals)
        self.hist.add(hist)
        self.names.append(names)
        self.name_rows += names.height
        if self.name_rows > max(2 * self.names_done, MERGE_FLOOR):
            names_now = pl.concat(self.names, how="vertical_relaxed")
            self.names = [names_now.unique(HASH, keep="any")]
            self.name_rows = self.names_done = self.names[0].height


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


def _hash_of(name: str) -> str:
    return f"_hash_{name}"


def _value_of(name: str) -> str:
    return f"_value_{name}"


@dataclass
class BreakdownPartials:
    """Mergeable counts of each ``--by``, of the lines seen so far: the lines not counted
    yet (every dimension's value and hash, and what they share: ms, 5xx, bytes), and per
    dimension the counts of those counted before."""

    bys: tuple[By, ...]
    counts: dict[str, _DimensionCounts] = field(default_factory=dict)
    lines: list[pl.DataFrame] = field(default_factory=list)
    line_bytes: int = 0
    has_latency: bool = False
    has_bytes: bool = False

    def plans(self, lf: pl.LazyFrame, cols: list[str]) -> list[pl.LazyFrame]:
        """The query that reduces one chunk to what is kept of its lines."""
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
        kept = [
            ms.alias("ms"),
            status.is_between(500, 599).fill_null(False).alias("error"),
            sent.alias("bytes"),
        ]
        for name in self._names():
            d = DIMENSIONS[name]
            key = pl.lit(None, d.dtype) if d.needs is not None and d.needs not in cols else d.key()
            kept += [key.hash().alias(_hash_of(name)), key.alias(_value_of(name))]
        return [lf.select(kept)]

    def take(self, results: list[pl.DataFrame]) -> None:
        """Keep one chunk's results (in the order of :meth:`plans`)."""
        self.lines.append(results[0])
        self.line_bytes += int(results[0].estimated_size())
        if self.line_bytes > RAW_BYTES:
            lines = self.kept_lines().collect().lazy()  # concatenated once, read per --by
            for name in self._names():
                self.counts.setdefault(name, _DimensionCounts()).add(self.kept(name, lines))
            self.lines, self.line_bytes = [], 0

    def kept_lines(self) -> pl.LazyFrame:
        """Every line not counted yet."""
        schema: dict[str, pl.DataType | type[pl.DataType]] = dict(_SHARED)
        for name in self._names():
            schema |= {_hash_of(name): pl.UInt64, _value_of(name): DIMENSIONS[name].dtype}
        empty = pl.DataFrame(schema=schema)
        return pl.concat([empty, *self.lines], how="vertical_relaxed").lazy()

    def kept(self, name: str, lines: pl.LazyFrame) -> pl.LazyFrame:
        """One dimension's columns of ``lines`` (:meth:`kept_lines`): HASH, value, ms,
        error, bytes."""
        return lines.select(
            pl.col(_hash_of(name)).alias(HASH), pl.col(_value_of(name)).alias("value"), *_SHARED
        )

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
    lines = p.kept_lines().collect()
    return tuple(_table(p, b, p.kept(b.dimension, lines.lazy())) for b in p.bys)


def _table(p: BreakdownPartials, by: By, kept: pl.LazyFrame) -> BreakdownTable:
    """One ``--by``'s table, from the lines not counted yet (``kept``) and the counts."""
    found = p.counts.get(by.dimension, _DimensionCounts())
    counting = _counted(kept)[0]
    if found.totals.frames():  # and counts of lines before
        counting = pl.concat([*(f.lazy() for f in found.totals.frames()), counting])
        counting = counting.group_by(HASH).agg(pl.col(SUMS).sum())
    totals = counting.collect()
    total = int(totals.get_column("requests").sum() or 0)
    shown = totals.height if by.top is None else min(by.top, totals.height)
    # only the values that may be in the top N are named and sorted
    least = totals.get_column("requests").top_k(shown).min() if shown else 0
    candidates = totals.filter(pl.col("requests") >= least) if shown < totals.height else totals
    named = (
        pl.concat([kept.select(HASH, "value"), *(f.lazy() for f in found.names)])
        .filter(pl.col(HASH).is_in(candidates.get_column(HASH).implode()))
        .unique(HASH, keep="any")
        .collect()
    )
    candidates = candidates.join(named, on=HASH, how="left")
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
        lat = percentiles(_timed(kept, found, top, shown), RANK)
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


def _timed(
    kept: pl.LazyFrame, found: _DimensionCounts, top: pl.DataFrame, shown: int
) -> pl.DataFrame:
    """(rank, ms, count) of the top values' request times, found by their hashes, and of
    the others' (rank N): all lines' less the top values'."""
    timed = kept.filter(pl.col("ms").is_not_null())
    counted = [f.lazy() for f in found.hist.frames()]  # HASH, ms, requests
    hashes = top.get_column(HASH).implode()
    in_top, every = pl.collect_all(
        [
            pl.concat(
                [
                    timed.filter(pl.col(HASH).is_in(hashes))
                    .group_by(HASH, "ms")
                    .agg(pl.len().cast(pl.Int64).alias("requests")),
                    *(f.filter(pl.col(HASH).is_in(hashes)) for f in counted),
                ],
                how="vertical_relaxed",
            )
            .group_by(HASH, "ms")
            .agg(pl.col("requests").sum().alias("count")),
            pl.concat(
                [
                    timed.group_by("ms").agg(pl.len().cast(pl.Int64).alias("requests")),
                    *(f.select("ms", "requests") for f in counted),
                ],
                how="vertical_relaxed",
            )
            .group_by("ms")
            .agg(pl.col("requests").sum().alias("all")),
        ]
    )
    in_top = in_top.select(
        pl.col(HASH).replace_strict(top.get_column(HASH), top.get_column(RANK)).alias(RANK),
        "ms",
        "count",
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
