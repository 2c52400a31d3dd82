"""The topology harness (scripts/topology/run.py) run for real: logs, ground truth, cleanup."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "scripts" / "topology" / "run.py"
SKEWED_HOST = "api-2"
SKEW_S = 0.150
TOLERANCE_S = 0.005
LOG_FILES = (
    "logs/edge-1.access.log",
    "logs/mesh-1.access.log",
    "logs/api-1.log",
    "logs/api-2.log",
    "logs/inventory-1.log",
    "logs/users-1.log",
    "extra/edge-1.combined.log",
    "ground_truth.jsonl",
    "topology.json",
)
PLANTED = {
    "n_plus_one",
    "sequential",
    "repeated",
    "edge_retry",
    "app_retry",
    "timeout",
    "client_abort",
    "slow_client",
    "swallowed_error",
}
CONTROLS = {"normal", "batched", "parallel", "same_service_routes", "static", "not_found"}

pytestmark = [pytest.mark.nginx, pytest.mark.slow]  # conftest skips (or fails) without nginx


@dataclass(frozen=True)
class Run:
    """One finished harness run."""

    out: Path
    returncode: int
    stdout: str
    stderr: str

    def truth(self) -> list[dict[str, Any]]:
        lines = (self.out / "ground_truth.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def topology(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "topology.json").read_text()))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The harness with a small request count, run once for all tests in this file."""
    out = tmp_path_factory.mktemp("topology") / "run"
    argv = [
        sys.executable, str(RUN),
        "--out", str(out),
        "--requests", "60",
        "--seed", "3",
        "--skew", f"{SKEWED_HOST}={SKEW_S}",
        "--timeout-s", "60",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90, check=False)
    return Run(out, done.returncode, done.stdout, done.stderr)


def _ok(run: Run) -> Run:
    assert run.returncode == 0, f"harness failed: {run.stderr.strip()}"
    return run


def test_harness_exits_zero_and_reports_the_scenario_mix(run: Run) -> None:
    _ok(run)
    assert run.stderr == ""
    assert "60 requests" in run.stdout


@pytest.mark.parametrize("name", LOG_FILES)
def test_every_log_file_exists_and_is_not_empty(run: Run, name: str) -> None:
    path = _ok(run).out / name
    assert path.is_file()
    assert path.stat().st_size > 0


def test_every_request_id_in_the_truth_has_an_edge_access_line(run: Run) -> None:
    truth = _ok(run).truth()
    edge_lines = (run.out / "logs" / "edge-1.access.log").read_text().splitlines()
    # The `trace` format ends with $request_id.
    logged = {line.rsplit(" ", 1)[-1] for line in edge_lines}
    ids = [r["request_id"] for r in truth if r["request_id"] is not None]
    assert len(ids) == len(truth) == 60
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert set(ids) <= logged


def test_every_planted_pattern_and_control_occurs(run: Run) -> None:
    truth = _ok(run).truth()
    planted = {name for record in truth for name in record["planted"]}
    scenarios = {record["scenario"] for record in truth}
    assert planted == PLANTED
    assert scenarios >= PLANTED | CONTROLS


def test_edge_retry_and_timeout_are_visible_in_the_edge_log(run: Run) -> None:
    truth = _ok(run).truth()
    by_id = {
        line.rsplit(" ", 1)[-1]: line
        for line in (run.out / "logs" / "edge-1.access.log").read_text().splitlines()
    }
    retried = [by_id[r["request_id"]] for r in truth if r["scenario"] == "edge_retry"]
    timed_out = [by_id[r["request_id"]] for r in truth if r["scenario"] == "timeout"]
    # $upstream_response_time lists both attempts: the dead server's and api-1's.
    assert all(re.search(r" \d+\.\d{3}, \d+\.\d{3} [0-9a-f]{32}$", line) for line in retried)
    assert all('" 504 ' in line for line in timed_out)
    # nginx runs with TZ=America/St_Johns.
    assert all(" -0330] " in line for line in by_id.values())


def _logfmt_time(line: str) -> float:
    stamp = line.split(" ", 1)[0].removeprefix("ts=")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_skewed_host_log_times_are_shifted_by_the_planted_skew(run: Run) -> None:
    truth = {r["request_id"]: r for r in _ok(run).truth() if r["server"]}
    shifts = []
    for line in (run.out / "logs" / f"{SKEWED_HOST}.log").read_text().splitlines():
        found = re.search(r'msg="request (started|finished)" req_id=([0-9a-f]{32})', line)
        if found:
            server = truth[found[2]]["server"]
            assert server["host"] == SKEWED_HOST
            true_time = server["start"] if found[1] == "started" else server["end"]
            shifts.append(_logfmt_time(line) - true_time)
    assert len(shifts) >= 20
    assert all(abs(shift - SKEW_S) <= TOLERANCE_S for shift in shifts)


def test_unskewed_host_log_times_match_the_truth(run: Run) -> None:
    truth = {r["request_id"]: r for r in _ok(run).truth() if r["server"]}
    shifts = []
    for line in (run.out / "logs" / "api-1.log").read_text().splitlines():
        record = json.loads(line)
        if record["msg"] == "request finished":
            logged = datetime.fromisoformat(record["time"]).timestamp()
            shifts.append(logged - truth[record["request_id"]]["server"]["end"])
    assert shifts
    assert all(abs(shift) <= TOLERANCE_S for shift in shifts)


def _live_members(pgid: int) -> list[int]:
    """Non-zombie processes whose process group is pgid."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list process groups")
def test_no_started_process_is_left_running(run: Run) -> None:
    hosts = _ok(run).topology()["hosts"]
    assert set(hosts) == {"edge-1", "mesh-1", "api-1", "api-2", "inventory-1", "users-1"}
    for name, host in hosts.items():
        assert host["stopped_gracefully"], name
        assert _live_members(host["pgid"]) == [], name
        assert not _accepts(host["port"]), name


def test_an_nginx_host_cannot_be_skewed(tmp_path: Path) -> None:
    argv = [sys.executable, str(RUN), "--out", str(tmp_path / "x"), "--skew", "edge-1=0.1"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert "cannot be skewed" in done.stderr
    assert not (tmp_path / "x").exists()
