"""``analyze --fail-if``: the gate's verdicts as plain lines (for stderr and CI logs)."""

from __future__ import annotations

from logtrace.analysis.gate import Verdict
from logtrace.plural import plural
from logtrace.render.console import safe_str


def measured(verdict: Verdict) -> str:
    """The measured value in the rule's terms: ``1001 ms``, ``5.04%``, ``3``."""
    value, kind = verdict.value, verdict.rule.kind
    if value is None:
        return "-"
    if kind == "time":  # logged in whole milliseconds: shown exactly, never rounded up
        return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.3f} s"
    if kind == "share":
        return f"{100 * value:.2f}%"
    return f"{value:,.0f}"


def gate_lines(verdicts: tuple[Verdict, ...]) -> list[str]:
    """One line per broken rule (with the measured value), per rule that could not be
    judged, and a last line saying how the gate went."""
    lines = []
    for v in verdicts:
        rule = safe_str(v.rule.text)
        over = plural(v.requests, "request") + (
            f" of {safe_str(v.rule.route)}" if v.rule.route else ""
        )
        if v.broken:
            lines.append(f"gate: broken: {rule}: {v.rule.metric} is {measured(v)} ({over})")
        elif v.value is None:
            lines.append(f"gate: not judged: {rule}: no request to measure it on ({over})")
    broken = sum(v.broken for v in verdicts)
    if broken:
        lines.append(f"gate: {broken} of {plural(len(verdicts), 'rule')} broken")
    else:
        lines.append(f"gate: {plural(len(verdicts), 'rule')} checked, none broken")
    return lines
