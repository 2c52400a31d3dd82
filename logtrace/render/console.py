"""The one place that decides how output looks: width, colour, and safe text.

Width and colour come from an :class:`Environment` (``COLUMNS``, ``NO_COLOR``, whether the
output is a terminal), as httpie's ``Environment`` does: made from ``os.environ`` at the
edge, or injected by a caller or a test (:func:`use_environment`), so that no output
depends on the environment it happens to run in.

A terminal gets tables fitted to its width (:mod:`logtrace.render.fit`); a pipe or a file
gets them whole, however wide, for the reader to search or cut as it likes.

Everything logs contain is data written by strangers: it must never act as rich markup or
as terminal control sequences (ANSI colours, OSC 8 links, ``\\r`` overwrites, bidi
overrides). :func:`safe` makes any such text inert and visible before rich sees it.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

# C0 and C1 controls, DEL, and Unicode bidi/format characters that can reorder or hide text.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)


def _visible(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}"


def safe_str(value: object) -> str:
    """Log text with every control or bidi character shown as an escape (``\\x1B``)."""
    return _UNSAFE.sub(_visible, str(value))


def safe(value: object, style: str = "") -> Text:
    """A rich Text of log content: never markup, never a control sequence."""
    return Text(safe_str(value), style=style)


MIN_COLUMNS = 40  # a COLUMNS below this is a mistake, not a terminal


@dataclass(frozen=True)
class Environment:
    """What the environment says about output (``COLUMNS``, ``NO_COLOR``, ``NO_PROGRESS``)
    and what time it is (``LOGTRACE_NOW``, else the system clock): what ``--since -15m``
    and ``--since 10:03`` (today) count from."""

    columns: int | None = None  # the width a terminal or a pipe is laid out for
    no_color: bool = False  # https://no-color.org: set at all means no colour
    no_progress: bool = False  # no progress bar even on a terminal
    now: datetime | None = None  # a fixed "now" (aware); None: the system clock

    @classmethod
    def of(cls, environ: Mapping[str, str]) -> Environment:
        """The environment variables that matter, from ``environ``."""
        columns = environ.get("COLUMNS", "")
        return cls(
            columns=int(columns) if columns.isdigit() and int(columns) >= MIN_COLUMNS else None,
            no_color="NO_COLOR" in environ,
            no_progress="NO_PROGRESS" in environ,
            now=_instant(environ.get("LOGTRACE_NOW", "")),
        )

    def clock(self) -> datetime:
        """Now, in UTC: the fixed one if any, else the system clock's."""
        return (self.now or datetime.now(UTC)).astimezone(UTC)


def _instant(text: str) -> datetime | None:
    """An ISO 8601 time with a zone (a zone-less one is UTC); None when empty or unreadable."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_INJECTED: ContextVar[Environment | None] = ContextVar("logtrace_environment", default=None)


def environment() -> Environment:
    """The injected environment (:func:`use_environment`), else the process's own."""
    return _INJECTED.get() or Environment.of(os.environ)


@contextmanager
def use_environment(env: Environment) -> Iterator[Environment]:
    """Make every console made inside the block follow ``env``, whatever os.environ says."""
    token = _INJECTED.set(env)
    try:
        yield env
    finally:
        _INJECTED.reset(token)


class ReportConsole(Console):
    """A rich Console that also knows whether output may be fitted to its width (a
    terminal) or must stay whole (a pipe or a file, whatever its width)."""

    def __init__(self, *, fit: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fit = fit

    def on_broken_pipe(self) -> None:
        """A reader that stops reading (``| head``) ends the output: the CLI decides what
        that means, not rich (whose default exits with status 1)."""
        self.quiet = True
        raise BrokenPipeError


def fits_width(console: Console) -> bool:
    """Whether tables on ``console`` give way to its width or are printed whole."""
    if isinstance(console, ReportConsole):
        return console.fit
    return console.is_terminal


def make_console(
    *,
    stderr: bool = False,
    width: int | None = None,
    file: TextIO | None = None,
    env: Environment | None = None,
) -> ReportConsole:
    """A console for the real terminal or pipe: colour only on a TTY, NO_COLOR honoured;
    ``env`` (else :func:`environment`) says the width and whether colour is wanted."""
    env = env or environment()
    stream = file or (sys.stderr if stderr else sys.stdout)
    is_tty = stream.isatty() if hasattr(stream, "isatty") else False
    return ReportConsole(
        fit=is_tty,
        file=stream,
        width=width or env.columns or (None if is_tty else 120),
        force_terminal=None if is_tty else False,
        no_color=env.no_color,
        color_system="auto" if is_tty and not env.no_color else None,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )


def record_console(width: int = 100, *, fit: bool = True) -> ReportConsole:
    """A fixed-width, colourless console that records output: for golden tests. ``fit``:
    laid out as a terminal of that width (the default) or as a pipe."""
    return ReportConsole(
        fit=fit,
        width=width,
        color_system=None,
        record=True,
        force_terminal=False,
        highlight=False,
        emoji=False,
        markup=False,
        file=io.StringIO(),
    )
