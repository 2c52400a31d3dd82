"""``logtrace trace`` and ``logtrace insights``: commands that build every timeline."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from logtrace.cli import options as opt
from logtrace.cli.app import app, command, stderr_line
from logtrace.cli.inputs import Inputs, reads_logs
from logtrace.errors import UsageError


@command(app, example="logtrace trace 9605fc4a1eec logs/ --nginx-conf /etc/nginx/nginx.conf")
@reads_logs(filters=False)
def trace(
    inputs: Inputs,
    request_id: Annotated[
        str,
        typer.Argument(
            metavar="REQUEST_ID", help="The request id, or a prefix of it that only one id has."
        ),
    ],
    lines: Annotated[
        bool, typer.Option("--lines", help="Show each span's original log lines.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the spans as JSON.")] = False,
    flow: Annotated[
        bool, typer.Option("--flow/--no-flow", help="Also draw the request flow.")
    ] = True,
) -> None:
    """One request as a Gantt chart and a request-flow graph, across every host's logs."""
    from logtrace.analysis.trace import trace as build
    from logtrace.render.console import make_console
    from logtrace.timelines.select import RequestSelection

    if not request_id.strip():  # the start of every id: no request in particular
        raise UsageError(
            "the request id is empty",
            "give a request id, or its first characters (`logtrace analyze` lists the "
            "slowest requests with their ids)",
        )
    # stdin (a pipe) cannot be read again for the lines: keep them while reading it
    keep = lines and any(s.read_once for s in inputs.sources)
    # only the request's lines and a sample of others' are kept (clock offsets, mappings)
    loaded = inputs.load(keep_lines=keep, select=RequestSelection(request_id))
    result = build(loaded, request_id, with_lines=lines, sources=inputs.sources)
    if as_json:
        from logtrace.export.trace_json import trace_json

        sys.stdout.write(trace_json(result) + "\n")
        sys.stdout.flush()
        opt.warn_sources(loaded.ingest)
        return
    from logtrace.render.gantt import render_gantt

    console = make_console()
    render_gantt(console, result, show_lines=lines, zone=inputs.zone)
    if flow:
        from logtrace.render.flow import render_flow

        console.print()
        render_flow(console, result)
    sys.stdout.flush()
    opt.warn_sources(loaded.ingest)


INSIGHTS_FORMAT_HELP = (
    "table (for a person), json (one document: every finding with its request ids), "
    "ndjson (a line per request and pattern)."
)


@command(app, example="logtrace insights logs/ --format ndjson -o findings.ndjson")
@reads_logs()
def insights(
    inputs: Inputs,
    output_format: Annotated[
        str,
        typer.Option("--format", metavar="FORMAT", help=INSIGHTS_FORMAT_HELP, show_default=True),
    ] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    per_request: Annotated[
        bool,
        typer.Option(
            "--per-request",
            hidden=True,
            help="Kept for scripts: the JSON always has every request.",
        ),
    ] = False,
    out: Annotated[
        str, typer.Option("--out", "-o", metavar="PATH", help="Output file (- for stdout).")
    ] = "-",
    min_calls: Annotated[
        int,
        typer.Option(
            "--min-calls", min=2, metavar="N", help="N+1: calls to one service and route."
        ),
    ] = 5,
    min_repeats: Annotated[
        int,
        typer.Option(
            "--min-repeats", min=2, metavar="N", help="Repeated: the same GET this often."
        ),
    ] = 2,
    slow_client_share: Annotated[
        float,
        typer.Option(
            "--slow-client-share",
            min=0.0,
            max=1.0,
            metavar="SHARE",
            help="Slow client: share of request time spent by nginx.",
        ),
    ] = 0.5,
    slow_client_min: Annotated[
        float,
        typer.Option(
            "--slow-client-min", min=0.0, metavar="SECONDS", help="Slow client: at least this (s)."
        ),
    ] = 0.1,
) -> None:
    """What to fix: N+1 calls, sequential calls, repeats, retries, timeouts, slow clients."""
    from logtrace.analysis.derive import select_traces
    from logtrace.analysis.insights import InsightOptions, find_insights
    from logtrace.export.insights_json import WRITERS
    from logtrace.export.output import check_output, text_output

    chosen = _insights_format(output_format, as_json, list(WRITERS))
    check_output(out)
    selection = inputs.selection  # before any reading: stdin is peeked at for its offset
    loaded = inputs.load()
    options = InsightOptions(
        min_calls=min_calls,
        min_repeats=min_repeats,
        slow_client_share=slow_client_share,
        slow_client_min_s=slow_client_min,
    )
    result = find_insights(select_traces(loaded.timelines.spans, selection), options)
    with text_output(out) as stream:
        if chosen in WRITERS:
            WRITERS[chosen](result, stream)
        else:
            from logtrace.render.console import make_console
            from logtrace.render.insights import render_insights

            render_insights(make_console(file=stream), result, trace_args=inputs.trace_args())
    if out != "-":
        from logtrace.render.console import safe_str

        stderr_line(
            f"wrote {safe_str(out)} ({chosen}): {result.summary.height} findings by pattern and "
            f"route, {result.findings.height:,} by request"
        )
    opt.warn_sources(loaded.ingest)
    opt.warn_partial(loaded.ingest)


def _insights_format(name: str, as_json: bool, writers: list[str]) -> str:
    """``--format`` checked, with ``--json`` as its alias for ``json``."""
    choices = ["table", *writers]
    if name not in choices:
        raise UsageError(f"--format {name!r} is not known", f"choose one of {', '.join(choices)}")
    if as_json and name not in ("table", "json"):
        raise UsageError(f"--json and --format {name} both given", "choose one of them")
    return "json" if as_json else name
