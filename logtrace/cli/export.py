"""``logtrace export``: the slowest requests, every span, or whole traces."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from logtrace import __version__
from logtrace.cli import options as opt
from logtrace.cli.app import command, export_app, stderr_line
from logtrace.cli.inputs import Inputs, reads_logs
from logtrace.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from logtrace.analysis.derive import Filters
    from logtrace.export.batch import ExportInfo, TraceBatch
    from logtrace.export.ids import ExportSummary
    from logtrace.export.tabular import What
    from logtrace.timelines.partitioned import Joined
    from logtrace.timelines.skew import HostOffset

FORMAT_HELP = "csv, json, ndjson, parquet (tables); otlp, otlp-json, zipkin, jaeger (traces)."


@command(
    export_app, "slowest", example="logtrace export slowest access.log --csv slow.csv --top 100"
)
@reads_logs()
def export_slowest(
    inputs: Inputs,
    csv: Annotated[
        Path,
        typer.Option(
            "--csv", metavar="PATH", help="Write the requests as CSV here (- for stdout)."
        ),
    ] = Path("-"),
    top: opt.TopOpt = 100,
) -> None:
    """The N slowest requests with every field of their log line, as CSV."""
    from logtrace.analysis.analyze import AnalyzeOptions
    from logtrace.analysis.analyze import analyze as run
    from logtrace.analysis.slowest import slowest_requests
    from logtrace.export.csv import write_csv
    from logtrace.export.output import check_output

    check_output(csv)
    with inputs.reading() as progress:
        options = AnalyzeOptions(
            formats=inputs.formats,
            filters=inputs.selection,
            top=top,
            keep_lines=True,
            skew_correction=inputs.skew_correction,
            id_field=inputs.id_field,
            progress=progress,
        )
        result = run(inputs.sources, options)
    frame = slowest_requests(result)
    write_csv(frame, csv)
    if str(csv) != "-":
        stderr_line(f"wrote {frame.height} requests to {csv}")
    opt.warn_sources(result.ingest)
    opt.warn_partial(result.ingest)


def _export_info(offsets: dict[str, HostOffset]) -> ExportInfo:
    from logtrace.export.batch import ExportInfo

    return ExportInfo(version=__version__, skew_s={h: o.offset_s for h, o in offsets.items()})


def _batches(
    joined: Joined, request_ids: list[str] | None, selection: Filters
) -> Iterator[TraceBatch]:
    """The traces to export: a part of the requests at a time when the join is
    partitioned, unless some are asked for by id (looked up among all first)."""
    from logtrace.export.traces import part_batches, trace_batches

    if request_ids is not None or joined.run is None or joined.traceless:
        return trace_batches(joined.whole(), request_ids=request_ids, filters=selection)
    return part_batches(joined.each(), filters=selection)


@command(
    export_app, "spans", example="logtrace export spans logs/ --format parquet -o spans.parquet"
)
@reads_logs()
def export_spans(
    inputs: Inputs,
    format: Annotated[
        str, typer.Option("--format", "--to", "-t", metavar="FORMAT", help=FORMAT_HELP)
    ] = "csv",
    out: Annotated[
        str, typer.Option("--out", "-o", metavar="PATH", help="Output file (- for stdout).")
    ] = "-",
    what: Annotated[
        str,
        typer.Option(
            "--what",
            metavar="spans|requests",
            help="Tables only: one row per 'spans' or per 'requests'.",
        ),
    ] = "spans",
    request_id: opt.RequestIdOpt = None,
    lines: opt.LinesOpt = True,
) -> None:
    """Every span of every request (or a table of requests) in a file format."""
    from logtrace.export.output import check_output
    from logtrace.export.registry import export, exporter

    if what not in ("spans", "requests"):
        raise UsageError(
            f"--what {what!r} is neither spans nor requests", "use --what spans|requests"
        )
    per: What = "requests" if what == "requests" else "spans"
    exporter(format, per)  # an unknown format or table is a usage error before any reading
    check_output(out)
    selection = inputs.selection  # before any reading: stdin is peeked at for its offset
    with inputs.load_parts(keep_lines=lines) as joined:
        batches = _batches(joined, request_id, selection)
        summary = export(format, batches, out, _export_info(joined.offsets), what=per)
    _report(summary, out, format, per)
    opt.warn_sources(joined.ingest)
    opt.warn_partial(joined.ingest)


@command(
    export_app,
    "traces",
    example="logtrace export traces logs/ --to otlp --endpoint http://localhost:4318/v1/traces",
)
@reads_logs()
def export_traces(
    inputs: Inputs,
    to: Annotated[
        str, typer.Option("--to", "--format", "-t", metavar="FORMAT", help=FORMAT_HELP)
    ] = "otlp",
    out: Annotated[
        str | None, typer.Option("--out", "-o", metavar="PATH", help="Output file (- for stdout).")
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="URL",
            help="Push OTLP/HTTP JSON here, e.g. http://localhost:4318/v1/traces.",
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header", metavar="KEY=VALUE", help="An HTTP header for --endpoint (repeatable)."
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.1, metavar="SECONDS", help="Seconds per HTTP request."),
    ] = 10.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, metavar="N", help="Retries per HTTP request.")
    ] = 5,
    batch: Annotated[
        int, typer.Option("--batch", min=1, metavar="N", help="Spans per HTTP request.")
    ] = 2000,
    gzip: Annotated[
        bool, typer.Option("--gzip", help="Compress the HTTP bodies (Content-Encoding: gzip).")
    ] = False,
    request_id: opt.RequestIdOpt = None,
    lines: opt.LinesOpt = True,
) -> None:
    """Traces for Jaeger, Zipkin, Tempo: a file, or pushed to an OTLP collector."""
    from logtrace.export.output import check_output
    from logtrace.export.registry import export, exporter

    if endpoint is not None and to not in ("otlp", "otlp-json"):
        raise UsageError("--endpoint pushes OTLP", "use --to otlp with --endpoint")
    headers = _headers(header or [])
    exporter(to)
    check_output(out or "-")
    selection = inputs.selection  # before any reading: stdin is peeked at for its offset
    with inputs.load_parts(keep_lines=lines) as joined:
        batches = _batches(joined, request_id, selection)
        info = _export_info(joined.offsets)
        if endpoint is not None:
            from logtrace.export.push import push

            result = push(
                batches,
                endpoint,
                info=info,
                timeout_s=timeout,
                max_retries=retries,
                batch_spans=batch,
                headers=headers,
                gzip=gzip,
            )
            stderr_line(
                f"sent {result.accepted:,} of {result.spans:,} spans ({result.traces:,} traces)"
                f" to {endpoint} in {result.requests} requests ({result.retries} retries)"
            )
            error = result.error()
            if error is not None:
                raise error
        else:
            _report(export(to, batches, out or "-", info), out or "-", to)
    opt.warn_sources(joined.ingest)
    opt.warn_partial(joined.ingest)


def _report(summary: ExportSummary, out: str, fmt: str, what: What | None = None) -> None:
    """An export's warnings, and what it wrote where (not when it wrote to stdout): the
    rows of a table of requests, else spans and the traces they make."""
    from logtrace.render.console import safe_str

    for warning in summary.warnings:
        stderr_line(f"warning: {safe_str(warning)}")
    if out == "-":
        return
    if what == "requests":
        wrote = f"{summary.traces:,} requests (a row each)"
    else:
        wrote = f"{summary.spans:,} spans of {summary.traces:,} " + (
            "requests (a row per span)" if what == "spans" else "traces"
        )
    stderr_line(f"wrote {wrote} to {safe_str(out)} ({fmt})")


def _headers(pairs: list[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--header {pair!r} is not KEY=VALUE", "e.g. --header 'Authorization=Bearer …'"
            )
        headers[key.strip()] = value.strip()
    return headers
