"""Run one command and measure it: wall time from spawn to exit, and its peak RSS.

Peak RSS must be the command's own. Linux carries a process's high-water RSS across
exec, and a child forked (or vforked) from this Python process starts out as big as
it, so `wait4` on a direct child would report at least the harness's size. The
command is therefore started by a tiny launcher that forks it and reads its rusage:
GNU time (`/usr/bin/time`, ~1 MiB) when installed, else a bare `python -I -S` (~10
MiB, the floor of every number then). A stdin benchmark pipes the file through a
real `cat`, as a shell pipeline would; the clock covers both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Forks the command, waits for it, writes "maxrss_kib user_s sys_s", exits with its code.
_PY_LAUNCHER = """\
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as e:
        sys.stderr.write(f"launcher: cannot run {sys.argv[2]}: {e}\\n")
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{ru.ru_maxrss} {ru.ru_utime} {ru.ru_stime}\\n")
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


@dataclass(frozen=True)
class Sample:
    """One run of one command."""

    wall_s: float
    max_rss_kib: int
    user_s: float
    sys_s: float
    exit_code: int
    timed_out: bool
    stderr_tail: str

    @property
    def ok(self) -> bool:
        """Exited 0 within the time limit."""
        return self.exit_code == 0 and not self.timed_out


@cache
def gnu_time() -> str | None:
    """Path of GNU time, if installed (BSD and shell `time` lack -f/-o)."""
    path = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if path is None:
        return None
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if "GNU" in (done.stdout + done.stderr) else None


def rss_method() -> str:
    """How peak RSS is measured on this machine (for the report)."""
    if gnu_time():
        return "GNU time (%M) of the command itself"
    return "wait4 in a `python -I -S` launcher (numbers include its ~10 MiB)"


def _launcher(argv: list[str], usage_file: Path) -> list[str]:
    timer = gnu_time()
    if timer:
        return [timer, "-f", "%M %U %S", "-o", str(usage_file), "--", *argv]
    return [sys.executable, "-I", "-S", "-c", _PY_LAUNCHER, str(usage_file), *argv]


def _usage(path: Path) -> tuple[int, float, float]:
    """(maxrss KiB, user s, sys s) from the launcher's last line; zeros if missing."""
    try:
        last = path.read_text().strip().splitlines()[-1].split()
        return int(last[0]), float(last[1]), float(last[2])
    except (OSError, IndexError, ValueError):
        return 0, 0.0, 0.0


def _tail(path: Path, limit: int = 4096) -> str:
    """The last non-empty line of a file (what a failing command last said)."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - limit))
        lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines()]
    return next((ln for ln in reversed(lines) if ln), "")


def run_once(
    argv: list[str],
    *,
    stdin_file: Path | None,
    stdout_file: Path,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
) -> Sample:
    """Run `argv` once; stdout goes to `stdout_file`, stderr next to it (`.stderr`)."""
    stderr_file = stdout_file.with_name(stdout_file.name + ".stderr")
    usage_file = stdout_file.with_name(stdout_file.name + ".usage")
    usage_file.unlink(missing_ok=True)
    with stdout_file.open("wb") as out, stderr_file.open("wb") as err:
        feeder: subprocess.Popen[bytes] | None = None
        started = time.perf_counter()
        if stdin_file is not None:
            feeder = subprocess.Popen(["cat", str(stdin_file)], stdout=subprocess.PIPE)
        stdin = feeder.stdout if feeder is not None else subprocess.DEVNULL
        proc = subprocess.Popen(
            _launcher(argv, usage_file), stdin=stdin, stdout=out, stderr=err, cwd=cwd,
            env=env, start_new_session=True,  # one process group, killed whole on timeout
        )  # fmt: skip
        if feeder is not None and feeder.stdout is not None:
            feeder.stdout.close()  # the command holds the read end now
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        code = proc.wait()
        wall = time.perf_counter() - started
        timer.cancel()
        if feeder is not None:
            feeder.wait()
    rss, user, system = _usage(usage_file)
    return Sample(wall, rss, user, system, code, killed.is_set(), _tail(stderr_file))
