"""``analyze --fail-if RULE``: a gate for CI. Rules are read (pyparsing) before any log is,
and measured on the finished report with the figures it shows: exact nearest-rank
percentiles from the counts per millisecond, of every request or of the routes a rule
names (their counts merged, so ``p99 route=/api/*`` is the p99 of all those requests).

    RULE   := METRIC OP VALUE [route=ROUTE]
    METRIC := p50 | p90 | p95 | p99 | max | mean        (request time)
            | upstream_p50 | ... | upstream_mean       (upstream time)
            | error_rate (share of 5xx) | 4xx | 5xx    (a count, or a share with %)
            | requests
    OP     := > | >= | < | <=
    VALUE  := 800ms, 1.5s, 2m (times); 1% (shares); 100 (counts)
    ROUTE  := a route as the report shows it (/api/users/{id}); * matches any characters

A rule is broken when the measured value satisfies it (``p99>800ms`` breaks when p99 is
over 800 ms). A rule about times or shares of routes with no request is not judged (and
says so); counts of such routes (``requests<N``, ``5xx>0``) are 0.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import polars as pl
import pyparsing as pp

from logtrace.analysis.percentiles import percentiles
from logtrace.errors import UsageError, caret_window

Kind = Literal["time", "share", "count"]

_TIMES = ("p50", "p90", "p95", "p99", "max", "mean")
METRICS: dict[str, tuple[str, ...]] = {  # metric → the value kinds it takes
    **dict.fromkeys(_TIMES, ("time",)),
    **{f"upstream_{name}": ("time",) for name in _TIMES},
    "error_rate": ("share",),
    "4xx": ("count", "share"),
    "5xx": ("count", "share"),
    "requests": ("count",),
}
_UNITS: dict[str, tuple[Kind, float]] = {
    "ms": ("time", 0.001),
    "s": ("time", 1.0),
    "m": ("time", 60.0),
    "%": ("share", 0.01),
    "": ("count", 1.0),
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class RuleError(UsageError):
    """A --fail-if rule that cannot be read: the rule and a caret under the column."""

    def __init__(self, message: str, hint: str, *, source_text: str, column: int) -> None:
        super().__init__(message, hint)
        self.source_text = source_text
        self.column = column

    def caret_lines(self, escape: Callable[[str], str] = str) -> list[str]:
        return caret_window(self.source_text, self.column, escape)


@dataclass(frozen=True)
class Rule:
    """One rule: ``metric op threshold`` over ``route`` (all requests when None)."""

    text: str
    metric: str
    op: str
    threshold: float  # seconds, a share (0.01 for 1%), or a count
    kind: Kind
    route: str | None = None

    def broken_by(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)


_METRIC = pp.Group(pp.Located(pp.Regex(r"[A-Za-z0-9_]+").set_name("a metric")))
_OP = pp.one_of(list(_OPS)).set_name("a comparison (>, >=, <, <=)")
_VALUE = pp.Group(
    pp.Located(pp.Regex(r"\d+(?:\.\d+)?[\w%.]*").set_name("a value (800ms, 1.5s, 1%, 100)"))
)
_ROUTE = pp.Suppress(pp.Literal("route=")) + pp.Regex(r"\S+").set_name("a route")
_END = pp.StringEnd().set_name("route=ROUTE or the end of the rule")
_RULE = _METRIC + _OP + _VALUE + pp.Opt(_ROUTE) + _END


def parse_rule(text: str) -> Rule:
    """``p99>800ms``, ``error_rate>1% route=/checkout`` ... as a :class:`Rule`; a
    RuleError pointing at the column it cannot read."""
    try:
        tokens = _RULE.parse_string(text, parse_all=True)
    except pp.ParseBaseException as exc:
        raise _error(text, exc.loc, f"expected {_expected(exc)}") from None
    (m_at, (metric,), _), op, (v_at, (value,), _) = tokens[0], tokens[1], tokens[2]
    route = str(tokens[3]) if len(tokens) > 3 else None
    if metric not in METRICS:
        raise _error(text, m_at, f"unknown metric {metric!r}")
    number, unit, unit_at = _split_value(value)
    if unit not in _UNITS:
        raise _error(text, v_at + unit_at, f"unknown unit {unit!r}")
    kind, scale = _UNITS[unit]
    if kind not in METRICS[metric]:
        raise _error(text, v_at, _wanted(metric))
    return Rule(text, metric, str(op), number * scale, kind, route)


def _split_value(value: str) -> tuple[float, str, int]:
    """``800ms`` as its number, its unit and where the unit starts (the grammar's form)."""
    number = re.match(r"\d+(?:\.\d+)?", value)
    assert number is not None  # the grammar's
    return float(number.group()), value[number.end() :], number.end()


def _expected(exc: pp.ParseBaseException) -> str:
    found = re.match(r"Expected (.*?)(?:, found .*)?$", exc.msg)
    return found.group(1) if found else exc.msg


def _wanted(metric: str) -> str:
    """What the value of ``metric`` must be, said when it is not."""
    kinds = METRICS[metric]
    if kinds == ("time",):
        return f"{metric} is a time: give its unit (800ms, 1.5s, 2m)"
    if kinds == ("share",):
        return f"{metric} is a share: write it with % (1%, 0.5%)"
    if kinds == ("count",):
        return f"{metric} is a count: write a whole number (100)"
    return f"{metric} is a count (0) or a share (1%)"


_RULE_HINT = (
    "write METRIC OP VALUE [route=ROUTE], such as p99>800ms, error_rate>1%, "
    "5xx>0 route=/checkout, requests<100; metrics: " + ", ".join(METRICS)
)


def _error(text: str, column: int, what: str, hint: str = _RULE_HINT) -> RuleError:
    return RuleError(
        f"--fail-if {text!r}: {what} at column {column + 1}",
        hint,
        source_text=text,
        column=column,
    )


@dataclass(frozen=True)
class Verdict:
    """A rule and what was measured: ``value`` None when it could not be (no request)."""

    rule: Rule
    value: float | None
    requests: int  # the requests the rule covers

    @property
    def broken(self) -> bool:
        return self.value is not None and self.rule.broken_by(self.value)


def _routes(frame: pl.DataFrame, route: str | None) -> pl.DataFrame:
    if route is None:
        return frame
    if "*" in route:
        pattern = "^" + ".*".join(re.escape(part) for part in route.split("*")) + "$"
        return frame.filter(pl.col("route").str.contains(pattern).fill_null(value=False))
    return frame.filter(pl.col("route") == route)


def measure(
    rules: tuple[Rule, ...],
    hist: pl.DataFrame | None,
    upstream_hist: pl.DataFrame | None,
    statuses: pl.DataFrame | None,
) -> tuple[Verdict, ...]:
    """Each rule measured on the report's (route, ms, count) histograms of request and
    upstream time and its (route, status, count) counts."""
    return tuple(_measure(rule, hist, upstream_hist, statuses) for rule in rules)


def _measure(
    rule: Rule,
    hist: pl.DataFrame | None,
    upstream_hist: pl.DataFrame | None,
    statuses: pl.DataFrame | None,
) -> Verdict:
    counts = _routes(statuses, rule.route) if statuses is not None else None
    requests = int(counts.get_column("count").sum()) if counts is not None else 0
    metric = rule.metric
    if metric == "requests":
        return Verdict(rule, float(requests), requests)
    if metric in ("error_rate", "4xx", "5xx"):
        if counts is None or not requests:  # a count of none is 0; a share of none is not
            return Verdict(rule, 0.0 if rule.kind == "count" else None, requests)
        lo = 400 if metric == "4xx" else 500
        n = int(counts.filter(pl.col("status").is_between(lo, lo + 99)).get_column("count").sum())
        return Verdict(rule, n / requests if rule.kind == "share" else float(n), requests)
    upstream = metric.startswith("upstream_")
    source = upstream_hist if upstream else hist
    chosen = _routes(source, rule.route) if source is not None else None
    if chosen is None or chosen.is_empty():
        return Verdict(rule, None, requests)
    figures = percentiles(chosen, None).row(0, named=True)
    column = f"{metric.removeprefix('upstream_')}_s"
    return Verdict(rule, float(figures[column]), requests)


# --- compare's rules: how much a figure may grow from before to after -------------------

_CHANGE = pp.Suppress(pp.Literal("+").set_name("'+' (p99+20%, p50+50ms)"))
_CHANGE_RULE = _METRIC + _CHANGE + _VALUE + pp.Opt(_ROUTE) + _END


@dataclass(frozen=True)
class ChangeRule:
    """``p99+20%``: broken when the after figure exceeds the before one by more than 20%
    (``kind`` share) or by more than ``threshold`` seconds (``kind`` time)."""

    text: str
    metric: str  # p50, p90, p95, p99
    threshold: float
    kind: Kind
    route: str | None = None


CHANGE_METRICS = ("p50", "p95", "p99")


def parse_change_rule(text: str) -> ChangeRule:
    """``p99+20%``, ``p50+50ms route=/api/*`` as a :class:`ChangeRule`; a RuleError
    pointing at the column it cannot read."""
    try:
        tokens = _CHANGE_RULE.parse_string(text, parse_all=True)
    except pp.ParseBaseException as exc:
        raise _change_error(text, exc.loc, f"expected {_expected(exc)}") from None
    (m_at, (metric,), _), (v_at, (value,), _) = tokens[0], tokens[1]
    route = str(tokens[2]) if len(tokens) > 2 else None
    if metric not in CHANGE_METRICS:
        raise _change_error(text, m_at, f"unknown metric {metric!r}")
    number, unit, unit_at = _split_value(value)
    if not unit:
        raise _change_error(text, v_at + unit_at, "a change needs its unit (20%, 50ms)")
    if unit not in _UNITS:
        raise _change_error(text, v_at + unit_at, f"unknown unit {unit!r}")
    kind, scale = _UNITS[unit]
    return ChangeRule(text, metric, number * scale, kind, route)


def _change_error(text: str, column: int, what: str) -> RuleError:
    return _error(
        text,
        column,
        what,
        "write METRIC+VALUE [route=ROUTE], such as p99+20%, p50+50ms, 'p95+10% route=/api/*'; "
        "metrics: " + ", ".join(CHANGE_METRICS),
    )


@dataclass(frozen=True)
class ChangeVerdict:
    """A compare rule and the figure before and after (None: no request on that side)."""

    rule: ChangeRule
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        """After minus before: seconds (``kind`` time) or a share of before."""
        if self.before is None or self.after is None:
            return None
        if self.rule.kind == "time":
            return self.after - self.before
        return (self.after - self.before) / self.before if self.before else None

    @property
    def broken(self) -> bool:
        return self.change is not None and self.change > self.rule.threshold


def measure_changes(
    rules: tuple[ChangeRule, ...], before: pl.DataFrame | None, after: pl.DataFrame | None
) -> tuple[ChangeVerdict, ...]:
    """Each rule measured on the (route, ms, count) histograms of the two sides."""

    def figure(hist: pl.DataFrame | None, rule: ChangeRule) -> float | None:
        chosen = _routes(hist, rule.route) if hist is not None else None
        if chosen is None or chosen.is_empty():
            return None
        return float(percentiles(chosen, None).row(0, named=True)[f"{rule.metric}_s"])

    return tuple(ChangeVerdict(r, figure(before, r), figure(after, r)) for r in rules)
