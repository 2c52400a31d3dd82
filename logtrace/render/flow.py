"""One request as a text sequence diagram of its hops (the request-flow view).

Participants are services, in order of first appearance, with ``client`` on the left for
the root's caller. Each hop is a call arrow (operation and time sent) and a reply arrow
(status and duration); nested calls sit between the two, parallel calls are bracketed
with ``║``. When the participants do not fit the width, the hops are listed as an
indented ``caller → callee`` list instead.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from logtrace.analysis.trace_view import RequestTrace
from logtrace.plural import plural
from logtrace.render import format as fmt
from logtrace.render.console import safe_str
from logtrace.render.spans import (
    SpanRow,
    parents,
    print_packed,
    print_wrapped,
    short,
    span_rows,
    status_text,
)

CLIENT = "client"
MIN_SPACING = 6
MAX_SPACING = 18
MIN_TEXT = 28
MAX_TEXT = 60
OVERLAP_S = 1e-4  # siblings overlapping less than this are sequential, not parallel


@dataclass
class Call:
    """One hop: ``caller`` asked ``callee`` for ``label`` and got ``status`` back."""

    caller: str
    callee: str
    label: str
    span: SpanRow  # whose timing and status the caller saw
    server: SpanRow | None = None  # the callee's own span, when logged
    children: list[Call] = field(default_factory=list)
    group: int | None = None  # parallel group among its siblings

    @property
    def late(self) -> bool:
        """The callee finished well after the caller stopped waiting."""
        s = self.server
        return s is not None and s.end_s - self.span.end_s > max(self.span.precision_s, 1e-3)


def operation(row: SpanRow) -> str:
    if row.method and (row.target or row.route):
        return f"{row.method} {row.target or row.route}"
    return row.name


def build_calls(rows: list[SpanRow]) -> list[Call]:
    """The hops of a trace as a tree of calls (the root's caller is ``client``)."""
    par = parents(rows)
    kids: dict[int | None, list[int]] = {}
    for i, p in enumerate(par):
        kids.setdefault(p, []).append(i)

    def made_by(i: int) -> list[Call]:
        return [c for k in kids.get(i, []) for c in calls_of(k)]

    def calls_of(i: int) -> list[Call]:
        row, p = rows[i], par[i]
        if row.kind == "CLIENT":
            servers = [k for k in kids.get(i, []) if rows[k].kind == "SERVER"]
            server = servers[0] if servers else None
            callee = rows[server].service if server is not None else row.peer or "?"
            call = Call(row.service, callee, operation(row), row)
            if server is not None:
                call.server = rows[server]
            for k in kids.get(i, []):
                call.children += made_by(k) if k == server else calls_of(k)
            return [call]
        if row.kind == "SERVER" or p is None:
            caller = rows[p].service if p is not None else CLIENT
            return [Call(caller, row.service, operation(row), row, row, made_by(i))]
        return made_by(i)  # INTERNAL work is not a hop: its calls belong to the enclosing one

    roots = [c for i in kids.get(None, []) for c in calls_of(i)]
    _mark_parallel(roots, itertools.count())
    return roots


def _mark_parallel(calls: list[Call], ids: Iterator[int]) -> None:
    calls.sort(key=lambda c: c.span.start_s)
    group: list[Call] = []
    end = float("-inf")
    for call in [*calls, None]:
        if call is not None and call.span.start_s < end - OVERLAP_S:
            group.append(call)
            end = max(end, call.span.end_s)
            continue
        if len(group) > 1:
            gid = next(ids)
            for member in group:
                member.group = gid
        if call is not None:
            group, end = [call], call.span.end_s
    for call in calls:
        _mark_parallel(call.children, ids)


@dataclass(frozen=True)
class Event:
    key: float
    kind: Literal["call", "reply", "late"]  # late: a reply that came after the caller gave up
    call: Call
    nested: bool = False  # a reply with other events between it and its call


def events(call: Call) -> list[Event]:
    """The call, its nested events in time order, then its reply (and a late reply).

    A nested event up to the caller's timing precision after the reply still goes before
    it (nginx's one-second clock must not pull a reply above the calls it waited for);
    events clearly after it (the callee working on after a timeout) go after it.
    """
    inner = list(heapq.merge(*(events(c) for c in call.children), key=lambda e: e.key))
    cut = call.span.end_s + call.span.precision_s
    n = next((i for i, e in enumerate(inner) if e.key > cut), len(inner))
    key = max([call.span.end_s] + [e.key for e in inner[:n]])
    reply = Event(key, "reply", call, n > 0)
    late = [Event(call.server.end_s, "late", call)] if call.late and call.server else []
    after = list(heapq.merge(inner[n:], late, key=lambda e: e.key))
    return [Event(call.span.start_s, "call", call), *inner[:n], reply, *after]


def participants(evs: list[Event]) -> list[str]:
    seen: dict[str, None] = {}
    for e in evs:
        seen.setdefault(e.call.caller)
        seen.setdefault(e.call.callee)
    return list(seen)


def event_text(e: Event, width: int = MAX_TEXT) -> Text:
    """What the line of an event says: the time and operation, or status and duration."""
    call, row = e.call, e.call.span
    if e.kind == "call":
        text = Text(f"{'+' + fmt.duration(row.start_s):>7}  ")
        marks = Text()
        if row.retry:
            marks.append(("  ↻ " if (row.attempt or 1) > 1 else "  ") + row.retry, "yellow")
        if row.parent_guessed or (call.server is not None and call.server.parent_guessed):
            marks.append("  ?", "yellow")
        room = width - cell_len(text.plain) - cell_len(marks.plain)
        text.append(short(safe_str(call.label), max(room, 12)))
        return text + marks
    if e.kind == "late":
        server = call.server or row
        text = Text(f"{'+' + fmt.duration(server.end_s):>7}  ")
        text.append(status_text(server), "bold red" if server.failed else "bold")
        text.append(f" · {fmt.duration(server.duration_s)}")
        text.append(f", {fmt.duration(server.end_s - row.end_s)} late", "yellow")
        return text
    text = Text(" " * 9)
    text.append(status_text(row), "bold red" if row.failed else "bold")
    text.append(f" · {fmt.duration(row.duration_s)}")
    if call.late:
        text.append(", gave up", "yellow")
    label = safe_str(call.label)
    if e.nested and cell_len(text.plain) + cell_len(label) + 4 <= width:
        text.append(f"  ({label})", "dim")  # which call this answers, when it is far above
    return text


def render_flow(console: Console, trace: RequestTrace) -> None:
    """Print the hops of ``trace`` as a sequence diagram between its services."""
    rows = span_rows(trace)
    roots = build_calls(rows)
    evs = list(heapq.merge(*(events(c) for c in roots), key=lambda e: e.key))
    names = participants(evs)
    calls = sum(1 for e in evs if e.kind == "call")
    title = Text("Request flow ", "bold")
    title.append(safe_str(trace.request_id), "bold")
    title.append(f": {plural(calls, 'call')} between {plural(len(names), 'participant')}")
    print_wrapped(console, title)
    console.print()
    if not evs:
        return
    spacing = _spacing(console.width, names, evs)
    if spacing is None:
        note = (
            f"{plural(len(names), 'participant')} do not fit {console.width} columns as a diagram; "
            "the hops:"
        )
        print_wrapped(console, Text(note, "dim"))
        _arrow_list(console, roots)
    else:
        _diagram(console, names, evs, spacing)


@dataclass(frozen=True)
class Group:
    """Parallel sibling calls: the event lines they span and their gutter column."""

    first: int
    last: int
    level: int
    calls: int


def parallel_groups(evs: list[Event]) -> list[Group]:
    lines: dict[int, list[int]] = {}
    calls: dict[int, int] = {}
    for i, e in enumerate(evs):
        if e.call.group is not None:
            lines.setdefault(e.call.group, []).append(i)
            calls[e.call.group] = calls.get(e.call.group, 0) + (e.kind == "call")
    out: list[Group] = []
    for gid, first, last in sorted(
        ((g, min(v), max(v)) for g, v in lines.items()), key=lambda t: t[1]
    ):
        level = sum(1 for g in out if g.first <= first and last <= g.last)
        out.append(Group(first, last, level, calls[gid]))
    return out


def _spacing(width: int, names: list[str], evs: list[Event]) -> int | None:
    """The widest lifeline spacing that leaves the text room; None when nothing fits."""
    gutter = max((g.level + 1 for g in parallel_groups(evs)), default=0)
    need = max(cell_len(event_text(e).plain) for e in evs)
    target = min(need, max(MIN_TEXT, int(width * 0.45)), MAX_TEXT)
    gaps = max(len(names) - 1, 1)

    def text_room(s: int) -> int:
        return width - (gutter + s // 2 + gaps * s + 3)

    for s in range(MAX_SPACING, MIN_SPACING - 1, -1):
        if text_room(s) >= target:
            return s
    return MIN_SPACING if text_room(MIN_SPACING) >= MIN_TEXT else None


def _diagram(console: Console, names: list[str], evs: list[Event], s: int) -> None:
    groups = parallel_groups(evs)
    gutter = max((g.level + 1 for g in groups), default=0)
    x = {name: gutter + s // 2 + i * s for i, name in enumerate(names)}
    text_at = x[names[-1]] + 3
    text_w = console.width - text_at
    shown = [safe_str(n) for n in names]
    _header(console, shown, [x[n] for n in names], s)
    active = dict.fromkeys(names, 0)
    starts = {g.first: g.calls for g in groups}
    for i, e in enumerate(evs):
        if i in starts:
            marker = _gutter(groups, i, gutter, opening=True)
            line = marker + Text(_lifelines(x, active, text_at - gutter, gutter))
            line.append(f"parallel: {starts[i]} calls at once", "yellow")
            line.rstrip()
            console.print(line, no_wrap=True, overflow="ellipsis")
        call = e.call
        if e.kind == "call":
            active[call.callee] += 1
        cells = list(_lifelines(x, active, text_at - gutter, gutter))
        _arrow(cells, x, e, gutter)
        line = _gutter(groups, i, gutter, opening=False)
        failed = (call.server if e.kind == "late" and call.server else call.span).failed
        line.append("".join(cells), "red" if e.kind != "call" and failed else "")
        body = event_text(e, text_w)
        body.truncate(max(text_w, 1), overflow="ellipsis")
        line.append_text(body)
        line.rstrip()
        console.print(line, no_wrap=True, overflow="ellipsis")
        if e.kind == "late" or (e.kind == "reply" and not call.late):
            active[call.callee] -= 1
    console.print()
    legend = ["─► call", "◄╌ reply", "┃ busy"]
    if any(e.call.span.failed for e in evs):
        legend.append("✗ error")
    if any(
        e.call.span.parent_guessed or (e.call.server and e.call.server.parent_guessed) for e in evs
    ):
        legend.append("? caller guessed from timing")
    if any(e.kind == "late" for e in evs):
        legend.append("× reply nobody waited for")
    if groups:
        legend.append("║ calls in parallel")
    print_packed(console, legend)
    if any(cell_len(n) > 2 * s - 2 for n in shown):
        print_packed(console, [f"participants: {shown[0]}", *shown[1:]], " · ")


def _header(console: Console, names: list[str], xs: list[int], s: int) -> None:
    fits = all(cell_len(n) <= s - 1 for n in names)
    lines = [[" "] * (xs[-1] + s), [" "] * (xs[-1] + s)]
    room = s - 1 if fits else 2 * s - 2
    for i, (name, x) in enumerate(zip(names, xs, strict=True)):
        label = short(name, room)
        row = lines[0 if fits else i % 2]
        start = max(x - cell_len(label) // 2, 0)
        row[start : start + len(label)] = list(label)
    for row in lines[: 1 if fits else 2]:
        console.print(Text("".join(row).rstrip(), "bold"), no_wrap=True, overflow="ellipsis")
    rule = [" "] * (xs[-1] + 1)
    for x in xs:
        rule[x] = "┬"
    console.print(Text("".join(rule), "dim"), no_wrap=True, overflow="ellipsis")


def _lifelines(x: dict[str, int], active: dict[str, int], width: int, gutter: int) -> str:
    """The lifelines after the gutter: heavy while a participant is busy with a call."""
    cells = [" "] * width
    for name, pos in x.items():
        cells[pos - gutter] = "┃" if active[name] else "│"
    return "".join(cells)


def _arrow(cells: list[str], x: dict[str, int], e: Event, gutter: int) -> None:
    call = e.call
    a, b = x[call.caller] - gutter, x[call.callee] - gutter
    if e.kind != "call":
        a, b = b, a
    if a == b:  # a service calling itself
        cells[a + 1] = "╮" if e.kind == "call" else "╯"
        return
    step = 1 if b > a else -1
    shaft = "─" if e.kind == "call" else "╌"
    for k in range(a + step, b, step):
        cells[k] = shaft
    if e.kind == "call":
        cells[b - step] = "►" if step > 0 else "◄"
    elif e.kind == "late":
        cells[b - step] = "×"
    else:
        cells[b - step] = "◄" if step < 0 else "►"
    replier = call.server if e.kind == "late" and call.server else call.span
    if e.kind != "call" and replier.failed:
        cells[a] = "✗"
    else:
        cells[a] = (
            ("┣" if cells[a] == "┃" else "├") if step > 0 else ("┫" if cells[a] == "┃" else "┤")
        )


def _gutter(groups: list[Group], i: int, width: int, *, opening: bool) -> Text:
    cells = [" "] * width
    for g in groups:
        if opening and i == g.first:
            cells[g.level] = "╓"
        elif g.first <= i <= g.last:
            cells[g.level] = "╙" if i == g.last else "║"
    return Text("".join(cells), "yellow")


def _arrow_list(console: Console, roots: list[Call]) -> None:
    """Fallback for many participants: one line per hop, indented by nesting."""

    def walk(calls: list[Call], depth: int) -> None:
        for call in calls:
            row = call.span
            line = Text("  " * min(depth, console.width // 5))
            line.append("║ " if call.group is not None else "", "yellow")
            line.append(f"{safe_str(call.caller)} → {safe_str(call.callee)}", "bold")
            line.append(f"  +{fmt.duration(row.start_s)}  ")
            line.append(status_text(row), "bold red" if row.failed else "")
            line.append(f" · {fmt.duration(row.duration_s)}  ")
            line.append(safe_str(call.label))
            if row.retry:
                line.append(f"  {row.retry}", "yellow")
            line.truncate(console.width, overflow="ellipsis")
            console.print(line, no_wrap=True, overflow="ellipsis")
            walk(call.children, depth + 1)

    walk(roots, 0)
