"""``logtrace analyze``: the latency report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from logtrace.cli import options as opt
from logtrace.cli.app import app, command, stderr_line
from logtrace.cli.inputs import Inputs, reads_logs
from logtrace.errors import ExitStatus, UsageError


@command(
    app,
    example="logtrace analyze /var/log/nginx/access.log --status 5xx --since '2026-11-26 08:00'",
)
@reads_logs()
def analyze(
    inputs: Inputs,
    top: opt.TopOpt = 10,
    every: opt.EveryOpt = None,
    fail_if: opt.FailIfOpt = None,
    by: opt.ByOpt = None,
    top_routes: opt.TopRoutesOpt = "15",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    export_csv: Annotated[
        Path | None,
        typer.Option(
            "--export-csv", metavar="PATH", help="Also write the top N slowest requests as CSV."
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", help="Follow the logs as they grow: the live view of `logtrace top`."
        ),
    ] = False,
) -> None:
    """Latency report: percentiles per route, where the time goes, the slowest requests."""
    if follow:
        from logtrace.cli.live import follow_logs

        given = {"--json": as_json, "--export-csv": export_csv, "--fail-if": fail_if}
        _follow_alone({**given, "--every": every, "--by": by})
        follow_logs(inputs)
        return
    from logtrace.analysis.analyze import analyze as run
    from logtrace.analysis.breakdowns import parse_by
    from logtrace.analysis.buckets import parse_every
    from logtrace.analysis.gate import parse_rule
    from logtrace.export.output import check_output
    from logtrace.render.console import make_console

    # read before any input, so a typo costs nothing
    rules = tuple(parse_rule(rule) for rule in fail_if or ())
    bucket_size = parse_every(every) if every is not None else None
    bys = tuple(parse_by(b) for b in by or ())
    routes_shown = opt.parse_top_routes(top_routes)
    if export_csv is not None:
        check_output(export_csv)
    with inputs.reading() as progress:
        options = inputs.analyze_options(
            progress,
            top=top,
            keep_lines=export_csv is not None,
            every=bucket_size,
            gate=rules,
            by=bys,
        )
        result = run(inputs.sources, options)
    if export_csv is not None:
        from logtrace.analysis.slowest import slowest_requests
        from logtrace.export.csv import write_csv

        write_csv(slowest_requests(result), export_csv)
    if as_json:
        from logtrace.export.report import analysis_json

        sys.stdout.write(analysis_json(result) + "\n")
    else:
        from logtrace.render.tables import render_analysis

        render_analysis(
            make_console(),
            result,
            trace_args=inputs.trace_args(),
            zone=inputs.zone,
            routes=routes_shown,
        )
    if result.gate is not None:
        from logtrace.render.gate import gate_lines

        sys.stdout.flush()  # the report first, then the verdicts
        for line in gate_lines(result.gate):
            stderr_line(line)
    if result.gate_broken:
        opt.warn_partial(result.ingest, exit=False)
        raise typer.Exit(int(ExitStatus.GATE))
    opt.warn_partial(result.ingest)


def _follow_alone(given: dict[str, object]) -> None:
    """--follow is a live view: the options of a finished report do not apply to it."""
    clash = [name for name, value in given.items() if value]
    if clash:
        raise UsageError(
            f"--follow cannot be combined with {', '.join(clash)}",
            "--follow shows a live view until q; run analyze without --follow for a report",
        )
