"""Errors the user can act on, and the exit codes the CLI maps them to.

The core raises :class:`LogtraceError` subclasses carrying a one-line message and a
hint. Only ``logtrace.cli`` turns them into ``logtrace: error: ...`` / ``hint: ...`` on
stderr; anything else that escapes is a bug and is allowed to crash loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes. Documented in the README; scripts may rely on them."""

    OK = 0
    ERROR = 1  # unexpected internal error (a bug)
    USAGE = 2  # bad command line (typer/click also uses 2)
    NO_INPUT = 3  # an input file is missing, unreadable or not a log; an output unwritable
    BAD_FORMAT = 4  # a log_format or nginx.conf that cannot be compiled
    NO_MATCH = 5  # the chosen/detected format matched no line
    NOT_FOUND = 6  # a request id or other lookup found nothing
    PARTIAL = 7  # some input was damaged or not delivered; results are partial
    GATE = 8  # a --fail-if rule is broken (the report is complete)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    HUNG_UP = 129  # the terminal went away (128 + SIGHUP)
    TERMINATED = 143  # kill, timeout, a service manager (128 + SIGTERM)


class LogtraceError(Exception):
    """An error with a message for the user and a hint about what to do next."""

    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(LogtraceError):
    """A source that cannot be read: missing, a directory with no logs, unreadable."""

    exit_status = ExitStatus.NO_INPUT


class OutputError(LogtraceError):
    """An output path that cannot be written: its folder is missing, it is a folder."""

    exit_status = ExitStatus.NO_INPUT


class FormatError(LogtraceError):
    """A log_format string, preset name or nginx.conf that cannot be used."""

    exit_status = ExitStatus.BAD_FORMAT

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        source_text: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.source_text = source_text
        self.column = column  # 0-based column in source_text the error points at

    def caret_lines(self, escape: Callable[[str], str] = str) -> list[str]:
        """The offending text and a caret under the column, when both are known.

        ``escape`` makes the text safe to print (control characters shown as escapes);
        the caret moves with what it does to the text before the column.
        """
        return caret_window(self.source_text, self.column, escape)


def caret_window(
    text: str | None, column: int | None, escape: Callable[[str], str], width: int | None = None
) -> list[str]:
    """``text``'s line at ``column`` (escaped) and a caret under it; of a line longer than
    ``width``, the part around the column, cut with ``…``."""
    if text is None or column is None:
        return []
    line_start = text.rfind("\n", 0, column) + 1
    line_end = text.find("\n", column)
    if line_end == -1:
        line_end = len(text)
    before, after = escape(text[line_start:column]), escape(text[column:line_end])
    if width is not None and len(before) > width * 2 // 3:
        before = "…" + before[len(before) - width * 2 // 3 :]
    if width is not None and len(before) + len(after) > width:
        after = after[: max(width - len(before), 1)] + "…"
    return [before + after, " " * len(before) + "^"]


class NoMatchError(LogtraceError):
    """The format matched none of the lines it was given.

    ``source_text`` and ``column``: the first line that does not match and where it
    stops matching, shown with a caret under it.
    """

    exit_status = ExitStatus.NO_MATCH

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        source_text: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.source_text = source_text
        self.column = column

    def caret_lines(self, escape: Callable[[str], str] = str) -> list[str]:
        """The first line that did not match (around the column) and a caret under it."""
        return caret_window(self.source_text, self.column, escape, width=100)


class NotFoundError(LogtraceError):
    """A lookup (request id, format name) found nothing."""

    exit_status = ExitStatus.NOT_FOUND


class UsageError(LogtraceError):
    """Options that contradict each other or values that make no sense."""

    exit_status = ExitStatus.USAGE


class DeliveryError(LogtraceError):
    """An export or push that did not deliver everything."""

    exit_status = ExitStatus.PARTIAL
