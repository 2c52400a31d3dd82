"""``logtrace compare``: before and after, per route, regressions first."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.console import Console
from rich.text import Text

from logtrace.analysis.compare import Comparison
from logtrace.analysis.gate import ChangeVerdict
from logtrace.analysis.latency import LatencyReport
from logtrace.render import format as fmt
from logtrace.render.console import safe, safe_str
from logtrace.render.fit import Cell, Column, FitTable
from logtrace.when import UTC_ZONE, Zone

STYLES = {"slower": "red bold", "faster": "green", "no change": "", "too few": "dim"}


def change(seconds: float | None, pct: float | None = None) -> str:
    """``+12 ms (+8.0%)``, ``-1.20 s (-30.0%)``, ``0 ms``."""
    if seconds is None:
        return "-"
    sign = "+" if seconds > 0 else "-" if seconds < 0 else ""
    text = sign + fmt.duration(abs(seconds))
    if pct is not None and seconds:
        text += f" ({100 * pct:+.1f}%)"
    return text


def p_value(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _pair(row: dict[str, Any], name: str) -> str:
    return f"{fmt.duration(row[f'{name}_s_before'])} → {fmt.duration(row[f'{name}_s_after'])}"


def compare_table(title: str, rows: pl.DataFrame) -> FitTable:
    """Routes seen on both sides. At a narrow width the columns drop in this order: p50,
    p95, Δ p95 (the before → after pairs first), p99, Δ p99, Δ p50. route, counts, the
    share of slower pairs, the p-value and the verdict stay: the verdict is the test's on
    whole distributions, and the share of slower pairs is its effect, where a p99 may well
    move the other way."""
    table = FitTable(
        title,
        [
            Column("route", "flex", min_width=16),
            Column("before"),
            Column("after"),
            Column("p50", drop=1),
            Column("Δ p50", drop=6),
            Column("p95", drop=2),
            Column("Δ p95", drop=3),
            Column("p99", drop=4),
            Column("Δ p99", drop=5),
            Column("slower pairs"),
            Column("p"),
            Column("verdict", "id"),
        ],
    )
    for row in rows.iter_rows(named=True):
        cells: list[Cell] = [
            safe(row["route"] or "-"),
            fmt.count(row["before"]),
            fmt.count(row["after"]),
        ]
        for name in ("p50", "p95"):
            cells += [_pair(row, name), change(row[f"{name}_s_change"], row[f"{name}_change_pct"])]
        cells += [
            _pair(row, "p99"),
            change(row["p99_s_change"], row["p99_change_pct"]),
            f"{100 * row['effect']:.1f}%",
            p_value(row["p_value"]),
            Text(row["verdict"], style=STYLES[row["verdict"]]),
        ]
        table.add_row(*cells)
    return table


def one_side_table(title: str, rows: pl.DataFrame) -> FitTable:
    table = FitTable(
        title,
        [Column("route", "flex", min_width=16), Column("requests"), Column("p50"), Column("p99")],
    )
    for row in rows.iter_rows(named=True):
        table.add_row(
            safe(row["route"] or "-"),
            fmt.count(row["count"]),
            fmt.duration(row["p50_s"]),
            fmt.duration(row["p99_s"]),
        )
    return table


def _side(label: str, rep: LatencyReport, zone: Zone) -> Text:
    first, last = fmt.in_zone(rep.time_min, zone), fmt.in_zone(rep.time_max, zone)
    span = (
        f"{fmt.timestamp(first)} → {fmt.timestamp(last)} {zone.name}"
        if rep.time_min and rep.time_max
        else "no time logged"
    )
    return Text.assemble((f"{label}: ", "bold"), f"{fmt.count(rep.requests)} requests, {span}")


def render_comparison(
    console: Console,
    comparison: Comparison,
    before: LatencyReport,
    after: LatencyReport,
    *,
    zone: Zone = UTC_ZONE,
) -> None:
    """Both sides, the test, overall, then the routes (regressions first), new, vanished;
    times shown in ``zone``."""
    console.print(_side("Before", before, zone))
    console.print(_side("After", after, zone))
    if zone.why:
        console.print(Text(fmt.zone_note(zone), style="dim"))
    console.print(
        Text(
            f"Beyond noise: a two-sided Mann–Whitney U test of the request times, p < "
            f"{comparison.alpha:g} with at least {comparison.min_count} requests on each side "
            "(normal approximation, ties corrected). 'slower pairs': the share of "
            "(before, after) pairs in which the after request took longer.",
            style="dim",
        )
    )
    console.print()
    if comparison.overall:
        overall = pl.DataFrame([comparison.overall])
        console.print(compare_table("Overall", overall), crop=False)
    if comparison.routes.height:
        title = f"Routes ({comparison.routes.height}; slower first, then faster)"
        console.print(compare_table(title, comparison.routes), crop=False)
    if comparison.new_routes.height:
        title = f"New routes (after only: {comparison.new_routes.height})"
        console.print(one_side_table(title, comparison.new_routes), crop=False)
    if comparison.vanished_routes.height:
        title = f"Vanished routes (before only: {comparison.vanished_routes.height})"
        console.print(one_side_table(title, comparison.vanished_routes), crop=False)


def change_gate_lines(verdicts: tuple[ChangeVerdict, ...]) -> list[str]:
    """One line per broken (or unjudged) compare rule, and how the gate went."""
    lines = []
    for v in verdicts:
        rule = safe_str(v.rule.text)
        if v.broken:
            was = f"{fmt.duration(v.before)} → {fmt.duration(v.after)}"
            grew = change(v.change) if v.rule.kind == "time" else f"{100 * (v.change or 0):+.1f}%"
            lines.append(f"gate: broken: {rule}: {v.rule.metric} {was} ({grew})")
        elif v.change is None:
            lines.append(f"gate: not judged: {rule}: no request on one side")
    broken = sum(v.broken for v in verdicts)
    n = len(verdicts)
    total = f"{n} rule" + ("s" if n != 1 else "")
    lines.append(
        f"gate: {broken} of {total} broken" if broken else f"gate: {total} checked, none broken"
    )
    return lines
