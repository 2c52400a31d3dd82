"""The follow loop: read, show about once a second, and stop on ``q``, Ctrl-C or the
end of stdin. Keys come from the terminal in cbreak mode (from /dev/tty when the logs
come from stdin); with no terminal at all the loop only sleeps between polls."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from logtrace.live.session import LiveSession

REFRESH_S = 1.0
POLL_S = 0.25  # the longest wait between two reads of the logs
QUIT_KEYS = frozenset({"q", "Q"})


class Keys:
    """Keys pressed on the terminal; this base has none and only waits."""

    def wait(self, timeout: float) -> str | None:
        """The next key pressed within ``timeout`` seconds, or None."""
        time.sleep(timeout)
        return None


@dataclass
class _TerminalKeys(Keys):
    fd: int

    def wait(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        data = os.read(self.fd, 32)
        return data.decode(errors="replace")[:1] if data else None


@contextmanager
def terminal_keys(stdin_is_log: bool, *, dev_tty: bool = True) -> Iterator[Keys]:
    """Keys from the terminal, read one at a time without echo (cbreak mode) and the
    terminal restored after; from /dev/tty (when ``dev_tty``) when stdin carries the
    log or is no terminal."""
    fd: int | None = None
    opened = False
    if not stdin_is_log and sys.stdin.isatty():
        fd = sys.stdin.fileno()
    elif dev_tty:
        with contextlib.suppress(OSError):
            fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
            opened = True
    if fd is None:
        yield Keys()
        return
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        if opened:
            os.close(fd)
        yield Keys()
        return
    try:
        tty.setcbreak(fd)  # Ctrl-C still signals: cbreak keeps ISIG
        yield _TerminalKeys(fd)
    finally:
        with contextlib.suppress(termios.error, OSError):  # a terminal hung up is gone
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        if opened:
            os.close(fd)


# What ends the loop from outside: Ctrl-C, a kill (`timeout`, a service manager), a
# closed terminal.
ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Interrupts:
    """Ctrl-C, SIGTERM and SIGHUP noted, not raised, while following: the loop ends at
    its next turn, the terminal is restored and the summary is printed. A signal ignored
    when following begins (SIGHUP under ``nohup``) stays ignored."""

    first: signal.Signals | None = None  # the signal that ended the loop

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.first is None:
            self.first = signal.Signals(signum)

    def happened(self) -> bool:
        return self.first is not None

    @contextmanager
    def caught(self) -> Iterator[Interrupts]:
        previous = {
            signum: signal.signal(signum, self._note)
            for signum in ENDING_SIGNALS
            if signum == signal.SIGINT or signal.getsignal(signum) != signal.SIG_IGN
        }
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def follow_loop(
    session: LiveSession,
    show: Callable[[LiveSession], None],
    keys: Keys,
    interrupts: Interrupts,
    *,
    stop_at_end: bool,
    refresh_s: float = REFRESH_S,
) -> str:
    """Read and show until ``q`` ("quit"), Ctrl-C ("interrupt") or, with ``stop_at_end``,
    until every input has ended ("end")."""
    next_show = 0.0
    while True:
        read = session.step()
        now = time.monotonic()
        ended = stop_at_end and session.follower.ended
        if now >= next_show or ended:
            show(session)
            next_show = now + refresh_s
        if interrupts.happened():
            return "interrupt"
        if ended:
            return "end"
        # after a full read, look again at once: more may be waiting
        key = keys.wait(0 if read else min(POLL_S, max(0.0, next_show - now)))
        if key in QUIT_KEYS:
            return "quit"
        if interrupts.happened():
            return "interrupt"
