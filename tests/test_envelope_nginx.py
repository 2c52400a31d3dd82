"""A real nginx logging to its stdout, as in a container, and a runtime taking each line
down with the time it came (as containerd does: CRI lines): whole-second ``$time_local``
lines are placed within their second at that time when nginx writes them as requests
end, and left as they are when its access log is buffered."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from logtrace.cli import app

pytestmark = pytest.mark.nginx

TRACE = (
    '\'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time $upstream_response_time $request_id\''
)
REQUESTS = 240
runner = CliRunner()


class _Slow(BaseHTTPRequestHandler):
    """An upstream that takes 0-250 ms to answer."""

    def do_GET(self) -> None:
        time.sleep(random.Random(self.path).uniform(0, 0.25))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _runtime(stream: Any, out: Path) -> threading.Thread:
    """What containerd does with a container's stdout: each line as it comes, after the
    time it came (RFC 3339, nanoseconds) and ``stdout F``."""

    def take_down() -> None:
        with out.open("w", encoding="utf-8") as f:
            for raw in iter(stream.readline, b""):
                now = time.time_ns()
                stamp = datetime.fromtimestamp(now // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S")
                f.write(f"{stamp}.{now % 10**9:09d}Z stdout F {raw.decode().rstrip(chr(10))}\n")
                f.flush()

    thread = threading.Thread(target=take_down, daemon=True)
    thread.start()
    return thread


def _serve(tmp_path: Path, upstream: int, access_log: str) -> tuple[Path, dict[str, float]]:
    """nginx in the foreground, its access log on stdout (``access_log``), REQUESTS
    requests made over ~2 s; the runtime's CRI file and when each response came back,
    by request id."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = _port()
    prefix = tmp_path / "nginx"
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""daemon off;
master_process off;
error_log {prefix}/logs/error.log;
pid {prefix}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp; uwsgi_temp_path {prefix}/tmp; scgi_temp_path {prefix}/tmp;
    log_format trace {TRACE};
    access_log {access_log};
    server {{
        listen 127.0.0.1:{port};
        add_header X-Request-ID $request_id always;
        location /fast {{ return 204; }}
        location / {{ proxy_pass http://127.0.0.1:{upstream}; }}
    }}
}}
"""
    )
    proc = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    cri = tmp_path / "0.log"
    taker = _runtime(proc.stdout, cri)
    ended: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until nginx listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        rng = random.Random(7)

        def client(k: int) -> None:
            for i in range(k, REQUESTS, 8):
                path = "/fast" if i % 3 == 0 else f"/items/{i}"
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                    r.read()
                    ended[r.headers["X-Request-ID"]] = time.time()
                time.sleep(rng.uniform(0, 0.05))

        clients = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=60)
    finally:
        proc.terminate()  # SIGTERM: nginx flushes its buffered log and exits
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        taker.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert len(ended) == REQUESTS
    return cri, ended


def _analyze(log: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["analyze", str(log), "--preset", "trace", "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _writes(cri: Path) -> int:
    """How many times the runtime took lines down, a millisecond apart at least: a
    buffered log's lines come a buffer at a time (a flush a second: ~5 in a run)."""
    stamps = {line[:23] for line in cri.read_text().splitlines()}
    return len(stamps)


def _ends(log: Path) -> dict[str, datetime]:
    """Each request's end as logtrace reads it (its span's, before any placement)."""
    out = {}
    result = runner.invoke(
        app, ["export", "spans", str(log), "--preset", "trace", "--format", "json", "-o", "-"]
    )
    assert result.exit_code == 0, result.output
    for span in json.loads(result.stdout):
        if span["kind"] == "SERVER":  # not the proxied call's
            out[span["request_id"]] = datetime.fromisoformat(span["raw_end"])
    return out


def test_an_unbuffered_log_is_placed_within_its_seconds_by_the_runtimes_times(
    tmp_path: Path, upstream: int
) -> None:
    cri, ended = _serve(tmp_path, upstream, "/dev/stdout trace")
    (source,) = _analyze(cri)["sources"]
    assert (source["lines_parsed"], source["lines_rejected"]) == (REQUESTS, 0)
    assert any("placed within their logged second" in w for w in source["warnings"])
    ends = _ends(cri)
    off = sorted(abs(ends[rid].timestamp() - at) for rid, at in ended.items())
    # the line is written as the response goes out, and the client reads it then
    assert off[int(0.95 * len(off))] < 0.05, off[-10:]
    plain = tmp_path / "plain.log"  # the same lines without the runtime's times
    plain.write_text(
        "".join(ln.split(" stdout F ", 1)[1] for ln in cri.read_text().splitlines(True))
    )
    seconds = _ends(plain)
    assert all(0 <= (ends[r] - seconds[r]).total_seconds() < 1 for r in ended)
    # `trace` parses only its request's lines: it places them as the whole log does
    rid = sorted(ended)[len(ended) // 2]
    one = runner.invoke(app, ["trace", rid, str(cri), "--preset", "trace", "--json"])
    assert one.exit_code == 0, one.output
    spans = json.loads(one.stdout)["spans"]  # the request, and its proxied call if any
    (served,) = [s for s in spans if s["kind"] == "SERVER"]
    assert datetime.fromisoformat(served["raw_end"]) == ends[rid]


def test_a_buffered_log_keeps_its_seconds(tmp_path: Path, upstream: int) -> None:
    """buffer= and flush=: lines reach the runtime in batches, seconds after they were
    written: the runtime's times say nothing of when each request ended."""
    for attempt in range(2):  # nginx buffered, as the test needs (a loaded machine: checked)
        folder = tmp_path / f"run-{attempt}"
        folder.mkdir()
        cri, ended = _serve(folder, upstream, "/dev/stdout trace buffer=64k flush=1s")
        if _writes(cri) <= REQUESTS // 10:
            break
    assert _writes(cri) <= REQUESTS // 10, "nginx wrote its log unbuffered, twice"
    (source,) = _analyze(cri)["sources"]
    assert (source["lines_parsed"], source["lines_rejected"]) == (REQUESTS, 0)
    assert not any("placed within their logged second" in w for w in source["warnings"])
    ends = _ends(cri)
    assert all(ends[r].microsecond == 0 for r in ended)  # whole seconds, as logged
    assert os.path.getsize(cri) > 0
