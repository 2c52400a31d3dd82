"""One request as a Gantt chart, like Jaeger's trace timeline, in a terminal.

One row per span in tree order: the tree, ``service@host``, the operation, a bar drawn to
scale with eighth-cell blocks, the duration, the status and markers. The stretches of a bar
that lie on the critical path are drawn with solid blocks (``█``, bold on a colour
terminal) and the rest with a light shade (``░``), so the path shows without colour too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from logtrace.analysis.trace_view import RequestTrace
from logtrace.plural import plural
from logtrace.render import format as fmt
from logtrace.render.console import safe, safe_str
from logtrace.render.fit import middle
from logtrace.render.spans import (
    SpanRow,
    operations,
    print_packed,
    print_wrapped,
    row_flags,
    short,
    signed_ms,
    span_rows,
    status_text,
    trace_start,
    tree_prefixes,
    who,
)
from logtrace.when import UTC_ZONE, Zone

# Left-aligned eighth blocks: EIGHTHS[n] fills n/8 of a cell.
EIGHTHS = " ▏▎▍▌▋▊▉█"
ON_PATH = "█"  # a full cell on the critical path
OFF_PATH = "░"  # a full (or at least half) cell off it
THIN_OFF_PATH = "┊"  # an off-path span too short to fill half a cell
ON_PATH_GLYPHS = frozenset(EIGHTHS[1:] + "▐▕")
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta")
MIN_BAR = 10
MAX_LABEL = 40
MAX_NAME = 48
TOP_CRITICAL = 3
MIN_TARGET = 24  # a shortened target keeps at least this much
WHOLE = "--lines or --json show it whole"


def critical_sections(
    trace: RequestTrace, t0: datetime | None
) -> dict[str, list[tuple[float, float]]]:
    """Critical-path sections per span id, as seconds from the trace's start."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    if t0 is None or not trace.critical.height:
        return out
    for r in trace.critical.iter_rows(named=True):
        s, e = r["section_start"], r["section_end"]
        if r["span_id"] is None or s is None or e is None:
            continue
        out[r["span_id"]].append(((s - t0).total_seconds(), (e - t0).total_seconds()))
    return out


def bar(
    row: SpanRow, sections: list[tuple[float, float]] | None, total_s: float, width: int
) -> list[tuple[str, bool]]:
    """The bar's cells as (glyph, on critical path); blank cells are spaces."""
    scale = 8 * width / total_s if total_s > 0 else 0.0
    end_e = 8 * width
    a0 = min(max(round(row.start_s * scale), 0), end_e - 1)
    a1 = min(max(round(row.end_s * scale), a0 + 1), end_e)
    crit = [False] * (a1 - a0)
    for s, e in sections or ():
        c0, c1 = max(round(s * scale), a0), min(round(e * scale), a1)
        for k in range(c0, c1):
            crit[k - a0] = True
    if sections and not any(crit):  # on the path, but too short to cover an eighth
        first = min(max(round(sections[0][0] * scale), a0), a1 - 1)
        crit[first - a0] = True
    cells = [(" ", False)] * width
    best: tuple[int, int] | None = None  # (crit eighths, cell) of the most critical cell
    for c in range(a0 // 8, (a1 - 1) // 8 + 1):
        lo, hi = max(8 * c, a0), min(8 * c + 8, a1)
        cov = hi - lo
        on = sum(crit[lo - a0 : hi - a0])
        if on and (best is None or on > best[0]):
            best = (on, c)
        if on and 2 * on >= cov:
            cells[c] = (_solid(cov, lo == 8 * c, hi == 8 * c + 8), True)
        elif cov >= 4:
            cells[c] = (OFF_PATH, False)
    if best is not None and not any(on for _, on in cells):
        c = best[1]
        lo, hi = max(8 * c, a0), min(8 * c + 8, a1)
        cells[c] = (_solid(hi - lo, lo == 8 * c, hi == 8 * c + 8), True)
    if all(g == " " for g, _ in cells):
        cells[min(a0 // 8, width - 1)] = (THIN_OFF_PATH, False)
    return cells


def _solid(eighths: int, left: bool, right: bool) -> str:
    if eighths >= 8 or left:
        return EIGHTHS[min(eighths, 8)]
    if right:
        return "▐" if eighths >= 4 else "▕"
    return EIGHTHS[eighths]


def ticks(total_s: float, width: int) -> list[tuple[int, str]]:
    """(cell, label) pairs for a time axis ``width`` cells wide covering ``total_s``."""
    if total_s <= 0:
        return [(0, "0")]
    for step in _STEPS:
        if total_s / step > width / 3 and step != _STEPS[-1]:
            continue  # ticks closer than 3 cells can never be labelled
        labels = [_tick_label(k * step, step) for k in range(int(total_s / step + 1e-9) + 1)]
        room = max(cell_len(x) for x in labels) + 2
        if step / total_s * width >= room or step == _STEPS[-1]:
            return [
                (min(int(k * step / total_s * width), width - 1), x) for k, x in enumerate(labels)
            ]
    return [(0, "0")]


_STEPS = [m * 10.0**e for e in range(-6, 1) for m in (1, 2, 5)] + [
    60.0 * m for m in (1 / 6, 1 / 4, 1 / 2, 1, 2, 5, 10, 15, 30, 60, 120, 240, 1440)
]


def _tick_label(value: float, step: float) -> str:
    if value == 0:
        return "0"
    if value < 1e-3:
        return f"{round(value * 1e6, 3):g} µs"
    if value < 1:
        return f"{round(value * 1e3, 3):g} ms"
    if step < 60:
        return f"{round(value, 3):g} s"
    minutes = round(value / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 120 else f"{minutes}m"


@dataclass(frozen=True)
class _Layout:
    label: int
    name: int
    bar: int
    dur: int
    status: int
    flags: int


def _layout(
    width: int, *, labels: int, names: int, durs: int, statuses: int, flags: int
) -> _Layout:
    """Column widths: names at their natural width where they fit, the bar gets the rest."""
    fixed = durs + statuses + flags + 6 + (1 if flags else 0)
    rest = max(width - fixed, 3 * MIN_BAR)
    label, name = min(labels, MAX_LABEL), min(names, MAX_NAME)
    want_bar = max(MIN_BAR, int(rest * 0.4))
    if label + name > rest - want_bar:
        room = rest - want_bar
        label = min(label, max(room // 2, room - name, 12))
        name = max(room - label, 8)
    return _Layout(label, name, max(rest - label - name, MIN_BAR), durs, statuses, flags)


def _pad(text: Text, width: int) -> Text:
    text.truncate(width, overflow="ellipsis", pad=True)
    return text


def render_gantt(
    console: Console, trace: RequestTrace, *, show_lines: bool = False, zone: Zone = UTC_ZONE
) -> None:
    """Print ``trace`` as a Gantt chart with the critical path drawn on the bars."""
    rows = span_rows(trace)
    _header(console, trace, rows, zone)
    if not rows:
        return
    t0 = trace_start(trace)
    total = trace.duration_s
    sections = critical_sections(trace, t0)
    colours: dict[str, str] = {}
    for row in rows:
        colours.setdefault(row.service, COLOURS[len(colours) % len(COLOURS)])
    labels = [who(r) for r in rows]
    names = operations(rows)
    durs = [fmt.duration(r.duration_s) for r in rows]
    statuses = [status_text(r) for r in rows]
    flags = row_flags(rows)
    for step in (2, 1):
        trees = tree_prefixes(rows, step)
        widest = max(cell_len(p) + cell_len(x) for (p, _), x in zip(trees, labels, strict=True))
        lay = _layout(
            console.width,
            labels=max(widest, 12),
            names=max(*(cell_len(x) for x in names), 9),
            durs=max(len(x) for x in durs),
            statuses=max(len(x) for x in statuses),
            flags=max(cell_len(x) for x in flags),
        )
        if widest <= lay.label:
            break
    _axis(console, lay, total)
    for i, row in enumerate(rows):
        prefix, guide = trees[i]
        if cell_len(prefix) > lay.label - 6:  # too deep: keep the nearest levels
            prefix = "…" + prefix[-max(lay.label - 7, 0) :]
        style = "red" if row.failed else colours[row.service]
        line = Text()
        tree = Text(prefix, "dim")
        if row.parent_guessed and prefix:
            tree.stylize("bold yellow", len(prefix) - 1)
        line.append_text(_pad(tree + Text(labels[i], style), lay.label))
        line.append(" ")
        line.append_text(_pad(Text(short(names[i], lay.name)), lay.name))
        line.append(" ≈" if row.precision_s >= 1 else "  ", "yellow")
        for glyph, on in bar(row, sections.get(row.span_id), total, lay.bar):
            line.append(glyph, f"bold {style}" if on else f"dim {style}")
        line.append("  " + durs[i].rjust(lay.dur) + " ")
        line.append(statuses[i].ljust(lay.status), "bold red" if row.failed else "")
        if flags[i]:
            line.append(" " + flags[i], "yellow")
        line.rstrip()
        console.print(line, no_wrap=True, overflow="ellipsis")
        if show_lines:
            _lines(console, trace.lines.get(row.span_id, ()), guide)
    console.print()
    _critical_summary(console, rows, sections)
    _legend(console, rows, flags)


def _header(console: Console, trace: RequestTrace, rows: list[SpanRow], zone: Zone) -> None:
    title = Text("Trace ", "bold")
    title.append_text(safe(trace.request_id, "bold"))
    if rows:
        # the precision of the span that starts the trace (a whole-second line: ≈ a second)
        precision = max(r.precision_s for r in rows if r.start_s <= 0)
        started = fmt.timestamp(fmt.in_zone(trace_start(trace), zone), precision_s=precision)
        title.append(f"  started {started} {zone.name}")
    print_wrapped(console, title)
    if not rows:
        console.print(Text("no spans", "dim"))
        return
    root = rows[0]
    services = len({r.service for r in rows})
    hosts = len({r.host for r in rows})
    rest = Text(" → ")
    rest.append(status_text(root), "bold red" if root.failed else "bold")
    rest.append(
        f" in {fmt.duration(trace.duration_s)} · {plural(len(rows), 'span')}"
        f" · {plural(services, 'service')} · {plural(hosts, 'host')}"
    )
    # A target can be thousands of characters long: one line here, whole in --lines/--json.
    name = safe_str(root.name)
    target = middle(name, max(console.width - rest.cell_len, MIN_TARGET))
    print_wrapped(console, Text(target, "bold") + rest)
    if target != name:
        console.print(Text(f"(shortened from {len(name):,} characters: {WHOLE})", "dim"))
    for note in trace.notes:
        print_wrapped(console, Text.assemble(("note: ", "yellow"), safe(note)))
    if trace.skew_s:
        offsets = ", ".join(f"{safe_str(h)} {signed_ms(s)}" for h, s in trace.skew_s.items())
        print_wrapped(console, Text.assemble(("clock offsets applied: ", "yellow"), offsets))
    console.print()


def _axis(console: Console, lay: _Layout, total: float) -> None:
    left = lay.label + 1 + lay.name + 2
    labels = [" "] * lay.bar
    ruler = ["─"] * lay.bar
    for cell, label in ticks(total, lay.bar):
        at = min(cell, lay.bar - cell_len(label))
        if at < 0 or any(c != " " for c in labels[max(at - 2, 0) : at + len(label) + 2]):
            continue
        labels[at : at + len(label)] = list(label)
        ruler[cell] = "┼"
    ruler[0], ruler[-1] = "├", "┤"
    head = Text("service@host".ljust(lay.label + 1) + "operation".ljust(lay.name + 2), "bold")
    head.append("".join(labels), "dim")
    head.rstrip()
    console.print(head, no_wrap=True, overflow="ellipsis")
    console.print(Text(" " * left + "".join(ruler), "dim"), no_wrap=True, overflow="ellipsis")


def _lines(console: Console, lines: tuple[str, ...], guide: str) -> None:
    for raw in lines:
        print_wrapped(console, safe(raw, "dim"), guide + "  ")


def _critical_summary(
    console: Console, rows: list[SpanRow], sections: dict[str, list[tuple[float, float]]]
) -> None:
    """The operations the critical path spends most of its time in."""
    by_op: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row, name in zip(rows, operations(rows), strict=True):
        if row.span_id in sections:
            acc = by_op[(row.service, row.kind, name)]
            acc[0] += sum(max(e - s, 0.0) for s, e in sections[row.span_id])
            acc[1] += 1
            acc[2] += row.failed
    total = sum(v[0] for v in by_op.values())
    if not by_op or total <= 0:
        console.print(Text("Critical path: not known for this trace", "dim"))
        return
    console.print(Text(f"Critical path: {fmt.duration(total)}, mostly in", "bold"))
    ranked = sorted(by_op.items(), key=lambda kv: -kv[1][0])
    top = [kv for kv in ranked[:TOP_CRITICAL] if kv[1][0] >= total / 100] or ranked[:1]
    for (service, _, name), (secs, n, failed) in top:
        line = Text(f"  {fmt.share(secs, total):>6} {fmt.duration(secs):>8}  ")
        line.append_text(safe(service, "bold"))
        after = Text()
        if failed:
            after.append(" ✗", "bold red")
        if n > 1:
            after.append(f"  ({int(n)} spans)", "dim")
        room = console.width - line.cell_len - after.cell_len - 1
        line.append(" " + middle(name, max(room, MIN_TARGET)))
        line.append_text(after)
        console.print(line, no_wrap=True, overflow="ellipsis")
    rest = ranked[len(top) :]
    if rest:
        secs = sum(v[0] for _, v in rest)
        others = plural(len(rest), "other operation")
        console.print(Text(f"  {fmt.share(secs, total):>6} {fmt.duration(secs):>8}  {others}"))


def _legend(console: Console, rows: list[SpanRow], flags: list[str]) -> None:
    parts = [f"{ON_PATH} on the critical path", f"{OFF_PATH} off it"]
    if any(r.failed for r in rows):
        parts.append("✗ error")
    if any(r.parent_guessed for r in rows):
        parts.append("? parent guessed from timing")
    if any("overran" in f for f in flags):
        parts.append("overran: ran past its parent's end")
    print_packed(console, parts)
    coarse = sorted({r.host for r in rows if r.precision_s >= 1})
    if coarse:
        hosts = ", ".join(safe_str(h) for h in coarse)
        console.print(
            Text(f"≈ {hosts}: 1 s timestamps, so these spans may sit up to 1 s off", "dim")
        )
    if any(r.skew_s for r in rows):
        print_wrapped(
            console, Text("clock ±: this host's clock was shifted to fit its callers", "dim")
        )
