"""Container runtimes' envelopes around log lines, taken off before the lines are parsed.

A program in a container logs to stdout; the runtime writes each line to the node's disk
wrapped in an envelope of its own:

- CRI (containerd, CRI-O: Kubernetes' ``/var/log/containers/*.log``, ``/var/log/pods/``)::

      2026-11-26T12:37:13.123456789Z stdout F 10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET ...

  ``F`` ends a line; ``P`` is a part of a longer one (cut at 16 KB), the rest following.
- Docker's json-file driver (``/var/lib/docker/containers/<id>/<id>-json.log``)::

      {"log":"10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] \\"GET ...\\n","stream":"stdout",...}

A source is enveloped when most of its first lines are (:func:`detect`); then each of its
lines is unwrapped (:func:`unwrap`, vectorised) and parsed as the line the program wrote.
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

SAMPLE_LINES = 200  # first non-blank lines looked at
SHARE = 0.9  # of them in one envelope: the source is in it


class Envelope(Enum):
    """The envelopes known, by the name the report gives them."""

    CRI = "cri"
    DOCKER = "docker-json"


@dataclass(frozen=True)
class _Shape:
    """How a line in an envelope begins, and the line it holds (from ``line``)."""

    start: str  # a regex
    held: Callable[[pl.Expr], pl.Expr]


_CRI = (
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}) (?:stdout|stderr) [FP] "
)
_SHAPES = {
    Envelope.CRI: _Shape(_CRI, lambda line: line.str.replace(_CRI, "")),
    Envelope.DOCKER: _Shape(
        r'^\{\s*"log"\s*:\s*".*"\s*,\s*"stream"\s*:\s*"(?:stdout|stderr)"',
        # JSON-decoded; the line's end is part of the value
        lambda line: (
            line.str.json_path_match("$.log").str.strip_suffix("\n").str.strip_suffix("\r")
        ),
    ),
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
    """``frame`` with each line in the envelope replaced by the line it holds."""
    shape = _SHAPES[envelope]
    line = pl.col("line")
    held = pl.when(line.str.contains(shape.start)).then(shape.held(line)).otherwise(line)
    # a line that held nothing (an empty line logged) is blank, as in a plain log
    return frame.with_columns(held.replace("", None).alias("line"))


def text_of(frame: pl.DataFrame) -> bytes:
    """The UTF-8 text of an unwrapped frame's lines, a line each (blank ones empty): what
    the frame would have been read from had the log been written without its envelope."""
    lines = frame.get_column("line").fill_null("")
    return (lines.str.join("\n").item() + "\n").encode() if lines.len() else b""
