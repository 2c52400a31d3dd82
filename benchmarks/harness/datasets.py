"""The generated data sets the benchmarks run on: made once, reused while they match."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from generate import GENERATOR_VERSION

BENCH_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BENCH_DIR / "data"
GENERATOR = BENCH_DIR / "generate.py"
ROTATED_PIECES = 10  # files the edge log is cut into for `analyze rotated`
COMPOSE_CONTAINERS = 20  # replicas in the compose stream (`analyze compose`)


@dataclass(frozen=True)
class DataSet:
    """One generated directory and what is in it."""

    dir: Path
    edge: Path
    edge_gz: Path | None
    files: tuple[Path, ...]  # every log file, edge first
    edge_lines: int
    total_lines: int
    bytes: dict[str, int]
    lines_by_file: dict[str, int]  # each file's lines, by name (``api-1.log``)
    generated_in_s: float | None  # None when reused
    seed: int = 1

    def middle_request_id(self) -> str:
        """The request id of the edge line in the middle of the file (the last field of
        the `trace` format), for `logtrace trace ID`."""
        with self.edge.open("rb") as f:
            f.seek(self.edge.stat().st_size // 2)
            f.readline()  # the rest of a line cut in two
            line = f.readline() or self.edge.read_bytes().splitlines()[0]
        return line.split()[-1].decode()

    def rotated(self, pieces: int = ROTATED_PIECES) -> list[Path]:
        """The edge log cut into ``pieces`` files as logrotate leaves them (``edge.log``
        the newest lines, ``edge.log.1`` the ones before, ...), made on first use: the
        same lines as many files of a few chunks each."""
        folder = self.dir / ("rotated" if pieces == ROTATED_PIECES else f"rotated-{pieces}")
        names = ["edge.log"] + [f"edge.log.{k}" for k in range(1, pieces)]
        paths = [folder / name for name in names]
        if sum(p.stat().st_size for p in paths if p.exists()) != self.edge.stat().st_size:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            _cut(self.edge, paths[::-1])  # the oldest lines first: the last name
        return paths

    def rotated_gz(self, pieces: int = ROTATED_PIECES) -> list[Path]:
        """:meth:`rotated` as logrotate's ``compress`` and ``delaycompress`` leave them:
        ``edge.log`` and ``edge.log.1`` plain, ``edge.log.2.gz`` and older gzipped
        (gzip's default level), made on first use."""
        plain = self.rotated(pieces)
        out = plain[:2]
        for path in plain[2:]:
            packed = path.with_name(path.name + ".gz")
            if not packed.exists():
                tmp = packed.with_name(packed.name + ".partial")
                tmp.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
                tmp.replace(packed)
            out.append(packed)
        return out

    def compose(self, containers: int = COMPOSE_CONTAINERS) -> list[Path]:
        """The edge log's lines as ``docker compose logs`` prints them for ``containers``
        replicas of the proxy (``edge-1 | ...``, a line each in turn), made on first use:
        one file whose lines are read as a log per container."""
        path = self.dir / f"edge.compose{containers}.log"
        if not path.exists():
            width = len(f"edge-{containers}") + 1
            tmp = path.with_name(path.name + ".partial")
            with self.edge.open("rb") as fin, tmp.open("wb") as out:
                for k, line in enumerate(fin):
                    name = f"edge-{k % containers + 1}"
                    out.write(f"{name:<{width}} | ".encode() + line)
            tmp.replace(path)
        return [path]

    @property
    def label(self) -> str:
        """Directory name, e.g. `1m`."""
        return self.dir.name


def label_for(
    lines: int, edge_only: bool, paths: str = "catalogue", deployment: str = "edge"
) -> str:
    """`1m`, `10m`, `40m-edge`, `1m-edge-distinct`, `5m-chatty`, or the line count when it
    is not a round million."""
    base = f"{lines // 1_000_000}m" if lines % 1_000_000 == 0 and lines else str(lines)
    return (
        base
        + ("-edge" if edge_only else "")
        + ("" if paths == "catalogue" else f"-{paths}")
        + ("" if deployment == "edge" else f"-{deployment}")
    )


def _manifest(directory: Path) -> dict[str, object] | None:
    path = directory / "manifest.json"
    if not path.exists():
        return None
    data: dict[str, object] = json.loads(path.read_text())
    return data


def _cut(src: Path, dsts: list[Path]) -> None:
    """``src`` cut at line ends into ``len(dsts)`` files of about the same size, in order."""
    size = src.stat().st_size
    with src.open("rb") as fin:
        for k, dst in enumerate(dsts):
            end = size * (k + 1) // len(dsts)
            with dst.open("wb") as out:
                while fin.tell() < end:
                    out.write(fin.readline())


def _gzip_copy(src: Path, dst: Path) -> None:
    """edge.log → edge.log.gz (level 1, reproducible header), streamed."""
    tmp = dst.with_name(dst.name + ".partial")
    with (
        src.open("rb") as fin,
        tmp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as out,
    ):
        shutil.copyfileobj(fin, out, 1 << 20)
    tmp.replace(dst)


def ensure(
    lines: int,
    seed: int,
    *,
    edge_only: bool = False,
    with_gz: bool = True,
    paths: str = "catalogue",
    deployment: str = "edge",
) -> DataSet:
    """Generate the data set unless a matching one is already on disk (`paths`,
    `deployment`: see `generate.py`; `lines` of a chatty set count all its files)."""
    directory = DATA_DIR / label_for(lines, edge_only, paths, deployment)
    manifest = _manifest(directory)
    expected_files = 1 if edge_only else None
    stale = (
        manifest is None
        or manifest.get("lines") != lines
        or manifest.get("seed") != seed
        or manifest.get("gzip") is not False
        or manifest.get("generator_version") != GENERATOR_VERSION
        or manifest.get("paths", "catalogue") != paths
        or manifest.get("deployment", "edge") != deployment
        or (expected_files is not None and len(manifest["files"]) != expected_files)  # type: ignore[arg-type]
    )
    took: float | None = None
    if stale:
        argv = [sys.executable, str(GENERATOR), "--lines", str(lines), "--out", str(directory)]
        argv += ["--seed", str(seed)] + (["--edge-only"] if edge_only else [])
        argv += ["--paths", paths] if deployment == "edge" else ["--deployment", deployment]
        print(f"generating {directory} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        subprocess.run(argv, check=True)
        took = time.perf_counter() - began
        (directory / "edge.log.gz").unlink(missing_ok=True)
        manifest = _manifest(directory)
    assert manifest is not None
    files = manifest["files"]
    assert isinstance(files, list)
    edge = directory / "edge.log"
    edge_gz = directory / "edge.log.gz"
    if with_gz and not edge_gz.exists():
        print(f"compressing {edge} ...", file=sys.stderr, flush=True)
        _gzip_copy(edge, edge_gz)
    sizes = {str(f["name"]): int(f["bytes"]) for f in files}
    if edge_gz.exists():
        sizes[edge_gz.name] = edge_gz.stat().st_size
    return DataSet(
        dir=directory,
        edge=edge,
        edge_gz=edge_gz if edge_gz.exists() else None,
        files=tuple(directory / str(f["name"]) for f in files),
        edge_lines=int(files[0]["lines"]),
        total_lines=sum(int(f["lines"]) for f in files),
        bytes=sizes,
        lines_by_file={str(f["name"]): int(f["lines"]) for f in files},
        generated_in_s=took,
        seed=seed,
    )
