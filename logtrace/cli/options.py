"""The options of the command line, and turning their values into library options."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from logtrace.cli.app import stderr_line
from logtrace.errors import ExitStatus, UsageError
from logtrace.plural import plural

if TYPE_CHECKING:
    from logtrace.analysis.derive import Filters
    from logtrace.ingest import FormatOptions, IngestReport
    from logtrace.when import Moment

Files = Annotated[
    list[str] | None,
    typer.Argument(
        help="Log files, directories, globs, or - for stdin. PATH@HOST sets the host.",
        show_default=False,
        metavar="FILES",
    ),
]
LogFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        "-f",
        metavar="FORMAT",
        help="The nginx log_format string (or whole directive).",
    ),
]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset",
        "-p",
        metavar="NAME",
        help="A named format: combined, main, trace, timing, upstreaminfo.",
    ),
]
NginxConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--nginx-conf",
        metavar="PATH",
        help="Read log_format/access_log from this nginx.conf (repeatable).",
    ),
]
FormatNameOpt = Annotated[
    str | None,
    typer.Option("--format-name", metavar="NAME", help="Which log_format of --nginx-conf to use."),
]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        metavar="HOST=PATH",
        help="Read PATH as the log of HOST (or HOST/SERVICE) (repeatable).",
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="TIME",
        help="Only requests that ended at or after TIME: before now (-15m, -2h, -1d, -30s, "
        "'15m ago', now); a time of day, today (10:03, 10:03:30, today, yesterday, "
        "'yesterday 18:00'); ISO 8601 (2019-01-22 03:57, 2019-01-22T03:57:00+03:30) or "
        "nginx's 22/Jan/2019:03:57:00 +0330. A TIME without a zone: in the UTC offset the "
        "logs write (as their lines show their times; a time of day: today there) when all "
        "logs that write one agree, else UTC; the report says which.",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        metavar="TIME",
        help="Only requests that ended before TIME (read as --since's; after it).",
    ),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Show times in ZONE: UTC, local (this machine's), an IANA name (Europe/Berlin) "
        "or an offset (+05:30). Default: the offset the logs write when they all agree, "
        "else UTC; the report says which. --json and exports stay in UTC.",
    ),
]
RouteOpt = Annotated[
    str | None,
    typer.Option(
        "--route",
        metavar="ROUTE|REGEX",
        help="Only this route, as reports show it ('/api/users/{id}'), or routes matching a "
        "regex ('^/api/').",
    ),
]
PathOpt = Annotated[
    str | None, typer.Option("--path", metavar="REGEX", help="Only paths matching this regex.")
]
StatusOpt = Annotated[
    str | None,
    typer.Option(
        "--status", metavar="STATUSES", help="Only these statuses: 500, 5xx, 404,5xx, 500-504."
    ),
]
EveryOpt = Annotated[
    str | None,
    typer.Option(
        "--every",
        metavar="SIZE",
        help="Also show requests over time in buckets of SIZE (30s, 1m, 5m, 1h, 1d) or auto "
        "(30-60 buckets of a round size): requests, req/s, 4xx/5xx rates, exact p50/p95/p99/"
        "max of request (and upstream) time. By logged time: nginx writes a line when the "
        "request ENDS, to the second.",
    ),
]
FailIfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-if",
        metavar="RULE",
        help="Exit with 8 when RULE holds (repeatable), after the report; each broken rule "
        "is printed on stderr with the value measured. RULE: METRIC OP VALUE [route=ROUTE]: "
        "p99>800ms, 'p95>300ms route=/api/orders/*', error_rate>1%, '5xx>0 route=/checkout', "
        "requests<100. Metrics: p50 p90 p95 p99 max mean, upstream_p50 ... upstream_mean, "
        "error_rate (5xx share), 4xx and 5xx (a count, or a share with %), requests.",
    ),
]
TopOpt = Annotated[
    int, typer.Option("--top", "-n", min=1, metavar="N", help="How many slowest requests to show.")
]
IdFieldOpt = Annotated[
    str | None,
    typer.Option(
        "--id-field", metavar="NAME", help="The nginx variable or app field holding the request id."
    ),
]
NoSkewOpt = Annotated[
    bool,
    typer.Option("--no-skew-correction", help="Show spans as logged; do not correct host clocks."),
]
AppFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--app-format",
        metavar="SHAPE",
        help="Shape of app logs: json, logfmt, python-logging, text.",
    ),
]
TimezoneOpt = Annotated[
    str,
    typer.Option(
        "--timezone",
        metavar="ZONE",
        help="Zone of app timestamps written without one (as --tz takes it; default UTC, "
        "or what a container runtime's times show).",
    ),
]
RequestIdOpt = Annotated[
    list[str] | None,
    typer.Option("--request-id", metavar="ID", help="Only these requests (repeatable)."),
]
LinesOpt = Annotated[
    bool, typer.Option("--lines/--no-lines", help="Include each span's original log line.")
]
ByOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--by",
        metavar="FIELD[:N]",
        help="Also show requests by FIELD (repeatable): the top N values (10; :all for every "
        "one) by requests, with share, bytes sent ($body_bytes_sent, else $bytes_sent), exact "
        "p50/p99 request time and 5xx rate, and one row for the other values. FIELD: status; "
        "ip ($remote_addr, the address nginx saw: "
        "behind a proxy, the proxy's); ua ($http_user_agent); referer ($http_referer); method; "
        "host ($host when logged, else the host the log came from); upstream (the address of "
        "the last $upstream_addr attempt, the one that answered; - when not proxied); source "
        "(the log file). A FIELD the log format lacks is an error (exit 5).",
    ),
]
TopRoutesOpt = Annotated[
    str,
    typer.Option(
        "--top-routes",
        metavar="N|all",
        help="How many routes the route table shows (all: every route; --json always has "
        "every route).",
    ),
]


def format_options(
    log_format: str | None,
    preset: str | None,
    nginx_conf: list[str] | None,
    format_name: str | None,
    app_format: str | None = None,
    timezone: str = "UTC",
) -> FormatOptions:
    from logtrace.ingest import FormatOptions
    from logtrace.when import app_timezone

    if log_format is not None and preset is not None:
        raise UsageError("--log-format and --preset both given", "choose one of them")
    return FormatOptions(
        log_format=log_format,
        preset=preset,
        nginx_confs=tuple(nginx_conf or ()),
        format_name=format_name,
        app_format=app_format,
        timezone=app_timezone(timezone),
    )


def parse_time(value: str, option: str, now: datetime | None = None) -> Moment:
    """A time as :func:`logtrace.when.parse_when` reads it: an instant in UTC, or a time
    without a zone (to be read as the logs show their times: Filters.for_logs);
    ``now``: the environment's clock when None."""
    from logtrace.when import parse_when

    return parse_when(value, option, now or clock())


def clock() -> datetime:
    """Now, from the environment (a test's fixed one, else the system clock)."""
    from logtrace.render.console import environment

    return environment().clock()


def parse_status(value: str) -> tuple[tuple[int, int], ...]:
    """``500``, ``5xx``, ``500-504`` and comma lists of them as inclusive ranges."""
    ranges = []
    for raw in value.split(","):
        part = raw.strip().lower()
        if re.fullmatch(r"[1-5]xx", part):
            lo = int(part[0]) * 100
            ranges.append((lo, lo + 99))
        elif re.fullmatch(r"\d{3}", part):
            ranges.append((int(part), int(part)))
        elif m := re.fullmatch(r"(\d{3})-(\d{3})", part):
            ranges.append((int(m.group(1)), int(m.group(2))))
        else:
            raise UsageError(
                f"--status {value!r}: cannot read {part!r}", "use 500, 5xx, 404,5xx or 500-504"
            )
    return tuple(ranges)


def filters(
    since: str | None,
    until: str | None,
    route: str | None,
    path: str | None,
    status: str | None,
    now: datetime | None = None,
) -> Filters:
    from logtrace.analysis.derive import Filters

    return Filters(
        since=parse_time(since, "--since", now) if since else None,
        until=parse_time(until, "--until", now) if until else None,
        route=route,
        path=path,
        status=parse_status(status) if status else (),
    )


def warn_partial(ingest: IngestReport, *, exit: bool = True) -> None:
    """Exit with PARTIAL (after the output) when some input could not be read whole (or
    only say so, when another exit status wins: a broken --fail-if rule's)."""
    if ingest.truncated:
        stderr_line("warning: some input was damaged; the results cover what could be read")
        if exit:
            raise typer.Exit(int(ExitStatus.PARTIAL))


MAX_SOURCES_TOLD = 5  # sources whose rejected (or unclassified) lines are told one by one


def warn_sources(ingest: IngestReport, side: str | None = None) -> None:
    """The sources' warnings and rejected lines, on stderr, for the commands whose output
    is not a report that lists them (exports, insights, compare): nothing is left out
    unsaid. ``logtrace analyze`` shows samples of each. Past ``MAX_SOURCES_TOLD`` sources
    with rejected (or unclassified) lines, the others are told together in one line.
    ``side``: compare's before/after."""
    from logtrace.render.console import safe_str

    said = f"{side}: " if side else ""
    rejected = [s for s in ingest.sources if s.lines_rejected]
    unclassified = [s for s in ingest.sources if s.app_events["unclassified"]]
    told_rejected = {id(s) for s in rejected[:MAX_SOURCES_TOLD]}
    told_unclassified = {id(s) for s in unclassified[:MAX_SOURCES_TOLD]}
    for s in ingest.sources:
        for warning in s.warnings:
            stderr_line(f"warning: {said}{safe_str(warning)}")
        if id(s) in told_rejected:
            why = ", ".join(f"{safe_str(r)}: {n:,}" for r, n in s.reasons.most_common())
            stderr_line(
                f"warning: {said}{safe_str(s.path)}: {s.lines_rejected:,} of "
                f"{s.lines_total:,} lines rejected ({why}); logtrace analyze shows samples"
            )
        if id(s) in told_unclassified:
            stderr_line(
                f"note: {said}{safe_str(s.path)}: {s.app_events['unclassified']:,} HTTP "
                "lines are neither a served request nor a call by their words and fields: "
                "no span"
            )
    more = rejected[MAX_SOURCES_TOLD:]
    if more:
        reasons: Counter[str] = Counter()
        for s in more:
            reasons.update(s.reasons)
        why = ", ".join(f"{safe_str(r)}: {n:,}" for r, n in reasons.most_common())
        lines = sum(s.lines_rejected for s in more)
        total = sum(s.lines_total for s in more)
        stderr_line(
            f"warning: {said}{plural(len(more), 'more source')}: {lines:,} of {total:,} "
            f"lines rejected ({why}); logtrace analyze --json lists each source"
        )
    rest = unclassified[MAX_SOURCES_TOLD:]
    if rest:
        n = sum(s.app_events["unclassified"] for s in rest)
        stderr_line(
            f"note: {said}{plural(len(rest), 'more source')}: {n:,} HTTP lines are neither a "
            "served request nor a call by their words and fields: no span"
        )


def parse_top_routes(value: str) -> int | None:
    """``--top-routes``: a count, or None for ``all``."""
    text = value.strip().lower()
    if text == "all":
        return None
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise UsageError(f"--top-routes {value!r} is not a count", "use a number of 1 or more, or all")
