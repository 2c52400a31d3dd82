"""Envelopes around log lines (container runtimes', syslog's), taken off before parsing.

A program in a container logs to stdout, and the runtime writes each line to the node's
disk wrapped in an envelope of its own; nginx can log to syslog, whose daemon writes each
line it receives in one too:

- CRI (containerd, CRI-O: Kubernetes' ``/var/log/containers/*.log``, ``/var/log/pods/``)::

      2026-11-26T12:37:13.123456789Z stdout F 10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET ...

  ``F`` ends a line; ``P`` is a part of a longer one (cut at 16 KB), the rest following.
- Docker's json-file driver (``/var/lib/docker/containers/<id>/<id>-json.log``)::

      {"log":"10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] \\"GET ...\\n","stream":"stdout",...}

- syslog, as rsyslog and syslog-ng write what nginx sends with ``access_log
  syslog:server=...`` (on a central log host, the lines of many hosts in one file)::

      Nov 26 12:37:13 web-1 nginx: 10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET ...
      2026-11-26T12:37:13.123456+00:00 web-1 nginx: 10.0.0.1 - - [26/Nov/2026:...

  and as ``journalctl -o short`` or ``-o short-iso`` prints the journal's lines.
- ``kubectl logs --prefix`` (of many pods at once: ``-l app=api``)::

      [pod/api-7d9f8b6c5d-x2x4z/api] {"time": "2026-11-26T12:37:13.123Z", "msg": ...

  Each line names its pod: the line's ``host``, and its workload the ``service``.

  Each line names the host that sent it: the line's ``host`` (and ``service``, the host
  without its instance number), whatever the file's name says.

A source is enveloped when its first line and most of the next are (:func:`detect`);
then each of its lines is unwrapped (:func:`unwrap`, vectorised) and parsed as the line
the program wrote.
A line not in the envelope is left as it is, to be parsed or rejected as such; so is the
part of a line cut by the runtime (each part counts as a line of its own, and is rejected
when it does not parse).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import polars as pl

from logtrace.hosts import service_of, workloads_of

SAMPLE_LINES = 200  # first non-blank lines looked at
SHARE = 0.9  # of them in one envelope: the source is in it


class Envelope(Enum):
    """The envelopes known, by the name the report gives them."""

    CRI = "cri"
    DOCKER = "docker-json"
    SYSLOG = "syslog"
    KUBECTL = "kubectl"


@dataclass(frozen=True)
class _Shape:
    """How a line in an envelope begins (a regex; its group ``host``, if any, the host
    the line names), and the line it holds: what follows, or ``decoded`` from the line."""

    start: str
    decoded: Callable[[pl.Expr], pl.Expr] | None = None
    service: Callable[[pl.Expr], pl.Expr] = service_of  # of the host a line names


# RFC 3164's time (rsyslog's traditional format, journalctl's short) or RFC 3339's
# (journalctl's short-iso writes +0000), the host, the tag (nginx, nginx[1234]), ": "
_SHAPES = {
    Envelope.CRI: _Shape(
        r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}) "
        r"(?:stdout|stderr) [FP] "
    ),
    Envelope.DOCKER: _Shape(
        r'^\{\s*"log"\s*:\s*".*"\s*,\s*"stream"\s*:\s*"(?:stdout|stderr)"',
        # JSON-decoded; the line's end is part of the value
        lambda line: (
            line.str.json_path_match("$.log").str.strip_suffix("\n").str.strip_suffix("\r")
        ),
    ),
    Envelope.SYSLOG: _Shape(
        r"^(?:[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
        r"(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})) (?P<host>[^\s:]+) [^\s:\[]+(?:\[\d+\])?: ?"
    ),
    # kubectl logs --prefix (-l app=api, --all-containers: many pods in one stream)
    Envelope.KUBECTL: _Shape(r"^\[pod/(?P<host>[^/\]\s]+)/[^\]\s]+\] ", service=workloads_of),
}
_STARTS = {envelope: re.compile(shape.start) for envelope, shape in _SHAPES.items()}


def detect(frame: pl.DataFrame) -> Envelope | None:
    """The envelope the first line and most of the first lines (``line``) are in, if
    any (a runtime writes its file's every line in it). Looked at in Python: on every
    file read (folders of thousands), compiling polars' regexes would cost more."""
    head = frame.get_column("line").head(SAMPLE_LINES * 2).drop_nulls().head(SAMPLE_LINES)
    lines = head.to_list()
    for envelope, start in _STARTS.items():
        if lines and start.match(lines[0]) and _share(start, lines) >= SHARE:
            return envelope
    return None


def _share(pattern: re.Pattern[str], lines: list[str]) -> float:
    return sum(1 for line in lines if pattern.match(line)) / len(lines)


def unwrap(frame: pl.DataFrame, envelope: Envelope) -> pl.DataFrame:
    """``frame`` with each line in the envelope replaced by the line it holds; with the
    ``host`` and ``service`` each names, for an envelope whose lines name their host."""
    shape = _SHAPES[envelope]
    line = pl.col("line")
    inside = line.str.contains(shape.start)
    held = shape.decoded(line) if shape.decoded is not None else line.str.replace(shape.start, "")
    # a line that held nothing (an empty line logged) is blank, as in a plain log
    columns = [pl.when(inside).then(held).otherwise(line).replace("", None).alias("line")]
    if "(?P<host>" in shape.start:  # named before the line is replaced
        host = line.str.extract(shape.start, 1)
        columns += [host.alias("host"), shape.service(host).alias("service")]
    return frame.with_columns(columns)


def text_of(frame: pl.DataFrame) -> bytes:
    """The UTF-8 text of an unwrapped frame's lines, a line each (blank ones empty): what
    the frame would have been read from had the log been written without its envelope."""
    lines = frame.get_column("line").fill_null("")
    return (lines.str.join("\n").item() + "\n").encode() if lines.len() else b""
