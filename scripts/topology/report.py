"""The matrix's thresholds (issue 11) and its tables, as Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from topology.score import Score

CASES = ("plain", "nginx-conf")
PATTERN_NAMES = (
    "n_plus_one",
    "sequential",
    "repeated",
    "retry",
    "abandoned",
    "slow_client",
    "swallowed_error",
)


def pct(value: float | None) -> str:
    """A share as a percentage, `–` when there is none."""
    return "–" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class Threshold:
    """One requirement every variant must meet; `measure` says whether it does, and what was."""

    name: str
    wanted: str
    measure: Callable[[Score], tuple[bool, str]]


def _at_least(attr: str, label: str, floor: float, unit: Callable[[Score], str]) -> Threshold:
    def measure(s: Score) -> tuple[bool, str]:
        value = getattr(s, attr)
        return value is not None and value >= floor, f"{label} {pct(value)} of {unit(s)}"

    return Threshold(attr, f"≥ {floor * 100:g}%", measure)


def _guessed(s: Score) -> tuple[bool, str]:
    ok = s.guessed is not None and s.guessed <= 0.02
    return ok, f"spans with a guessed parent {pct(s.guessed)} of {s.spans}"


def _entries(s: Score) -> tuple[bool, str]:
    return s.entries == s.requests, f"analyze counts {s.entries} requests for {s.requests} sent"


def _skew(s: Score) -> tuple[bool, str]:
    shown = ", ".join(
        f"{host} planted {v['planted_ms']:+.0f} ms, found "
        + ("nothing" if v["found_ms"] is None else f"{v['found_ms']:+.1f} ms")
        for host, v in s.skews.items()
    )
    ok = s.skew_error_ms is not None and s.skew_error_ms <= 10
    return ok, f"clock skew: {shown or 'none planted'}"


def _insight(pattern: str) -> Threshold:
    def measure(s: Score) -> tuple[bool, str]:
        p = s.insights.get(pattern)
        if p is None:
            return True, f"insights {pattern}: not planted"
        ok = p.precision >= 0.95 and p.recall >= 0.95
        return ok, (
            f"insights {pattern}: precision {pct(p.precision)} ({p.hits}/{p.found}), "
            f"recall {pct(p.recall)} ({p.hits}/{p.planted})"
        )

    return Threshold(f"insights-{pattern}", "precision and recall ≥ 95%", measure)


THRESHOLDS: dict[str, Threshold] = {
    t.name: t
    for t in (
        _at_least("trees_right", "fully right trees", 0.99, lambda s: f"{s.requests} requests"),
        _at_least(
            "calls_right", "calls under the right caller", 0.995, lambda s: f"{s.calls} calls"
        ),
        Threshold("guessed", "≤ 2%", _guessed),
        Threshold("entries", "exact", _entries),
        Threshold("skew", "within ± 10 ms", _skew),
        *(_insight(p) for p in PATTERN_NAMES),
    )
}


def check(score: Score, names: Sequence[str] = tuple(THRESHOLDS)) -> list[str]:
    """One message per threshold not met: which variant, which metric, what was measured."""
    failed = []
    for name in names:
        t = THRESHOLDS[name]
        ok, measured = t.measure(score)
        if not ok:
            crash = f"; logtrace failed: {score.errors[0]}" if score.errors else ""
            failed.append(f"{score.variant} [{score.case}]: {measured} (wanted {t.wanted}){crash}")
    return failed


def _entries_cell(s: Score) -> str:
    if s.entries is None:
        return "–"
    return f"{s.entries}" if s.entries == s.requests else f"{s.entries} ≠ {s.requests}"


def _skew_cell(s: Score) -> str:
    if not s.skews:
        return "–"
    cells = []
    for host, v in s.skews.items():
        found = "not found" if v["found_ms"] is None else f"{v['found_ms']:+.1f}"
        cells.append(f"{host} {v['planted_ms']:+.0f} → {found}")
    return "; ".join(cells)


def _worst_insight(s: Score) -> str:
    if not s.insights:
        return "–"
    worst = min(s.insights.items(), key=lambda kv: min(kv[1].precision, kv[1].recall))
    name, p = worst
    return f"{pct(p.precision)} / {pct(p.recall)} ({name})"


COLUMNS: tuple[tuple[str, Callable[[Score], str]], ...] = (
    ("variant", lambda s: s.variant),
    ("requests", lambda s: str(s.requests)),
    ("root = edge", lambda s: pct(s.root_is_edge)),
    ("calls right", lambda s: pct(s.calls_right)),
    ("guessed", lambda s: pct(s.guessed)),
    ("trees right", lambda s: pct(s.trees_right)),
    ("entries", _entries_cell),
    ("skew (ms): planted → found", _skew_cell),
    ("insights worst P / R", _worst_insight),
    ("CLIENT spans", lambda s: pct(s.client_spans)),
    ("SERVER spans", lambda s: pct(s.server_spans)),
)
WANTED = (
    "wanted",
    "",
    "100%",
    "≥ 99.5%",
    "≤ 2%",
    "≥ 99%",
    "exact",
    "± 10",
    "≥ 95% / ≥ 95%",
    "100%",
    "100%",
)


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def table(scores: Sequence[Score], title: str | None = None) -> str:
    """The matrix: one row per scored run, and the wanted values last."""
    rows = [[cell(s) for _, cell in COLUMNS] for s in scores]
    text = _markdown([name for name, _ in COLUMNS], [*rows, list(WANTED)])
    return f"{title}\n\n{text}" if title else text


def insights_table(scores: Sequence[Score]) -> str:
    """Precision / recall of every insights pattern, one row per scored run."""
    rows = []
    for s in scores:
        cells = []
        for name in PATTERN_NAMES:
            p = s.insights.get(name)
            cells.append("–" if p is None else f"{pct(p.precision)} / {pct(p.recall)}")
        rows.append([s.variant, *cells])
    return _markdown(["variant", *PATTERN_NAMES], rows)
