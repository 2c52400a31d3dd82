"""The parts of the ``analyze`` report that need logs of several hosts."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.text import Text

from logtrace.analysis.across import CrossHost
from logtrace.plural import plural
from logtrace.render import format as fmt
from logtrace.render.console import safe
from logtrace.render.fit import Column, FitTable

_KIND = {"SERVER": "serving", "CLIENT": "calling"}


def _offset(row: dict[str, object]) -> str:
    offset = row.get("offset_s")
    if not isinstance(offset, float):
        return "-"
    spread = row.get("offset_spread_s")
    method = row.get("offset_method")
    if method == "reference":
        return "reference"
    sign = "+" if offset >= 0 else "−"
    text = f"{sign}{fmt.duration(abs(offset))}"
    quarters = abs(offset) / 900
    if abs(offset) >= 900 and abs(quarters - round(quarters)) * 900 <= 2:
        text += " (a time zone? see --timezone)"
    if isinstance(spread, float) and spread:
        text += f" ±{fmt.duration(spread / 2)}"
    return text + (" (1 s window)" if method == "window" else "")


def hosts_table(cross: CrossHost) -> FitTable:
    """Hosts, what runs on them, how precise their clocks are and how far off.

    At a narrow width the services wrap, then the columns drop in this order: logs,
    timestamps, corrected spans, spans, services.
    """
    table = FitTable(
        "Hosts",
        [
            Column("host", "id"),
            Column("services", "text", min_width=8, drop=5),
            Column("logs", "text", min_width=8, drop=1),
            Column("timestamps", drop=2),
            Column("spans", drop=4),
            Column("requests"),
            Column("clock offset"),
            Column("corrected spans", drop=3),
        ],
    )
    for row in cross.hosts.iter_rows(named=True):
        precision = row["precision_s"]
        table.add_row(
            safe(row["host"]),
            safe(row["services"]),
            safe(row["origin"]),
            "1 s" if precision >= 0.5 else fmt.duration(precision),
            fmt.count(row["spans"]),
            fmt.count(row["requests"]),
            _offset(row),
            fmt.count(row["corrected_spans"]),
        )
    return table


def mappings_table(cross: CrossHost) -> FitTable | None:
    """How each hop rewrites paths (learnt from the logs, or read from nginx.conf).

    At a narrow width the sources and paths lose their middles, the widest first.
    """
    frame = cross.mappings.frame
    if frame.is_empty():
        return None
    table = FitTable(
        "Paths rewritten between hops",
        [
            Column("caller", "flex"),
            Column("callee", "flex"),
            Column("caller's path", "flex"),
            Column("callee's path", "flex"),
            Column("seen in"),
        ],
    )
    rows = frame.sort("support", descending=True, nulls_last=False).iter_rows(named=True)
    for row in rows:
        table.add_row(
            safe(row["source_c"]),
            safe(row["source"] or "(its upstreams)"),
            safe(f"{row['prefix_c']}/…"),
            safe(f"{row['prefix']}/…"),
            safe(row["configured"]) if row["configured"] else fmt.count(row["support"]) + " req",
        )
    return table


def services_table(cross: CrossHost) -> FitTable:
    """Total and self time per service: where the time is spent, not just waited.

    At a narrow width the service loses its middle, then the columns drop in this order:
    spans, total, p50, requests.
    """
    table = FitTable(
        "Time per service (self time excludes waiting for the calls it made)",
        [
            Column("service", "flex", min_width=8),
            Column("as", "id"),
            Column("spans", drop=1),
            Column("requests", drop=4),
            Column("total", drop=2),
            Column("self"),
            Column("self share"),
            Column("p50", drop=3),
            Column("p99"),
            Column("5xx"),
        ],
    )
    for row in cross.services.iter_rows(named=True):
        errors = row["errors"]
        table.add_row(
            safe(row["service"]),
            _KIND.get(row["kind"], row["kind"].lower()),
            fmt.count(row["spans"]),
            fmt.count(row["requests"]),
            fmt.duration(row["total_s"]),
            fmt.duration(row["self_s"]),
            f"{100 * row['self_share']:.1f}%",
            fmt.duration(row["p50_s"]),
            fmt.duration(row["p99_s"]),
            Text(fmt.count(errors), style="red" if errors else ""),
        )
    return table


def slow_paths_section(cross: CrossHost) -> Iterable[RenderableType]:
    """For the slowest requests: the call path and the spans that dominate it.

    At a narrow width the request loses its middle, the paths wrap, then "most time on the
    path" drops.
    """
    if not cross.slow_paths:
        return
    table = FitTable(
        f"Slow paths (critical paths of the {plural(len(cross.slow_paths), 'slowest request')})",
        [
            Column("request id", "id"),
            Column("request", "flex", min_width=16),
            Column("took"),
            Column("path", "text", min_width=6),
            Column("most time on the path", "text", min_width=16, drop=1),
        ],
    )
    for p in cross.slow_paths:
        top = "; ".join(f"{service} {op} {fmt.duration(sec)}" for service, op, sec in p.top[:2])
        status = f" {p.status}" if p.status is not None else ""
        table.add_row(
            safe(p.request_id),
            safe(p.name + status),
            fmt.duration(p.duration_s),
            safe(p.path),
            safe(top),
        )
    yield table
    if cross.slow_path_summary.height:
        parts = [
            f"{r['service']} {r['operation']} {100 * r['share']:.0f}%"
            for r in cross.slow_path_summary.head(4).iter_rows(named=True)
        ]
        yield Text.assemble(("Across these paths: ", "bold"), safe("; ".join(parts)))


def render_cross_host(console: object, cross: CrossHost) -> Iterable[RenderableType]:
    """Every cross-host section, in report order."""
    del console
    yield hosts_table(cross)
    if cross.corrected_requests:
        yield Text(
            f"Clock offsets were applied in {cross.corrected_requests:,} of "
            f"{plural(cross.traces, 'request')}, where spans did not nest as logged (raw times "
            "are kept; --no-skew-correction turns this off).",
            style="dim",
        )
    mappings = mappings_table(cross)
    if mappings is not None:
        yield mappings
    yield services_table(cross)
    yield from slow_paths_section(cross)
