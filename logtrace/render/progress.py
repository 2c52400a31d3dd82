"""A progress bar on stderr for long runs, only when stderr is a terminal."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from logtrace.render.console import environment
from logtrace.sources import Source

SHOW_AFTER_S = 1.0  # short runs never flash a bar
_SHOWN: set[Progress] = set()  # bars on the screen now


def _total_bytes(sources: list[Source]) -> int | None:
    total = 0
    for s in sources:
        if s.read_once:  # stdin, a pipe: its size is not known ahead
            return None
        if s.only is not None and not s.strays:
            continue  # a split stream's: its file is counted once, with the first program
        try:
            total += os.path.getsize(s.path)
        except OSError:
            return None
    return total


@contextmanager
def progress_bar(sources: list[Source]) -> Iterator[Callable[[int], None]]:
    """Yields a ``callback(bytes_read)``; draws a bar on stderr when it is a terminal."""
    env = environment()
    if not sys.stderr.isatty() or env.no_progress:
        yield lambda _n: None
        return
    console = Console(file=sys.stderr, no_color=env.no_color)
    bar = Progress(
        TextColumn("reading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        # drawn by update() alone: no thread that could draw it again after abandon()
        auto_refresh=False,
    )
    total = _total_bytes(sources)
    task = bar.add_task("read", total=total)
    started = time.monotonic()
    shown = False

    def update(done: int) -> None:
        nonlocal shown
        if not shown and time.monotonic() - started >= SHOW_AFTER_S:
            bar.start()
            _SHOWN.add(bar)
            shown = True
        bar.update(task, completed=done, refresh=shown)

    try:
        yield update
    finally:
        if shown:
            _SHOWN.discard(bar)
            bar.stop()


def abandon() -> None:
    """Erase the bars on the screen now, from a signal handler: with a plain write, since
    the interrupted code may hold rich's locks (a live bar sits on one line, the cursor at
    its end and hidden). Nothing draws them again."""
    for bar in list(_SHOWN):
        bar.console.quiet = True
        stream = bar.console.file
        stream.write("\r\x1b[2K\x1b[?25h")
        stream.flush()
    _SHOWN.clear()
