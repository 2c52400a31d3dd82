"""Where a command writes: a file or stdout (``-``), checked before any input is read."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from logtrace.errors import OutputError

STDOUT = "-"


def check_output(path: str | Path) -> None:
    """Raise :class:`OutputError` now if ``path`` cannot be written, so a long read is not
    wasted on an output that fails at the end."""
    if str(path) == STDOUT:
        return
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise OutputError(
            f"cannot write {path}: it is a folder",
            "give the name of a file (in it, or elsewhere)",
        )
    if not folder.exists():
        raise OutputError(
            f"cannot write {path}: the folder {folder} does not exist",
            f"create it first (mkdir -p {shlex.quote(str(folder))}) or write elsewhere",
        )
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is not a folder", "write elsewhere")
    writable = os.access(target, os.W_OK) if target.exists() else os.access(folder, os.W_OK)
    if not writable:
        raise OutputError(f"cannot write {path}: permission denied", "write elsewhere")


@contextmanager
def text_output(path: str | Path) -> Iterator[TextIO]:
    """A text stream to ``path`` (UTF-8, ``\\n`` line ends), or stdout for ``-``."""
    if str(path) == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    with Path(path).open("w", encoding="utf-8", newline="\n") as out:
        yield out
