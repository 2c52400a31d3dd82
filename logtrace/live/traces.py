"""Slow traces as they complete: the lines of a request id from every log, held briefly.

A request's lines come from several logs at several moments (each service writes its
own when its part ends; nginx writes its line last, when the whole request ends). A
trace is taken as complete ``HOLD_S`` seconds of log time after its first nginx line:
by then the lines of the services it called, written before nginx's, have arrived
unless a log lags more than that. Its time is the longest nginx request time among its
lines; each service's time is what its served requests took (their logged durations,
summed when it served several; without a logged duration, from its first line to its
last). This is a glance, not ``logtrace trace``: no clocks are corrected and no spans
are placed. Lines of an id that no nginx line claims within ``ORPHAN_S`` are dropped,
and at most ``MAX_PENDING`` lines are held, so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

HOLD_S = 2
ORPHAN_S = 60
MAX_PENDING = 200_000
KEEP_S = 5 * 60  # completed traces listed from the last five minutes
PER_SECOND = 5  # the slowest traces completed in one second kept

_PENDING: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "origin": pl.String(),  # nginx | app
    "service": pl.String(),
    "time": pl.Datetime("us", "UTC"),
    "second": pl.Int64(),
    "duration_s": pl.Float64(),  # an nginx line's request time; an app server event's duration
    "route": pl.String(),
    "status": pl.UInt16(),
}
_SERVICE = pl.Struct({"service": pl.String, "time_s": pl.Float64})
_DONE: dict[str, pl.DataType] = {
    "second": pl.Int64(),
    "request_id": pl.String(),
    "route": pl.String(),
    "status": pl.UInt16(),
    "total_s": pl.Float64(),
    "services": pl.List(_SERVICE),
}


def _frame(lines: pl.DataFrame, origin: str, duration: pl.Expr) -> pl.DataFrame:
    cols = lines.columns

    def col(name: str, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
        return (pl.col(name) if name in cols else pl.lit(None)).cast(dtype).alias(name)

    return lines.filter(pl.col("request_id").is_not_null() & pl.col("time").is_not_null()).select(
        col("request_id", pl.String),
        pl.lit(origin).alias("origin"),
        col("service", pl.String),
        col("time", pl.Datetime("us", "UTC")),
        pl.col("time").dt.epoch("s").alias("second"),
        duration.cast(pl.Float64).alias("duration_s"),
        col("route", pl.String),
        col("status", pl.UInt16),
    )


@dataclass
class Traces:
    """Lines held by request id until their trace is complete, and the completed ones."""

    pending: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_PENDING))
    done: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_DONE))
    completed: int = 0
    dropped: int = 0  # lines of ids no nginx line claimed in time

    def add_nginx(self, lines: pl.DataFrame) -> None:
        """Hold nginx LINES that carry a request id."""
        if "request_id" not in lines.columns or "time" not in lines.columns:
            return
        rt = pl.col("request_time_s") if "request_time_s" in lines.columns else pl.lit(None)
        self._hold(_frame(lines, "nginx", rt))

    def add_app(self, lines: pl.DataFrame) -> None:
        """Hold app LINES that carry a request id (served requests give their duration)."""
        if "request_id" not in lines.columns or "time" not in lines.columns:
            return
        served = pl.col("event") == "server" if "event" in lines.columns else pl.lit(value=False)
        took = pl.col("duration_s") if "duration_s" in lines.columns else pl.lit(None)
        self._hold(_frame(lines, "app", pl.when(served).then(took)))

    def _hold(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self.pending = pl.concat([self.pending, frame.cast(_PENDING)])  # type: ignore[arg-type]

    def complete(self, now: int) -> None:
        """Close the traces whose first nginx line is ``HOLD_S`` old at ``now`` (the
        newest second of log time seen); drop what is too old to be claimed."""
        pending = self.pending
        nginx = pl.col("origin") == "nginx"
        entry = pending.filter(nginx).group_by("request_id").agg(pl.col("second").min())
        ready = entry.filter(pl.col("second") <= now - HOLD_S).get_column("request_id")
        if ready.len():
            closing = pending.filter(pl.col("request_id").is_in(ready.implode()))
            self.pending = pending = pending.filter(~pl.col("request_id").is_in(ready.implode()))
            finished = _summarise(closing, now)
            self.completed += finished.height
            keep = pl.col("second") > now - KEEP_S
            both = pl.concat([self.done.filter(keep), finished])
            rank = pl.col("total_s").rank("ordinal", descending=True).over("second")
            self.done = both.filter(rank <= PER_SECOND)
        claimed = pl.col("request_id").is_in(entry.get_column("request_id").implode())
        stale = (pl.col("second") <= now - ORPHAN_S) & ~claimed
        fresh = pending.filter(~stale)
        if fresh.height > MAX_PENDING:
            fresh = fresh.sort("time").tail(MAX_PENDING)
        self.dropped += pending.height - fresh.height
        self.pending = fresh

    def slowest(self, n: int) -> pl.DataFrame:
        """The ``n`` slowest traces completed in the last ``KEEP_S`` seconds kept."""
        return self.done.sort(["total_s", "second"], descending=True).head(n)


def _summarise(lines: pl.DataFrame, now: int) -> pl.DataFrame:
    """One row per request id of ``lines`` (each has an nginx line): see the module."""
    per_service = (
        lines.group_by("request_id", "service")
        .agg(
            pl.when(pl.col("duration_s").is_not_null().any())
            .then(
                pl.when((pl.col("origin") == "nginx").any())
                .then(pl.col("duration_s").max())
                .otherwise(pl.col("duration_s").sum())
            )
            .otherwise((pl.col("time").max() - pl.col("time").min()).dt.total_microseconds() / 1e6)
            .alias("time_s"),
        )
        .sort("time_s", descending=True)
        .group_by("request_id", maintain_order=True)
        .agg(pl.struct("service", "time_s").alias("services"))
    )
    entry = (
        lines.filter(pl.col("origin") == "nginx")
        .sort("duration_s", descending=True, nulls_last=True)
        .group_by("request_id", maintain_order=True)
        .agg(
            pl.col("route").first(),
            pl.col("status").first(),
            pl.col("duration_s").first().alias("total_s"),
        )
    )
    return (
        entry.join(per_service, on="request_id", how="left")
        .with_columns(pl.lit(now, dtype=pl.Int64).alias("second"))
        .select(list(_DONE))
        .cast(_DONE)  # type: ignore[arg-type]
    )
