"""The ``analyze`` report as rich tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.text import Text

from logtrace.analysis.analyze import Analysis
from logtrace.analysis.derive import Filters
from logtrace.analysis.latency import Latency, LatencyReport
from logtrace.errors import caret_window
from logtrace.ingest import IngestReport
from logtrace.parse import SourceStats
from logtrace.plural import noun, plural
from logtrace.render import format as fmt
from logtrace.render.breakdowns import breakdown_table
from logtrace.render.buckets import render_buckets
from logtrace.render.commands import TraceArgs
from logtrace.render.console import safe, safe_str
from logtrace.render.cross_host import render_cross_host
from logtrace.render.fit import Cell, Column, FitTable, shared_folder
from logtrace.render.insights import render_insights
from logtrace.when import UTC_ZONE, Zone, offset_zone

MAX_ROUTES = 15


MAX_SOURCE_ROWS = 20
"""Rows of the Sources table at most. Past it, the files of one host, service and format
(a log and its rotated files) are summed in one row; past it still, the smallest sources
without a rejected or unclassified line are summed in a last row. ``--json`` lists each."""


@dataclass(frozen=True)
class SourceRows:
    """The Sources table's rows: each a source, or the sources summed in it."""

    rows: list[list[SourceStats]]
    rest: list[SourceStats]  # summed in a last row: "… 12 more sources"

    def note(self) -> Text | None:
        """What the rows summed, when they summed any."""
        grouped = any(len(row) > 1 for row in self.rows)
        if not grouped and not self.rest:
            return None
        sources = sum(len(row) for row in self.rows) + len(self.rest)
        how = ["the files of one host, service and format in one"] if grouped else []
        if self.rest:
            how.append(f"the {len(self.rest):,} smallest without a rejected line in the last")
        return Text(
            f"{plural(sources, 'source')} in {plural(len(self.rows) + bool(self.rest), 'row')}: "
            + ", ".join(how)
            + " (--json lists each)",
            style="dim",
        )


def _flagged(sources: list[SourceStats]) -> bool:
    return any(s.lines_rejected or s.app_events["unclassified"] for s in sources)


def source_rows(sources: list[SourceStats], limit: int = MAX_SOURCE_ROWS) -> SourceRows:
    """One row per source, or, past ``limit`` rows, the sources of one host, service and
    format in one; past it still, the rows with rejected or unclassified lines and the
    biggest are kept (in their order) and the others summed apart."""
    rows = [[s] for s in sources]
    if len(rows) > limit:
        kinds: dict[tuple[str, str, str, str, bool], list[SourceStats]] = {}
        for s in sources:
            key = (s.host, s.service, s.kind, s.format, s.detected is not None)
            kinds.setdefault(key, []).append(s)
        rows = list(kinds.values())
    if len(rows) <= limit:
        return SourceRows(rows, [])

    def rank(i: int) -> tuple[bool, int, int]:
        return (not _flagged(rows[i]), -sum(s.lines_total for s in rows[i]), i)

    kept = set(sorted(range(len(rows)), key=rank)[: max(limit - 1, 0)])
    rest = [s for i, row in enumerate(rows) if i not in kept for s in row]
    return SourceRows([row for i, row in enumerate(rows) if i in kept], rest)


def files_label(paths: list[str]) -> str:
    """One path, or a pattern of several and how many: ``/var/log/edge.log* (14 files)``."""
    if len(paths) == 1:
        return paths[0]
    folder = shared_folder(paths)
    low, high = min(paths), max(paths)  # what these two share, all of them share
    n = len(folder)
    while n < min(len(low), len(high)) and low[n] == high[n] and low[n] != "/":
        n += 1
    head = low[len(folder) : n]
    return f"{folder}{head}* ({len(paths):,} files)"


def sources_table(ingest: IngestReport, shown: SourceRows | None = None) -> FitTable:
    """One row per source, or as ``shown`` sums them (:func:`source_rows`): what it is and
    how many of its lines were read; for an app log also the requests it served, the calls
    it made and the HTTP lines that could be neither told apart (``-`` for an nginx log).

    At a narrow width the path loses its middle, the format wraps, then the columns drop
    in this order: service, served, calls, parsed, host.
    """
    apps = any(s.kind == "app" for s in ingest.sources)
    app_columns = [Column("served", drop=2), Column("calls", drop=3), Column("unclassified")]
    table = FitTable(
        "Sources",
        [
            Column("source", "flex", min_width=16),
            Column("host", "id", drop=5),
            Column("service", "id", drop=1),
            Column("format", "text", min_width=16),
            Column("lines"),
            Column("parsed", drop=4),
            Column("rejected"),
            *(app_columns if apps else []),
        ],
    )
    shown = shown or source_rows(ingest.sources)
    for row in shown.rows:
        s = row[0]
        detected = {r.detected for r in row}
        how = s.detected if len(detected) == 1 else "on each file's first lines"
        form = s.format + (f" in {s.envelope} lines" if s.envelope else "")
        form += f" (detected, {how})" if s.detected else ""
        cells = (safe(files_label([r.path for r in row])), safe(s.host), safe(s.service))
        table.add_row(*cells, safe(form), *_counts(row, apps))
    if shown.rest:
        more = f"… {plural(len(shown.rest), 'more source')}"
        table.add_row(more, "…", "…", "…", *_counts(shown.rest, apps))
    return table


def _counts(row: list[SourceStats], apps: bool) -> list[str | Text]:
    """The count cells of a row of sources: lines, parsed, rejected (and the app events)."""
    rejected = sum(s.lines_rejected for s in row)
    cells: list[str | Text] = [
        fmt.count(sum(s.lines_total for s in row)),
        fmt.count(sum(s.lines_parsed for s in row)),
        Text(fmt.count(rejected), style="red" if rejected else ""),
    ]
    if not apps:
        return cells
    app = [s for s in row if s.kind == "app"]
    if not app:
        return [*cells, "-", "-", "-"]
    events: Counter[str] = Counter()
    for s in app:
        events.update(s.app_events)
    return [*cells, *_app_events(events)]


def _app_events(ev: Counter[str]) -> list[str | Text]:
    """Served requests, calls (ends, else starts) and unclassified HTTP lines of app logs."""
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


def summary(analysis: Analysis, zone: Zone = UTC_ZONE) -> RenderableType:
    """Time range, requests, error rate, overall percentiles and the time breakdown; times
    shown in ``zone``."""
    rep = analysis.latency
    if not rep.requests and analysis.unfiltered is not None:
        return Group(_matched_none(analysis, zone), *_zone_note(zone))
    lines: list[RenderableType] = []
    # the coarsest log sets the precision: whole seconds if any log has only those
    precision = max(
        (f.time_precision_s or 0.0 for f in analysis.ingest.formats.values()), default=0
    )
    span = ""
    if rep.time_min and rep.time_max:
        seconds = (rep.time_max - rep.time_min).total_seconds()
        coarse = precision >= 1 and seconds % 1
        span = f"  ({fmt.duration(seconds)})"
        if coarse:  # two times known to the second: their distance too
            whole = round(seconds)
            span = f"  (≈{whole} s)" if whole < 120 else f"  (≈{fmt.duration(whole)})"
            span = span if whole else "  (within a second)"
    first = fmt.timestamp(fmt.in_zone(rep.time_min, zone), precision_s=precision)
    last = fmt.timestamp(fmt.in_zone(rep.time_max, zone), precision_s=precision)
    lines.append(Text.assemble(("Time range: ", "bold"), f"{first} → {last} {zone.name}{span}"))
    lines += _zone_note(zone)
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
    sent = rep.bytes_sent
    if sent is not None:
        rate = rep.bytes_per_s
        per_s = f"   ({fmt.size(rate)}/s over the time range)" if rate is not None else ""
        lines.append(Text.assemble(("Bytes sent: ", "bold"), fmt.size(sent), per_s))
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
                f"{fmt.count(b.proxied)} of {plural(rep.requests, 'request')} went upstream",
            )
        )
        if b.retried:
            lines.append(
                Text.assemble(
                    ("Retries: ", "bold"),
                    f"{plural(b.retried, 'request')} needed {fmt.count(b.extra_attempts)} extra "
                    f"upstream {noun(b.extra_attempts, 'attempt')}, costing "
                    f"{fmt.duration(b.retry_cost_s)} in failed attempts",
                )
            )
        else:
            lines.append(Text.assemble(("Retries: ", "bold"), "none"))
    if analysis.filters.given:
        covered = "every section counts only the requests that match"
        if analysis.cross_host is not None:
            covered += ", and their traces; clock offsets are measured on all of them"
        shown = (
            f"(filtered: {filter_options(analysis.filters, zone)}: {covered}"
            f"{_zone(analysis.filters)})"
        )
        lines.append(Text(shown, style="dim"))
    return Group(*lines)


def _when(t: datetime, zone: Zone, *, date: bool = True) -> str:
    """A time as the clocks of ``zone`` show it, and the zone."""
    return f"{fmt.timestamp(zone.show(t), date=date)} {zone.name}"


def filter_options(filters: Filters, zone: Zone | None = None) -> str:
    """The filters as the options that give them, their times in ``zone`` (None: in the
    offset times without a zone were read in, else UTC)."""
    shown = zone or offset_zone(filters.utc_offset, "")
    parts = [
        f"{option} {_when(value, shown)}"
        for option, value in zip(("--since", "--until"), filters.instants, strict=True)
        if value is not None
    ]
    parts += [
        f"{option} {safe_str(value)}"
        for option, value in (("--route", filters.route), ("--path", filters.path))
        if value
    ]
    if filters.status:
        ranges = (str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in filters.status)
        parts.append("--status " + ",".join(ranges))
    return " ".join(parts)


def _zone_note(zone: Zone) -> list[Text]:
    """Which zone the times are in and why, when a run chose it (the header's line)."""
    return [Text(fmt.zone_note(zone), style="dim")] if zone.why else []


def _zone(filters: Filters) -> str:
    return f"; times without a zone read in {filters.zone}" if filters.zone else ""


def _matched_none(analysis: Analysis, zone: Zone | None = None) -> Text:
    """``Requests: 0``, said as what it is: filters that kept none of the requests, and
    when those requests ended (to choose --since/--until from)."""
    seen, filters = analysis.unfiltered, analysis.filters
    assert seen is not None
    zone = zone or offset_zone(filters.utc_offset, "")
    text = (
        f"the filters ({filter_options(filters, zone)}) matched none of the "
        f"{fmt.count(seen.requests)} requests"
    )
    if seen.time_min is not None and seen.time_max is not None:
        first, last = zone.show(seen.time_min), zone.show(seen.time_max)
        same_day = first.date() == last.date()
        start = _when(seen.time_min, zone).removesuffix(f" {zone.name}")
        text += f", which ended between {start} and {_when(seen.time_max, zone, date=not same_day)}"
        if filters.today is not None and filters.today > last.date():
            text += (
                f"; a time of day (10:03, today, yesterday) is on today's date as the logs show "
                f"their times, {filters.today.isoformat()}: give a date for an earlier day "
                f"('{last.date().isoformat()} 10:03')"
            )
    return Text.assemble(("Requests: 0", "bold"), ": ", text + _zone(filters))


def routes_table(rep: LatencyReport, limit: int | None = MAX_ROUTES) -> FitTable:
    """Per-route percentiles, ordered by total time spent (the first ``limit``; all
    when None).

    At a narrow width the route loses its middle, then the columns drop in this order:
    p95, p90, upstr p50, max, share, p99. requests, p50, 4xx and 5xx stay.
    """
    has_latency = rep.latency is not None
    has_upstream = "upstream_p50_s" in rep.routes.columns
    limit = rep.routes.height if limit is None else limit
    shown = min(limit, rep.routes.height)
    order = "total time" if has_latency else "requests"
    columns = [Column("route", "flex", min_width=20), Column("requests")]
    if has_latency:
        columns += [
            Column("share", drop=5),
            Column("p50"),
            Column("p90", drop=2),
            Column("p95", drop=1),
            Column("p99", drop=6),
            Column("max", drop=4),
        ]
    if has_upstream:
        columns.append(Column("upstr p50", drop=3))
    columns += [Column("4xx"), Column("5xx")]
    table = FitTable(f"Routes (top {shown} of {rep.routes.height} by {order})", columns)
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
        cells: list[Cell] = [safe(row["route"]), fmt.count(row["count"])]
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


def collapsed_note(rep: LatencyReport, limit: int = 5) -> Text | None:
    """Which route positions took too many distinct values and became ``{*}``."""
    collapsed = rep.collapsed
    if collapsed.is_empty():
        return None
    shown = [
        f"{route} (position {position}: {plural(values, 'value')})"
        for route, position, values in collapsed.head(limit).iter_rows()
    ]
    more = collapsed.height - len(shown)
    tail = f", and {plural(more, 'more position')}" if more > 0 else ""
    text = (
        f"{plural(collapsed.height, 'route position')} took more than "
        f"{rep.route_values:,} distinct values and became {{*}}: " + ", ".join(shown) + tail
    )
    return Text.assemble(("note: ", "yellow"), safe(text))


def slowest_table(slowest: pl.DataFrame, zone: Zone = UTC_ZONE) -> FitTable:
    """The slowest requests, with where their time went; ids in full, to copy.

    At a narrow width the request loses its middle, then the columns drop in this order:
    tries, nginx, upstream, time. The request id, status and total stay. Without upstream
    times (a format that logs none, app logs) the last three are not shown.
    """
    proxied = "upstream_time_s" in slowest.columns
    times = slowest.get_column("time") if "time" in slowest.columns else None
    days = {zone.show(t).date() for t in times if t is not None} if times is not None else set()
    one_day = times is not None and len(days) == 1
    columns = [
        Column("time" if not one_day else f"time ({zone.name})", "id", drop=4),
        Column("request id", "id"),
        Column("request", "flex", min_width=16),
        Column("status"),
        Column("total"),
    ]
    if proxied:
        columns += [Column("upstream", drop=3), Column("nginx", drop=2), Column("tries", drop=1)]
    table = FitTable(f"Slowest requests (top {slowest.height})", columns)
    for row in slowest.iter_rows(named=True):
        status = row.get("status")
        request = f"{row.get('method') or '-'} {row.get('route') or '-'}"
        cells: list[str | Text] = [
            fmt.timestamp(
                fmt.in_zone(row.get("time"), zone),
                date=not one_day,
                precision_s=row.get("time_precision_s"),
            ),
            safe(row.get("request_id") or "-"),
            safe(request),
            Text(
                str(status) if status is not None else "-",
                style="red" if status and status >= 500 else "",
            ),
            fmt.duration(row.get("request_time_s")),
        ]
        if proxied:
            tries = row.get("upstream_attempts")
            cells += [
                fmt.duration(row.get("upstream_time_s")),
                fmt.duration(row.get("nginx_time_s")),
                str(tries) if tries is not None else "-",
            ]
        table.add_row(*cells)
    return table


MAX_REJECTED_SOURCES = 5
"""Sources whose rejected lines are shown by sample; the others' are counted in one line."""


def rejected_samples(
    ingest: IngestReport, width: int = 100, limit: int = MAX_REJECTED_SOURCES
) -> Iterable[RenderableType]:
    """A few rejected lines per source (of the first ``limit`` sources with any; the
    others' counted together), with a caret where each stopped matching.

    Each line is shown on one row of ``width`` (around the caret when it is longer), so
    the caret stays under its column whatever the terminal wraps.
    """
    shown = 0
    more: list[SourceStats] = []
    for s in ingest.sources:
        for w in s.warnings:
            yield Text.assemble(("warning: ", "yellow bold"), safe(w))
        if not s.lines_rejected:
            continue
        if shown == limit:
            more.append(s)
            continue
        shown += 1
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
    if more:
        reasons_of: Counter[str] = Counter()
        for s in more:
            reasons_of.update(s.reasons)
        reasons = ", ".join(f"{safe_str(r)}: {n:,}" for r, n in reasons_of.most_common())
        yield Text.assemble(
            (f"Rejected lines in {plural(len(more), 'more source')}: ", "bold"),
            reasons,
            (" (--json has samples of each)", "dim"),
        )


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
    console: Console,
    analysis: Analysis,
    *,
    trace_args: TraceArgs | None = None,
    zone: Zone = UTC_ZONE,
    routes: int | None = MAX_ROUTES,
) -> None:
    """Print the whole analyze report (``trace_args``: the run's inputs and options, for
    the ``logtrace trace`` commands it prints; ``routes``: how many routes to show, all
    when None), its times shown in ``zone``."""
    for note in analysis.ingest.partial_notes():
        console.print(Text.assemble(("warning: ", "yellow bold"), safe(note)))
    # crop=False: a table that cannot fit (or a pipe's, printed whole) is never cut
    shown = source_rows(analysis.ingest.sources)
    console.print(sources_table(analysis.ingest, shown), crop=False)
    summed = shown.note()
    if summed is not None:
        console.print(summed)
        console.print()
    console.print(summary(analysis, zone))
    console.print()
    if analysis.latency.buckets is not None:
        for renderable in render_buckets(analysis.latency.buckets, console.width, zone):
            console.print(renderable, crop=False)
        console.print()
    if analysis.latency.routes.height:
        console.print(routes_table(analysis.latency, routes), crop=False)
    for table in analysis.latency.breakdowns or ():
        if table.requests:  # none when the filters keep none, or no nginx line was read
            console.print(breakdown_table(table), crop=False)
    collapsed = collapsed_note(analysis.latency)
    if collapsed is not None:
        console.print(collapsed)
        console.print()
    if analysis.latency.slowest.height:
        console.print(slowest_table(analysis.latency.slowest, zone), crop=False)
    if analysis.cross_host is not None:
        for renderable in render_cross_host(console, analysis.cross_host):
            console.print(renderable, crop=False)
        console.print()
        render_insights(console, analysis.cross_host.insights, limit=5, trace_args=trace_args)
    for renderable in rejected_samples(analysis.ingest, console.width):
        console.print(renderable)
    for renderable in unclassified_samples(analysis.ingest, console.width):
        console.print(renderable)
