"""``logtrace top`` for real: a real nginx on 127.0.0.1 writes its access log, the view
runs in a detached tmux session of fixed size, the log is rotated by rename (mv + nginx
-s reopen) and by copytruncate, and the screen is read with ``tmux capture-pane``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from topology.nginx import find_nginx, start_nginx
from topology.procs import Managed, stop

pytestmark = pytest.mark.nginx

REPO = Path(__file__).resolve().parent.parent
FORMAT = '$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time'
WAIT_S = 20.0
# Set by .ci/run: a missing tmux fails these tests instead of skipping them.
REQUIRE_TMUX = "LOGTRACE_REQUIRE_TMUX"


def _conf(prefix: Path, log: Path) -> Callable[[int], str]:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "\n".join(
        f"    {kind}_temp_path {prefix / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )

    def render(port: int) -> str:
        return f"""daemon off;
master_process on;
worker_processes 1;
{user}pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 64; }}
http {{
{temps}
    log_format live '{FORMAT}';
    access_log {log} live;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""

    return render


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[Managed, Path]]:
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir()
    proc = start_nginx(find_nginx(), "web", prefix, _conf(prefix, log), 15.0, tz="UTC")
    try:
        yield proc, log
    finally:
        stop(proc, grace_s=5)


class Tmux:
    """A tmux server of its own (``-L``), one session of fixed size; killed at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"logtrace-test-{os.getpid()}-{tmp_path.name}"[:90]
        self.session = "top"

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, *patterns: str, timeout_s: float = WAIT_S) -> str:
        """The screen once it shows every pattern (regexes); fails with it after the timeout."""
        end = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < end:
            text = self.screen()
            if all(re.search(p, text) for p in patterns):
                return text
            time.sleep(0.2)
        pytest.fail(f"the screen never showed {patterns}:\n{text}")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10, check=False
        )


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        message = "tmux is not installed (.ci/run installs it)"
        if os.environ.get(REQUIRE_TMUX) == "1":
            pytest.fail(f"{message}, and {REQUIRE_TMUX}=1 requires it")
        pytest.skip(message)
    t = Tmux(tmp_path)
    try:
        yield t
    finally:
        t.kill()


def get(port: int, paths: list[str]) -> None:
    for path in paths:  # bounded: one request each, 5 s at most
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            assert response.status == 200


def wait_lines(log: Path, n: int) -> None:
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        if log.exists() and log.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.05)
    pytest.fail(f"{log} never had {n} lines")


def test_top_follows_a_real_nginx_log_through_both_rotations(
    nginx: tuple[Managed, Path], tmux: Tmux, tmp_path: Path
) -> None:
    proc, log = nginx
    get(proc.port, [f"/users/{i}" for i in range(20)])
    wait_lines(log, 20)
    rc = tmp_path / "rc"
    command = shlex.join(
        [sys.executable, "-m", "logtrace", "top", "--log-format", FORMAT, str(log)]
    )
    script = tmp_path / "run.sh"
    # the summary stays on screen after the exit, for capture-pane; the session is killed
    script.write_text(
        f"cd {shlex.quote(str(REPO))}\nexport PYTHONPATH={shlex.quote(str(REPO))}\n"
        f"{command}\necho $? > {shlex.quote(str(rc))}\nsleep 60\n"
    )
    tmux.run("new-session", "-d", "-s", tmux.session, "-x", "120", "-y", "40", f"bash {script}")
    screen = tmux.wait_for(r"requests 20\b", r"/users/\{id\}", r"1 min")
    assert "rejected 0" in screen

    # logrotate's default: rename, then nginx -s reopen (USR1 to the master)
    log.rename(log.with_name("access.log.1"))
    os.kill(proc.pid, signal.SIGUSR1)
    end = time.monotonic() + WAIT_S
    while not log.exists() and time.monotonic() < end:
        time.sleep(0.05)
    get(proc.port, [f"/orders/{i}" for i in range(15)])
    wait_lines(log, 15)
    tmux.wait_for(r"requests 35\b", r"rotations 1\b", r"/orders/\{id\}")

    # copytruncate: copy, then cut the file nginx keeps appending to (O_APPEND: from 0)
    shutil.copy(log, log.with_name("access.log.2"))
    with log.open("r+b") as f:
        f.truncate(0)
    get(proc.port, [f"/items/{i}" for i in range(8)])
    wait_lines(log, 8)
    screen = tmux.wait_for(r"requests 43\b", r"rotations 2\b", r"/items/\{id\}")
    assert "rejected 0" in screen

    tmux.run("send-keys", "-t", tmux.session, "q")
    end = time.monotonic() + WAIT_S
    while not rc.exists() and time.monotonic() < end:
        time.sleep(0.1)
    assert rc.read_text().strip() == "0"
    summary = tmux.wait_for(r"logtrace top: 43 lines read")
    assert "0 rejected, 43 requests" in summary
    assert "rotations followed: 2" in summary
    assert re.search(r"request time: p50 \S+ ms, p95", summary)


def start_top(tmux: Tmux, tmp_path: Path, args: str) -> Path:
    """``logtrace top ARGS`` in the tmux session (``ARGS``: shell words, with ``|`` before
    it allowed via ``{top}``); returns the file its exit code is written to."""
    rc = tmp_path / "rc"
    top = shlex.join([sys.executable, "-m", "logtrace", "top", "--log-format", FORMAT])
    script = tmp_path / "run.sh"
    script.write_text(
        f"cd {shlex.quote(str(REPO))}\nexport PYTHONPATH={shlex.quote(str(REPO))}\n"
        f"{args.format(top=top)}\necho $? > {shlex.quote(str(rc))}\nsleep 60\n"
    )
    tmux.run("new-session", "-d", "-s", tmux.session, "-x", "80", "-y", "24", f"bash {script}")
    return rc


def written_log(tmp_path: Path, n: int) -> Path:
    log = tmp_path / "access.log"
    log.write_text(
        "".join(
            f'127.0.0.1 [03/Dec/2026:12:00:0{i % 10} +0000] "GET /p/{i} HTTP/1.1" 200 3 '
            f"0.00{i % 10}\n"
            for i in range(n)
        )
    )
    return log


def wait_rc(rc: Path) -> str:
    end = time.monotonic() + WAIT_S
    while not rc.exists() and time.monotonic() < end:
        time.sleep(0.1)
    return rc.read_text().strip()


def test_ctrl_c_on_a_terminal_quits_with_the_summary_and_exit_0(tmux: Tmux, tmp_path: Path) -> None:
    log = written_log(tmp_path, 7)
    rc = start_top(tmux, tmp_path, "{top} " + shlex.quote(str(log)))
    tmux.wait_for(r"requests 7\b", r"/p/\{id\}")
    tmux.run("send-keys", "-t", tmux.session, "C-c")
    assert wait_rc(rc) == "0"
    assert "7 requests" in tmux.wait_for(r"logtrace top: 7 lines read")


def _argv(cmdline: Path) -> list[str]:
    """A process's arguments (none when it has ended since it was listed)."""
    try:
        return cmdline.read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def test_sigterm_on_a_terminal_restores_it_and_exits_143_after_the_summary(
    tmux: Tmux, tmp_path: Path
) -> None:
    log = written_log(tmp_path, 7)
    # after the exit, the terminal's mode as the next program finds it
    after = "; s=$?; stty -a | grep -o -- '-\\?icanon'; (exit $s)"
    rc = start_top(tmux, tmp_path, "{top} " + shlex.quote(str(log)) + after)
    tmux.wait_for(r"requests 7\b", r"/p/\{id\}")
    pids = [
        int(proc.parent.name)
        for proc in Path("/proc").glob("[0-9]*/cmdline")
        if _argv(proc)[1:5] == ["-m", "logtrace", "top", "--log-format"] and str(log) in _argv(proc)
    ]
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGTERM)
    assert wait_rc(rc) == "143"
    screen = tmux.wait_for(r"logtrace top: 7 lines read", r"logtrace: terminated")
    assert "7 requests" in screen
    assert re.search(r"(?m)^icanon$", screen), screen  # cbreak mode undone


def test_with_the_log_on_stdin_keys_come_from_the_terminal(tmux: Tmux, tmp_path: Path) -> None:
    log = written_log(tmp_path, 5)
    rc = start_top(tmux, tmp_path, f"cat {shlex.quote(str(log))} | {{top}} -")
    tmux.wait_for(r"requests 5\b")
    tmux.run("send-keys", "-t", tmux.session, "q")
    assert wait_rc(rc) == "0"
    tmux.wait_for(r"logtrace top: 5 lines read")
