"""The ground truth: the client's view and the api's side channel merged per request."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from topology.client import ClientResult
from topology.scenarios import BY_NAME

Record = dict[str, Any]


def read_side_channel(truth_dir: Path) -> dict[int, list[Record]]:
    """The api hosts' records of what they served, by client seq."""
    by_seq: dict[int, list[Record]] = defaultdict(list)
    for path in sorted(truth_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["seq"] is not None:
                by_seq[int(record["seq"])].append(record)
    return by_seq


def _duration(call: Record) -> float:
    return float(call["end"]) - float(call["start"])


def expected_savings(planted: list[str], calls: list[Record]) -> dict[str, float]:
    """Seconds each planted pattern costs: what a fix could save at most."""
    durations = [_duration(c) for c in calls]
    savings: dict[str, float] = {}
    if "n_plus_one" in planted and durations:
        # N calls become one batched call costing about one call's mean.
        savings["n_plus_one"] = sum(durations) - sum(durations) / len(durations)
    if "sequential" in planted and durations:
        # Independent calls run in parallel take as long as the longest one.
        savings["sequential"] = sum(durations) - max(durations)
    if "repeated" in planted and durations:
        # Every call after the first could be answered from a cache.
        savings["repeated"] = sum(durations[1:])
    return {name: round(value, 6) for name, value in savings.items()}


def _edge_attempts(result: ClientResult, records: list[Record]) -> list[Record]:
    """The edge's upstream attempts, as far as the ground truth knows them."""
    attempts: list[Record] = []
    if result.scenario == "edge_retry":
        attempts.append({"upstream": "dead", "status": 502})  # connection refused
    for i, record in enumerate(records):
        status: int | None = record["status"]
        if i == len(records) - 1:
            if result.client_gave_up:
                status = None  # nginx logs `-`: the client left before the api answered
            elif result.status == 504:
                status = 504  # nginx gave up reading before the api answered
        attempts.append({"upstream": record["host"], "status": status})
    return attempts


def merge(results: list[ClientResult], side: dict[int, list[Record]]) -> list[Record]:
    """One ground-truth record per client request, in seq order."""
    merged = []
    for result in sorted(results, key=lambda r: r.seq):
        records = sorted(side.get(result.seq, []), key=lambda r: float(r["start"]))
        server = records[-1] if records else None
        request_id = result.request_id or (server["request_id"] if server else None)
        planted = list(BY_NAME[result.scenario].planted)
        calls = server["calls"] if server else []
        merged.append(
            {
                "seq": result.seq,
                "request_id": request_id,
                "scenario": result.scenario,
                "method": result.method,
                "target": result.target,
                "route": result.route,
                "client_start": result.client_start,
                "client_end": result.client_end,
                "status": result.status,
                "client_gave_up": result.client_gave_up,
                "planted": planted,
                "server": (
                    {k: server[k] for k in ("service", "host", "start", "end", "status")}
                    if server
                    else None
                ),
                "edge_attempts": _edge_attempts(result, records),
                "calls": calls,
                "expected_saving_s": expected_savings(planted, calls),
            }
        )
    return merged


# --- outcome checks: a planted pattern that did not happen would make the truth a lie ---


def _statuses(record: Record) -> list[int | None]:
    return [c["status"] for c in record["calls"]]


def _overlap(record: Record) -> bool:
    calls = record["calls"]
    return max(float(c["start"]) for c in calls) < min(float(c["end"]) for c in calls)


Check = Callable[[Record], bool]
CHECKS: dict[str, tuple[str, Check]] = {
    "normal": ("200 with one call", lambda r: r["status"] == 200 and len(r["calls"]) == 1),
    "n_plus_one": (
        "200 with 8-15 calls",
        lambda r: r["status"] == 200 and 8 <= len(r["calls"]) <= 15,
    ),
    "batched": ("200 with one call", lambda r: r["status"] == 200 and len(r["calls"]) == 1),
    "sequential": (
        "200 with two calls that do not overlap",
        lambda r: r["status"] == 200 and len(r["calls"]) == 2 and not _overlap(r),
    ),
    "parallel": (
        "200 with two overlapping calls",
        lambda r: r["status"] == 200 and len(r["calls"]) == 2 and _overlap(r),
    ),
    "same_service_routes": (
        "200 with two calls",
        lambda r: r["status"] == 200 and len(r["calls"]) == 2,
    ),
    "repeated": (
        "200 with three identical calls",
        lambda r: (
            r["status"] == 200
            and len(r["calls"]) == 3
            and len({c["target"] for c in r["calls"]}) == 1
        ),
    ),
    "edge_retry": (
        "200 served by api-1",
        lambda r: r["status"] == 200 and r["server"] is not None and r["server"]["host"] == "api-1",
    ),
    "app_retry": (
        "200 after calls 503 then 200",
        lambda r: r["status"] == 200 and _statuses(r) == [503, 200],
    ),
    "timeout": (
        "504 while the api was still working",
        lambda r: (
            r["status"] == 504 and r["server"] is not None and r["server"]["end"] > r["client_end"]
        ),
    ),
    "client_abort": (
        "the client gave up before the api answered",
        lambda r: (
            r["client_gave_up"] and r["server"] is not None and r["server"]["end"] > r["client_end"]
        ),
    ),
    "slow_client": ("200", lambda r: r["status"] == 200),
    "swallowed_error": (
        "200 despite a 500 call",
        lambda r: r["status"] == 200 and _statuses(r) == [500],
    ),
    "static": ("200 without the api", lambda r: r["status"] == 200 and r["server"] is None),
    "not_found": ("404 from the api", lambda r: r["status"] == 404 and r["server"] is not None),
}


def problems(
    truth: list[Record], results: list[ClientResult], side: dict[int, list[Record]]
) -> list[str]:
    """Requests whose outcome differs from what their scenario plants, one line each."""
    found = []
    by_seq = {r.seq: r for r in results}
    for record in truth:
        seq = record["seq"]
        result = by_seq[seq]
        what, check = CHECKS[record["scenario"]]
        if result.error:
            found.append(f"seq {seq} ({record['scenario']}): {result.error}")
        elif record["request_id"] is None:
            found.append(f"seq {seq} ({record['scenario']}): no request id")
        elif len(side.get(seq, [])) > 1:
            found.append(
                f"seq {seq} ({record['scenario']}): the api served it {len(side[seq])} times"
            )
        elif (
            result.request_id
            and record["server"]
            and side[seq][-1]["request_id"] != result.request_id
        ):
            found.append(f"seq {seq}: the client and the api saw different request ids")
        elif not check(record):
            found.append(
                f"seq {seq} ({record['scenario']}): expected {what}, got status {record['status']}"
            )
    return found
