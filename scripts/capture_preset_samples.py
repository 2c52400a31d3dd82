"""Capture genuine sample lines for every logtrace preset from a real nginx.

Starts nginx on 127.0.0.1 with one access_log per preset format, a small upstream (and a
dead one, for retry lists), sends a fixed set of requests, and writes
``logtrace/log_format/samples/<preset>.jsonl``: each nginx line with the values the
request implies (what the client sent and what it got back), which
tests/test_presets.py checks the parser against.

    python scripts/capture_preset_samples.py
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from logtrace.log_format.presets import PRESETS  # noqa: E402

OUT = ROOT / "logtrace" / "log_format" / "samples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Upstream(BaseHTTPRequestHandler):
    """Answers every request with a short body; /fail/ answers 503 to force a retry."""

    def do_GET(self) -> None:
        status = 503 if self.path.startswith("/fail/") else 200
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        return


def nginx_conf(prefix: Path, port: int, up: int, dead: int) -> str:
    formats = "\n".join(
        f"    log_format {p.name} '{p.format}';" for p in PRESETS.values() if p.name != "combined"
    )
    logs = "\n".join(
        f'        access_log "{prefix}/{p.name}.log" {p.name};' for p in PRESETS.values()
    )
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""daemon off;
master_process on;
worker_processes 1;
{user}
pid "{prefix}/nginx.pid";
error_log "{prefix}/error.log" info;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path "{prefix}/tmp";
    proxy_temp_path "{prefix}/tmp";
{formats}
    # ingress-nginx defines these per location; maps stand in for them here.
    map $host $proxy_upstream_name {{ default "default-app-80"; }}
    map $host $proxy_alternative_upstream_name {{ default ""; }}
    map $request_id $req_id {{ default $request_id; }}
    upstream app {{ server 127.0.0.1:{up}; }}
    upstream retry {{ server 127.0.0.1:{dead} max_fails=0; server 127.0.0.1:{up}; }}
    server {{
        listen 127.0.0.1:{port};
{logs}
        add_header X-Request-ID $request_id always;
        proxy_set_header X-Request-ID $request_id;
        location /static/ {{ return 200 "static\\n"; }}
        location /retry/ {{ proxy_next_upstream error http_503; proxy_pass http://retry; }}
        location / {{ proxy_pass http://app; }}
    }}
}}
"""


# (method, target, headers, expected values besides method/path/query/status)
REQUESTS: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    (
        "GET",
        "/api/users/42?expand=orders",
        {"Referer": "https://shop.example/cart", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"},
        {
            "http_referer": "https://shop.example/cart",
            "http_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
    ),
    (
        "GET",
        "/static/app.css",
        {"User-Agent": "curl/7.88.1"},
        {"http_referer": None, "http_user_agent": "curl/7.88.1", "upstream_addr": None},
    ),
    (
        "POST",
        "/api/orders",
        {"User-Agent": 'q"uote caf\u00e9', "X-Forwarded-For": "203.0.113.7"},
        {"http_user_agent": 'q"uote caf\u00e9', "http_x_forwarded_for": "203.0.113.7"},
    ),
    ("GET", "/retry/7", {"User-Agent": "curl/7.88.1"}, {"upstream_attempts": 2}),
    (
        "GET",
        "/static/a%20b",
        {"Authorization": "Basic ZXYiaWwgdXNlcjpw", "Referer": ""},
        {"remote_user": 'ev"il user', "http_referer": ""},
    ),
]


def send(port: int, method: str, target: str, headers: dict[str, str]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.putrequest(method, target, skip_accept_encoding=True, skip_host=False)
    for k, v in headers.items():
        conn.putheader(k, v.encode("utf-8"))
    body = b"x" * 100 if method == "POST" else b""
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    resp.read()
    rid = resp.getheader("X-Request-ID") or ""
    conn.close()
    return resp.status, rid


def main() -> int:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="logtrace-presets-") as tmp:
        prefix = Path(tmp)
        (prefix / "tmp").mkdir()
        port, dead = free_port(), free_port()
        (prefix / "nginx.conf").write_text(nginx_conf(prefix, port, server.server_address[1], dead))
        proc = subprocess.Popen(
            [
                nginx,
                "-p",
                str(prefix),
                "-c",
                str(prefix / "nginx.conf"),
                "-e",
                str(prefix / "error.log"),
            ],
            start_new_session=True,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            results = []
            for method, target, headers, expected in REQUESTS:
                status, rid = send(port, method, target, headers)
                path, _, query = target.partition("?")
                results.append(
                    {
                        "method": method,
                        "path": path,
                        "query": query or None,
                        "status": status,
                        "request_id": rid,
                        **expected,
                    }
                )
        finally:
            os.killpg(proc.pid, signal.SIGQUIT)
            proc.wait(timeout=10)
            server.shutdown()
        OUT.mkdir(parents=True, exist_ok=True)
        for preset in PRESETS.values():
            lines = (prefix / f"{preset.name}.log").read_text(encoding="utf-8").splitlines()
            assert len(lines) == len(results), (preset.name, len(lines))
            columns = set(preset.compiled().columns) | {"upstream_attempts"}
            with open(OUT / f"{preset.name}.jsonl", "w", encoding="utf-8") as f:
                for line, expected in zip(lines, results, strict=True):
                    keep = {k: v for k, v in expected.items() if k in columns}
                    if "upstream_response_time_s" not in columns:
                        keep.pop("upstream_attempts", None)
                    f.write(json.dumps({"line": line, "expected": keep}, ensure_ascii=False) + "\n")
    print(f"wrote {len(PRESETS)} sample files to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
