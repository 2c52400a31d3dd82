"""Spans of one trace as display rows, shared by the Gantt chart and the flow graph."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from logtrace.analysis.trace_view import RequestTrace
from logtrace.render import format as fmt
from logtrace.render.console import safe_str


@dataclass(frozen=True)
class SpanRow:
    """One span of a trace, with times as seconds from the trace's start."""

    span_id: str
    parent_span_id: str | None
    parent_guessed: bool
    host: str
    service: str
    kind: str
    name: str
    method: str | None
    route: str | None
    target: str | None
    peer: str | None
    start_s: float
    end_s: float
    duration_s: float
    precision_s: float
    skew_s: float
    status: int | None
    error: bool
    attempt: int | None

    @property
    def failed(self) -> bool:
        return self.error or (self.status or 0) >= 500

    @property
    def retry(self) -> str | None:
        """``attempt 2`` for a retry or a failed attempt; None otherwise."""
        if self.attempt is None or (self.attempt <= 1 and not self.failed):
            return None
        return f"attempt {self.attempt}"


def trace_start(trace: RequestTrace) -> datetime | None:
    value = trace.spans.get_column("start").min() if trace.spans.height else None
    return value if isinstance(value, datetime) else None


def span_rows(trace: RequestTrace) -> list[SpanRow]:
    """The spans of ``trace`` in display order, as typed rows."""
    t0 = trace_start(trace)
    rows = []
    for r in trace.spans.iter_rows(named=True):
        start, end = r["start"], r["end"]
        start_s = (start - t0).total_seconds() if start and t0 else 0.0
        end_s = (end - t0).total_seconds() if end and t0 else start_s
        duration = r["duration_s"]
        rows.append(
            SpanRow(
                span_id=r["span_id"] or "",
                parent_span_id=r["parent_span_id"],
                parent_guessed=bool(r["parent_guessed"]),
                host=r["host"] or "-",
                service=r["service"] or "-",
                kind=r["kind"] or "INTERNAL",
                name=r["name"] or "-",
                method=r["method"],
                route=r["route"],
                target=r["target"],
                peer=r["peer"],
                start_s=start_s,
                end_s=max(end_s, start_s),
                duration_s=duration if duration is not None else max(end_s - start_s, 0.0),
                precision_s=r["precision_s"] or 0.0,
                skew_s=r["skew_s"] or 0.0,
                status=r["status"],
                error=bool(r["error"]),
                attempt=r["attempt"],
            )
        )
    return rows


def parents(rows: list[SpanRow]) -> list[int | None]:
    """Each row's parent row index; None for a root or a parent not shown before it."""
    index: dict[str, int] = {}
    out: list[int | None] = []
    for i, row in enumerate(rows):
        p = index.get(row.parent_span_id) if row.parent_span_id else None
        out.append(p)
        index.setdefault(row.span_id, i)
    return out


def tree_prefixes(rows: list[SpanRow], step: int = 2) -> list[tuple[str, str]]:
    """Per row, the connectors before its label and the guide for lines printed under it.

    ``step`` is the indent per level: 2 (``├─``) where there is room, 1 (``├``) where not.
    """
    par = parents(rows)
    last = [True] * len(rows)
    has_children = [False] * len(rows)
    seen: dict[int | None, int] = {}
    for i, p in enumerate(par):
        if p is not None:
            has_children[p] = True
        if p in seen:
            last[seen[p]] = False
        seen[p] = i
    pad = " " * (step - 1)
    out: list[tuple[str, str]] = []
    for i, row in enumerate(rows):
        trunk = ""
        a = par[i]
        while a is not None and par[a] is not None:
            trunk = (" " if last[a] else "│") + pad + trunk
            a = par[a]
        if par[i] is None:
            prefix, cont = "", ""
        else:
            link = "?" if row.parent_guessed else "─"
            prefix = trunk + ("└" if last[i] else "├") + (link if step > 1 else link.strip("─"))
            cont = trunk + (" " if last[i] else "│") + pad
        out.append((prefix, cont + ("│" if has_children[i] else " ") + pad))
    return out


def who(row: SpanRow) -> str:
    """``service@host``; just the host when it is the service plus an instance number."""
    host, service = row.host, row.service
    if host == service or (host.startswith(service) and _INSTANCE.fullmatch(host[len(service) :])):
        return safe_str(host)
    return safe_str(f"{service}@{host}")


_INSTANCE = re.compile(r"[-_.]?\d+")


def short(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with ``…``; an HTTP operation keeps its path's end."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    method, sep, path = text.partition(" ")
    if sep and path.startswith("/") and 0 < len(method) <= 7 and width >= len(method) + 8:
        tail = path
        while cell_len(tail) > width - len(method) - 2:
            tail = tail[1:]
        return f"{method} …{tail}"
    out = text
    while cell_len(out) > width - 1:
        out = out[:-1]
    return out + "…"


def operations(rows: list[SpanRow]) -> list[str]:
    """Each span's name, with ``→ peer`` for a call whose callee left no span of its own."""
    par = parents(rows)
    answered = {p for p, row in zip(par, rows, strict=True) if row.kind == "SERVER"}
    return [
        safe_str(
            r.name + (f" → {r.peer}" if r.kind == "CLIENT" and r.peer and i not in answered else "")
        )
        for i, r in enumerate(rows)
    ]


def signed_ms(seconds: float) -> str:
    sign = "+" if seconds > 0 else "−"
    return sign + fmt.duration(abs(seconds))


def status_text(row: SpanRow) -> str:
    status = str(row.status) if row.status is not None else "-"
    return status + (" ✗" if row.failed else "")


def row_flags(rows: list[SpanRow]) -> list[str]:
    """Per row: retry, coarse timing, clock offset and overrun markers."""
    par = parents(rows)
    out = []
    for i, row in enumerate(rows):
        flags = []
        if row.retry:
            flags.append(row.retry)
        p = par[i]
        parent = rows[p] if p is not None else None
        if row.skew_s and (parent is None or parent.skew_s != row.skew_s):
            flags.append(f"clock {signed_ms(row.skew_s)}")
        if parent is not None:
            overrun = row.end_s - parent.end_s
            if overrun > max(parent.precision_s, row.precision_s, 1e-3):
                flags.append(f"overran {fmt.duration(overrun)}")
        out.append(" ".join(flags))
    return out


def print_wrapped(console: Console, text: Text, prefix: str = "") -> None:
    """``text`` wrapped to the width after ``prefix`` (repeated on every line), no trailing
    blanks: log text can be long and a wrapped line must not look like a new entry."""
    width = max(console.width - cell_len(prefix), 10)
    for part in text.wrap(console, width, overflow="fold"):
        part.rstrip()
        console.print(Text(prefix, "dim") + part, no_wrap=True, overflow="ellipsis")


def print_packed(console: Console, items: list[str], sep: str = "  ") -> None:
    """Legend items ``sep`` apart, wrapped between items, never inside one."""
    line = ""
    for item in items:
        if line and cell_len(line) + cell_len(sep) + cell_len(item) > console.width:
            print_wrapped(console, Text(line, "dim"))
            line = ""
        line = f"{line}{sep}{item}" if line else item
    if line:
        print_wrapped(console, Text(line, "dim"))
