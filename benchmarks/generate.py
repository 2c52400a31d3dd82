"""Generate deterministic, realistic nginx + application logs for benchmarks.

    python benchmarks/generate.py --lines 1000000 --out benchmarks/data/1m \
        [--seed 1] [--gzip] [--hosts 6] [--edge-only]
    python benchmarks/generate.py --deployment chatty --lines 5000000 --out DIR

Writes edge.log (nginx, "trace" log_format, exactly --lines lines), the app logs of the
requests it proxied (api-1 JSON, api-2 logfmt, inventory-1 Python logging, users-1 free
text), mesh-1.log (an internal nginx between api and inventory), nginx.conf (the
log_format directives) and manifest.json. Same seed, same bytes.

`--deployment chatty` writes a chatty multi-host deployment instead (loggen/chatty.py):
an edge nginx, two web apps, an internal proxy and three services, ~17 lines a request,
--lines in all files together.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from loggen import applogs, chatty, chatty_logs, edge, spans, traffic
from loggen.rng import Rng
from loggen.writer import OrderedLog

GENERATOR_VERSION = 1  # bump when the output changes: run.py then regenerates its data
START = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
Builder = Callable[[pl.DataFrame, Rng, int], pl.DataFrame]


@dataclass(frozen=True)
class LogSpec:
    """One generated file: where it is from and how it is written."""

    name: str
    host: str
    shape: str
    description: str
    build: Builder


SPECS: tuple[LogSpec, ...] = (
    LogSpec("edge.log", "edge-1", "nginx:trace", edge.TRACE_FORMAT,
            lambda f, _r, _h: edge.edge_events(f)),
    LogSpec("api-1.log", "api-1", "json", "JSON lines: request started/finished, downstream call",
            applogs.api_json_events),
    LogSpec("api-2.log", "api-2", "logfmt", "logfmt: request finished, call finished",
            applogs.api_logfmt_events),
    LogSpec("inventory-1.log", "inventory-1", "python-logging",
            "%(asctime)s %(levelname)s inventory rid=<id> METHOD PATH STATUS in <ms>ms",
            lambda f, r, _h: applogs.inventory_events(f, r)),
    LogSpec("users-1.log", "users-1", "text",
            "[time] users served METHOD PATH status=N elapsed=<s> request_id=<id>",
            lambda f, r, _h: applogs.users_events(f, r)),
    LogSpec("mesh-1.log", "mesh-1", "nginx:mesh", edge.MESH_FORMAT,
            lambda f, _r, h: edge.mesh_events(f, h)),
)  # fmt: skip
CHATTY_SPECS = tuple(LogSpec(*entry) for entry in chatty_logs.FILES)
DEPLOYMENTS = ("edge", "chatty")
CHATTY_CHUNK = 25_000  # requests: ~420k lines, about as many as 100k edge requests write


@dataclass(frozen=True)
class Plan:
    """What to generate."""

    lines: int
    out: Path
    seed: int
    compress: bool
    hosts: int
    chunk: int
    rate: float
    paths: str = "catalogue"
    deployment: str = "edge"


def parse_args(argv: list[str] | None) -> Plan:
    """Command-line options → Plan."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--lines",
        type=int,
        required=True,
        help="lines in edge.log; with --deployment chatty, lines in all files together "
        "(rounded up to a whole request)",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gzip", action="store_true", help="write .gz files (gzip level 1)")
    p.add_argument(
        "--deployment",
        choices=DEPLOYMENTS,
        default="edge",
        help="edge: an edge nginx and the 5 hosts behind it, ~3.7 lines a request; chatty: "
        "edge, 2 web apps, an internal proxy, 3 services, N+1 loops, ~17 lines a request",
    )
    p.add_argument("--hosts", type=int, default=None, help="number of log files (1-6; edge)")
    p.add_argument("--edge-only", action="store_true", help="only edge.log (same as --hosts 1)")
    p.add_argument(
        "--chunk",
        type=int,
        default=None,
        help="requests per chunk (memory; default 100,000, chatty 25,000: ~400k lines)",
    )
    p.add_argument("--rate", type=float, default=500.0, help="mean requests per second")
    p.add_argument(
        "--paths",
        choices=traffic.PATH_KINDS,
        default="catalogue",
        help="edge paths: the catalogue's routes, one untemplatable path per request "
        f"(distinct), or {traffic.FEW_PATHS} such paths (few)",
    )
    a = p.parse_args(argv)
    hosts = len(SPECS) if a.hosts is None else a.hosts
    default_chunk = CHATTY_CHUNK if a.deployment == "chatty" else 100_000
    chunk = default_chunk if a.chunk is None else a.chunk
    if a.lines < 0 or chunk < 1 or a.rate <= 0 or not 1 <= hosts <= len(SPECS):
        p.error(f"need --lines >= 0, --chunk >= 1, --rate > 0, 1 <= --hosts <= {len(SPECS)}")
    if a.deployment == "chatty" and (a.hosts is not None or a.edge_only or a.paths != "catalogue"):
        p.error("--hosts, --edge-only and --paths are for --deployment edge")
    hosts = 1 if a.edge_only else hosts
    return Plan(a.lines, a.out, a.seed, a.gzip, hosts, chunk, a.rate, a.paths, a.deployment)


def nginx_conf(specs: tuple[LogSpec, ...], suffix: str) -> str:
    """The nginx directives that would have produced the nginx files."""
    out = ["# log_format directives of the generated nginx logs (paths relative to here)"]
    for spec in specs:
        if spec.shape.startswith("nginx:"):
            name = spec.shape.split(":", 1)[1]
            out.append(f"log_format {name} '{spec.description}';")
    for spec in specs:
        if spec.shape.startswith("nginx:"):
            out.append(f"access_log {spec.name}{suffix} {spec.shape.split(':', 1)[1]};")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Job:
    """One output file of a generation run."""

    spec: LogSpec
    log: OrderedLog
    rng: Rng
    api_hosts: int

    def emit(self, frame: pl.DataFrame, cutoff_us: int) -> None:
        """Format this file's lines of a chunk and hand them to the ordered writer."""
        self.log.add(self.spec.build(frame, self.rng, self.api_hosts), cutoff_us)


def _write_chunks(jobs: list[Job], chunks: Iterator[tuple[pl.DataFrame, int]]) -> None:
    """Hand each chunk (and its cutoff) to every job.

    Lines of chunk k are formatted and written by worker threads while the main thread
    draws chunk k+1 (polars releases the GIL), so both cores stay busy.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        writing: list[Future[None]] = []
        for frame, cutoff in chunks:
            for done in writing:
                done.result()
            writing = [pool.submit(job.emit, frame, cutoff) for job in jobs]
        for done in writing:
            done.result()


def _edge_chunks(plan: Plan, rng: Rng) -> Iterator[tuple[pl.DataFrame, int]]:
    gap_us = 1_000_000.0 / plan.rate
    cursor = int(START.timestamp() * 1_000_000)
    for first in range(0, plan.lines, plan.chunk):
        count = min(plan.chunk, plan.lines - first)
        frame = spans.place(
            traffic.requests(rng, first, count, cursor, gap_us, paths=plan.paths), rng
        )
        cursor = int(frame.get_column("start_us").max())  # type: ignore[arg-type]
        # Every later request starts after `cursor`; its earliest log time is 1 s
        # before that at worst (the edge span ends on the logged whole second).
        yield frame, cursor - spans.SECOND


def _open(specs: tuple[LogSpec, ...], plan: Plan, rng: Rng, api_hosts: int) -> list[Job]:
    (plan.out / "manifest.json").unlink(missing_ok=True)  # written last: marks a complete set
    suffix = ".gz" if plan.compress else ""
    jobs = [Job(s, OrderedLog(plan.out / (s.name + suffix), plan.compress), rng, api_hosts)
            for s in specs]  # fmt: skip
    for job in jobs:
        job.log.open()
    return jobs


def _close(jobs: list[Job], plan: Plan) -> list[dict[str, object]]:
    """Close every file, write nginx.conf; the manifest's entry of each file."""
    for job in jobs:
        job.log.close()
    specs = tuple(job.spec for job in jobs)
    (plan.out / "nginx.conf").write_text(nginx_conf(specs, ".gz" if plan.compress else ""))
    return [
        {
            "name": job.log.path.name,
            "host": job.spec.host,
            "shape": job.spec.shape,
            "format": job.spec.description,
            "lines": job.log.lines,
            "bytes": job.log.path.stat().st_size,
            "uncompressed_bytes": job.log.uncompressed_bytes,
        }
        for job in jobs
    ]


def generate(plan: Plan) -> dict[str, object]:
    """Write all files of `plan`; return the manifest."""
    if plan.deployment == "chatty":
        return generate_chatty(plan)
    plan.out.mkdir(parents=True, exist_ok=True)
    specs = SPECS[: plan.hosts]
    api_hosts = sum(1 for s in specs if s.host.startswith("api-"))
    rng = Rng(plan.seed)
    jobs = _open(specs, plan, rng, max(api_hosts, 1))
    _write_chunks(jobs, _edge_chunks(plan, rng))
    files = _close(jobs, plan)
    manifest: dict[str, object] = {
        "generator_version": GENERATOR_VERSION,
        "seed": plan.seed,
        "lines": plan.lines,
        "paths": plan.paths,
        "rate_per_s": plan.rate,
        "start": START.isoformat(),
        "gzip": plan.compress,
        "formats": {"trace": edge.TRACE_FORMAT, "mesh": edge.MESH_FORMAT},
        "files": files,
    }
    (plan.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def generate_chatty(plan: Plan) -> dict[str, object]:
    """The chatty deployment (loggen/chatty.py): about `plan.lines` lines in all files."""
    plan.out.mkdir(parents=True, exist_ok=True)
    rng = Rng(plan.seed)
    jobs = _open(CHATTY_SPECS, plan, rng, chatty.WEB_HOSTS)
    start_us = int(START.timestamp() * 1_000_000)
    requests = 0

    def counted() -> Iterator[tuple[pl.DataFrame, int]]:
        nonlocal requests
        for frame, cutoff in chatty.chunks(rng, plan.lines, plan.chunk, start_us, 1e6 / plan.rate):
            requests += int((frame.get_column("k") == 0).sum())
            yield frame, cutoff

    _write_chunks(jobs, counted())
    files = _close(jobs, plan)
    manifest: dict[str, object] = {
        "generator_version": GENERATOR_VERSION,
        "deployment": "chatty",
        "seed": plan.seed,
        "lines": plan.lines,
        "requests": requests,
        "rate_per_s": plan.rate,
        "start": START.isoformat(),
        "gzip": plan.compress,
        "formats": chatty_logs.FORMATS,
        "files": files,
    }
    (plan.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Entry point; prints one summary line with the generation speed."""
    plan = parse_args(argv)
    began = time.perf_counter()
    manifest = generate(plan)
    took = time.perf_counter() - began
    files = manifest["files"]
    assert isinstance(files, list)
    total = sum(int(f["bytes"]) for f in files)
    if plan.deployment == "chatty":
        lines, what = sum(int(f["lines"]) for f in files), "lines"
    else:
        lines, what = plan.lines, "edge lines"
    rate = lines / took if took > 0 else 0.0
    print(
        f"wrote {len(files)} files, {lines:,} {what}, {total / 1e6:,.1f} MB "
        f"to {plan.out} in {took:.1f} s ({rate:,.0f} {what}/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
