"""The parts of the ``analyze`` report that need logs of several hosts."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from logtrace.analysis.analyze import CrossHost
from logtrace.render import format as fmt
from logtrace.render.console import report_table, safe, safe_str

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


def hosts_table(cross: CrossHost) -> Table:
    """Hosts, what runs on them, how precise their clocks are and how far off."""
    table = report_table(
        "Hosts",
        ("host", "left"),
        ("services", "left"),
        ("logs", "left"),
        ("timestamps", "right"),
        ("spans", "right"),
        ("requests", "right"),
        ("clock offset", "right"),
        ("corrected spans", "right"),
        no_wrap=True,
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


def mappings_table(cross: CrossHost) -> Table | None:
    """How each hop rewrites paths (learnt from the logs, or read from nginx.conf)."""
    frame = cross.mappings.frame
    if frame.is_empty():
        return None
    table = report_table(
        "Paths rewritten between hops",
        ("caller", "left"),
        ("callee", "left"),
        ("caller's path", "left"),
        ("callee's path", "left"),
        ("seen in", "right"),
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


def services_table(cross: CrossHost) -> Table:
    """Total and self time per service: where the time is spent, not just waited."""
    table = report_table(
        "Time per service (self time excludes waiting for the calls it made)",
        ("service", "left"),
        ("as", "left"),
        ("spans", "right"),
        ("requests", "right"),
        ("total", "right"),
        ("self", "right"),
        ("self share", "right"),
        ("p50", "right"),
        ("p99", "right"),
        ("5xx", "right"),
        no_wrap=True,
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
    """For the slowest requests: the call path and the spans that dominate it."""
    if not cross.slow_paths:
        return
    table = report_table(
        f"Slow paths (critical paths of the {len(cross.slow_paths)} slowest requests)",
        ("request id", "left"),
        ("request", "left"),
        ("took", "right"),
        ("path", "left"),
        ("most time on the path", "left"),
    )
    for p in cross.slow_paths:
        top = "; ".join(f"{service} {op} {fmt.duration(sec)}" for service, op, sec in p.top[:2])
        status = f" {p.status}" if p.status is not None else ""
        table.add_row(
            Text(safe_str(p.request_id), no_wrap=True),
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
            f"Clock offsets were applied in {cross.corrected_requests:,} of {cross.traces:,} "
            "requests, where spans did not nest as logged (raw times are kept; "
            "--no-skew-correction turns this off).",
            style="dim",
        )
    mappings = mappings_table(cross)
    if mappings is not None:
        yield mappings
    yield services_table(cross)
    yield from slow_paths_section(cross)
