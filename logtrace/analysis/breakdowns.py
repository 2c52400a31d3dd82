"""Requests by one field of their line (``analyze --by``): per value, requests, share,
bytes sent, exact p50/p99 of request time and the 5xx rate; the top N values by requests
and one row for all the others, so the shares add up to 100%.

Like the overall percentiles (latency.py), each chunk of lines is reduced to counts per
(value, millisecond) that merge exactly; the top values are only known at the end, so
every value's counts are kept (memory grows with the distinct values, not the lines).
A value nginx logged as ``-`` (not found) is null, and is a row of its own.
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
    if n == "0":
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
# A merge of counts costs as much as the rows merged: counts are merged once what came
# since the last merge outgrows the merged counts (and this floor), so all the merges of
# a run cost about as much as two of its final size.
MERGE_FLOOR = {"totals": 500_000, "hist": 2_000_000}


@dataclass
class _Counts:
    """Frames of mergeable counts: one merged, the ones since."""

    keys: list[str]
    sums: list[str]
    floor: int
    merged: pl.DataFrame | None = None
    pending: list[pl.DataFrame] = field(default_factory=list)
    pending_rows: int = 0

    def add(self, frame: pl.DataFrame) -> None:
        self.pending.append(frame)
        self.pending_rows += frame.height
        done = self.merged.height if self.merged is not None else 0
        if self.pending_rows > max(done, self.floor) or len(self.pending) > 64:
            self.merged = self.merge()
            self.pending, self.pending_rows = [], 0

    def frames(self) -> list[pl.DataFrame]:
        return ([self.merged] if self.merged is not None else []) + self.pending

    def merge(self) -> pl.DataFrame | None:
        frames = self.frames()
        if not frames:
            return None
        merged = pl.concat(frames, how="vertical_relaxed").group_by(self.keys)
        return merged.agg(pl.col(self.sums).sum())


@dataclass
class _DimensionCounts:
    """One dimension's counts: per value (requests, 5xx, bytes), and the request times of
    each value in milliseconds, by the value's 64-bit hash (cheaper to group and merge
    than text; the text of the top values is found from their hashes)."""

    totals: _Counts = field(default_factory=lambda: _Counts(["value"], SUMS, MERGE_FLOOR["totals"]))
    hist: _Counts = field(
        default_factory=lambda: _Counts([HASH, "ms"], ["count"], MERGE_FLOOR["hist"])
    )


@dataclass
class BreakdownPartials:
    """Mergeable counts of each ``--by``, of the lines seen so far."""

    bys: tuple[By, ...]
    counts: dict[str, _DimensionCounts] = field(default_factory=dict)
    # request times of all lines, in ms: what the values past the top N took is this
    # less what the top values took
    overall: _Counts = field(default_factory=lambda: _Counts(["ms"], ["count"], 100_000))
    has_latency: bool = False
    has_bytes: bool = False

    def plans(self, lf: pl.LazyFrame, cols: list[str]) -> list[pl.LazyFrame]:
        """The queries that reduce one chunk: two group-bys per dimension."""
        self.has_latency |= "request_time_s" in cols
        size = bytes_expr(cols)
        self.has_bytes |= size is not None
        status = pl.col("status") if "status" in cols else pl.lit(None, pl.UInt16)
        ms = (pl.col("request_time_s") * 1000).round(0).cast(pl.Int64).alias("ms")
        out = []
        if "request_time_s" in cols:
            out.append(lf.group_by(ms).agg(pl.len().cast(pl.Int64).alias("count")))
        for name in self._names():
            d = DIMENSIONS[name]
            key = pl.lit(None, d.dtype) if d.needs is not None and d.needs not in cols else d.key()
            out.append(
                lf.group_by(key.alias("value")).agg(
                    pl.len().cast(pl.Int64).alias("requests"),
                    status.is_between(500, 599).sum().cast(pl.Int64).alias("errors"),
                    (size if size is not None else pl.lit(0, pl.Int64))
                    .sum()
                    .cast(pl.Int64)
                    .alias("bytes"),
                )
            )
            if "request_time_s" in cols:
                out.append(  # lines without a request time: ms null, left out at the end
                    lf.group_by(key.hash().alias(HASH), ms).agg(
                        pl.len().cast(pl.Int64).alias("count")
                    )
                )
        return out

    def take(self, results: list[pl.DataFrame], cols: list[str]) -> None:
        """Keep one chunk's results (in the order of :meth:`plans`)."""
        found = iter(results)
        if "request_time_s" in cols:
            self.overall.add(next(found))
        for name in self._names():
            counts = self.counts.setdefault(name, _DimensionCounts())
            counts.totals.add(next(found))
            if "request_time_s" in cols:
                counts.hist.add(next(found))

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
    counts = p.counts.get(by.dimension, _DimensionCounts())
    totals = counts.totals.merge()
    if totals is None:
        totals = pl.DataFrame(
            schema={
                "value": by.spec.dtype,
                "requests": pl.Int64,
                "errors": pl.Int64,
                "bytes": pl.Int64,
            }
        )
    total = int(totals.get_column("requests").sum() or 0)
    shown = totals.height if by.top is None else min(by.top, totals.height)
    order = {"by": ["requests", "value"], "descending": [True, False], "nulls_last": True}
    if shown < totals.height:  # only the values that may be in the top N are sorted
        least = totals.get_column("requests").top_k(shown).min()
        top = totals.filter(pl.col("requests") >= least).sort(**order).head(shown)  # type: ignore[arg-type]
    else:
        top = totals.sort(**order)  # type: ignore[arg-type]
    top = top.with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias(RANK))
    # every value past the top N is in one row, of rank N: the totals less the top's
    summed = ["requests", "errors", "bytes"]
    rest = totals.select(pl.col(summed).sum()) - top.select(pl.col(summed).sum())
    sums = pl.concat(
        [
            top.with_columns(pl.lit(1, pl.UInt32).alias("values")),
            rest.with_columns(
                pl.lit(None, totals.schema["value"]).alias("value"),
                pl.lit(shown, pl.Int64).alias(RANK),
                pl.lit(totals.height - shown, pl.UInt32).alias("values"),
            ),
        ],
        how="diagonal_relaxed",
    )
    if p.has_latency:
        lat = percentiles(_timed(p, counts, top), RANK).select(RANK, "p50_s", "p99_s")
        sums = sums.join(lat, on=RANK, how="left")
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


def _timed(p: BreakdownPartials, counts: _DimensionCounts, top: pl.DataFrame) -> pl.DataFrame:
    """(rank, ms, count) of the top values' request times (found by their hashes: no
    merge of every value's counts), and of the others' (rank N: all lines' less the top's)."""
    empty = pl.DataFrame(schema={RANK: pl.Int64, "ms": pl.Int64, "count": pl.Int64})
    hist, overall = counts.hist.frames(), p.overall.merge()
    if not hist or overall is None:
        return empty
    hashes = top.get_column("value").hash()
    ranks = top.get_column(RANK)
    shown = top.height
    top_hist = (
        pl.concat(hist, how="vertical_relaxed")
        .lazy()
        .filter(pl.col(HASH).is_in(hashes.implode()) & pl.col("ms").is_not_null())
        .group_by(pl.col(HASH).replace_strict(hashes, ranks).alias(RANK), "ms")
        .agg(pl.col("count").sum())
        .collect()
    )
    in_top = top_hist.group_by("ms").agg(pl.col("count").sum().alias("top"))
    rest = (
        overall.filter(pl.col("ms").is_not_null())
        .join(in_top, on="ms", how="left")
        .select(
            pl.lit(shown, pl.Int64).alias(RANK),
            "ms",
            (pl.col("count") - pl.col("top").fill_null(0)).alias("count"),
        )
        .filter(pl.col("count") > 0)
    )
    return pl.concat([empty, top_hist, rest], how="vertical_relaxed")
