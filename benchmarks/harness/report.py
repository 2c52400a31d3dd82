"""Medians, ratios and the machine, as a terminal table, Markdown and JSON."""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from harness.checks import Verdict
from harness.datasets import DataSet
from harness.measure import Sample, rss_method

REPO = Path(__file__).resolve().parent.parent.parent


@dataclass
class Result:
    """Everything measured for one command."""

    name: str
    argv: list[str]  # as displayed: $WORK, $LNAV_SQL, ... stand for long values
    stdin: str | None  # a file piped in with cat
    lines: int | None
    baseline: bool
    samples: list[Sample] = field(default_factory=list)
    status: str = "ok"  # ok | failed | skipped
    reason: str = ""
    verdict: Verdict | None = None

    def add(self, sample: Sample) -> None:
        """Record a timed run."""
        if sample.ok:
            self.samples.append(sample)

    def skip(self, reason: str) -> None:
        """Not run at all."""
        self.status, self.reason = "skipped", reason

    def fail(self, sample: Sample) -> None:
        """A run failed: keep its exit code and the last thing it wrote to stderr."""
        why = "timed out" if sample.timed_out else f"exit {sample.exit_code}"
        self.status = "failed"
        self.reason = f"{why}: {sample.stderr_tail}" if sample.stderr_tail else why

    @property
    def median_s(self) -> float | None:
        """Median wall time of the successful runs."""
        return statistics.median(s.wall_s for s in self.samples) if self.samples else None

    @property
    def median_rss_mib(self) -> float | None:
        """Median peak RSS of the child, MiB."""
        if not self.samples:
            return None
        return statistics.median(s.max_rss_kib for s in self.samples) / 1024

    @property
    def lines_per_s(self) -> float | None:
        """Lines read per second at the median wall time."""
        median = self.median_s
        return self.lines / median if self.lines and median else None

    def command(self) -> str:
        """A shell line, paths relative to the repository, $VARIABLES left to expand."""
        words = [_quote(_short(a)) for a in self.argv]
        pipe = f"cat {shlex.quote(_short(self.stdin))} | " if self.stdin else ""
        return pipe + " ".join(words)


def _quote(word: str) -> str:
    """Shell-quote, but let $VARIABLES expand (double quotes)."""
    return f'"{word}"' if "$" in word and '"' not in word else shlex.quote(word)


def _short(arg: str) -> str:
    root = str(REPO) + "/"
    return arg.replace(root, "") if root in arg else arg


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _version(argv: list[str], env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({type(exc).__name__})"
    text = (done.stdout or done.stderr).strip().splitlines()
    return (
        text[0].strip()
        if done.returncode == 0 and text
        else f"unavailable (exit {done.returncode})"
    )


def machine(logtrace: list[str], env: dict[str, str]) -> dict[str, object]:
    """What the numbers were measured on."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
             if ln.startswith("model name")),
            "",
        )  # fmt: skip
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "load_average_after": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "logtrace": _version([*logtrace, "--version"], env),
        "goaccess": _version(["goaccess", "--version"], env),
        "lnav": _version(["lnav", "-V"], env),
        "peak_rss": rss_method(),
    }


@dataclass
class Document:
    """The whole report of one run."""

    results: list[Result]
    data: DataSet
    runs: int
    warmup: int
    machine: dict[str, object]
    variables: dict[str, str]  # values of the $VARIABLES the commands use
    more: tuple[DataSet, ...] = ()  # the other data sets some commands run on

    def _baselines(self) -> list[Result]:
        return [r for r in self.results if r.baseline and r.median_s]

    def _ratio(self, result: Result, base: Result) -> float | None:
        """How many times faster than `base` (> 1: faster)."""
        if result.median_s is None or base.median_s is None or result is base:
            return None
        return base.median_s / result.median_s

    def _rows(self) -> list[list[str]]:
        rows = []
        for r in self.results:
            walls = [s.wall_s for s in r.samples]
            spread = f"{min(walls):.2f}–{max(walls):.2f}" if walls else "–"
            ratios = [_fmt(self._ratio(r, b), ".2f") + ("×" if self._ratio(r, b) else "")
                      for b in self._baselines()]  # fmt: skip
            status = r.status if not r.reason else f"{r.status}: {r.reason}"
            rows.append(
                [
                    r.name, _fmt(r.median_s, ".3f"), spread, _fmt(r.lines_per_s, ",.0f"),
                    _fmt(r.median_rss_mib, ",.0f"), *ratios,
                    r.verdict.text() if r.verdict else "", status,
                ]
            )  # fmt: skip
        return rows

    def _header(self) -> list[str]:
        return [
            "command", "median s", "min–max s", "lines/s", "peak RSS MiB",
            *[f"vs {b.name}" for b in self._baselines()], "parsed", "status",
        ]  # fmt: skip

    def table(self) -> str:
        """A plain-text table for the terminal."""
        rows = [self._header(), *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                 for row in rows]  # fmt: skip
        return "\n".join(lines)

    def markdown(self) -> str:
        """results/latest.md."""
        header = self._header()
        out = [
            "# logtrace benchmarks",
            "",
            f"{self.data.edge_lines:,} edge lines ({self.data.label}), {self.runs} timed "
            f"run(s) per command after {self.warmup} warm-up run(s), interleaved; medians "
            "of wall time from process "
            "start to exit, and of the peak RSS of the command's own process. `vs X` = X's "
            "median / this command's median, measured in the same run (> 1: faster than X). "
            "`lines/s` counts the edge file's lines (all files' lines for the join, the "
            "app log's own lines for `app ...`). "
            "`parsed` is what the tool itself reports.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        out += [
            "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in self._rows()
        ]
        out += ["", "## Machine", ""]
        out += [f"- {k}: {v}" for k, v in self.machine.items()]
        out += ["", "## Data", "", f"`{_short(str(self.data.dir))}`, written by "
                "`benchmarks/generate.py` (seed in manifest.json):", ""]  # fmt: skip
        out += [f"- {name}: {size / 1e6:,.1f} MB" for name, size in self.data.bytes.items()]
        out += [f"- lines: {self.data.edge_lines:,} edge, {self.data.total_lines:,} in all files"]
        for other in self.more:
            out += [
                f"- `{_short(str(other.dir))}` (commands on another data set): "
                f"{sum(other.bytes.values()) / 1e6:,.1f} MB, {other.edge_lines:,} edge lines, "
                f"{other.total_lines:,} in all {len(other.files)} files"
            ]
        out += ["", "## Commands", ""]
        out += ["Run from the repository root; `$WORK` is a scratch folder.", ""]
        for r in self.results:
            out += [f"- {r.name}:", "  ```", f"  {r.command()}", "  ```"]
        for name, value in self.variables.items():
            out += ["", f"`{name}`:", "```", value, "```"]
        out += ["", "## What the baselines compute", "", *BASELINE_NOTES]
        return "\n".join(out) + "\n"

    def as_json(self) -> dict[str, object]:
        """results/latest.json."""
        return {
            "machine": self.machine,
            "data": {
                "dir": _short(str(self.data.dir)),
                "edge_lines": self.data.edge_lines,
                "total_lines": self.data.total_lines,
                "bytes": self.data.bytes,
                "generated_in_s": self.data.generated_in_s,
            },
            "more_data": [
                {
                    "dir": _short(str(other.dir)),
                    "edge_lines": other.edge_lines,
                    "total_lines": other.total_lines,
                    "bytes": other.bytes,
                    "generated_in_s": other.generated_in_s,
                }
                for other in self.more
            ],
            "runs": self.runs,
            "warmup": self.warmup,
            "variables": self.variables,
            "results": [
                {
                    "name": r.name,
                    "command": r.command(),
                    "status": r.status,
                    "reason": r.reason,
                    "baseline": r.baseline,
                    "lines": r.lines,
                    "median_s": r.median_s,
                    "lines_per_s": r.lines_per_s,
                    "median_peak_rss_mib": r.median_rss_mib,
                    "ratios": {b.name: self._ratio(r, b) for b in self._baselines()},
                    "parsed": None if r.verdict is None else r.verdict.parsed,
                    "parsed_note": None if r.verdict is None else r.verdict.note,
                    "samples": [
                        {
                            "wall_s": s.wall_s,
                            "peak_rss_kib": s.max_rss_kib,
                            "user_s": s.user_s,
                            "sys_s": s.sys_s,
                        }
                        for s in r.samples
                    ],
                }
                for r in self.results
            ],
        }


BASELINE_NOTES = [
    "- **baseline_re**: `benchmarks/baseline_re.py`, one process, one compiled regex per "
    "line; per route (the path with logtrace's templating: digit, UUID and long hex "
    "segments → `{id}`, tokens → `{token}`, file hashes → `{hash}`, query dropped): "
    "count and nearest-rank p50/p90/p95/p99/max of "
    "`$request_time`, the same overall, and the 10 slowest requests; JSON output.",
    "- **goaccess**: a full static report as JSON (every panel: visitors, requests, "
    "static files, 404s, hosts, OS, browsers, referrers, status codes, time "
    "distribution) with average/cumulative/max time served per URL; no percentiles and "
    "no path templating. It counts the non-HTTP request lines as valid requests.",
    "- **lnav**: headless (`-n`), its built-in access_log format (the trailing "
    "`$request_time $upstream_response_time $request_id` land in `log_body`), one SQL "
    "query: per route (same templating, via regexp_replace) count and nearest-rank "
    "p50/p90/p95/p99/max via window functions, an `(all)` row and an `(unparsed)` row. "
    "Lines whose request is not HTTP (TLS probes, ~1 in 20k) are not recognised as "
    "access_log and are left out of the percentiles; no slowest-requests list.",
]
