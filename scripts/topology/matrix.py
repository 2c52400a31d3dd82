"""The topology matrix: run every variant, score logtrace on each, print (and write) the table.

Usage: python scripts/topology/matrix.py [--requests N] [--seed S] [--variants a,b,...]
           [--keep DIR] [--write docs/topology-matrix.md] [--json FILE]

`make matrix` runs it with 1000 requests per variant and writes docs/topology-matrix.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: the `topology` package, and THIS checkout's logtrace (not an installed one).
    here = Path(__file__).resolve()
    sys.path[:0] = [str(here.parents[1]), str(here.parents[2])]

from topology.procs import HarnessError
from topology.report import check, insights_table, table
from topology.score import Score, score_run
from topology.variants import VARIANTS

RUN = Path(__file__).resolve().parent / "run.py"
REPO = Path(__file__).resolve().parents[2]


def run_variant(
    name: str, out: Path, *, requests: int, seed: int, timeout_s: float = 600.0
) -> Path:
    """Run one variant into `out` (a fresh directory) with the real harness; its path."""
    argv = [
        sys.executable, str(RUN),
        "--variant", name,
        "--out", str(out),
        "--requests", str(requests),
        "--seed", str(seed),
        "--concurrency", "8",
        "--timeout-s", str(timeout_s),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s + 60, check=False)
    if done.returncode != 0:
        raise HarnessError(f"{name}: harness failed: {done.stderr.strip()[-2000:]}")
    return out


def logtrace_version() -> str:
    """The last commit that changed logtrace/, marked when logtrace/ has changed since."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("log", "-1", "--format=%h", "--", "logtrace") or "unknown"
    changed = git("status", "--porcelain", "--", "logtrace")
    return f"{commit} + uncommitted changes" if changed else commit


def document(scores: list[Score], *, requests: int, seed: int, seconds: float) -> str:
    """docs/topology-matrix.md."""
    plain = [s for s in scores if s.case == "plain"]
    conf = [s for s in scores if s.case == "nginx-conf"]
    failed = [msg for s in plain for msg in check(s)]
    crashes = sorted({f"{s.variant} [{s.case}]: {e}" for s in scores for e in s.errors})
    summaries = "\n".join(f"- `{v.name}`: {v.summary}" for v in VARIANTS.values())
    return f"""# The topology matrix

How logtrace's traces hold up on every deployment of the test harness
(`scripts/topology/`, issue 11): each variant is started for real on 127.0.0.1 (nginx
and Python services), driven with {requests} client requests (seed {seed}) with planted
patterns, and scored per request against the client's ground truth
(`scripts/topology/score.py`).

Measured on {datetime.now(UTC):%Y-%m-%d} with logtrace at `{logtrace_version()}` (the last
commit that changed `logtrace/`), in {seconds:.0f} s on {os.cpu_count()} CPUs.
Regenerate with `make matrix`.

## Variants

{summaries}

## Pointing logtrace at the logs directory (what users do)

{table(plain)}

## With every nginx.conf of the run (`--nginx-conf`)

{table(conf)}

## insights: precision / recall per planted pattern (logs directory alone)

{insights_table(plain)}

## What the columns mean

- **root = edge**: requests whose trace has one root, the edge's request line.
- **calls right**: calls whose whole chain hangs under the right caller: the caller's
  CLIENT span under its SERVER span, the proxy's SERVER span under that CLIENT span,
  the proxy's upstream attempt under the proxy line, the callee's SERVER span under
  that attempt (directly under the CLIENT span when there is no proxy).
- **guessed**: spans whose parent logtrace only guessed (`parent_guessed`).
- **trees right**: requests in which every truth element has a span, every span is one,
  and every span's parent is the expected one.
- **entries**: `analyze`'s request count; it must equal the requests sent.
- **skew**: the clock offset logtrace reports for each host with a planted skew.
- **insights worst P / R**: the pattern with the lowest precision or recall.
- **CLIENT spans**: calls whose caller's line became a CLIENT span with a peer and the
  call's status. **SERVER spans**: served requests (api and services) found as SERVER spans.

Spans are matched to the truth by what the logs show: host, kind, the path as logged at
that hop, and line order (a span whose path logtrace did not extract is matched by host,
kind and order).

## Thresholds not met (logs directory alone)

{chr(10).join(f"- {m}" for m in failed) or "None."}

## logtrace failures while scoring

{chr(10).join(f"- {c}" for c in crashes) or "None."}
"""


def main(argv: list[str] | None = None) -> int:
    """Run and score the matrix; 0 when every variant meets every threshold."""
    parser = argparse.ArgumentParser(prog="matrix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--keep", type=Path, help="keep the runs in this directory")
    parser.add_argument("--write", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write every score as JSON here")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    names = [n for n in args.variants.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")
    started = time.monotonic()
    scores: list[Score] = []
    with tempfile.TemporaryDirectory(prefix="logtrace-matrix-") as tmp:
        base = args.keep or Path(tmp)
        for name in names:
            t0 = time.monotonic()
            out = run_variant(name, base / name, requests=args.requests, seed=args.seed)
            scores += score_run(out)
            print(f"{name}: {time.monotonic() - t0:.0f}s", file=sys.stderr)
    seconds = time.monotonic() - started
    plain = [s for s in scores if s.case == "plain"]
    print(table(plain, title="logs directory alone"))
    print()
    print(table([s for s in scores if s.case == "nginx-conf"], title="with --nginx-conf"))
    if args.write:
        text = document(scores, requests=args.requests, seed=args.seed, seconds=seconds)
        args.write.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps([s.to_json() for s in scores], indent=2) + "\n")
    return 1 if any(check(s) for s in plain) else 0


if __name__ == "__main__":
    sys.exit(main())
