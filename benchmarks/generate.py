"""Generate deterministic, realistic nginx + application logs for benchmarks.

    python benchmarks/generate.py --lines 1000000 --out benchmarks/data/1m \
        [--seed 1] [--gzip] [--hosts 6] [--edge-only]

Writes edge.log (nginx, "trace" log_format, exactly --lines lines), the app logs of the
requests it proxied (api-1 JSON, api-2 logfmt, inventory-1 Python logging, users-1 free
text), mesh-1.log (an internal nginx between api and inventory), nginx.conf (the
log_format directives) and manifest.json. Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from loggen import applogs, edge, spans, traffic
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


def parse_args(argv: list[str] | None) -> Plan:
    """Command-line options → Plan."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, required=True, help="lines in edge.log")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gzip", action="store_true", help="write .gz files (gzip level 1)")
    p.add_argument("--hosts", type=int, default=len(SPECS), help="number of log files (1-6)")
    p.add_argument("--edge-only", action="store_true", help="only edge.log (same as --hosts 1)")
    p.add_argument("--chunk", type=int, default=100_000, help="requests per chunk (memory)")
    p.add_argument("--rate", type=float, default=500.0, help="mean requests per second")
    p.add_argument(
        "--paths",
        choices=traffic.PATH_KINDS,
        default="catalogue",
        help="edge paths: the catalogue's routes, one untemplatable path per request "
        f"(distinct), or {traffic.FEW_PATHS} such paths (few)",
    )
    a = p.parse_args(argv)
    if a.lines < 0 or a.chunk < 1 or a.rate <= 0 or not 1 <= a.hosts <= len(SPECS):
        p.error(f"need --lines >= 0, --chunk >= 1, --rate > 0, 1 <= --hosts <= {len(SPECS)}")
    hosts = 1 if a.edge_only else a.hosts
    return Plan(a.lines, a.out, a.seed, a.gzip, hosts, a.chunk, a.rate, a.paths)


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


def generate(plan: Plan) -> dict[str, object]:
    """Write all files of `plan`; return the manifest."""
    plan.out.mkdir(parents=True, exist_ok=True)
    (plan.out / "manifest.json").unlink(missing_ok=True)  # written last: marks a complete set
    specs = SPECS[: plan.hosts]
    api_hosts = sum(1 for s in specs if s.host.startswith("api-"))
    suffix = ".gz" if plan.compress else ""
    logs = [OrderedLog(plan.out / (s.name + suffix), plan.compress) for s in specs]
    for log in logs:
        log.open()
    rng = Rng(plan.seed)
    jobs = [Job(s, log, rng, max(api_hosts, 1)) for s, log in zip(specs, logs, strict=True)]
    gap_us = 1_000_000.0 / plan.rate
    cursor = int(START.timestamp() * 1_000_000)

    # Lines of chunk k are formatted and written by worker threads while the main
    # thread draws chunk k+1 (polars releases the GIL), so both cores stay busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        writing: list[Future[None]] = []
        for first in range(0, plan.lines, plan.chunk):
            count = min(plan.chunk, plan.lines - first)
            frame = spans.place(
                traffic.requests(rng, first, count, cursor, gap_us, paths=plan.paths), rng
            )
            cursor = int(frame.get_column("start_us").max())  # type: ignore[arg-type]
            for done in writing:
                done.result()
            # Every later request starts after `cursor`; its earliest log time is 1 s
            # before that at worst (the edge span ends on the logged whole second).
            cutoff = cursor - spans.SECOND
            writing = [pool.submit(job.emit, frame, cutoff) for job in jobs]
        for done in writing:
            done.result()
    for log in logs:
        log.close()
    (plan.out / "nginx.conf").write_text(nginx_conf(specs, suffix))
    manifest: dict[str, object] = {
        "generator_version": GENERATOR_VERSION,
        "seed": plan.seed,
        "lines": plan.lines,
        "paths": plan.paths,
        "rate_per_s": plan.rate,
        "start": START.isoformat(),
        "gzip": plan.compress,
        "formats": {"trace": edge.TRACE_FORMAT, "mesh": edge.MESH_FORMAT},
        "files": [
            {
                "name": log.path.name,
                "host": spec.host,
                "shape": spec.shape,
                "format": spec.description,
                "lines": log.lines,
                "bytes": log.path.stat().st_size,
                "uncompressed_bytes": log.uncompressed_bytes,
            }
            for spec, log in zip(specs, logs, strict=True)
        ],
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
    rate = plan.lines / took if took > 0 else 0.0
    print(
        f"wrote {len(files)} files, {plan.lines:,} edge lines, {total / 1e6:,.1f} MB "
        f"to {plan.out} in {took:.1f} s ({rate:,.0f} edge lines/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
