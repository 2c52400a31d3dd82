"""Running nginx as a foreground child (configs are rendered by nginx_conf.py)."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from topology.procs import HarnessError, Managed, free_port, spawn, stop, wait_listening

START_ATTEMPTS = 3  # a port picked with free_port() can be taken before nginx binds it
ROTATE_SETTLE_S = 0.5  # workers reopen within milliseconds of the master's signal
ROTATE_QUIET_S = 0.3


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


def start_nginx(
    binary: str,
    host: str,
    prefix: Path,
    render: Callable[[int], str],
    timeout_s: float,
    *,
    tz: str,
) -> Managed:
    """Start nginx in the foreground on a fresh port, retrying when the port was taken meanwhile.

    `render` returns the config for a given listening port.
    """
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    error_log = prefix / "error.log"
    env = {**os.environ, "TZ": tz}
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


def rotate_log(proc: Managed, log: Path, timeout_s: float) -> Path:
    """Rotate an access log the way logrotate does: rename, `nginx -s reopen` (USR1), gzip.

    Returns the compressed file (`<log>.1.gz`).
    """
    rotated = log.with_name(log.name + ".1")
    log.rename(rotated)
    os.kill(proc.pid, signal.SIGUSR1)
    end = time.monotonic() + timeout_s
    # The master reopens first (creating the new file), then tells the workers; until a
    # worker has reopened too it still appends to the renamed file, so compress only once
    # that file has been quiet for a while.
    while not log.exists():
        if time.monotonic() > end:
            raise HarnessError(f"{proc.host}: nginx did not reopen {log.name} after USR1")
        time.sleep(0.02)
    time.sleep(ROTATE_SETTLE_S)
    size = -1
    while size != rotated.stat().st_size:
        if time.monotonic() > end:
            raise HarnessError(f"{proc.host}: {rotated.name} kept growing after the reopen")
        size = rotated.stat().st_size
        time.sleep(ROTATE_QUIET_S)
    packed = rotated.with_name(rotated.name + ".gz")
    with rotated.open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    rotated.unlink()
    return packed
