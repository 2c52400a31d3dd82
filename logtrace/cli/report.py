"""``logtrace analyze``: the latency report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from logtrace.cli import options as opt
from logtrace.cli.app import app


@app.command()
def analyze(
    files: opt.Files = None,
    log_format: opt.LogFormatOpt = None,
    preset: opt.PresetOpt = None,
    nginx_conf: opt.NginxConfOpt = None,
    format_name: opt.FormatNameOpt = None,
    source: opt.SourceOpt = None,
    since: opt.SinceOpt = None,
    until: opt.UntilOpt = None,
    route: opt.RouteOpt = None,
    path: opt.PathOpt = None,
    status: opt.StatusOpt = None,
    top: opt.TopOpt = 10,
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

    found = opt.sources(files, source)
    formats = opt.format_options(log_format, preset, nginx_conf, format_name)
    with opt.reading(found) as progress:
        options = AnalyzeOptions(
            formats=formats,
            filters=opt.filters(since, until, route, path, status),
            top=top,
            keep_lines=export_csv is not None,
            progress=progress,
        )
        result = run(found, options)
    if export_csv is not None:
        from logtrace.analysis.slowest import slowest_requests
        from logtrace.export.csv import write_csv

        write_csv(slowest_requests(result), export_csv)
    if as_json:
        from logtrace.export.report import analysis_json

        sys.stdout.write(analysis_json(result) + "\n")
    else:
        from logtrace.render.tables import render_analysis

        args = opt.trace_args(files, source, formats)
        render_analysis(make_console(), result, trace_args=args)
    opt.warn_partial(result.ingest)
