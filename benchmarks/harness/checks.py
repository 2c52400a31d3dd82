"""Did a baseline really parse the file? One reader per tool, listed in CHECKS.

A tool that exits 0 after rejecting every line would look very fast; each check reads
the tool's own output and says how many of the edge lines it counted as parsed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verdict:
    """How many lines a tool reports having parsed, out of how many."""

    parsed: int | None
    lines: int
    note: str = ""

    def text(self) -> str:
        """`999,951 / 1,000,000 (note)`."""
        if self.parsed is None:
            return f"? / {self.lines:,}" + (f" ({self.note})" if self.note else "")
        note = f" ({self.note})" if self.note else ""
        return f"{self.parsed:,} / {self.lines:,}{note}"


Check = Callable[[Path, Path, int], Verdict]  # (stdout file, work dir, edge lines)


def baseline_re(stdout: Path, _work: Path, lines: int) -> Verdict:
    """baseline_re.py --json: its own parsed/rejected counts."""
    data = json.loads(stdout.read_text())
    rejected = int(data["rejected"])
    return Verdict(int(data["parsed"]), lines, f"{rejected} rejected" if rejected else "")


def goaccess(_stdout: Path, work: Path, lines: int) -> Verdict:
    """goaccess -o report.json: general.valid_requests and failed_requests."""
    general = json.loads((work / "goaccess.json").read_text())["general"]
    failed = int(general["failed_requests"])
    return Verdict(int(general["valid_requests"]), lines, f"{failed} failed" if failed else "")


def lnav(stdout: Path, _work: Path, lines: int) -> Verdict:
    """The lnav query prints an `(all)` row and an `(unparsed)` row with their counts."""
    counts: dict[str, int] = {}
    for row in stdout.read_text(errors="replace").splitlines():
        cells = row.split()
        if len(cells) >= 2 and cells[0] in ("(all)", "(unparsed)") and cells[1].isdigit():
            counts[cells[0]] = int(cells[1])
    unparsed = counts.get("(unparsed)", 0)
    note = f"{unparsed} lines not recognised as access_log" if unparsed else ""
    return Verdict(counts.get("(all)"), lines, note)


def logtrace_json(stdout: Path, work: Path, lines: int) -> Verdict:
    """logtrace analyze --json: lines.parsed, and its overall percentiles against baseline_re's."""
    data = json.loads(stdout.read_text())
    parsed = int(data["lines"]["parsed"])
    reference = work / "baseline_re.out"
    if not reference.exists():
        return Verdict(parsed, lines)
    expected = json.loads(reference.read_text())["overall"]
    got = data.get("latency", {})
    keys = ("p50", "p90", "p95", "p99", "max")
    differ = [
        f"{k} {got.get(k + '_s')} vs {expected[k]}"
        for k in keys
        if got.get(k + "_s") != expected[k]
    ]
    note = (
        "overall percentiles = baseline_re"
        if not differ
        else "vs baseline_re: " + ", ".join(differ)
    )
    return Verdict(parsed, lines, note)


CHECKS: dict[str, Check] = {
    "baseline_re": baseline_re,
    "goaccess": goaccess,
    "lnav": lnav,
    "logtrace_json": logtrace_json,
}
