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

DEFAULT_TOP = 10


@dataclass(frozen=True)
class Dimension:
    """A field requests can be broken down by: what it reads and how it is shown."""

    name: str
    title: str  # a table's header
    needs: str | None  # the LINES column the format must log (None: always there)
    logged_as: str  # what nginx logs it as, for messages
    key: Callable[[], pl.Expr]  # the value, as text


def _text(column: str) -> Callable[[], pl.Expr]:
    return lambda: pl.col(column).cast(pl.String)


# The address of the last upstream attempt: the one whose answer was sent ("a, b : c"
# lists every attempt; the earlier ones failed).
def _last_upstream() -> pl.Expr:
    return pl.col("upstream_addr").list.last()


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("status", "status", "status", "$status", _text("status")),
        Dimension("ip", "client address", "remote_addr", "$remote_addr", _text("remote_addr")),
        Dimension(
            "ua", "user agent", "http_user_agent", "$http_user_agent", _text("http_user_agent")
        ),
        Dimension("referer", "referer", "http_referer", "$http_referer", _text("http_referer")),
        Dimension("method", "method", "method", "$request or $request_method", _text("method")),
        Dimension("host", "host", None, "$host", _text("host")),
        Dimension("upstream", "upstream", "upstream_addr", "$upstream_addr", _last_upstream),
        Dimension("source", "source", None, "the log source", _text("source")),
    )
}
# What breakdowns read beyond analyze's own columns ("host": $host, when the format has it).
BY_COLUMNS = frozenset({"remote_addr", "http_user_agent", "http_referer", "host", "bytes_sent"})

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


KEYS = ["value", "ms"]
SUMS = ["requests", "errors", "bytes"]


@dataclass
class BreakdownPartials:
    """Mergeable counts per (value, millisecond) of each ``--by``, of the lines so far."""

    bys: tuple[By, ...]
    counts: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    has_latency: bool = False
    has_bytes: bool = False

    def plans(self, lf: pl.LazyFrame, cols: list[str]) -> list[pl.LazyFrame]:
        """The queries that reduce one chunk: one group-by per dimension."""
        self.has_latency |= "request_time_s" in cols
        size = bytes_expr(cols)
        self.has_bytes |= size is not None
        ms = (
            (pl.col("request_time_s") * 1000).round(0).cast(pl.Int64)
            if "request_time_s" in cols
            else pl.lit(None, pl.Int64)
        )
        status = pl.col("status") if "status" in cols else pl.lit(None, pl.UInt16)
        out = []
        for name in self._names():
            d = DIMENSIONS[name]
            if d.needs is not None and d.needs not in cols:
                key = pl.lit(None, pl.String)
            else:
                key = d.key()
            out.append(
                lf.group_by(key.alias("value"), ms.alias("ms")).agg(
                    pl.len().cast(pl.Int64).alias("requests"),
                    status.is_between(500, 599).sum().cast(pl.Int64).alias("errors"),
                    (size if size is not None else pl.lit(0, pl.Int64))
                    .sum()
                    .cast(pl.Int64)
                    .alias("bytes"),
                )
            )
        return out

    def take(self, results: list[pl.DataFrame]) -> None:
        """Keep one chunk's results (in the order of :meth:`plans`)."""
        for name, frame in zip(self._names(), results, strict=True):
            kept = self.counts.setdefault(name, [])
            kept.append(frame)
            if len(kept) > 8:
                self.counts[name] = [_merged(kept)]

    def _names(self) -> list[str]:
        return list(dict.fromkeys(b.dimension for b in self.bys))


def _merged(frames: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(frames, how="vertical_relaxed").group_by(KEYS).agg(pl.col(SUMS).sum())


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
    frames = p.counts.get(by.dimension, [])
    hist = (
        _merged(frames)
        if frames
        else pl.DataFrame(
            schema={
                "value": pl.String,
                "ms": pl.Int64,
                "requests": pl.Int64,
                "errors": pl.Int64,
                "bytes": pl.Int64,
            }
        )
    )
    per_value = (
        hist.group_by("value")
        .agg(pl.col("requests", "errors", "bytes").sum())
        .sort(["requests", "value"], descending=[True, False], nulls_last=True)
    )
    total = int(per_value.get_column("requests").sum() or 0)
    shown = per_value.height if by.top is None else min(by.top, per_value.height)
    # each value's rank; every value past the top N shares rank N (the "other" row)
    ranks = per_value.select(
        "value", pl.int_range(pl.len()).clip(upper_bound=shown).cast(pl.Int64).alias(RANK)
    )
    ranked = hist.join(ranks, on="value", how="left", nulls_equal=True)
    sums = ranked.group_by(RANK).agg(
        pl.col("requests", "errors", "bytes").sum(),
        pl.col("value").first(),
        pl.col("value").n_unique().alias("values"),
    )
    if p.has_latency:
        timed = ranked.filter(pl.col("ms").is_not_null()).select(
            RANK, "ms", pl.col("requests").alias("count")
        )
        lat = percentiles(timed, RANK).select(RANK, "p50_s", "p99_s")
        sums = sums.join(lat, on=RANK, how="left")
    else:
        sums = sums.with_columns(
            pl.lit(None, pl.Float64).alias("p50_s"), pl.lit(None, pl.Float64).alias("p99_s")
        )
    sums = sums.sort(RANK).with_columns(
        (pl.col("requests") / total).alias("share"),
        (pl.col("errors") / pl.col("requests")).alias("error_rate"),
        pl.col("bytes") if p.has_bytes else pl.lit(None, pl.Int64).alias("bytes"),
    )
    rows = sums.filter(pl.col(RANK) < shown).select(ROW_COLUMNS)
    rest = sums.filter(pl.col(RANK) >= shown)
    other = (
        rest.with_columns(pl.lit(None, pl.String).alias("value")).select(*ROW_COLUMNS, "values")
        if rest.height
        else None
    )
    return BreakdownTable(by.dimension, by.top, per_value.height, total, rows, other)
