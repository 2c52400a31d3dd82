"""Score logtrace's traces of one topology run against the run's ground truth.

Usage: python scripts/topology/score.py RUN_DIR [--json] [--case plain|nginx-conf|both]

logtrace is called through its library API on the run's logs directory, once as a user
would ("just point it at the logs", the `plain` case) and once with every nginx.conf of
the run (`nginx-conf`). Per request it checks the root, every call's chain of spans and
every parent (see expect.py); then the entry count of `analyze`, the clock offset found
for each planted skew, and the precision and recall of `insights` per planted pattern.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):
    # Run as a file: the `topology` package, and THIS checkout's logtrace (not an installed one).
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[2]),
    ]

import polars as pl

from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.analysis.insights import find_insights
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines.load import TimelineOptions, load
from topology.expect import Hops, expect, root_is_edge, tree_is_right
from topology.report import CASES, check, table

# insights pattern -> the planted scenario tags it must find
PATTERNS: dict[str, frozenset[str]] = {
    "n_plus_one": frozenset({"n_plus_one"}),
    "sequential": frozenset({"sequential"}),
    "repeated": frozenset({"repeated"}),
    "retry": frozenset({"edge_retry", "app_retry"}),
    "abandoned": frozenset({"timeout", "client_abort"}),
    "slow_client": frozenset({"slow_client"}),
    "swallowed_error": frozenset({"swallowed_error"}),
}
EXAMPLES = 5  # failing request ids kept per metric

T = TypeVar("T")


@dataclass
class PatternScore:
    """How `insights` did on one planted pattern."""

    planted: int
    found: int
    hits: int

    @property
    def precision(self) -> float:
        return self.hits / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.planted if self.planted else 0.0


@dataclass
class Score:
    """One run scored in one case."""

    variant: str
    case: str
    requests: int
    root_is_edge: float | None = None
    calls: int = 0
    calls_right: float | None = None
    spans: int = 0
    guessed: float | None = None
    trees_right: float | None = None
    entries: int | None = None
    skew_error_ms: float | None = None  # the worst planted skew; None when one is not found
    skews: dict[str, dict[str, float | None]] = field(default_factory=dict)
    insights: dict[str, PatternScore] = field(default_factory=dict)
    client_spans: float | None = None  # call lines as CLIENT spans with peer and status
    server_spans: float | None = None  # served requests as SERVER spans
    extra_spans: int = 0  # spans of known requests that match nothing in the truth
    orphan_spans: int = 0  # spans whose request id is not a client request's
    errors: list[str] = field(default_factory=list)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A plain dict, with each pattern's precision and recall."""
        out = asdict(self)
        out["insights"] = {
            name: {**asdict(p), "precision": p.precision, "recall": p.recall}
            for name, p in self.insights.items()
        }
        return out


@dataclass(frozen=True)
class Run:
    """A finished harness run: its truth and what topology.json says."""

    path: Path
    truth: list[dict[str, Any]]
    topology: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Run:
        lines = (path / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
        topology = json.loads((path / "topology.json").read_text(encoding="utf-8"))
        return cls(path, [json.loads(line) for line in lines], topology)

    @property
    def confs(self) -> tuple[str, ...]:
        hosts = self.topology["hosts"]
        return tuple(str(self.path / h["config"]) for h in hosts.values() if h["kind"] == "nginx")

    @property
    def hops(self) -> Hops:
        hosts = self.topology["hosts"]
        logged = {
            n for n, h in hosts.items() if h["kind"] == "nginx" and h["logs"][-1]["logs_upstream"]
        }
        return Hops(frozenset(logged))


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _guard(score: Score, what: str, call: Callable[[], T]) -> T | None:
    """Run one logtrace call; a crash is noted in the score (and scores as a failure)."""
    try:
        return call()
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(last.filename).name}:{last.lineno}"
        score.errors.append(f"{what}: {type(exc).__name__}: {exc} ({where})")
        return None


def score_case(run: Run, case: str) -> Score:
    """Score one case: `plain` (the logs directory alone) or `nginx-conf`."""
    started = time.monotonic()
    score = Score(run.topology["variant"], case, len(run.truth))
    formats = FormatOptions(nginx_confs=run.confs if case == "nginx-conf" else ())
    sources = resolve_sources([str(run.path / "logs")])
    loaded = _guard(score, "load", lambda: load(sources, TimelineOptions(formats)))
    analysis = _guard(score, "analyze", lambda: analyze(sources, AnalyzeOptions(formats=formats)))
    if analysis is not None:
        score.entries = analysis.latency.requests
    if loaded is not None:
        _score_traces(score, run, loaded.timelines.spans)
        _score_skews(score, run, loaded.timelines.offsets)
        insights = _guard(score, "insights", lambda: find_insights(loaded.timelines.spans))
        if insights is not None:
            _score_insights(score, run, insights.findings)
    score.seconds = round(time.monotonic() - started, 2)
    return score


def _score_traces(score: Score, run: Run, spans: Any) -> None:
    score.spans = spans.height
    if spans.height:
        score.guessed = float(spans.select(pl.col("parent_guessed").fill_null(False).mean()).item())
    by_request = {
        key[0]: frame.to_dicts()
        for key, frame in spans.partition_by("request_id", as_dict=True).items()
    }
    ids = {r["request_id"] for r in run.truth}
    score.orphan_spans = sum(len(v) for k, v in by_request.items() if k not in ids)
    roots, trees, calls, clients, served = [], [], [], [], []
    fails: dict[str, list[str]] = {"root_is_edge": [], "trees_right": [], "calls_right": []}
    for request in run.truth:
        rid = request["request_id"]
        mine = by_request.get(rid, [])
        found = expect(request, mine, run.hops)
        score.extra_spans += len(mine) - len(found.want)
        roots.append(root_is_edge(found, mine))
        trees.append(tree_is_right(found, mine))
        for name, ok in (("root_is_edge", roots[-1]), ("trees_right", trees[-1])):
            if not ok:
                fails[name].append(rid)
        for match in found.calls:
            calls.append(match.right)
            if not match.right:
                fails["calls_right"].append(rid)
            c = match.client
            clients.append(
                c is not None and c["peer"] is not None and c["status"] == match.call["status"]
            )
        served += found.served
    score.root_is_edge, score.trees_right = _share(roots), _share(trees)
    score.calls, score.calls_right = len(calls), _share(calls)
    score.client_spans, score.server_spans = _share(clients), _share(served)
    score.examples = {k: sorted(set(v))[:EXAMPLES] for k, v in fails.items() if v}


def _score_skews(score: Score, run: Run, offsets: dict[str, Any]) -> None:
    errors: list[float | None] = []
    for host, planted in run.topology["skews"].items():
        if not planted:
            continue
        off = offsets.get(host)
        found_ms = None if off is None else round(off.offset_s * 1000, 2)
        score.skews[host] = {"planted_ms": planted * 1000, "found_ms": found_ms}
        errors.append(None if found_ms is None else abs(found_ms - planted * 1000))
    if errors and None not in errors:
        score.skew_error_ms = round(max(e for e in errors if e is not None), 2)


def _score_insights(score: Score, run: Run, findings: Any) -> None:
    for pattern, tags in PATTERNS.items():
        planted = {r["request_id"] for r in run.truth if tags & set(r["planted"])}
        if not planted:
            continue
        rows = findings.filter(findings.get_column("pattern") == pattern)
        found = set(rows.get_column("request_id").to_list())
        score.insights[pattern] = PatternScore(len(planted), len(found), len(found & planted))


def score_run(path: Path, cases: tuple[str, ...] = CASES) -> list[Score]:
    """Score a run directory in each case."""
    run = Run.read(path)
    return [score_case(run, case) for case in cases]


def main(argv: list[str] | None = None) -> int:
    """Print the scores of one run (a table, or JSON); 0 when every threshold is met."""
    parser = argparse.ArgumentParser(prog="score", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, metavar="RUN_DIR")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--case", choices=[*CASES, "both"], default="both")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    cases = CASES if args.case == "both" else (args.case,)
    scores = score_run(args.run, cases)
    if args.json:
        print(json.dumps([s.to_json() for s in scores], indent=2))
    else:
        for score in scores:
            print(table([score], title=f"{score.variant} ({score.case})"))
            for line in score.errors:
                print(f"logtrace failed: {line}")
            print()
    failed = [msg for s in scores if s.case == "plain" for msg in check(s)]
    if not args.json:
        print(f"{len(failed)} threshold(s) not met" + (":" if failed else ""))
        for msg in failed:
            print(f"  {msg}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
