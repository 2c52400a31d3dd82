"""Rebuild sample_logs/ from one real run of the test topology (scripts/topology/run.py).

Usage: python scripts/make_sample_logs.py   (or `make sample-logs`)

Runs the harness into a temporary directory, then replaces the contents of
sample_logs/ with its logs, the edge's `combined` twin, the ground truth and a
README that says exactly how they were made.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "scripts" / "topology" / "run.py"
SAMPLE = REPO / "sample_logs"

SEED = 20261126
SKEW = ("api-2", 0.150)
HARNESS_ARGS = [
    "--requests", "2500",
    "--seed", str(SEED),
    "--skew", f"{SKEW[0]}={SKEW[1]:.3f}",
    "--edge-format", "trace",
    "--concurrency", "8",
    "--timeout-s", "600",
]  # fmt: skip
LOG_FILES = (
    "edge-1.access.log",
    "mesh-1.access.log",
    "api-1.log",
    "api-2.log",
    "inventory-1.log",
    "users-1.log",
)
ROLES = {
    "edge-1": "nginx edge proxy; round-robin over api-1 and api-2",
    "mesh-1": "internal nginx between services: /inventory/ and /users/",
    "api-1": 'Python service "api"',
    "api-2": 'Python service "api" (same code, another log format)',
    "inventory-1": 'Python service "inventory"',
    "users-1": 'Python service "users"',
}
SCENARIO_NOTES = {
    "normal": "GET /api/orders/{id}: one inventory call",
    "n_plus_one": "GET /api/orders/{id}/items: 8-15 sequential inventory calls",
    "batched": "control for n_plus_one: the same items in one call",
    "sequential": "GET /api/dashboard/{id}: users then inventory, independent, one after the other",
    "parallel": "control for sequential: the same two calls overlapping",
    "same_service_routes": "control: two routes of users, one after the other",
    "repeated": "GET /api/cart/{id}: the identical users call three times",
    "edge_retry": "edge tries a dead server first, then api-1 (`, ` lists in the edge log)",
    "app_retry": "inventory answers 503 once (with a traceback); api retries after 20 ms",
    "timeout": "edge gives up after 1 s (504); the api finishes ~0.4 s later",
    "client_abort": "client gives up after 0.3 s (499); the api finishes at ~0.6 s",
    "slow_client": "200 KB upload trickled over ~0.36 s; nginx buffers it before the api sees it",
    "swallowed_error": "users answers 500; the api still answers 200 with a fallback",
    "static": "served by nginx itself; no upstream",
    "not_found": "404 from the api",
}


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8") as f:
        return f.readline().rstrip("\n")


def _host_row(name: str, host: dict[str, Any]) -> str:
    log = host["logs"][0]
    log_format = "nginx `log_format` below" if host["kind"] == "nginx" else log["format"]
    return (
        f"| `{name}` | {ROLES[name]} | `{Path(log['path']).name}` | {log_format} | {host['tz']} |"
    )


def _readme(topology: dict[str, Any], truth: list[dict[str, Any]], seconds: float) -> str:
    """The README text, filled in from the run's own topology.json and ground truth."""
    hosts = topology["hosts"]
    started = datetime.fromtimestamp(min(r["client_start"] for r in truth), UTC)
    counts = Counter(r["scenario"] for r in truth)
    args = " ".join(HARNESS_ARGS)
    host_rows = "\n".join(_host_row(name, hosts[name]) for name in ROLES)
    examples = "\n\n".join(
        f"`{name}`:\n\n```\n{_first_line(SAMPLE / name)}\n```" for name in LOG_FILES
    )
    scenario_rows = "\n".join(
        f"| `{name}` | {counts[name]} | {note} |" for name, note in SCENARIO_NOTES.items()
    )
    edge_format = hosts["edge-1"]["logs"][0]["format"]
    mesh_format = hosts["mesh-1"]["logs"][0]["format"]
    combined = topology["extra_logs"][0]["format"]
    return f"""# sample_logs

Real logs from one run of the test topology in `scripts/topology/`: real nginx
{topology["nginx_version"]} processes and real Python services on 127.0.0.1, with real
HTTP calls between them. Nothing was edited after the run. Every timestamp is the
real wall-clock time at which the line was written; the run started at
{started:%Y-%m-%d %H:%M:%S} UTC and took {seconds:.0f} s.

## How they were made

```
python scripts/make_sample_logs.py
```

which runs

```
python scripts/topology/run.py --out <temporary dir> {args}
```

and copies the result here. Run it again to replace these files; the request mix
is the same for the same seed, the timings are new.

## Files

- `edge-1.access.log`, `mesh-1.access.log`: nginx access logs.
- `api-1.log`, `api-2.log`, `inventory-1.log`, `users-1.log`: application logs.
- `combined/edge-1.combined.log`: the same edge requests in nginx's predefined
  `combined` format. It lives in a subdirectory so that `logtrace analyze sample_logs/`
  reads only the files above.
- `ground_truth.jsonl`: one JSON object per client request (see below).
- `nginx/edge-1.conf`, `nginx/mesh-1.conf`: the two nginx configurations of the run
  (temporary paths replaced by `/srv/topology`), for
  `logtrace analyze sample_logs/ --nginx-conf sample_logs/nginx/mesh-1.conf`.

## Topology

```
client (8 threads) -> edge-1 (nginx) -> api-1 | api-2 -> mesh-1 (nginx) -> inventory-1 | users-1
```

| host | role | log | format | TZ |
|---|---|---|---|---|
{host_rows}

edge-1 sets `proxy_set_header X-Request-ID $request_id` and returns the same id to
the client; the api passes it on to every downstream call through mesh-1, so the
same 32-hex id is in every line of one request, in every file.

## Formats

`edge-1.access.log` (`log_format trace`; no `$msec`, so an edge line's start time is
only known to the second):

```
{edge_format}
```

`mesh-1.access.log` (`log_format mesh`):

```
{mesh_format}
```

`combined/edge-1.combined.log` (`combined`, predefined by nginx):

```
{combined}
```

The first line of each file, as written:

{examples}

The inventory log holds multi-line Python tracebacks after its `ERROR` lines (the
first attempt of each reservation fails on purpose).

## Time zones and the planted clock skew

- nginx ran with `TZ=America/St_Johns`, so `$time_local` carries a `-0330` offset.
- The Python services ran with `TZ=UTC`; inventory-1's times have no offset at all.
- **`{SKEW[0]}` has a planted clock skew of +{SKEW[1]:.3f} s**: every timestamp it
  writes is {SKEW[1] * 1000:.0f} ms later than the true time. The ground truth uses
  the true clock, so the skew shows up only in `{SKEW[0]}.log`.

## What the traffic plants

| scenario | requests | what happens |
|---|---|---|
{scenario_rows}

## ground_truth.jsonl

One object per client request, in send order (`seq`). Times are epoch seconds on
the true clock.

- `seq`, `request_id` (nginx's `$request_id`, or null), `scenario`, `method`,
  `target`, `route` (templated, e.g. `/api/orders/{{id}}`).
- `client_start`, `client_end`, `status` (null when the client gave up),
  `client_gave_up`.
- `planted`: the pattern names this request exhibits on purpose (`[]` for `normal`
  and the controls).
- `server`: `{{service, host, start, end, status}}` as the api saw it, or null for
  static files.
- `edge_attempts`: `[{{upstream: "api-1"|"api-2"|"dead", status}}]`.
- `calls`: each downstream call the api made: `caller`, `caller_host`, `callee`,
  `callee_host`, `method`, `target`, `route`, `start`, `end`, `status`, `attempt`,
  `concurrent_group` (calls with the same number ran in parallel); and how each hop
  logged it: `caller_path` (in the api's line), `proxy` and `proxy_path` (mesh-1),
  `callee_path`, `served` (the callee's own start, end and status) and `calls` (the
  callee's own calls, none here).
- `edge`: the edge host the client sent the request to.
- `expected_saving_s`: for `n_plus_one` (sum of the calls minus one call's mean),
  `sequential` (sum minus the longest) and `repeated` (the repeats after the first).
"""


def main() -> int:
    """Run the harness and replace sample_logs/; 0 on success."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="logtrace-sample-") as tmp:
        out = Path(tmp) / "run"
        done = subprocess.run(
            [sys.executable, str(RUN), "--out", str(out), *HARNESS_ARGS], check=False
        )
        if done.returncode != 0:
            print(f"make_sample_logs: error: the harness exited {done.returncode}", file=sys.stderr)
            return 1
        topology = json.loads((out / "topology.json").read_text())
        truth = [json.loads(line) for line in (out / "ground_truth.jsonl").read_text().splitlines()]
        if SAMPLE.exists():
            shutil.rmtree(SAMPLE)
        (SAMPLE / "combined").mkdir(parents=True)
        for name in LOG_FILES:
            shutil.copyfile(out / "logs" / name, SAMPLE / name)
        shutil.copyfile(
            out / "extra" / "edge-1.combined.log", SAMPLE / "combined" / "edge-1.combined.log"
        )
        shutil.copyfile(out / "ground_truth.jsonl", SAMPLE / "ground_truth.jsonl")
        # The real configs (for `logtrace --nginx-conf`), with the run's temporary
        # directory replaced by a stable placeholder path.
        (SAMPLE / "nginx").mkdir()
        for host in ("edge-1", "mesh-1"):
            conf = (out / "nginx" / host / "nginx.conf").read_text(encoding="utf-8")
            (SAMPLE / "nginx" / f"{host}.conf").write_text(
                conf.replace(str(out), "/srv/topology"), encoding="utf-8"
            )
        seconds = time.monotonic() - started
        (SAMPLE / "README.md").write_text(_readme(topology, truth, seconds), encoding="utf-8")
    print(f"sample_logs/ rebuilt in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
