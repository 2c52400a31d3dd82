"""Child processes: start each in its own process group, wait until it serves, always stop it."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class HarnessError(Exception):
    """A failure the harness reports as one line and a non-zero exit."""


class Deadline:
    """The overall time budget of a run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    def check(self, doing: str) -> None:
        """Raise when the budget is spent."""
        if self.remaining() <= 0:
            raise HarnessError(f"overall deadline of {self.seconds:g}s exceeded while {doing}")


@dataclass
class Managed:
    """A started child process, leader of its own process group."""

    host: str
    popen: subprocess.Popen[bytes]
    # nginx: SIGQUIT is its graceful shutdown (finish requests, write their log lines);
    # Python services treat SIGTERM the same way.
    stop_signal: signal.Signals
    port: int = 0

    @property
    def pid(self) -> int:
        """The leader's pid, which is also the process group id."""
        return self.popen.pid


def spawn(
    host: str,
    argv: list[str],
    *,
    stop_signal: signal.Signals,
    stderr_path: Path,
    env: dict[str, str],
    stdout_pipe: bool = False,
    stdin_pipe: bool = False,
) -> Managed:
    """Start a child in a new session, so its whole group (nginx workers too) can be signalled."""
    with stderr_path.open("ab") as stderr:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else stderr,
            stderr=stderr,
            env=env,
            start_new_session=True,
        )
    return Managed(host, popen, stop_signal)


def read_ready_port(proc: Managed, timeout_s: float) -> int:
    """Wait for the child's `READY <port>` line."""
    stream = proc.popen.stdout
    if stream is None:
        raise HarnessError(f"{proc.host}: started without a stdout pipe")
    buffer = b""
    end = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = end - time.monotonic()
            if left <= 0:
                raise HarnessError(f"{proc.host} did not report its port within {timeout_s:g}s")
            if selector.select(left):
                chunk = os.read(stream.fileno(), 256)
                if not chunk:
                    raise HarnessError(f"{proc.host} exited during startup (see extra/)")
                buffer += chunk
    stream.close()  # the service prints nothing else
    line = buffer.split(b"\n", 1)[0].decode(errors="replace").split()
    if len(line) != 2 or line[0] != "READY" or not line[1].isdigit():
        raise HarnessError(f"{proc.host} wrote an unexpected startup line: {' '.join(line)!r}")
    return int(line[1])


def port_accepts(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(proc: Managed, port: int, timeout_s: float) -> bool:
    """Wait until the child accepts connections; False when it exited first."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.popen.poll() is not None:
            return False
        if port_accepts(port):
            return True
        time.sleep(0.02)
    return False


def free_port() -> int:
    """A port that was free a moment ago (for nginx, which cannot report its own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_port() -> socket.socket:
    """A bound socket that never listens: connecting to its port is refused at once.

    Holding it for the whole run keeps any other process from taking the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    proc_root = Path("/proc")
    if not proc_root.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # The command name is in parentheses and may hold spaces; fields follow the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _wait_group_gone(pgid: int, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if not group_members(pgid):
            return True
        time.sleep(0.02)
    return not group_members(pgid)


def stop(proc: Managed, grace_s: float) -> bool:
    """Stop a child and everything in its group; True when it went down gracefully, exit 0."""
    graceful = True
    if proc.popen.stdin is not None and not proc.popen.stdin.closed:
        # An app still waiting for its peers reads end-of-file and exits.
        with contextlib.suppress(OSError):
            proc.popen.stdin.close()
    if proc.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.popen.send_signal(proc.stop_signal)
        try:
            proc.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            graceful = False
    # Even after the leader exits, a worker may linger (e.g. an nginx worker whose
    # master was killed): kill the whole group and make sure it is gone.
    if group_members(proc.pid):
        graceful = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.popen.wait(timeout=5)
    except subprocess.TimeoutExpired:
        graceful = False
    if not _wait_group_gone(proc.pid, 5):
        raise HarnessError(f"{proc.host}: processes {group_members(proc.pid)} survived SIGKILL")
    # A child that crashed before we asked it to stop also counts as not clean.
    return graceful and proc.popen.returncode == 0
