"""The command line: options in, one library call, a renderer or exporter out.

The only module that imports typer. Library modules are imported inside the commands so
that ``logtrace --help`` and ``--version`` start fast (polars alone takes ~0.3 s).
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from logtrace import __version__
from logtrace.errors import ExitStatus, LogtraceError, UsageError

if TYPE_CHECKING:
    from logtrace.analysis.latency import Filters
    from logtrace.ingest import FormatOptions

app = typer.Typer(
    name="logtrace",
    help="Turn nginx and application logs into per-request traces and latency reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
export_app = typer.Typer(
    help="Write requests or traces to files (CSV, JSON, ...).", no_args_is_help=True
)
app.add_typer(export_app, name="export")

_state = {"traceback": False}

# --- shared options ----------------------------------------------------------------------

Files = Annotated[
    list[str],
    typer.Argument(
        help="Log files, directories, globs, or - for stdin. PATH@HOST sets the host.",
        show_default=False,
    ),
]
LogFormatOpt = Annotated[
    str | None,
    typer.Option("--log-format", "-f", help="The nginx log_format string (or whole directive)."),
]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset", "-p", help="A named format: combined, main, trace, timing, upstreaminfo."
    ),
]
NginxConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--nginx-conf", help="Read log_format/access_log from this nginx.conf (repeatable)."
    ),
]
FormatNameOpt = Annotated[
    str | None, typer.Option("--format-name", help="Which log_format of --nginx-conf to use.")
]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option("--source", help="HOST=PATH (or HOST/SERVICE=PATH): label a source (repeatable)."),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only requests that ended at or after this time.")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Only requests that ended before this time.")
]
RouteOpt = Annotated[
    str | None, typer.Option("--route", help="Only routes matching this regex (e.g. '^/api/').")
]
PathOpt = Annotated[str | None, typer.Option("--path", help="Only paths matching this regex.")]
StatusOpt = Annotated[
    str | None,
    typer.Option("--status", help="Only these statuses: 500, 5xx, 404,5xx, 500-504."),
]
TopOpt = Annotated[
    int, typer.Option("--top", "-n", min=1, help="How many slowest requests to show.")
]


def _format_options(
    log_format: str | None,
    preset: str | None,
    nginx_conf: list[str] | None,
    format_name: str | None,
    app_format: str | None = None,
    timezone: str = "UTC",
) -> FormatOptions:
    from logtrace.ingest import FormatOptions

    if log_format is not None and preset is not None:
        raise UsageError("--log-format and --preset both given", "choose one of them")
    return FormatOptions(
        log_format=log_format,
        preset=preset,
        nginx_confs=tuple(nginx_conf or ()),
        format_name=format_name,
        app_format=app_format,
        timezone=timezone,
    )


_TIME_FORMATS = ("%d/%b/%Y:%H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z")


def parse_time(value: str, option: str) -> datetime:
    """ISO 8601 (zone optional, UTC when absent) or nginx's $time_local form."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for form in _TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, form)
                break
            except ValueError:
                continue
    if parsed is None:
        raise UsageError(
            f"{option} {value!r} is not a time",
            "use ISO 8601 such as 2026-11-26T08:00:00 (UTC) or 2026-11-26T08:00:00-03:30",
        )
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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


def _filters(
    since: str | None, until: str | None, route: str | None, path: str | None, status: str | None
) -> Filters:
    from logtrace.analysis.latency import Filters

    for option, regex in (("--route", route), ("--path", path)):
        if regex is not None:
            try:
                re.compile(regex)
            except re.error as exc:
                raise UsageError(
                    f"{option} {regex!r} is not a valid regex: {exc}", "check the pattern"
                ) from None
    return Filters(
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
        route=route,
        path=path,
        status=parse_status(status) if status else (),
    )


def _sources(files: list[str], source: list[str] | None) -> list:  # type: ignore[type-arg]
    from logtrace.sources import resolve_sources

    specs = list(files)
    if not specs and not source and not sys.stdin.isatty():
        specs = ["-"]
    return resolve_sources(specs, source or ())


# --- commands ------------------------------------------------------------------------------


@app.command()
def analyze(
    files: Files = None,  # type: ignore[assignment]
    log_format: LogFormatOpt = None,
    preset: PresetOpt = None,
    nginx_conf: NginxConfOpt = None,
    format_name: FormatNameOpt = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    route: RouteOpt = None,
    path: PathOpt = None,
    status: StatusOpt = None,
    top: TopOpt = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    export_csv: Annotated[
        Path | None,
        typer.Option("--export-csv", help="Also write the top N slowest requests as CSV."),
    ] = None,
) -> None:
    """Latency report: percentiles per route, where the time goes, the slowest requests."""
    from logtrace.analysis.analyze import AnalyzeOptions
    from logtrace.analysis.analyze import analyze as run
    from logtrace.render.console import make_console

    options = AnalyzeOptions(
        formats=_format_options(log_format, preset, nginx_conf, format_name),
        filters=_filters(since, until, route, path, status),
        top=top,
        keep_lines=export_csv is not None,
    )
    result = run(_sources(files or [], source), options)
    if export_csv is not None:
        from logtrace.analysis.slowest import slowest_requests
        from logtrace.export.csv import write_csv

        write_csv(slowest_requests(result), export_csv)
    if as_json:
        from logtrace.export.report import analysis_json

        sys.stdout.write(analysis_json(result) + "\n")
    else:
        from logtrace.render.tables import render_analysis

        render_analysis(make_console(), result)
    _warn_partial(result.ingest)


def _warn_partial(ingest: object) -> None:
    from logtrace.ingest import IngestReport

    assert isinstance(ingest, IngestReport)
    if ingest.truncated:
        _stderr_line("warning: some input was damaged; the results cover what could be read")
        raise typer.Exit(int(ExitStatus.PARTIAL))


@export_app.command("slowest")
def export_slowest(
    files: Files = None,  # type: ignore[assignment]
    csv: Annotated[
        Path, typer.Option("--csv", help="Write the requests as CSV here (- for stdout).")
    ] = Path("-"),
    top: TopOpt = 100,
    log_format: LogFormatOpt = None,
    preset: PresetOpt = None,
    nginx_conf: NginxConfOpt = None,
    format_name: FormatNameOpt = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    route: RouteOpt = None,
    path: PathOpt = None,
    status: StatusOpt = None,
) -> None:
    """The N slowest requests with every field of their log line, as CSV."""
    from logtrace.analysis.analyze import AnalyzeOptions
    from logtrace.analysis.analyze import analyze as run
    from logtrace.analysis.slowest import slowest_requests
    from logtrace.export.csv import write_csv

    options = AnalyzeOptions(
        formats=_format_options(log_format, preset, nginx_conf, format_name),
        filters=_filters(since, until, route, path, status),
        top=top,
        keep_lines=True,
    )
    result = run(_sources(files or [], source), options)
    frame = slowest_requests(result)
    write_csv(frame, csv)
    if str(csv) != "-":
        _stderr_line(f"wrote {frame.height} requests to {csv}")
    _warn_partial(result.ingest)


IdFieldOpt = Annotated[
    str | None,
    typer.Option("--id-field", help="The nginx variable or app field holding the request id."),
]
NoSkewOpt = Annotated[
    bool,
    typer.Option("--no-skew-correction", help="Show spans as logged; do not correct host clocks."),
]
AppFormatOpt = Annotated[
    str | None,
    typer.Option("--app-format", help="Shape of app logs: json, logfmt, python-logging, text."),
]
TimezoneOpt = Annotated[
    str, typer.Option("--timezone", help="Zone of app timestamps written without one.")
]


def _timeline_options(
    formats: FormatOptions, id_field: str | None, no_skew: bool, keep_lines: bool = False
) -> object:
    from logtrace.timelines.load import TimelineOptions

    return TimelineOptions(
        formats=formats, skew_correction=not no_skew, id_field=id_field, keep_lines=keep_lines
    )


@app.command()
def trace(
    request_id: Annotated[str, typer.Argument(help="The request id (or a unique prefix of it).")],
    files: Files = None,  # type: ignore[assignment]
    lines: Annotated[
        bool, typer.Option("--lines", help="Show each span's original log lines.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the spans as JSON.")] = False,
    flow: Annotated[
        bool, typer.Option("--flow/--no-flow", help="Also draw the request flow.")
    ] = True,
    log_format: LogFormatOpt = None,
    preset: PresetOpt = None,
    nginx_conf: NginxConfOpt = None,
    format_name: FormatNameOpt = None,
    app_format: AppFormatOpt = None,
    timezone: TimezoneOpt = "UTC",
    source: SourceOpt = None,
    id_field: IdFieldOpt = None,
    no_skew_correction: NoSkewOpt = False,
) -> None:
    """One request as a Gantt chart and a request-flow graph, across every host's logs."""
    from logtrace.analysis.trace import trace as build
    from logtrace.render.console import make_console
    from logtrace.timelines.load import load

    sources = _sources(files or [], source)
    fmt = _format_options(log_format, preset, nginx_conf, format_name, app_format, timezone)
    keep = lines and any(s.is_stdin for s in sources)
    loaded = load(sources, _timeline_options(fmt, id_field, no_skew_correction, keep))  # type: ignore[arg-type]
    result = build(loaded, request_id, with_lines=lines, sources=sources)
    if as_json:
        from logtrace.export.trace_json import trace_json

        sys.stdout.write(trace_json(result) + "\n")
        return
    from logtrace.render.gantt import render_gantt

    console = make_console()
    render_gantt(console, result, show_lines=lines)
    if flow:
        from logtrace.render.flow import render_flow

        console.print()
        render_flow(console, result)


@app.command()
def insights(
    files: Files = None,  # type: ignore[assignment]
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    per_request: Annotated[
        bool, typer.Option("--per-request", help="With --json: also every request's findings.")
    ] = False,
    min_calls: Annotated[
        int, typer.Option("--min-calls", min=2, help="N+1: calls to one service and route.")
    ] = 5,
    min_repeats: Annotated[
        int, typer.Option("--min-repeats", min=2, help="Repeated: the same GET this often.")
    ] = 2,
    slow_client_share: Annotated[
        float,
        typer.Option(
            "--slow-client-share",
            min=0.0,
            max=1.0,
            help="Slow client: share of request time spent by nginx.",
        ),
    ] = 0.5,
    slow_client_min: Annotated[
        float, typer.Option("--slow-client-min", min=0.0, help="Slow client: at least this (s).")
    ] = 0.1,
    log_format: LogFormatOpt = None,
    preset: PresetOpt = None,
    nginx_conf: NginxConfOpt = None,
    format_name: FormatNameOpt = None,
    app_format: AppFormatOpt = None,
    timezone: TimezoneOpt = "UTC",
    source: SourceOpt = None,
    id_field: IdFieldOpt = None,
    no_skew_correction: NoSkewOpt = False,
) -> None:
    """What to fix: N+1 calls, sequential calls, repeats, retries, timeouts, slow clients."""
    from logtrace.analysis.insights import InsightOptions, find_insights
    from logtrace.render.console import make_console
    from logtrace.timelines.load import load

    sources = _sources(files or [], source)
    fmt = _format_options(log_format, preset, nginx_conf, format_name, app_format, timezone)
    loaded = load(sources, _timeline_options(fmt, id_field, no_skew_correction))  # type: ignore[arg-type]
    options = InsightOptions(
        min_calls=min_calls,
        min_repeats=min_repeats,
        slow_client_share=slow_client_share,
        slow_client_min_s=slow_client_min,
    )
    result = find_insights(loaded.timelines.spans, options)
    if as_json:
        from logtrace.export.insights_json import insights_json

        sys.stdout.write(insights_json(result, per_request=per_request) + "\n")
        return
    from logtrace.render.insights import render_insights

    render_insights(make_console(), result)


@app.command()
def formats(
    nginx_conf: NginxConfOpt = None,
    show_regex: Annotated[
        bool, typer.Option("--regex", help="Also show the compiled regexes.")
    ] = False,
) -> None:
    """List the preset log formats (and those of --nginx-conf)."""
    from logtrace.log_format.compiler import compile_format
    from logtrace.log_format.nginx_conf import read_nginx_conf
    from logtrace.log_format.presets import PRESETS
    from logtrace.render.console import make_console
    from logtrace.render.formats import render_formats

    entries = [(p.name, p.description, p.compiled()) for p in PRESETS.values()]
    for conf in nginx_conf or []:
        config = read_nginx_conf(conf)
        entries += [
            (name, f"from {conf}", compile_format(fmt)) for name, fmt in config.formats.items()
        ]
    render_formats(make_console(), entries, show_regex=show_regex)


# --- entry point ---------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"logtrace {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the Python traceback of errors.")
    ] = False,
) -> None:
    _state["traceback"] = traceback


def _stderr_line(text: str) -> None:
    sys.stderr.write(text + "\n")


def _fail(exc: LogtraceError) -> NoReturn:
    _stderr_line(f"logtrace: error: {exc.message}")
    caret = getattr(exc, "caret_lines", None)
    if callable(caret):
        for line in caret():
            _stderr_line(f"  {line}")
    if exc.hint:
        _stderr_line(f"hint: {exc.hint}")
    raise SystemExit(int(exc.exit_status))


def main() -> None:
    """Console-script entry point: runs the app and turns errors into exit codes."""
    try:
        app(prog_name="logtrace")
    except LogtraceError as exc:
        if _state["traceback"] or "--traceback" in sys.argv:
            raise
        _fail(exc)
    except KeyboardInterrupt:
        _stderr_line("logtrace: interrupted")
        raise SystemExit(int(ExitStatus.INTERRUPTED)) from None
    except BrokenPipeError:
        # The reader went away (| head): not an error. Keep Python from complaining too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(int(ExitStatus.OK)) from None
