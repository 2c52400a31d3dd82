"""The ``analyze`` report as rich tables."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from logtrace.analysis.analyze import Analysis
from logtrace.analysis.latency import Latency, LatencyReport
from logtrace.errors import caret_window
from logtrace.ingest import IngestReport
from logtrace.parse import SourceStats
from logtrace.render import format as fmt
from logtrace.render.commands import TraceArgs
from logtrace.render.console import report_table, safe, safe_str
from logtrace.render.cross_host import render_cross_host
from logtrace.render.insights import render_insights

MAX_ROUTES = 15


def sources_table(ingest: IngestReport) -> Table:
    """One row per source: what it is and how many of its lines were read; for an app log
    also the requests it served, the calls it made and the HTTP lines that could be
    neither told apart (``-`` for an nginx log)."""
    apps = any(s.kind == "app" for s in ingest.sources)
    columns = [("served", "right"), ("calls", "right"), ("unclassified", "right")] if apps else []
    table = report_table(
        "Sources",
        ("source", "left"),
        ("host", "left"),
        ("service", "left"),
        ("format", "left"),
        ("lines", "right"),
        ("parsed", "right"),
        ("rejected", "right"),
        *columns,
    )
    table.columns[0].no_wrap = True  # a path cut short names no file: let "format" wrap
    for s in ingest.sources:
        rejected = Text(fmt.count(s.lines_rejected), style="red" if s.lines_rejected else "")
        form = s.format + (f" (detected, {s.detected})" if s.detected else "")
        events = _app_events(s) if apps else []
        table.add_row(
            safe(s.path),
            safe(s.host),
            safe(s.service),
            safe(form),
            fmt.count(s.lines_total),
            fmt.count(s.lines_parsed),
            rejected,
            *events,
        )
    return table


def _app_events(s: SourceStats) -> list[str | Text]:
    """Served requests, calls (ends, else starts) and unclassified HTTP lines of an app log."""
    if s.kind != "app":
        return ["-", "-", "-"]
    ev = s.app_events
    unclassified = ev["unclassified"]
    return [
        fmt.count(ev["server"] or ev["server_start"]),
        fmt.count(ev["client"] or ev["client_start"]),
        Text(fmt.count(unclassified), style="yellow" if unclassified else ""),
    ]


def _latency_line(label: str, lat: Latency | None) -> Text:
    if lat is None:
        return Text(f"{label}: not in this log format")
    return Text.assemble(
        (f"{label}: ", "bold"),
        f"p50 {fmt.duration(lat.p50_s)}   p90 {fmt.duration(lat.p90_s)}   "
        f"p95 {fmt.duration(lat.p95_s)}   p99 {fmt.duration(lat.p99_s)}   "
        f"max {fmt.duration(lat.max_s)}   mean {fmt.duration(lat.mean_s)}",
    )


def summary(analysis: Analysis) -> RenderableType:
    """Time range, requests, error rate, overall percentiles and the time breakdown."""
    rep = analysis.latency
    lines: list[RenderableType] = []
    span = ""
    if rep.time_min and rep.time_max:
        span = f"  ({fmt.duration((rep.time_max - rep.time_min).total_seconds())})"
    lines.append(
        Text.assemble(
            ("Time range: ", "bold"),
            f"{fmt.timestamp(rep.time_min)} → {fmt.timestamp(rep.time_max)} UTC{span}",
        )
    )
    lines.append(
        Text.assemble(
            ("Requests: ", "bold"),
            fmt.count(rep.requests),
            ("   5xx: ", "bold"),
            f"{100 * rep.error_rate:.2f}%",
            ("   4xx: ", "bold"),
            f"{100 * rep.client_error_rate:.2f}%",
        )
    )
    lines.append(_latency_line("Request time", rep.latency))
    if rep.upstream_latency is not None:
        lines.append(_latency_line("Upstream time", rep.upstream_latency))
    b = rep.breakdown
    if b is not None and b.total_s:
        upstream, nginx = fmt.shares([b.upstream_s, b.nginx_s], b.total_s)
        lines.append(
            Text.assemble(
                ("Where the time goes: ", "bold"),
                f"upstream {upstream} ({fmt.duration(b.upstream_s)}), "
                f"nginx-side {nginx} ({fmt.duration(b.nginx_s)}) "
                f"of {fmt.duration(b.total_s)} total request time; "
                f"{fmt.count(b.proxied)} of {fmt.count(rep.requests)} requests went upstream",
            )
        )
        if b.retried:
            lines.append(
                Text.assemble(
                    ("Retries: ", "bold"),
                    f"{fmt.count(b.retried)} requests needed {fmt.count(b.extra_attempts)} extra "
                    f"upstream attempts, costing {fmt.duration(b.retry_cost_s)} in failed attempts",
                )
            )
        else:
            lines.append(Text.assemble(("Retries: ", "bold"), "none"))
    if analysis.filters.expr(["time", "path", "status", "route"]) is not None:
        lines.append(Text("(filtered: see --since/--until/--route/--path/--status)", style="dim"))
    return Group(*lines)


def routes_table(rep: LatencyReport, limit: int = MAX_ROUTES) -> Table:
    """Per-route percentiles, ordered by total time spent."""
    has_latency = rep.latency is not None
    has_upstream = "upstream_p50_s" in rep.routes.columns
    shown = min(limit, rep.routes.height)
    order = "total time" if has_latency else "requests"
    table = report_table(f"Routes (top {shown} of {rep.routes.height} by {order})")
    table.add_column("route", min_width=20, max_width=48, overflow="ellipsis", no_wrap=True)
    numeric = ["requests"]
    if has_latency:
        numeric += ["share", "p50", "p90", "p95", "p99", "max"]
    if has_upstream:
        numeric.append("upstr p50")
    numeric += ["4xx", "5xx"]
    for name in numeric:
        table.add_column(name, justify="right", no_wrap=True)
    total = (
        rep.breakdown.total_s
        if rep.breakdown
        else (
            float(rep.routes.get_column("total_s").sum())
            if "total_s" in rep.routes.columns
            else 0.0
        )
    )
    for row in rep.routes.head(limit).iter_rows(named=True):
        cells: list[RenderableType] = [safe(row["route"]), fmt.count(row["count"])]
        if has_latency:
            cells.append(fmt.share(row.get("total_s") or 0, total))
            cells += [
                fmt.duration(row.get(c)) for c in ("p50_s", "p90_s", "p95_s", "p99_s", "max_s")
            ]
        if has_upstream:
            cells.append(fmt.duration(row.get("upstream_p50_s")))
        for cls in ("4xx", "5xx"):
            n = row.get(cls) or 0
            cells.append(Text(fmt.count(n), style="red" if cls == "5xx" and n else ""))
        table.add_row(*cells)
    return table


def slowest_table(slowest: pl.DataFrame) -> Table:
    """The slowest requests, with where their time went; ids in full, to copy."""
    table = report_table(f"Slowest requests (top {slowest.height})")
    times = slowest.get_column("time") if "time" in slowest.columns else None
    one_day = times is not None and times.dt.date().n_unique() == 1
    table.add_column("time" if not one_day else "time (UTC)", no_wrap=True)
    table.add_column("request id", no_wrap=True)
    table.add_column("request", min_width=16, max_width=40, overflow="ellipsis", no_wrap=True)
    for name in ("status", "total", "upstream", "nginx", "tries"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in slowest.iter_rows(named=True):
        status = row.get("status")
        request = f"{row.get('method') or '-'} {row.get('route') or '-'}"
        table.add_row(
            fmt.timestamp(row.get("time"), date=not one_day),
            safe(row.get("request_id") or "-"),
            safe(request),
            Text(
                str(status) if status is not None else "-",
                style="red" if status and status >= 500 else "",
            ),
            fmt.duration(row.get("request_time_s")),
            fmt.duration(row.get("upstream_time_s")),
            fmt.duration(row.get("nginx_time_s")),
            str(row["upstream_attempts"]) if row.get("upstream_attempts") is not None else "-",
        )
    return table


def rejected_samples(ingest: IngestReport, width: int = 100) -> Iterable[RenderableType]:
    """A few rejected lines per source, with a caret where each stopped matching.

    Each line is shown on one row of ``width`` (around the caret when it is longer), so
    the caret stays under its column whatever the terminal wraps.
    """
    for s in ingest.sources:
        for w in s.warnings:
            yield Text.assemble(("warning: ", "yellow bold"), safe(w))
        if not s.lines_rejected:
            continue
        reasons = ", ".join(f"{safe_str(r)}: {n:,}" for r, n in s.reasons.most_common())
        yield Text.assemble((f"Rejected lines in {safe_str(s.path)}: ", "bold"), reasons)
        for sample in s.samples:
            where = ""
            if sample.column is not None:
                wanted = f"expected {safe_str(sample.expected)} " if sample.expected else ""
                where = f" ({wanted}at column {sample.column})"
            yield Text(f"  line {sample.line_no}: {safe_str(sample.reason)}{where}", style="dim")
            text, caret = caret_window(
                sample.line, sample.column if sample.column is not None else 0, safe_str, width - 5
            )
            yield Text(f"    {text}", no_wrap=True, overflow="ellipsis")
            if sample.column is not None:
                yield Text("    " + " " * cell_len(text[: len(caret) - 1]) + "^", style="yellow")


def unclassified_samples(ingest: IngestReport, width: int = 100) -> Iterable[RenderableType]:
    """A few app lines per source that look like HTTP events but are neither a served
    request nor a call by their words and fields: they make no span."""
    for s in ingest.sources:
        n = s.app_events["unclassified"]
        if not n:
            continue
        yield Text.assemble(
            (f"Unclassified HTTP lines in {safe_str(s.path)}: ", "bold"),
            f"{n:,} (neither a served request nor a call by their words and fields: no span)",
        )
        for sample in s.unclassified:
            yield Text(f"  line {sample.line_no}:", style="dim")
            text, _ = caret_window(sample.line, 0, safe_str, width - 5)
            yield Text(f"    {text}", no_wrap=True, overflow="ellipsis")


def render_analysis(
    console: Console, analysis: Analysis, *, trace_args: TraceArgs | None = None
) -> None:
    """Print the whole analyze report (``trace_args``: the run's inputs and options, for
    the ``logtrace trace`` commands it prints)."""
    for note in analysis.ingest.partial_notes():
        console.print(Text.assemble(("warning: ", "yellow bold"), safe(note)))
    console.print(sources_table(analysis.ingest))
    console.print(summary(analysis))
    console.print()
    if analysis.latency.routes.height:
        console.print(routes_table(analysis.latency))
    if analysis.latency.slowest.height:
        console.print(slowest_table(analysis.latency.slowest))
    if analysis.cross_host is not None:
        for renderable in render_cross_host(console, analysis.cross_host):
            console.print(renderable)
        console.print()
        render_insights(console, analysis.cross_host.insights, limit=5, trace_args=trace_args)
    for renderable in rejected_samples(analysis.ingest, console.width):
        console.print(renderable)
    for renderable in unclassified_samples(analysis.ingest, console.width):
        console.print(renderable)
