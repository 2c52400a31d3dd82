"""The ground truth: the client's view and the apps' side channels merged per request.

Each app recorded what it served and the calls it made; a call's `ref` is what its
callee recorded too, so every call is joined to the request it became at the callee
(and that request's own calls, to any depth).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from topology.client import ClientResult
from topology.scenarios import BY_NAME

Record = dict[str, Any]


def read_side_channel(truth_dir: Path) -> list[Record]:
    """Every request any app served, as it recorded it."""
    records = []
    for path in sorted(truth_dir.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return records


def by_seq(records: list[Record]) -> dict[int, list[Record]]:
    """The api's served records by client seq (only requests from an edge carry one)."""
    found: dict[int, list[Record]] = defaultdict(list)
    for record in records:
        if record["seq"] is not None:
            found[int(record["seq"])].append(record)
    return found


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


def _call(call: Record, served_by_ref: dict[str, Record]) -> Record:
    """A call with what its callee served: host, path as logged there, and its own calls."""
    served = served_by_ref.get(call["ref"])
    return {
        "caller": call["caller"],
        "caller_host": call["caller_host"],
        "callee": call["callee"],
        "callee_host": served["host"] if served else None,
        "method": call["method"],
        "target": call["target"],
        "route": call["route"],
        "start": call["start"],
        "end": call["end"],
        "status": call["status"],
        "attempt": call["attempt"],
        "concurrent_group": call["concurrent_group"],
        "ref": call["ref"],
        "caller_path": call["caller_path"],
        "proxy": call["proxy"],
        "proxy_path": call["target"] if call["proxy"] else None,
        "callee_path": served["target"] if served else None,
        "served": (
            {k: served[k] for k in ("start", "end", "status", "request_id")} if served else None
        ),
        "calls": [_call(c, served_by_ref) for c in served["calls"]] if served else [],
    }


def merge(results: list[ClientResult], records: list[Record]) -> list[Record]:
    """One ground-truth record per client request, in seq order."""
    seqs = by_seq(records)
    served_by_ref = {r["ref"]: r for r in records if r["ref"]}
    merged = []
    for result in sorted(results, key=lambda r: r.seq):
        served = sorted(seqs.get(result.seq, []), key=lambda r: float(r["start"]))
        server = served[-1] if served else None
        request_id = result.request_id or (server["request_id"] if server else None)
        planted = list(BY_NAME[result.scenario].planted)
        calls = [_call(c, served_by_ref) for c in server["calls"]] if server else []
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
                "edge": result.edge,
                "server": (
                    {k: server[k] for k in ("service", "host", "start", "end", "status", "target")}
                    if server
                    else None
                ),
                "edge_attempts": _edge_attempts(result, served),
                "calls": calls,
                "expected_saving_s": expected_savings(planted, calls),
            }
        )
    return merged


def all_calls(calls: list[Record]) -> list[Record]:
    """Calls and, after each, the calls its callee made (depth first)."""
    found = []
    for call in calls:
        found.append(call)
        found += all_calls(call["calls"])
    return found


# --- outcome checks: a planted pattern that did not happen would make the truth a lie ---


def _statuses(record: Record) -> list[int | None]:
    return [c["status"] for c in record["calls"]]


def _overlap(record: Record) -> bool:
    calls = record["calls"]
    return max(float(c["start"]) for c in calls) < min(float(c["end"]) for c in calls)


def _nested(record: Record) -> bool:
    calls = record["calls"]
    return len(calls) == 1 and [c["status"] for c in calls[0]["calls"]] == [200]


# (what the scenario must show, the check); the check also gets the edges' backup api host.
Check = Callable[[Record, str], bool]
CHECKS: dict[str, tuple[str, Check]] = {
    "normal": ("200 with one call", lambda r, _: r["status"] == 200 and len(r["calls"]) == 1),
    "n_plus_one": (
        "200 with 8-15 calls",
        lambda r, _: r["status"] == 200 and 8 <= len(r["calls"]) <= 15,
    ),
    "batched": ("200 with one call", lambda r, _: r["status"] == 200 and len(r["calls"]) == 1),
    "sequential": (
        "200 with two calls that do not overlap",
        lambda r, _: r["status"] == 200 and len(r["calls"]) == 2 and not _overlap(r),
    ),
    "parallel": (
        "200 with two overlapping calls",
        lambda r, _: r["status"] == 200 and len(r["calls"]) == 2 and _overlap(r),
    ),
    "same_service_routes": (
        "200 with two calls",
        lambda r, _: r["status"] == 200 and len(r["calls"]) == 2,
    ),
    "repeated": (
        "200 with three identical calls",
        lambda r, _: (
            r["status"] == 200
            and len(r["calls"]) == 3
            and len({c["target"] for c in r["calls"]}) == 1
        ),
    ),
    "edge_retry": (
        "200 served by the backup api host",
        lambda r, backup: (
            r["status"] == 200 and r["server"] is not None and r["server"]["host"] == backup
        ),
    ),
    "app_retry": (
        "200 after calls 503 then 200",
        lambda r, _: r["status"] == 200 and _statuses(r) == [503, 200],
    ),
    "timeout": (
        "504 while the api was still working",
        lambda r, _: (
            r["status"] == 504 and r["server"] is not None and r["server"]["end"] > r["client_end"]
        ),
    ),
    "client_abort": (
        "the client gave up before the api answered",
        lambda r, _: (
            r["client_gave_up"] and r["server"] is not None and r["server"]["end"] > r["client_end"]
        ),
    ),
    "slow_client": ("200", lambda r, _: r["status"] == 200),
    "swallowed_error": (
        "200 despite a 500 call",
        lambda r, _: r["status"] == 200 and _statuses(r) == [500],
    ),
    "static": ("200 without the api", lambda r, _: r["status"] == 200 and r["server"] is None),
    "not_found": (
        "404 from the api",
        lambda r, _: r["status"] == 404 and r["server"] is not None,
    ),
    "nested": (
        "200 with one call that made one call to users",
        lambda r, _: r["status"] == 200 and _nested(r),
    ),
}


def problems(
    truth: list[Record], results: list[ClientResult], records: list[Record], backup: str
) -> list[str]:
    """Requests whose outcome differs from what their scenario plants, one line each."""
    found = []
    results_by_seq = {r.seq: r for r in results}
    seqs = by_seq(records)
    for record in truth:
        seq = record["seq"]
        result = results_by_seq[seq]
        what, check = CHECKS[record["scenario"]]
        unreached = [c for c in all_calls(record["calls"]) if c["served"] is None]
        if result.error:
            found.append(f"seq {seq} ({record['scenario']}): {result.error}")
        elif record["request_id"] is None:
            found.append(f"seq {seq} ({record['scenario']}): no request id")
        elif len(seqs.get(seq, [])) > 1:
            found.append(
                f"seq {seq} ({record['scenario']}): the api served it {len(seqs[seq])} times"
            )
        elif (
            result.request_id
            and record["server"]
            and seqs[seq][-1]["request_id"] != result.request_id
        ):
            found.append(f"seq {seq}: the client and the api saw different request ids")
        elif unreached:
            found.append(f"seq {seq}: call {unreached[0]['target']} never reached its service")
        elif not check(record, backup):
            found.append(
                f"seq {seq} ({record['scenario']}): expected {what}, got status {record['status']}"
            )
    served_twice = [
        ref for ref, n in Counter(r["ref"] for r in records if r["ref"]).items() if n > 1
    ]
    found += [f"call {ref} was served more than once" for ref in served_twice]
    return found
