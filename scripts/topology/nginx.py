"""The two nginx hosts: their configs, and running nginx as a foreground child."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from topology.layout import NGINX_TZ
from topology.procs import HarnessError, Managed, free_port, spawn, stop, wait_listening

START_ATTEMPTS = 3  # a port picked with free_port() can be taken before nginx binds it
UNSAFE_PATH_CHARS = set("$\"'\\;{}")


def find_nginx() -> str:
    """The nginx binary: `nginx` on PATH, else Debian's /usr/sbin/nginx."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if found is None:
        raise HarnessError(
            "nginx not found on PATH or at /usr/sbin/nginx (apt-get install nginx-light)"
        )
    return found


def nginx_version(binary: str) -> str:
    """The version number nginx reports, e.g. `1.22.1`."""
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    found = re.search(r"nginx/(\S+)", done.stderr + done.stdout)
    if found is None:
        raise HarnessError(f"{binary} -v printed no version: {done.stderr.strip()!r}")
    return found[1]


def conf_path(path: Path) -> str:
    """A path quoted for nginx.conf; refuses what nginx would misread (`$` starts a variable)."""
    text = str(path)
    if UNSAFE_PATH_CHARS & set(text):
        chars = "".join(sorted(UNSAFE_PATH_CHARS))
        raise HarnessError(
            f"output path {text!r} holds one of {chars}, which nginx.conf cannot quote"
        )
    return f'"{text}"'


def _head(host: str, prefix: Path, workers: int) -> str:
    # Workers of a root master run as `nobody` unless told otherwise, and could then not
    # write request bodies into the temp dirs under the output directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {conf_path(prefix / 'tmp' / kind)};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# {host}: part of the logtrace test topology; everything listens on 127.0.0.1.
daemon off;
master_process on;
worker_processes {workers};
{user}pid {conf_path(prefix / "nginx.pid")};
error_log {conf_path(prefix / "error.log")} info;

events {{ worker_connections 1024; }}

http {{
{temp}
    default_type application/octet-stream;
    keepalive_timeout 10s;
"""


def edge_conf(
    prefix: Path,
    *,
    port: int,
    api_ports: tuple[int, int],
    dead: int,
    access_log: Path,
    combined_log: Path,
    format_name: str,
    log_format: str,
) -> str:
    """edge-1: the public proxy in front of api-1 and api-2."""
    api1, api2 = api_ports
    return (
        _head("edge-1", prefix, workers=2)
        + f"""
    log_format {format_name} '{log_format}';

    # max_fails=0: a planted 504 counts as a failed attempt, and with the default
    # max_fails=1 two of them would take both servers out for fail_timeout (10 s),
    # turning all traffic in that window into "no live upstreams" 502s.
    upstream api {{
        server 127.0.0.1:{api1} max_fails=0;
        server 127.0.0.1:{api2} max_fails=0;
    }}
    # The dead server is a primary that is never marked down (max_fails=0) and api-1 a
    # backup, so EVERY /api/flaky/ request tries the dead one first and then retries;
    # with plain round-robin only every other request would.
    upstream api_flaky {{
        server 127.0.0.1:{dead} max_fails=0;
        server 127.0.0.1:{api1} max_fails=0 backup;
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name edge-1;
        access_log {conf_path(access_log)} {format_name};
        access_log {conf_path(combined_log)} combined;

        proxy_set_header X-Request-ID $request_id;
        add_header X-Request-ID $request_id always;

        location /static/ {{
            default_type text/plain;
            return 200 "static\\n";
        }}
        location /api/flaky/ {{
            proxy_pass http://api_flaky;
            proxy_next_upstream error timeout http_502 http_503;
        }}
        location /api/report/ {{
            proxy_pass http://api;
            proxy_read_timeout 1s;
            # Without this the default `error timeout` would replay the slow request
            # on the other api host after the timeout.
            proxy_next_upstream off;
        }}
        location / {{
            proxy_pass http://api;
        }}
    }}
}}
"""
    )


def mesh_conf(
    prefix: Path, *, port: int, inventory: int, users: int, access_log: Path, log_format: str
) -> str:
    """mesh-1: the internal proxy the api calls its downstream services through."""
    return (
        _head("mesh-1", prefix, workers=1)
        + f"""
    log_format mesh '{log_format}';

    # max_fails=0: one refused connection on a busy box must cost one call, not mark
    # the only instance down for 10 s.
    upstream inventory {{ server 127.0.0.1:{inventory} max_fails=0; }}
    upstream users {{ server 127.0.0.1:{users} max_fails=0; }}

    server {{
        listen 127.0.0.1:{port};
        server_name mesh-1;
        access_log {conf_path(access_log)} mesh;

        # X-Request-ID is passed through untouched (nginx forwards client headers).
        location /inventory/ {{ proxy_pass http://inventory; }}
        location /users/ {{ proxy_pass http://users; }}
        location / {{ return 404; }}
    }}
}}
"""
    )


def start_nginx(
    binary: str, host: str, prefix: Path, render: Callable[[int], str], timeout_s: float
) -> Managed:
    """Start nginx in the foreground on a fresh port, retrying when the port was taken meanwhile.

    `render` returns the config for a given listening port.
    """
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    error_log = prefix / "error.log"
    env = {**os.environ, "TZ": NGINX_TZ}
    for _ in range(START_ATTEMPTS):
        port = free_port()
        conf.write_text(render(port))
        argv = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(error_log)]
        proc = spawn(
            host, argv, stop_signal=signal.SIGQUIT, stderr_path=prefix / "stderr.log", env=env
        )
        proc.port = port
        try:
            started = wait_listening(proc, port, timeout_s)
        except BaseException:
            stop(proc, grace_s=2)  # interrupted while waiting: the caller never saw this nginx
            raise
        if started:
            return proc
        stop(proc, grace_s=2)
        if "Address already in use" not in _tail(error_log):
            break
    raise HarnessError(f"{host}: nginx did not start: {_last_emerg(prefix)}")


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-4000:]
    except OSError:
        return ""


def _last_emerg(prefix: Path) -> str:
    lines = [
        ln
        for ln in (_tail(prefix / "error.log") + _tail(prefix / "stderr.log")).splitlines()
        if "[emerg]" in ln or "[alert]" in ln
    ]
    return lines[-1].strip() if lines else f"no [emerg] line; see {prefix / 'error.log'}"
