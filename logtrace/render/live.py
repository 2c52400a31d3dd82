"""``logtrace top``: the full-screen view refreshed as logs grow, a plain line per refresh
when stdout is not a terminal, and the summary printed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import polars as pl
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from logtrace.live.session import LiveSession, Summary
from logtrace.live.windows import WINDOWS_S, WindowStats
from logtrace.render.console import safe_str
from logtrace.render.format import duration, share
from logtrace.when import Zone

ROUTES_WINDOW_S = 5 * 60
SLOW_WINDOW_S = 60
IDLE_SHOWN_S = 2.0  # a log quiet for longer says so
_NAMES = {60: "1 min", 300: "5 min", 900: "15 min"}


def _when(second: int | None, zone: Zone) -> str:
    if second is None:
        return "no request yet"
    return f"{zone.show(datetime.fromtimestamp(second, UTC)):%Y-%m-%d %H:%M:%S} {zone.name}"


def _header(session: LiveSession) -> Text:
    windows = session.windows
    idle = session.idle_s()
    files = len(session.follower.tails)
    when = _when(windows.now, session.options.zone)
    head = Text.assemble(
        ("logtrace top", "bold"), f"  {files} input{'s' if files != 1 else ''} · log time {when}"
    )
    if idle >= IDLE_SHOWN_S:
        head.append(f" · idle {idle:.0f}s", style="yellow")
    head.append(" · q quits")
    return head


def _reading(session: LiveSession) -> Text:
    lines = sum(s.lines_total for s in session.stats)
    rejected, reasons = session.rejected()
    text = Text(f"lines {lines:,} · requests {session.windows.requests:,} · rejected {rejected:,}")
    if reasons:
        text.append(f" ({safe_str(reasons[0][0])})", style="red")
    if session.follower.rotations:
        text.append(f" · rotations {session.follower.rotations}")
    return text


def _table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left", no_wrap=True)
    return table


def _windows(stats: list[WindowStats]) -> Table:
    numbers = ("req/s", "requests", "4xx", "5xx", "p50", "p95", "p99", "max")
    table = _table("window", *numbers, right=numbers)
    for w in stats:
        table.add_row(
            _NAMES.get(w.seconds, f"{w.seconds}s"),
            f"{w.rate:.1f}",
            f"{w.requests:,}",
            share(w.s4xx, w.requests),
            share(w.s5xx, w.requests),
            duration(w.p50_s),
            duration(w.p95_s),
            duration(w.p99_s),
            duration(w.max_s),
        )
    return table


def _routes(routes: pl.DataFrame, width: int) -> Table:
    numbers = ("req", "mean", "max", "5xx", "time")
    table = _table("route", *numbers, right=numbers)
    room = max(12, width - 44)
    for row in routes.iter_rows(named=True):
        table.add_row(
            _clip(safe_str(row["route"]), room),
            f"{row['requests']:,}",
            duration(row["mean_s"]),
            duration(row["max_s"]),
            f"{row['s5xx']:,}",
            "-" if row["share"] is None else f"{100 * row['share']:.0f}%",
        )
    return table


def _clip(value: str, room: int) -> str:
    return value if len(value) <= room else value[: max(1, room - 1)] + "…"


def _slowest(slow: pl.DataFrame, width: int, zone: Zone) -> Table:
    table = _table("ended", "status", "time", "request", right=("status", "time"))
    room = max(12, width - 30)
    for row in slow.iter_rows(named=True):
        request = f"{row['method'] or ''} {row['path'] or ''}".strip() or "-"
        table.add_row(
            zone.show(row["time"]).strftime("%H:%M:%S"),
            str(row["status"] or "-"),
            duration(row["request_time_s"]),
            _clip(safe_str(request), room),
        )
    return table


def _traces(done: pl.DataFrame, width: int) -> Table:
    table = _table("request id", "total", "services", right=("total",))
    for row in done.iter_rows(named=True):
        services = " · ".join(
            f"{safe_str(s['service'])} {duration(s['time_s'])}" for s in row["services"] or []
        )
        rid = _clip(safe_str(row["request_id"]), 18)
        table.add_row(rid, duration(row["total_s"]), _clip(services, max(12, width - 32)))
    return table


def view(session: LiveSession, width: int, height: int) -> RenderableType:
    """The whole screen for a terminal of ``width`` x ``height`` (80x24 and up)."""
    windows = session.windows
    parts: list[RenderableType] = [
        _header(session),
        _reading(session),
        _windows([windows.window(s) for s in WINDOWS_S]),
    ]
    traces = session.has_app_logs
    sections = 3 if traces else 2
    # header 2, windows 4, each section a title and a table header
    rows = max(1, (height - 6 - 2 * sections) // sections)
    parts.append(Text(f"Top routes by time, last {ROUTES_WINDOW_S // 60} min", style="bold"))
    parts.append(_routes(windows.top_routes(ROUTES_WINDOW_S, rows), width))
    parts.append(Text("Slowest requests, last minute", style="bold"))
    parts.append(_slowest(windows.slowest(SLOW_WINDOW_S, rows), width, session.options.zone))
    if traces:
        t = session.traces
        title = f"Slowest traces completed, last 5 min ({t.completed:,} completed)"
        parts.append(Text(title, style="bold"))
        parts.append(_traces(t.slowest(rows), width))
    return Group(*parts)


@contextmanager
def screen(console: Console) -> Iterator[Callable[[LiveSession], None]]:
    """The full-screen view; yields the function that redraws it."""
    with Live(console=console, screen=True, auto_refresh=False, transient=True) as live:

        def show(session: LiveSession) -> None:
            size = console.size
            live.update(view(session, size.width, size.height), refresh=True)

        yield show


def plain_line(session: LiveSession) -> str:
    """One line of the 1, 5 and 15 minute numbers, for a pipe or a file."""
    windows = session.windows
    rejected, _ = session.rejected()
    now = windows.now
    zone = session.options.zone
    shown = None if now is None else zone.show(datetime.fromtimestamp(now, UTC))
    stamp = "-" if shown is None else shown.isoformat(timespec="seconds").replace("+00:00", "Z")
    parts = [f"time={stamp}"]
    lines = sum(s.lines_total for s in session.stats)
    parts += [f"lines={lines}", f"rejected={rejected}", f"requests={windows.requests}"]
    for w in (windows.window(s) for s in WINDOWS_S):
        name = f"{w.seconds // 60}m"
        parts += [
            f"{name}.rps={w.rate:.2f}",
            f"{name}.4xx={w.s4xx}",
            f"{name}.5xx={w.s5xx}",
            f"{name}.p50={_ms(w.p50_s)}",
            f"{name}.p95={_ms(w.p95_s)}",
            f"{name}.p99={_ms(w.p99_s)}",
        ]
    return " ".join(parts)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:g}ms"


def summary_lines(summary: Summary) -> list[str]:
    """What the session saw, a few lines: printed when it ends."""
    out = [
        f"logtrace top: {summary.lines:,} lines read from {summary.sources} "
        f"input{'s' if summary.sources != 1 else ''}, {summary.rejected:,} rejected, "
        f"{summary.requests:,} requests"
        + (f" ({summary.untimed:,} without a request time)" if summary.untimed else ""),
    ]
    out += [f"  rejected: {n:,} {safe_str(reason)}" for reason, n in summary.reasons[:3]]
    if summary.p50_s is not None:
        out.append(
            f"  request time: p50 {duration(summary.p50_s)}, p95 {duration(summary.p95_s)}, "
            f"p99 {duration(summary.p99_s)}, max {duration(summary.max_s)}"
        )
    if summary.first is not None and summary.last is not None:
        first, last, zone = summary.first, summary.last, summary.zone
        out.append(
            f"  log time: {zone.show(first):%Y-%m-%d %H:%M:%S} to "
            f"{zone.show(last):%H:%M:%S} {zone.name}"
        )
    if summary.rotations:
        out.append(f"  rotations followed: {summary.rotations}")
    if summary.traces:
        out.append(f"  traces completed: {summary.traces:,}")
    return out
