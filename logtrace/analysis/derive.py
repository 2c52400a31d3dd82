"""What analyze asks of LINES: the columns it parses, the lines it keeps (filters) and the
columns it derives from them (route, upstream time over all attempts, retry cost,
nginx-side time). Runs next to the parsing, chunk by chunk."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl

from logtrace.analysis.route_guard import STAR
from logtrace.errors import UsageError
from logtrace.offsets import LogOffsets, format_offset, log_offsets
from logtrace.routes import with_routes
from logtrace.sources import Source
from logtrace.when import DayTime, Moment, in_utc

# The columns analyze asks the parser for; absent ones are simply not in the format.
ANALYZE_COLUMNS = frozenset(
    {
        "time",
        "start",
        "request_time_s",
        "status",
        "method",
        "path",
        "request_id",
        "upstream_response_time_s",
        "upstream_status",
        "upstream_addr",
        "body_bytes_sent",
        "bytes_sent",
    }
)


# A placeholder of a route template (routes.py, route_guard.py): never a regex
# repetition, which is {n,m}
_PLACEHOLDER = re.compile(r"\{(?:[A-Za-z_]\w*|\*)\}")


def is_route_template(route: str) -> bool:
    """Whether ``route`` is a template as reports show it (``/api/users/{id}``)."""
    return _PLACEHOLDER.search(route) is not None


def route_condition(template: str) -> pl.Expr:
    """The lines of a route as a report shows it: that template exactly, where ``{*}``
    (a position the cardinality guard collapsed) stands for any one segment (the lines
    are filtered before the guard sees the whole input)."""
    if STAR not in template:
        return (pl.col("route") == template).fill_null(value=False)
    regex = "^" + "[^/]*".join(re.escape(part) for part in template.split(STAR)) + "$"
    return pl.col("route").str.contains(regex).fill_null(value=False)


@dataclass(frozen=True)
class Filters:
    """Which lines analyze looks at; all conditions must hold.

    ``since``/``until`` without a zone are times as the logs show them: :meth:`for_logs`
    reads them in the UTC offset the logs write (UTC where no offset is known). ``route``
    is a template as the reports show it (``/api/users/{id}``: that route exactly;
    ``{*}`` any one segment) or a regex on the routes; ``path`` a regex on the paths.
    Regexes run in polars' engine (Rust syntax: no look-around). A bad regex or a
    ``since`` not before ``until`` is a UsageError. A time of day (:class:`DayTime`:
    ``10:03``, ``yesterday``) is read on today as the logs show their times, in the same
    offset.
    """

    since: Moment | None = None
    until: Moment | None = None
    route: str | None = None
    path: str | None = None
    status: tuple[tuple[int, int], ...] = ()  # inclusive ranges: 5xx → (500, 599)
    # how since/until given without a zone were read: "+03:30 (the offset the logs write)"
    zone: str | None = None
    utc_offset: timedelta | None = None  # the offset they were read in (None: UTC)
    today: date | None = None  # the day a time of day (10:03, yesterday) was read on

    def __post_init__(self) -> None:
        if self.route is not None and not is_route_template(self.route):
            _check_regex("--route", self.route)
        if self.path is not None:
            _check_regex("--path", self.path)
        since, until = self.since, self.until
        if since is None or until is None or _kind(since) != _kind(until):
            return  # a time without a zone is compared once the logs' offset is known
        # two times of day: in the same offset, on days counted from the same today
        if in_utc(since) >= in_utc(until):
            raise UsageError(
                f"--since {_shown(since, self.utc_offset)} is not before "
                f"--until {_shown(until, self.utc_offset)}",
                "the requests kept ended at or after --since and before --until"
                + (f"; times without a zone were read in {self.zone}" if self.zone else ""),
            )

    @property
    def zoneless(self) -> bool:
        """Whether ``since`` or ``until`` has no zone yet (see :meth:`for_logs`)."""
        return any(
            isinstance(t, DayTime) or (t is not None and t.tzinfo is None)
            for t in (self.since, self.until)
        )

    def in_offset(self, offset: timedelta | None, why: str) -> Filters:
        """These filters with ``since``/``until`` given without a zone read in ``offset``
        (UTC when None); ``why`` says where the offset comes from, for reports."""
        if not self.zoneless:
            return self
        tz = timezone(offset) if offset is not None else UTC

        def read(t: Moment | None) -> Moment | None:
            if isinstance(t, DayTime):
                return t.at(offset)
            if t is None or t.tzinfo is not None:
                return t
            return t.replace(tzinfo=tz).astimezone(UTC)

        shown = format_offset(offset) if offset is not None else "UTC"
        day_times = [t for t in (self.since, self.until) if isinstance(t, DayTime)]
        return replace(
            self,
            since=read(self.since),
            until=read(self.until),
            zone=f"{shown} ({why})",
            utc_offset=offset,
            today=day_times[0].day(offset) + timedelta(days=day_times[0].days_ago)
            if day_times
            else None,
        )

    def for_logs(self, sources: Sequence[Source]) -> Filters:
        """These filters with times given without a zone read as the logs show their
        times: in the UTC offset every log that writes one writes, else in UTC."""
        if not self.zoneless:
            return self
        return self.for_offsets(log_offsets(sources))

    def for_offsets(self, found: LogOffsets) -> Filters:
        """:meth:`for_logs`, with the offsets the logs write already read."""
        return self.in_offset(found.agreed, found.describe()) if self.zoneless else self

    @property
    def instants(self) -> tuple[datetime | None, datetime | None]:
        """``since`` and ``until`` as instants (a time without a zone not yet read for
        the logs: in UTC)."""
        since, until = self.since, self.until
        return (
            None if since is None else in_utc(since),
            None if until is None else in_utc(until),
        )

    @property
    def given(self) -> bool:
        """Whether any condition is set."""
        return self.expr(["time", "path", "status", "route"]) is not None

    def expr(self, columns: list[str]) -> pl.Expr | None:
        conds: list[pl.Expr] = []
        since, until = self.instants  # a time without a zone not read for the logs: UTC
        if since is not None and "time" in columns:
            conds.append(pl.col("time") >= since)
        if until is not None and "time" in columns:
            conds.append(pl.col("time") < until)
        if self.route is not None and is_route_template(self.route):
            conds.append(route_condition(self.route))
        elif self.route is not None:
            conds.append(pl.col("route").str.contains(self.route).fill_null(value=False))
        if self.path is not None and "path" in columns:
            conds.append(pl.col("path").str.contains(self.path).fill_null(value=False))
        if self.status and "status" in columns:
            conds.append(
                pl.any_horizontal([pl.col("status").is_between(lo, hi) for lo, hi in self.status])
            )
        if not conds:
            return None
        return pl.all_horizontal(conds)


@dataclass
class Unfiltered:
    """The requests the filters were applied to: how many, and when they ended (the
    logs' range, to show when the filters keep none)."""

    requests: int = 0
    time_min: datetime | None = None
    time_max: datetime | None = None

    def see(self, lines: pl.DataFrame) -> None:
        """Count one chunk of requests before the filters."""
        self.requests += lines.height
        if "time" not in lines.columns or lines.is_empty():
            return
        times = lines.get_column("time")
        lo, hi = times.min(), times.max()
        if isinstance(lo, datetime):
            self.time_min = lo if self.time_min is None else min(self.time_min, lo)
        if isinstance(hi, datetime):
            self.time_max = hi if self.time_max is None else max(self.time_max, hi)


def _kind(t: Moment) -> str:
    """Times of one kind can be compared before the logs' offset is known."""
    if isinstance(t, DayTime):
        return "day time"
    return "instant" if t.tzinfo is not None else "without a zone"


def _shown(t: Moment, offset: timedelta | None) -> str:
    """As given (a time of day: as typed), or in the offset it was read in."""
    if isinstance(t, DayTime):
        return ("yesterday " if t.days_ago else "") + t.clock.isoformat()
    if t.tzinfo is not None and offset is not None:
        return t.astimezone(timezone(offset)).isoformat()
    return t.isoformat()


def _check_regex(option: str, regex: str) -> None:
    """Checked by the engine that runs it (polars'), which has no look-around."""
    try:
        pl.Series([""]).str.contains(regex)
    except pl.exceptions.PolarsError as exc:
        found = re.search(r"^error: (.*)$", str(exc), re.M)
        reason = found.group(1) if found else "rejected by the regex engine"
        raise UsageError(
            f"{option} {regex!r} is not a valid regex: {reason}",
            "check the pattern (no look-around or backreferences: Rust regex syntax)",
        ) from None


def select_traces(spans: pl.DataFrame, filters: Filters) -> pl.DataFrame:
    """The spans of the traces whose entry request matches ``filters``: each trace is
    judged by its root span, whose time is when its line was written (as a line's)."""
    if not filters.given or spans.is_empty():
        return spans
    roots = spans.filter(pl.col("parent_sid").is_null()).select(
        "request_id", "route", "path", "status", pl.col("raw_end").alias("time")
    )
    keep = filters.expr(roots.columns)
    assert keep is not None
    matching = roots.filter(keep).select("request_id").unique()
    return spans.join(matching, on="request_id", how="semi", maintain_order="left")


def derive(lines: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """Add route, upstream time (all attempts), attempts, retry cost and nginx-side time."""
    lf = (
        with_routes(lines)
        if "path" in columns
        else lines.with_columns(route=pl.lit(None, pl.String))
    )
    if "upstream_response_time_s" in columns:
        urt = pl.col("upstream_response_time_s")
        lf = lf.with_columns(
            urt.list.sum().alias("upstream_time_s"),
            urt.list.len().cast(pl.UInt32).alias("upstream_attempts"),
            # Every attempt but the last failed and was retried.
            (urt.list.sum() - urt.list.last().fill_null(0.0)).alias("retry_cost_s"),
        ).with_columns(
            pl.when(pl.col("upstream_attempts").is_null())
            .then(None)
            .otherwise(pl.col("upstream_time_s"))
            .alias("upstream_time_s")
        )
        if "request_time_s" in columns:
            # Monotonic upstream timers can exceed the wall-clock request time by 1 ms.
            lf = lf.with_columns(
                (pl.col("request_time_s") - pl.col("upstream_time_s").fill_null(0.0))
                .clip(lower_bound=0.0)
                .alias("nginx_time_s")
            )
    return lf
