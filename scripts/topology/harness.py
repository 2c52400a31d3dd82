"""One run: start a variant's topology, drive the traffic, stop everything, write the truth."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from topology import nginx
from topology.apps import Peer
from topology.client import ClientResult, Target, send
from topology.describe import describe
from topology.layout import APP_TZ, EDGE_FORMATS
from topology.model import AppHost, Edge, NginxLog, Variant
from topology.nginx_conf import edge_conf, proxy_conf
from topology.procs import (
    Deadline,
    HarnessError,
    Managed,
    dead_port,
    read_ready_port,
    spawn,
    stop,
)
from topology.propagation import PROPAGATIONS
from topology.scenarios import plan, scenarios_for
from topology.truth import merge, problems, read_side_channel
from topology.variants import VARIANTS

SCRIPTS_DIR = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 15.0
CLEANUP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_S = 10.0  # the slowest in-flight request (timeout scenario) needs ~1.4 s
MIN_STOP_GRACE_S = 1.5  # granted even past the deadline, then SIGKILL
ROTATE_TIMEOUT_S = 15.0
CALLING_ROLES = frozenset({"api", "feed"})


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; `run.py` builds it from the command line."""

    out: Path
    variant: str = "preserve"
    requests: int = 300
    seed: int = 1
    skews: dict[str, float] | None = None  # None: the variant's own planted skews
    edge_format: str | None = None  # trace | timing for every edge; None: the variant's
    concurrency: int = 8
    timeout_s: float = 600.0
    request_timeout_s: float = 10.0


@dataclass
class RunResult:
    """What a finished run produced."""

    truth: list[dict[str, Any]]
    elapsed_s: float
    nginx_version: str


def resolve_variant(config: RunConfig) -> Variant:
    """The variant a config asks for, with its edge format overridden if asked."""
    variant = VARIANTS[config.variant]
    if config.edge_format is None:
        return variant
    log = NginxLog(config.edge_format, EDGE_FORMATS[config.edge_format])
    edges = tuple(dataclasses.replace(e, log=log) for e in variant.edges)
    return dataclasses.replace(variant, edges=edges)


class Topology:
    """The running processes of one variant, and what topology.json says about them."""

    def __init__(self, config: RunConfig, deadline: Deadline) -> None:
        self.config = config
        self.deadline = deadline
        self.variant = resolve_variant(config)
        self.skews = dict(self.variant.skews) if config.skews is None else dict(config.skews)
        self.propagation = PROPAGATIONS[self.variant.propagation]
        self.out = config.out.resolve()
        self.binary = nginx.find_nginx()
        self.nginx_version = nginx.nginx_version(self.binary)
        self.procs: dict[str, Managed] = {}
        self.stopped: dict[str, bool] = {}
        self.rotated: dict[str, Path] = {}
        self._dead = dead_port()
        self.dead_port = int(self._dead.getsockname()[1])

    def _path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def _spawn_app(self, host: AppHost) -> None:
        service = self.variant.service_of(host.name)
        shared = self._path("extra", "shared", service.name)
        shared.mkdir(parents=True, exist_ok=True)
        config = {
            "host": host.name,
            "service": service.name,
            "role": service.role,
            "base": service.base,
            "shape": host.shape,
            "id_key": self.variant.app_key or host.id_key,
            "skew_s": self.skews.get(host.name, 0.0),
            "seed": self.config.seed,
            "propagation": self.variant.propagation,
            "log": str(self._path("logs", f"{host.name}.log")),
            "truth": str(self._path("truth", f"{host.name}.jsonl")),
            "shared": str(shared),
            "serving": str(self._path("extra", f"{host.name}.serving")),
        }
        config_path = self._path("extra", f"{host.name}.json")
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        env = {
            **os.environ,
            "TZ": APP_TZ,
            "PYTHONPATH": os.pathsep.join([str(SCRIPTS_DIR), os.environ.get("PYTHONPATH", "")]),
        }
        argv = [sys.executable, "-m", "topology.serve", "--config", str(config_path)]
        self.procs[host.name] = spawn(
            host.name,
            argv,
            stop_signal=signal.SIGTERM,
            stderr_path=self._path("extra", f"{host.name}.stderr.log"),
            env=env,
            stdout_pipe=True,
            stdin_pipe=True,
        )

    def _start_nginx(self, name: str, render: Callable[[int], str], tz: str) -> None:
        prefix = self._path("nginx", name)
        timeout = min(STARTUP_TIMEOUT_S, self.deadline.remaining())
        self.procs[name] = nginx.start_nginx(self.binary, name, prefix, render, timeout, tz=tz)

    def _ports(self, hosts: tuple[AppHost, ...]) -> list[int]:
        return [self.procs[h.name].port for h in hosts]

    def _peers(self) -> dict[str, dict[str, Any]]:
        """Where each role's service is, as every app sees it."""
        proxy = self.variant.proxy
        peers: dict[str, dict[str, Any]] = {}
        for service in self.variant.services[1:]:
            if proxy is None:
                port = self.procs[service.hosts[0].name].port
                peer = Peer(service.name, service.base, port, None)
            else:
                loc = proxy.location(service.role)
                port = self.procs[proxy.name].port
                peer = Peer(
                    service.name,
                    service.base,
                    port,
                    proxy.name,
                    loc.public,
                    loc.upstream,
                    loc.client_base,
                )
            peers[service.role] = asdict(peer)
        return peers

    def start(self) -> None:
        """Start every app, then the proxy and the edges; then tell the apps their peers."""
        for sub in ("logs", "truth", "extra", "nginx"):
            self._path(sub).mkdir(parents=True, exist_ok=True)
        variant = self.variant
        for host in variant.app_hosts:
            self._spawn_app(host)
        for host in variant.app_hosts:
            timeout = min(STARTUP_TIMEOUT_S, self.deadline.remaining())
            self.procs[host.name].port = read_ready_port(self.procs[host.name], timeout)
        if (proxy := variant.proxy) is not None:
            upstreams: dict[str, tuple[str, Sequence[int]]] = {
                s.role: (s.name, self._ports(s.hosts)) for s in variant.services[1:]
            }
            self._start_nginx(
                proxy.name,
                lambda port: proxy_conf(
                    self._path("nginx", proxy.name),
                    proxy,
                    port=port,
                    upstreams=upstreams,
                    access_log=self._path("logs", f"{proxy.name}.access.log"),
                ),
                variant.proxy_tz,
            )
        for edge in variant.edges:
            self._start_edge(edge)
        line = json.dumps(self._peers()) + "\n"
        for host in variant.app_hosts:
            stdin = self.procs[host.name].popen.stdin
            assert stdin is not None
            stdin.write(line.encode())
            stdin.close()
        self._await_serving()

    def _await_serving(self) -> None:
        """Wait until every app serves: requests sent earlier would wait in its backlog."""
        end = time.monotonic() + min(STARTUP_TIMEOUT_S, self.deadline.remaining())
        for host in self.variant.app_hosts:
            marker = self._path("extra", f"{host.name}.serving")
            while not marker.exists():
                if self.procs[host.name].popen.poll() is not None:
                    raise HarnessError(f"{host.name} exited during startup (see extra/)")
                if time.monotonic() > end:
                    raise HarnessError(f"{host.name} did not start serving in time")
                time.sleep(0.01)

    def _start_edge(self, edge: Edge) -> None:
        combined = self._path("extra", f"{edge.name}.combined.log") if edge.combined_twin else None
        self._start_nginx(
            edge.name,
            lambda port: edge_conf(
                self._path("nginx", edge.name),
                edge,
                port=port,
                api=self.variant.api.name,
                api_ports=self._ports(self.variant.api.hosts),
                dead=self.dead_port,
                access_log=self._path("logs", f"{edge.name}.access.log"),
                combined_log=combined,
                propagation=self.propagation,
            ),
            self.variant.edge_tz,
        )

    def targets(self) -> list[Target]:
        """The edges a client can send to, in the order it alternates between them."""
        return [
            Target(e.name, self.procs[e.name].port, self.propagation, self.config.seed)
            for e in self.variant.edges
        ]

    def rotate_edges(self) -> None:
        """Rotate the logs of the edges that rotate (rename, reopen, gzip)."""
        for edge in self.variant.edges:
            if edge.rotate:
                log = self._path("logs", f"{edge.name}.access.log")
                self.rotated[edge.name] = nginx.rotate_log(
                    self.procs[edge.name], log, min(ROTATE_TIMEOUT_S, self.deadline.remaining())
                )

    def stop_order(self) -> list[str]:
        """Edges, then the apps that make calls, then the proxy, then the other apps.

        A draining app may still call its services (the api finishing a request after the
        edge already answered 504), so what it calls stops after it.
        """
        variant = self.variant
        callers = [h.name for s in variant.services if s.role in CALLING_ROLES for h in s.hosts]
        others = [h.name for s in variant.services if s.role not in CALLING_ROLES for h in s.hosts]
        proxy = [variant.proxy.name] if variant.proxy else []
        order = [e.name for e in variant.edges] + callers + proxy + others
        return [name for name in order if name in self.procs]

    def stop_all(self) -> None:
        """Stop everything started, in `stop_order`."""
        for name in self.stop_order():
            if name not in self.stopped:
                grace = min(STOP_GRACE_S, max(MIN_STOP_GRACE_S, self.deadline.remaining()))
                self.stopped[name] = stop(self.procs[name], grace)
        self._dead.close()

    def describe(self) -> dict[str, Any]:
        """The content of topology.json."""
        return describe(self)


def _drive(config: RunConfig, topology: Topology, deadline: Deadline) -> list[ClientResult]:
    planned = plan(config.requests, config.seed, scenarios_for(topology.variant.roles))
    targets = topology.targets()
    rotate_at = len(planned) // 2 if any(e.rotate for e in topology.variant.edges) else None
    pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="client")
    try:
        timeout = min(config.request_timeout_s, deadline.seconds)
        futures = [
            pool.submit(send, targets[(req.seq - 1) % len(targets)], req, timeout)
            for req in planned
        ]
        finished = 0
        try:
            for future in as_completed(futures, timeout=deadline.remaining()):
                if (exc := future.exception()) is not None:
                    raise exc
                finished += 1
                if finished == rotate_at:
                    topology.rotate_edges()
        except TimeoutError:
            raise HarnessError(
                f"overall deadline of {deadline.seconds:g}s exceeded while sending requests"
            ) from None
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
        results = _drive(config, topology, deadline)
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
    records = read_side_channel(topology.out / "truth")
    truth = merge(results, records)
    with (topology.out / "ground_truth.jsonl").open("w", encoding="utf-8") as f:
        for record in truth:
            f.write(json.dumps(record) + "\n")
    backup = topology.variant.api.hosts[0].name
    found = problems(truth, results, records, backup) + _stderr_problems(topology.out)
    found += [
        f"{name} did not stop cleanly (exit status {topology.procs[name].popen.returncode})"
        for name, ok in topology.stopped.items()
        if not ok
    ]
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise HarnessError(f"{found[0]}{more}; see {topology.out}")
    return RunResult(truth, time.monotonic() - started, topology.nginx_version)
