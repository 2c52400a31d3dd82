"""The typer application, its global options, and how errors become exit codes."""

from __future__ import annotations

import errno
import functools
import io
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer

from logtrace import __version__
from logtrace.errors import ExitStatus, LogtraceError, OutputError

_state = {"traceback": False, "main": False}

# How long polars' allocator keeps freed memory before it gives it back to the system
# (polars' own default: 0.5 s, then 1 s). The join frees and allocates a part's worth of
# memory (hundreds of MB) every second or so, and each page given back is faulted in and
# zeroed again by the next part: on the chatty benchmark's join (5.1M lines) keeping it
# 5 s took the system CPU time from 16-20 s to 10-12 s and the wall time from 50.4 s to
# 48.1 s (medians of 3), for ~10% more peak RSS (docs/scale.md). Set before polars is
# imported (it reads this once, adding it to its own defaults); a value the user set is
# left as it is.
_ALLOCATOR = ("_RJEM_MALLOC_CONF", "dirty_decay_ms:5000,muzzy_decay_ms:5000")


def stderr_line(text: str) -> None:
    sys.stderr.write(text + "\n")


def _fail(exc: LogtraceError) -> NoReturn:
    # Messages quote paths, formats and log lines: never let them act on the terminal.
    from logtrace.render.console import safe_str

    stderr_line(f"logtrace: error: {safe_str(exc.message)}")
    caret = getattr(exc, "caret_lines", None)
    if callable(caret):
        for line in caret(safe_str):
            stderr_line(f"  {line}")
    if exc.hint:
        stderr_line(f"hint: {safe_str(exc.hint)}")
    raise SystemExit(int(exc.exit_status))


def _reader_gone() -> NoReturn:
    """The reader of stdout went away (``| head``): a normal end. What is left to write,
    and Python's flush at exit, go to /dev/null instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (CliRunner): nothing is flushed at exit
    raise SystemExit(int(ExitStatus.OK))


class Group(typer.core.TyperGroup):
    """The command tree; turns what ends a command early into its exit status, the same
    under ``main()`` and under typer's CliRunner."""

    def invoke(self, ctx: Any) -> Any:  # ctx: click's Context
        try:
            return super().invoke(ctx)
        except LogtraceError as exc:
            if _state["traceback"]:
                raise
            _fail(exc)
        except BrokenPipeError:
            _reader_gone()
        except OSError as exc:  # a disk that filled up (or failed) while writing
            if _state["traceback"] or not _disk_failure(exc):
                raise
            _fail(_os_failure(exc))


# A full disk or quota, a file too large, a read-only or failing device: Python sets the
# errno; polars' own writers say "(os error N)" in the message instead.
_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO)
_OS_ERROR = re.compile(r"\(os error ([0-9]+)\)")


def _disk_failure(exc: OSError) -> bool:
    found = _OS_ERROR.search(str(exc))
    number = exc.errno if exc.errno is not None else int(found.group(1)) if found else None
    return number in _DISK_ERRNOS


def _os_failure(exc: OSError) -> OutputError:
    """An operating-system error met while writing (an export, a report, the join's spill
    in the temporary folder) as a one-line error: ``No space left on device`` and such."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f"{exc.filename}: " if exc.filename else ""
    return OutputError(
        f"writing failed: {where}{reason}",
        "free some space or write elsewhere (--out, -o; the join spills big inputs, and a "
        "stream of many containers' lines is split, to TMPDIR); what was written is incomplete",
    )


class _Argument(typer.core.TyperArgument):
    """An argument shown by its name alone, as in a man page: ``REQUEST_ID [FILES]...``."""

    def display_type_rich(self, ctx: Any) -> str | None:  # ctx: click's Context
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar if self.metavar is not None else (self.name or "")
        shown = name if self.required else f"[{name}]"
        return [shown + ("..." if self.nargs != 1 else "")]


class Command(typer.core.TyperCommand):
    """A logtrace command: values in --help named by what they hold (``--top N``,
    ``--since TIME``), never by Python types, and an example at the end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, typer.core.TyperArgument):
                # typer builds its own argument objects; this class only adds display
                param.__class__ = _Argument


def command(
    group: typer.Typer, name: str | None = None, *, example: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command of ``group`` with its --help ending in ``example``."""
    return group.command(name, cls=Command, epilog=f"\b\nExample:\n  {example}")


app = typer.Typer(
    name="logtrace",
    cls=Group,
    help="Turn nginx and application logs into per-request traces and latency reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
export_app = typer.Typer(
    help="Write requests, spans or traces to files (CSV, Parquet, OTLP, ...) or a collector.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"logtrace {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the Python traceback of errors.")
    ] = False,
) -> None:
    _state["traceback"] = traceback


# What ends the run from outside: the status it ends with, and its last line on stderr.
ENDINGS = {
    signal.SIGINT: (ExitStatus.INTERRUPTED, "interrupted"),
    signal.SIGTERM: (ExitStatus.TERMINATED, "terminated"),
    signal.SIGHUP: (ExitStatus.HUNG_UP, "hung up"),
}


def _interrupted(signum: int, frame: object) -> None:
    """Ctrl-C, a kill, `timeout`, a closed terminal: end here and now, with the progress
    bar erased, the join's spill removed and one line said.

    Exiting from the handler, rather than by a KeyboardInterrupt, keeps the interrupt from
    landing in a generator's cleanup (which Python only reports as "Exception ignored"),
    from waiting for the parsing threads to finish their chunks, and from leaving a bar.
    Without a handler, SIGTERM and SIGHUP would end the process with no cleanup at all,
    leaving a spill of up to the input's size in TMPDIR.
    """
    status, said = ENDINGS[signal.Signals(signum)]
    progress = sys.modules.get("logtrace.render.progress")  # no import in a handler
    if progress is not None:
        progress.abandon()
    for module in ("logtrace.timelines.spill", "logtrace.streams"):  # temporary folders
        spill = sys.modules.get(module)  # the join's, a split stream's
        if spill is not None:
            spill.abandon()
    # the process's own stderr: a live bar has sys.stderr pointing through rich
    stream = sys.__stderr__ or sys.stderr
    try:
        stream.write(f"logtrace: {said}\n")
        stream.flush()
    except (OSError, ValueError):
        pass  # no terminal left to say it to (SIGHUP)
    os._exit(int(status))


def catch_interrupts() -> None:
    """Make Ctrl-C, SIGTERM and SIGHUP end the run through :func:`_interrupted` (only
    under :func:`main`).

    Called again once polars is imported: polars puts a SIGINT handler of its own in front
    of the one it finds, which turns Ctrl-C into a KeyboardInterrupt of whatever query
    runs, in the parsing threads too (a second interrupt, landing anywhere).
    """
    if not _state["main"]:
        return
    for signum in ENDINGS:
        if signum != signal.SIGHUP or not _hang_up_ignored():
            signal.signal(signum, _interrupted)


@functools.cache
def _hang_up_ignored() -> bool:
    """Whether the process was started ignoring SIGHUP (``nohup``): then it stays ignored.
    Known at the first call, from :func:`main`. (SIGINT is caught even when ignored, as a
    background job in a script is started: polars would catch it anyway.)"""
    return signal.getsignal(signal.SIGHUP) == signal.SIG_IGN


def main() -> None:
    """Console-script entry point: runs the app and turns errors into exit codes."""
    _state["main"] = True
    if "polars" not in sys.modules:
        os.environ.setdefault(*_ALLOCATOR)
    catch_interrupts()
    try:
        app(prog_name="logtrace")
    except SystemExit as done:
        _flush_stdout()
        _end_now(done.code)
        raise
    except LogtraceError as exc:  # raised before a command ran
        if _state["traceback"] or "--traceback" in sys.argv:
            raise
        _fail(exc)
    except KeyboardInterrupt:
        stderr_line("logtrace: interrupted")
        raise SystemExit(int(ExitStatus.INTERRUPTED)) from None
    except BrokenPipeError:
        _reader_gone()


def _end_now(code: object) -> None:
    """End the process once the command is done, without tearing the interpreter down.

    What Python does at exit after a command has written everything is free every object,
    frame and module one at a time: 0.2 to 0.4 s of CPU, whatever the input (README,
    "Where the time goes"). Nothing of ours waits for it: files are closed by
    their ``with`` blocks, the spill is removed by its own, the threads are joined, and
    stdout and stderr are flushed here. When a thread is still running, or the exit
    carries a message to print, Python ends the process as usual.
    """
    if code is not None and not isinstance(code, int):
        return
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code or 0)


def _flush_stdout() -> None:
    """Flush now, where a closed pipe is still a normal end, not at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _reader_gone()
