"""``logtrace compare``: request times before and after, per route, beyond noise or not."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Annotated

import typer

from logtrace.cli import options as opt
from logtrace.cli.app import app, command, stderr_line
from logtrace.cli.inputs import Inputs, reads_logs
from logtrace.errors import ExitStatus, UsageError


@command(app, example="logtrace compare before.log --against after.log --fail-if p99+20%")
@reads_logs()
def compare(
    inputs: Inputs,
    against: Annotated[
        list[str] | None,
        typer.Option(
            "--against",
            metavar="PATH",
            help="The logs after the change (repeatable; a file, directory or quoted glob). "
            "FILES are the logs before it.",
        ),
    ] = None,
    split_at: Annotated[
        str | None,
        typer.Option(
            "--split-at",
            metavar="TIME",
            help="Instead of --against: compare FILES' requests that ended before TIME with "
            "those that ended at or after it (read as --since's).",
        ),
    ] = None,
    min_count: Annotated[
        int,
        typer.Option(
            "--min-count",
            min=2,
            metavar="N",
            help="Requests a route needs on each side to be judged.",
        ),
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if",
            metavar="RULE",
            help="Exit with 8 when a figure grew by more than this from before to after "
            "(repeatable): p99+20%, p50+50ms, 'p95+10% route=/api/*'. Metrics: p50 p95 p99.",
        ),
    ] = None,
) -> None:
    """Before and after a change: per route and overall, counts and p50/p95/p99 on each
    side, the change, and whether it is beyond noise (a two-sided Mann–Whitney U test of
    the logged request times per route, normal approximation with tie correction,
    p < 0.01, at least --min-count requests a side). Slower routes first; new and
    vanished routes listed."""
    from logtrace.analysis.analyze import AnalyzeOptions, analyze
    from logtrace.analysis.compare import compare as run
    from logtrace.analysis.gate import measure_changes, parse_change_rule
    from logtrace.offsets import log_offsets
    from logtrace.render.console import make_console

    rules = tuple(parse_change_rule(rule) for rule in fail_if or ())
    if (against is None) == (split_at is None):
        raise UsageError(
            "compare needs the logs after the change: --against PATH or --split-at TIME",
            "logtrace compare before.log --against after.log, or "
            "logtrace compare access.log --split-at '2026-11-26 08:00'",
        )
    before_in, after_in = inputs, replace(inputs, files=tuple(against or ()), labels=())
    if split_at is not None:
        if any(s.read_once for s in inputs.sources):  # each side reads FILES again
            raise UsageError(
                "--split-at reads the logs twice, and stdin or a pipe can only be read once",
                "save the input to a file first (logtrace compare saved.log --split-at TIME)",
            )
        at = opt.parse_time(split_at, "--split-at")
        after_in = replace(inputs, filters=replace(inputs.filters, since=at))
        before_in = replace(inputs, filters=replace(inputs.filters, until=at))
    # the zone to show times in, from both sides' offsets: before stdin is read
    zone = inputs.zone_of(log_offsets([*before_in.sources, *after_in.sources]))
    reports = []
    for side in (before_in, after_in):
        with side.reading() as progress:
            options = AnalyzeOptions(
                formats=side.formats,
                filters=side.filters,
                top=1,
                skew_correction=side.skew_correction,
                id_field=side.id_field,
                progress=progress,
            )
            reports.append(analyze(side.sources, options))
    before, after = reports
    comparison = run(before.latency.route_hist, after.latency.route_hist, min_count=min_count)
    gate = (
        measure_changes(rules, before.latency.route_hist, after.latency.route_hist)
        if rules
        else None
    )
    if as_json:
        from logtrace.export.comparison import comparison_json

        files = ([s.label for s in before_in.sources], [s.label for s in after_in.sources])
        sys.stdout.write(
            comparison_json(
                comparison,
                (before.latency, files[0]),
                (after.latency, files[1]),
                gate,
            )
            + "\n"
        )
    else:
        from logtrace.render.compare import render_comparison

        render_comparison(make_console(), comparison, before.latency, after.latency, zone=zone)
    sys.stdout.flush()
    for side_name, result in zip(("before", "after"), reports, strict=True):
        opt.warn_sources(result.ingest, side=side_name)  # a side read in part: said
    if gate is not None:
        from logtrace.render.compare import change_gate_lines

        for line in change_gate_lines(gate):
            stderr_line(line)
        if any(v.broken for v in gate):
            raise typer.Exit(int(ExitStatus.GATE))
    for result in reports:
        opt.warn_partial(result.ingest)
