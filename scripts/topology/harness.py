"""One run: start the topology, drive the planned traffic, stop everything, write the truth."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topology import nginx
from topology.client import ClientResult, send
from topology.layout import (
    APP_TZ,
    COMBINED_FORMAT,
    NGINX_TZ,
    Host,
    hosts,
)
from topology.procs import (
    Deadline,
    HarnessError,
    Managed,
    dead_port,
    read_ready_port,
    spawn,
    stop,
)
from topology.scenarios import plan
from topology.truth import merge, problems, read_side_channel

SCRIPTS_DIR = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 15.0
CLEANUP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_S = 10.0  # the slowest in-flight request (timeout scenario) needs ~1.4 s
MIN_STOP_GRACE_S = 1.5  # granted even past the deadline, then SIGKILL


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; `run.py` builds it from the command line."""

    out: Path
    requests: int = 300
    seed: int = 1
    skews: dict[str, float] = field(default_factory=dict)
    edge_format: str = "trace"
    concurrency: int = 8
    timeout_s: float = 600.0
    request_timeout_s: float = 10.0


@dataclass
class RunResult:
    """What a finished run produced."""

    truth: list[dict[str, Any]]
    elapsed_s: float
    nginx_version: str


class Topology:
    """The running processes, and what topology.json says about them."""

    def __init__(self, config: RunConfig, deadline: Deadline) -> None:
        self.config = config
        self.deadline = deadline
        self.out = config.out.resolve()
        self.binary = nginx.find_nginx()
        self.nginx_version = nginx.nginx_version(self.binary)
        self.hosts = {h.name: h for h in hosts(config.edge_format)}
        self.procs: dict[str, Managed] = {}
        self.stopped: dict[str, bool] = {}
        self._dead = dead_port()
        self.dead_port = int(self._dead.getsockname()[1])

    def _path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def _spawn_app(self, host: Host, extra_args: list[str]) -> Managed:
        env = {
            **os.environ,
            "TZ": APP_TZ,
            "PYTHONPATH": os.pathsep.join([str(SCRIPTS_DIR), os.environ.get("PYTHONPATH", "")]),
        }
        argv = [
            sys.executable, "-m", "topology.serve",
            "--service", host.service,
            "--host", host.name,
            "--log", str(self._path("logs", host.log_name)),
            "--skew", repr(self.config.skews.get(host.name, 0.0)),
            "--seed", str(self.config.seed),
            *extra_args,
        ]  # fmt: skip
        stderr = self._path("extra", f"{host.name}.stderr.log")
        proc = spawn(
            host.name,
            argv,
            stop_signal=signal.SIGTERM,
            stderr_path=stderr,
            env=env,
            stdout_pipe=True,
        )
        self.procs[host.name] = proc
        return proc

    def _await_apps(self, names: list[str]) -> None:
        for name in names:
            timeout = min(STARTUP_TIMEOUT_S, self.deadline.remaining())
            self.procs[name].port = read_ready_port(self.procs[name], timeout)

    def _start_nginx(self, name: str, render: Callable[[int], str]) -> None:
        prefix = self._path("nginx", name)
        timeout = min(STARTUP_TIMEOUT_S, self.deadline.remaining())
        self.procs[name] = nginx.start_nginx(self.binary, name, prefix, render, timeout)

    def start(self) -> None:
        """Start every host, dependencies first; ports are picked as they go."""
        for sub in ("logs", "truth", "extra", "nginx"):
            self._path(sub).mkdir(parents=True, exist_ok=True)
        self._spawn_app(self.hosts["inventory-1"], [])
        self._spawn_app(self.hosts["users-1"], [])
        self._await_apps(["inventory-1", "users-1"])
        mesh = self.hosts["mesh-1"]
        self._start_nginx(
            "mesh-1",
            lambda port: nginx.mesh_conf(
                self._path("nginx", "mesh-1"),
                port=port,
                inventory=self.procs["inventory-1"].port,
                users=self.procs["users-1"].port,
                access_log=self._path("logs", mesh.log_name),
                log_format=mesh.log_format,
            ),
        )
        for name in ("api-1", "api-2"):
            host = self.hosts[name]
            self._spawn_app(
                host,
                [
                    "--log-format", host.log_format,
                    "--mesh-port", str(self.procs["mesh-1"].port),
                    "--truth", str(self._path("truth", f"{name}.jsonl")),
                ],
            )  # fmt: skip
        self._await_apps(["api-1", "api-2"])
        edge = self.hosts["edge-1"]
        self._start_nginx(
            "edge-1",
            lambda port: nginx.edge_conf(
                self._path("nginx", "edge-1"),
                port=port,
                api_ports=(self.procs["api-1"].port, self.procs["api-2"].port),
                dead=self.dead_port,
                access_log=self._path("logs", edge.log_name),
                combined_log=self._path("extra", "edge-1.combined.log"),
                format_name=self.config.edge_format,
                log_format=edge.log_format,
            ),
        )

    def stop_all(self) -> None:
        """Stop in reverse start order: a draining api still needs mesh-1 and its services."""
        for name in reversed(list(self.procs)):
            if name not in self.stopped:
                grace = min(STOP_GRACE_S, max(MIN_STOP_GRACE_S, self.deadline.remaining()))
                self.stopped[name] = stop(self.procs[name], grace)
        self._dead.close()

    def describe(self) -> dict[str, Any]:
        """The content of topology.json."""
        described: dict[str, Any] = {}
        for name, host in self.hosts.items():
            proc = self.procs.get(name)
            entry: dict[str, Any] = {
                "kind": host.kind,
                "service": host.service,
                "port": proc.port if proc else None,
                "pid": proc.pid if proc else None,
                "pgid": proc.pid if proc else None,  # each child leads its own group
                "tz": NGINX_TZ if host.kind == "nginx" else APP_TZ,
                "skew_s": self.config.skews.get(name, 0.0),
                "stopped_gracefully": self.stopped.get(name),
                "logs": [{"path": f"logs/{host.log_name}", "format": host.log_format}],
            }
            if host.kind == "nginx":
                entry["logs"][0]["log_format_name"] = (
                    self.config.edge_format if name == "edge-1" else "mesh"
                )
                entry["error_log"] = f"nginx/{name}/error.log"
                entry["config"] = f"nginx/{name}/nginx.conf"
            described[name] = entry
        services: dict[str, list[str]] = {}
        for host in self.hosts.values():
            services.setdefault(host.service, []).append(host.name)
        return {
            "nginx_version": self.nginx_version,
            "nginx_binary": self.binary,
            "edge_format": self.config.edge_format,
            "requests": self.config.requests,
            "seed": self.config.seed,
            "concurrency": self.config.concurrency,
            "skews": dict(self.config.skews),
            "services": services,
            "hosts": described,
            "dead_upstream_port": self.dead_port,
            "extra_logs": [
                {
                    "host": "edge-1",
                    "path": "extra/edge-1.combined.log",
                    "format": COMBINED_FORMAT,
                    "log_format_name": "combined",
                }
            ],
            "ground_truth": "ground_truth.jsonl",
        }


def _drive(config: RunConfig, deadline: Deadline, edge_port: int) -> list[ClientResult]:
    planned = plan(config.requests, config.seed)
    pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="client")
    try:
        futures = [
            pool.submit(send, edge_port, req, min(config.request_timeout_s, deadline.seconds))
            for req in planned
        ]
        done, pending = wait(futures, timeout=deadline.remaining(), return_when=FIRST_EXCEPTION)
        for future in done:
            if (exc := future.exception()) is not None:
                raise exc
        if pending:
            raise HarnessError(
                f"overall deadline of {deadline.seconds:g}s exceeded while sending requests"
            )
        return [f.result() for f in futures]
    finally:
        # Requests still running end within their socket timeout once the servers stop.
        pool.shutdown(wait=False, cancel_futures=True)


def _stderr_problems(out: Path) -> list[str]:
    """Anything a service wrote to stderr is an exception the harness did not plan."""
    found = []
    for path in sorted((out / "extra").glob("*.stderr.log")):
        text = path.read_text(errors="replace").strip()
        if text:
            found.append(f"{path.name}: {text.splitlines()[-1]}")
    return found


def run(config: RunConfig) -> RunResult:
    """Run the topology once; raises HarnessError, after stopping everything, on any failure."""
    started = time.monotonic()
    deadline = Deadline(config.timeout_s)
    topology = Topology(config, deadline)
    results: list[ClientResult] = []
    try:
        topology.start()
        deadline.check("starting the topology")
        results = _drive(config, deadline, topology.procs["edge-1"].port)
    finally:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short; it is bounded anyway.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in CLEANUP_SIGNALS}
        try:
            topology.stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            out = topology.out
            (out / "topology.json").write_text(json.dumps(topology.describe(), indent=2) + "\n")
    side = read_side_channel(topology.out / "truth")
    truth = merge(results, side)
    with (topology.out / "ground_truth.jsonl").open("w", encoding="utf-8") as f:
        for record in truth:
            f.write(json.dumps(record) + "\n")
    found = problems(truth, results, side) + _stderr_problems(topology.out)
    found += [
        f"{name} did not stop cleanly (exit status {topology.procs[name].popen.returncode})"
        for name, ok in topology.stopped.items()
        if not ok
    ]
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise HarnessError(f"{found[0]}{more}; see {topology.out}")
    return RunResult(truth, time.monotonic() - started, topology.nginx_version)
