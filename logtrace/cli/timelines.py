"""``logtrace trace`` and ``logtrace insights``: commands that build every timeline."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from logtrace.cli import options as opt
from logtrace.cli.app import app


@app.command()
def trace(
    request_id: Annotated[str, typer.Argument(help="The request id (or a unique prefix of it).")],
    files: opt.Files = None,
    lines: Annotated[
        bool, typer.Option("--lines", help="Show each span's original log lines.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the spans as JSON.")] = False,
    flow: Annotated[
        bool, typer.Option("--flow/--no-flow", help="Also draw the request flow.")
    ] = True,
    log_format: opt.LogFormatOpt = None,
    preset: opt.PresetOpt = None,
    nginx_conf: opt.NginxConfOpt = None,
    format_name: opt.FormatNameOpt = None,
    app_format: opt.AppFormatOpt = None,
    timezone: opt.TimezoneOpt = "UTC",
    source: opt.SourceOpt = None,
    id_field: opt.IdFieldOpt = None,
    no_skew_correction: opt.NoSkewOpt = False,
) -> None:
    """One request as a Gantt chart and a request-flow graph, across every host's logs."""
    from logtrace.analysis.trace import trace as build
    from logtrace.render.console import make_console

    found = opt.sources(files, source)
    fmt = opt.format_options(log_format, preset, nginx_conf, format_name, app_format, timezone)
    # stdin cannot be read again for the lines: keep them while reading it
    keep = lines and any(s.is_stdin for s in found)
    loaded = opt.load_timelines(found, fmt, id_field, no_skew_correction, keep_lines=keep)
    result = build(loaded, request_id, with_lines=lines, sources=found)
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
    files: opt.Files = None,
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
    log_format: opt.LogFormatOpt = None,
    preset: opt.PresetOpt = None,
    nginx_conf: opt.NginxConfOpt = None,
    format_name: opt.FormatNameOpt = None,
    app_format: opt.AppFormatOpt = None,
    timezone: opt.TimezoneOpt = "UTC",
    source: opt.SourceOpt = None,
    id_field: opt.IdFieldOpt = None,
    no_skew_correction: opt.NoSkewOpt = False,
) -> None:
    """What to fix: N+1 calls, sequential calls, repeats, retries, timeouts, slow clients."""
    from logtrace.analysis.insights import InsightOptions, find_insights
    from logtrace.render.console import make_console

    found = opt.sources(files, source)
    fmt = opt.format_options(log_format, preset, nginx_conf, format_name, app_format, timezone)
    loaded = opt.load_timelines(found, fmt, id_field, no_skew_correction)
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
    else:
        from logtrace.render.insights import render_insights

        args = opt.trace_args(files, source, fmt, id_field, no_skew_correction)
        render_insights(make_console(), result, trace_args=args)
    opt.warn_partial(loaded.ingest)
