"""The plain-Python baseline: per-route latency percentiles from a trace-format nginx log.

    python benchmarks/baseline_re.py FILE [--json]

What an engineer would write first: one compiled regex per line, a dict of lists, sort,
nearest-rank percentiles. It does the same job as the core of `logtrace analyze
--preset trace` so both can be timed on the same file and their numbers compared.
FILE may be plain, `.gz`, or `-` for stdin.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

# log_format trace '$remote_addr - $remote_user [$time_local] "$request" $status
#   $body_bytes_sent "$http_referer" "$http_user_agent" $request_time
#   $upstream_response_time $request_id';
# nginx escapes '"' inside quoted variables as \x22, so [^"]* is enough.
TRACE_LINE = re.compile(
    r"(?P<remote_addr>\S+) - (?P<remote_user>\S+) \[(?P<time_local>[^\]]+)\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<body_bytes_sent>\d+) '
    r'"(?P<http_referer>[^"]*)" "(?P<http_user_agent>[^"]*)" '
    r"(?P<request_time>\d+(?:\.\d+)?) "
    r"(?P<upstream_response_time>-|\d+(?:\.\d+)?(?:(?:, | : )(?:-|\d+(?:\.\d+)?))*) "
    r"(?P<request_id>[0-9a-f]{32})$"
)
ID = re.compile(
    r"[0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}"
)
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,}")
HASH_IN_NAME = re.compile(r"\.[0-9a-f]{8,}\.")
PERCENTS = (50, 90, 95, 99)
SLOWEST = 10
STAT_KEYS = ("p50", "p90", "p95", "p99", "max")


def route_of(request: str) -> str | None:
    """`GET /api/orders/17?x=1 HTTP/1.1` → `/api/orders/{id}`; None if not HTTP.

    The same rules as logtrace's routes: per path segment, all digits, a UUID or 16+ hex
    digits → {id}; 20+ letters and digits with both → {token}; a hex hash inside a file
    name → {hash}. The query string is dropped.
    """
    parts = request.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    segments = []
    for segment in parts[1].split("?", 1)[0].split("/"):
        if ID.fullmatch(segment):
            segments.append("{id}")
        elif (
            TOKEN.fullmatch(segment)
            and any(c.isdigit() for c in segment)
            and any(c.isalpha() for c in segment)
        ):
            segments.append("{token}")
        else:
            segments.append(HASH_IN_NAME.sub(".{hash}.", segment, count=1))
    return "/".join(segments)


def nearest_rank(sorted_values: list[float], percent: int) -> float:
    """The smallest value v with at least ceil(percent/100 * n) values <= v."""
    n = len(sorted_values)
    rank = max(1, (percent * n + 99) // 100)  # integer ceil, no float rounding
    return sorted_values[rank - 1]


@dataclass
class Stats:
    """Count and latency summary (seconds) of one route, or of all lines."""

    route: str | None
    count: int
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


def summarise(route: str | None, values: list[float]) -> Stats:
    """Sort once and read the percentiles."""
    values.sort()
    p50, p90, p95, p99 = (nearest_rank(values, p) for p in PERCENTS)
    return Stats(route, len(values), p50, p90, p95, p99, values[-1])


@dataclass
class Slow:
    """One of the slowest requests."""

    request_time: float
    status: int
    request: str
    time_local: str
    request_id: str
    line: int


def open_lines(name: str) -> Iterator[str]:
    """Lines of a plain or gzipped file, or of stdin for `-`."""
    if name == "-":
        yield from sys.stdin
        return
    path = Path(name)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            yield from fh
    else:
        with path.open(encoding="utf-8", errors="replace") as fh:
            yield from fh


@dataclass
class Report:
    """The result of one pass over a log."""

    lines: int
    parsed: int
    rejected: int
    rejected_samples: list[str]
    routes: list[Stats]
    overall: Stats | None
    slowest: list[Slow]


def analyze(lines: Iterable[str]) -> Report:
    """Parse every line and summarise request_time per route, overall, and the slowest."""
    by_route: dict[str | None, list[float]] = defaultdict(list)
    everything: list[float] = []
    slowest: list[tuple[float, int, Slow]] = []  # min-heap on (time, -line number)
    total = rejected = 0
    samples: list[str] = []
    for number, line in enumerate(lines, start=1):
        total += 1
        m = TRACE_LINE.match(line.rstrip("\n"))
        if m is None:
            rejected += 1
            if len(samples) < 3:
                samples.append(line.rstrip("\n")[:200])
            continue
        rt = float(m["request_time"])
        by_route[route_of(m["request"])].append(rt)
        everything.append(rt)
        if len(slowest) < SLOWEST or (rt, -number) > slowest[0][:2]:
            slow = Slow(
                rt, int(m["status"]), m["request"], m["time_local"], m["request_id"], number
            )
            if len(slowest) < SLOWEST:
                heapq.heappush(slowest, (rt, -number, slow))
            else:
                heapq.heapreplace(slowest, (rt, -number, slow))
    routes = [summarise(route, values) for route, values in by_route.items()]
    routes.sort(key=lambda s: (-s.count, s.route or ""))
    return Report(
        lines=total,
        parsed=total - rejected,
        rejected=rejected,
        rejected_samples=samples,
        routes=routes,
        overall=summarise(None, everything) if everything else None,
        slowest=[s for _, _, s in sorted(slowest, key=lambda t: (-t[0], -t[1]))],
    )


def render(report: Report) -> str:
    """A plain-text report; a request that is not HTTP has route `-`."""
    out = [f"lines {report.lines}  parsed {report.parsed}  rejected {report.rejected}"]
    out += [f"  rejected: {sample}" for sample in report.rejected_samples]
    out.append(f"{'route':<48} {'count':>9}" + "".join(f" {k:>8}" for k in STAT_KEYS))
    overall = [replace(report.overall, route="(all)")] if report.overall else []
    for s in report.routes + overall:
        numbers = "".join(f" {getattr(s, k):8.3f}" for k in STAT_KEYS)
        out.append(f"{(s.route or '-')[:48]:<48} {s.count:>9}{numbers}")
    out.append(f"slowest {SLOWEST}:")
    for r in report.slowest:
        when = f"{r.request_time:8.3f} {r.status} {r.time_local} {r.request_id}"
        out.append(f"  {when} {r.request[:80]}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="trace-format access log (.gz ok, - for stdin)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    report = analyze(open_lines(args.file))
    print(json.dumps(asdict(report), indent=1) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
