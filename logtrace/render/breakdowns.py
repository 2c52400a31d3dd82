"""``analyze --by``: one table of requests by the values of a field."""

from __future__ import annotations

from rich.text import Text

from logtrace.analysis.breakdowns import DIMENSIONS, BreakdownTable
from logtrace.plural import plural
from logtrace.render import format as fmt
from logtrace.render.console import safe
from logtrace.render.fit import Cell, Column, FitTable


def breakdown_table(table: BreakdownTable) -> FitTable:
    """The top values by requests, and a row for the others; shares add up to 100%.

    Values are log text: escaped. At a narrow width the value loses its middle, then the
    columns drop in this order: bytes, p50. requests, share, p99 and 5xx stay.
    """
    has_latency = table.rows.get_column("p50_s").is_not_null().any() or (
        table.other is not None and table.other.get_column("p50_s").is_not_null().any()
    )
    has_bytes = table.rows.get_column("bytes").is_not_null().any()
    title = DIMENSIONS[table.dimension].title
    columns = [Column(title, "flex", min_width=16), Column("requests"), Column("share")]
    if has_bytes:
        columns.append(Column("bytes", drop=2))
    if has_latency:
        columns += [Column("p50", drop=1), Column("p99")]
    columns.append(Column("5xx"))
    shown = table.rows.height
    heading = (
        f"Requests by {title} (top {shown} of {plural(table.distinct, 'value')})"
        if table.other is not None
        else f"Requests by {title} ({plural(table.distinct, 'value')})"
    )
    out = FitTable(heading, columns)
    frames = [table.rows] + ([table.other] if table.other is not None else [])
    requests = [n for f in frames for n in f.get_column("requests").to_list()]
    shares = iter(fmt.shares([float(n) for n in requests], float(table.requests)))
    for row in table.rows.iter_rows(named=True):
        value = row["value"]
        label = safe(value) if value is not None else Text("-", style="dim")
        out.add_row(*_cells(label, row, next(shares), has_bytes, has_latency))
    if table.other is not None:
        row = table.other.row(0, named=True)
        label = Text(f"(other {plural(row['values'], 'value')})", style="dim")
        out.add_row(*_cells(label, row, next(shares), has_bytes, has_latency))
    return out


def _cells(
    label: Text, row: dict[str, object], share: str, has_bytes: bool, has_latency: bool
) -> list[Cell]:
    cells: list[Cell] = [label, fmt.count(_int(row["requests"])), share]
    if has_bytes:
        cells.append(fmt.size(_float(row["bytes"])))
    if has_latency:
        cells += [fmt.duration(_float(row["p50_s"])), fmt.duration(_float(row["p99_s"]))]
    rate = _float(row["error_rate"]) or 0.0
    cells.append(Text(f"{100 * rate:.1f}%", style="red" if rate else ""))
    return cells


def _int(v: object) -> int | None:
    return int(v) if isinstance(v, int) else None


def _float(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) else None
