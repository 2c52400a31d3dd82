"""The one place that decides how output looks: width, colour, and safe text.

Everything logs contain is data written by strangers: it must never act as rich markup or
as terminal control sequences (ANSI colours, OSC 8 links, ``\\r`` overwrites, bidi
overrides). :func:`safe` makes any such text inert and visible before rich sees it.
"""

from __future__ import annotations

import io
import os
import re
import sys
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
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


class _Console(Console):
    """A reader that stops reading (``| head``) ends the output: the CLI decides what
    that means, not rich (whose default exits with status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def make_console(
    *, stderr: bool = False, width: int | None = None, file: TextIO | None = None
) -> Console:
    """A console for the real terminal or pipe: colour only on a TTY, NO_COLOR honoured."""
    stream = file or (sys.stderr if stderr else sys.stdout)
    is_tty = stream.isatty() if hasattr(stream, "isatty") else False
    no_color = "NO_COLOR" in os.environ
    columns = os.environ.get("COLUMNS", "")
    if width is None and columns.isdigit() and int(columns) >= 40:
        width = int(columns)
    return _Console(
        file=stream,
        width=width or (None if is_tty else 120),
        force_terminal=None if is_tty else False,
        no_color=no_color,
        color_system="auto" if is_tty and not no_color else None,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )


def record_console(width: int = 100) -> Console:
    """A fixed-width, colourless console that records output: for golden tests."""
    return Console(
        width=width,
        color_system=None,
        record=True,
        force_terminal=False,
        highlight=False,
        emoji=False,
        markup=False,
        file=io.StringIO(),
    )


def report_table(title: str, *columns: tuple[str, str], no_wrap: bool = False) -> Table:
    """A titled report table with ``(name, justify)`` columns, as every report section
    draws them."""
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, title_style="bold"
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=no_wrap)  # type: ignore[arg-type]
    return table
