"""``logtrace report``: the analysis as one self-contained HTML file."""

from __future__ import annotations

from typing import Annotated

import typer

from logtrace.cli import options as opt
from logtrace.cli.app import app, command, stderr_line
from logtrace.cli.inputs import Inputs, reads_logs

TOP_HELP = (
    "How many slowest requests to list, each with its waterfall in the page (at most 500: "
    "the page stays small)."
)
MAX_TOP = 500
EVERY_HELP = (
    "Requests and latency over time in buckets of SIZE (30s, 1m, 5m, 1h, 1d) or auto "
    "(30-60 buckets of a round size), as analyze --every."
)


@command(
    app,
    "report",
    example="logtrace report logs/ --nginx-conf /etc/nginx/nginx.conf -o report.html",
)
@reads_logs()
def report(
    inputs: Inputs,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="PATH", help="The HTML file to write (- for stdout)."
        ),
    ],
    top: Annotated[
        int, typer.Option("--top", "-n", min=1, max=MAX_TOP, metavar="N", help=TOP_HELP)
    ] = 10,
    every: Annotated[str, typer.Option("--every", metavar="SIZE", help=EVERY_HELP)] = "auto",
) -> None:
    """One HTML file to open offline: overview, latency over time, routes, services,
    insights, the slowest requests and their waterfalls."""
    from logtrace.analysis.analyze import analyze as run
    from logtrace.analysis.buckets import parse_every
    from logtrace.export.output import check_output, text_output
    from logtrace.html import render_page, report_data
    from logtrace.html.traces import report_traces

    bucket_size = parse_every(every)  # read before any input, so a typo costs nothing
    check_output(output)
    with inputs.reading() as progress:
        options = inputs.analyze_options(progress, top=top, every=bucket_size, keep_timelines=True)
        result = run(inputs.sources, options)
    with inputs.reading() as progress:
        traced = report_traces(
            result,
            inputs.sources,
            top=top,
            formats=inputs.formats,
            skew_correction=inputs.skew_correction,
            id_field=inputs.id_field,
            progress=progress,
        )
    data = report_data(result, traced, inputs=inputs.specs())
    page = render_page(data)
    with text_output(output) as stream:
        stream.write(page)
    if output != "-":
        from logtrace.plural import plural
        from logtrace.render.console import safe_str

        size = len(page.encode("utf-8"))
        stderr_line(
            f"wrote {safe_str(output)} ({size / 1e6:.2f} MB): "
            f"{plural(result.latency.requests, 'request')}, "
            f"{plural(len(data['traces']), 'waterfall')}"
        )
    opt.warn_partial(result.ingest)
