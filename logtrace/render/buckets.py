"""``analyze --every``: requests over time as a table, with sparklines of p99 and req/s."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from logtrace.analysis.buckets import Buckets, size_label
from logtrace.plural import plural
from logtrace.render import format as fmt
from logtrace.render.fit import Cell, Column, FitTable
from logtrace.when import UTC_ZONE, Zone

BARS = "▁▂▃▄▅▆▇█"
CHART_LABEL = 7  # "p99    ", "req/s  "


def sparkline(values: Sequence[float | None], width: int) -> str:
    """One mark a value (a space for none), ▁ for 0 up to █ for the largest; with more
    values than ``width``, each mark shows the largest of a run of them."""
    if not values:
        return ""
    per = -(-len(values) // max(width, 1))
    runs = [values[i : i + per] for i in range(0, len(values), per)]
    peaks = [max((v for v in run if v is not None), default=None) for run in runs]
    top = max((v for v in peaks if v is not None), default=0.0)
    marks = []
    for v in peaks:
        if v is None:
            marks.append(" ")
        elif top <= 0:
            marks.append(BARS[0])
        else:
            marks.append(BARS[min(int(v / top * len(BARS)), len(BARS) - 1)])
    return "".join(marks)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _per_second(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def bucket_title(buckets: Buckets, zone: Zone = UTC_ZONE) -> str:
    size = size_label(buckets.size_s) + (", auto" if buckets.auto else "")
    return (
        f"Requests over time (every {size}; by logged time: when each request ended, {zone.name})"
    )


def bucket_charts(buckets: Buckets, width: int) -> list[Text]:
    """p99 and req/s per bucket as sparklines, oldest on the left (under the table)."""
    frame = buckets.frame
    room = max(width - CHART_LABEL - 20, 10)
    lines = []
    if "p99_s" in frame.columns:
        p99 = frame.get_column("p99_s").to_list()
        peak = max((v for v in p99 if v is not None), default=None)
        lines.append(
            Text.assemble(
                ("p99".ljust(CHART_LABEL), "bold"),
                (sparkline(p99, room), "cyan"),
                f"  max {fmt.duration(peak)}",
            )
        )
    rps = frame.get_column("req_per_s").to_list()
    lines.append(
        Text.assemble(
            ("req/s".ljust(CHART_LABEL), "bold"),
            (sparkline(rps, room), "green"),
            f"  max {_per_second(max(rps, default=None))}",
        )
    )
    return lines


def buckets_table(buckets: Buckets, zone: Zone = UTC_ZONE) -> FitTable:
    """One row per bucket. At a narrow width the columns drop in this order: upstr p99,
    p50, max, 4xx, p95. start, requests, req/s, 5xx and p99 stay."""
    frame = buckets.frame
    has_latency = "p99_s" in frame.columns
    has_upstream = "upstream_p99_s" in frame.columns
    starts = [zone.show(t) for t in frame.get_column("start")]
    one_day = len({t.date() for t in starts}) <= 1
    columns = [
        Column("start" if not one_day else f"start ({zone.name})", "id"),
        Column("requests"),
        Column("req/s"),
        Column("4xx", drop=4),
        Column("5xx"),
    ]
    if has_latency:
        columns += [
            Column("p50", drop=2),
            Column("p95", drop=5),
            Column("p99"),
            Column("max", drop=3),
        ]
    if has_upstream:
        columns.append(Column("upstr p99", drop=1))
    table = FitTable(bucket_title(buckets, zone), columns)
    for start, row in zip(starts, frame.iter_rows(named=True), strict=True):
        five = row.get("rate_5xx")
        cells: list[Cell] = [
            fmt.timestamp(start, date=not one_day),
            fmt.count(row["requests"]),
            _per_second(row["req_per_s"]),
            _rate(row.get("rate_4xx")),
            Text(_rate(five), style="red" if five else ""),
        ]
        if has_latency:
            cells += [fmt.duration(row.get(c)) for c in ("p50_s", "p95_s", "p99_s", "max_s")]
        if has_upstream:
            cells.append(fmt.duration(row.get("upstream_p99_s")))
        table.add_row(*cells)
    return table


def render_buckets(buckets: Buckets, width: int, zone: Zone = UTC_ZONE) -> list[RenderableType]:
    """The charts and the table (times in ``zone``), and what no bucket holds."""
    out: list[RenderableType] = []
    if buckets.frame.height:
        out += [buckets_table(buckets, zone), Group(*bucket_charts(buckets, width))]
    else:
        out.append(
            Text.assemble(
                ("Requests over time: ", "bold"), "none of these requests has a logged time"
            )
        )
    if buckets.frame.height and buckets.untimed:
        out.append(
            Text(
                f"({plural(buckets.untimed, 'request')} without a logged time: in no bucket)",
                style="dim",
            )
        )
    return out
