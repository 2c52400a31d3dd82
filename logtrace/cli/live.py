"""``logtrace top`` (and ``logtrace analyze --follow``): the live view of logs as they grow."""

from __future__ import annotations

import contextlib
import signal
import sys

import typer

from logtrace.cli.app import ENDINGS, app, command, stderr_line
from logtrace.cli.inputs import Inputs, reads_logs


@command(app, "top", example="logtrace top /var/log/nginx/access.log")
@reads_logs()
def top(inputs: Inputs) -> None:
    """Live view of logs as they are written: req/s, 4xx/5xx and p50/p95/p99 over the
    last 1, 5 and 15 minutes, top routes by time, the slowest recent requests (and traces,
    with app logs). Follows rotations like tail -F; q or Ctrl-C quits with a summary.
    When stdout is not a terminal: one plain line per second instead. The filters keep
    what they name (--since/--until without a zone: UTC). Times are shown in UTC, or in
    the zone of --tz."""
    follow_logs(inputs)


def follow_logs(inputs: Inputs) -> None:
    """Follow the inputs until q, Ctrl-C or the end of stdin; print the summary."""
    from logtrace.live.follow import follow_specs
    from logtrace.live.loop import Interrupts, follow_loop, terminal_keys
    from logtrace.live.session import LiveOptions, LiveSession
    from logtrace.render import live as view
    from logtrace.render.console import make_console

    follower = follow_specs(inputs.specs(), inputs.labels)
    from logtrace.when import UTC_ZONE

    # --tz, else UTC: a followed log's offset is not known before its lines arrive
    zone = inputs.tz or UTC_ZONE
    options = LiveOptions(inputs.formats, inputs.id_field, inputs.filters, zone)
    session = LiveSession(follower, options)
    on_terminal = sys.stdout.isatty()
    stdin_is_log = any(t.source.is_stdin for t in follower.tails)
    interrupts = Interrupts()
    try:
        with interrupts.caught(), terminal_keys(stdin_is_log, dev_tty=on_terminal) as keys:
            if on_terminal:
                with view.screen(make_console()) as show:
                    ended = follow_loop(session, show, keys, interrupts, stop_at_end=False)
            else:

                def show_line(live: object) -> None:
                    sys.stdout.write(view.plain_line(session) + "\n")
                    sys.stdout.flush()

                ended = follow_loop(session, show_line, keys, interrupts, stop_at_end=True)
    finally:
        follower.close()
    signum = interrupts.first if ended == "interrupt" else None
    try:
        for line in view.summary_lines(session.summary()):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except OSError:
        if signum is not signal.SIGHUP:
            raise
        # the terminal hung up: there is no one left to show the summary to
    if signum is None or (signum is signal.SIGINT and on_terminal):
        return  # q, the end of stdin, or Ctrl-C on a terminal: the usual way out
    # as these signals end other commands (cli/app.py): a script sees 130, 143 or 129
    status, said = ENDINGS[signum]
    with contextlib.suppress(OSError):
        stderr_line(f"logtrace: {said}")
    raise typer.Exit(int(status))
