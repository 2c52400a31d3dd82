"""Commands a report prints for the user to run next: whole, quoted, and runnable as is."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from logtrace.render.console import safe_str


@dataclass(frozen=True)
class TraceArgs:
    """What a printed ``logtrace trace ID`` needs besides the id to find it again: the
    inputs and the format options of the run that printed it, as the user gave them."""

    files: tuple[str, ...] = ()  # none: stdin, as for the command itself
    options: tuple[str, ...] = ()  # e.g. ("--nginx-conf", "nginx.conf")


def shell_quote(arg: str) -> str:
    """``arg`` for a POSIX shell; text with control or bidi characters (a hostile id or
    file name) as ``$'...'`` with escapes, so the command stays inert on screen and still
    means the same bytes when pasted into bash or zsh."""
    if safe_str(arg) == arg:
        return shlex.quote(arg)
    return "$'" + "".join(_ansi_c(ch) for ch in arg) + "'"


def _ansi_c(ch: str) -> str:
    if ch in "\\'":
        return "\\" + ch
    if safe_str(ch) == ch:
        return ch
    # \u, not \x, above ASCII: the shell encodes it as the character, not one raw byte
    return f"\\x{ord(ch):02X}" if ord(ch) < 0x80 else f"\\u{ord(ch):04X}"


def shell_join(argv: list[str]) -> str:
    """``argv`` as one command line (``shlex.join``, with :func:`shell_quote`)."""
    return " ".join(shell_quote(a) for a in argv)


def trace_command(request_id: str, args: TraceArgs) -> str:
    """``logtrace trace`` for one request, with the inputs and options that found it."""
    positional = [request_id, *args.files]
    if any(a.startswith("-") and a != "-" for a in positional):
        # an id or a file name that looks like an option
        return shell_join(["logtrace", "trace", *args.options, "--", *positional])
    return shell_join(["logtrace", "trace", *positional, *args.options])
