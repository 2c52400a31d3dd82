"""How an app writes its log: the events and the base every log shape builds on.

A shape turns four events (a served request starts or ends, an outgoing call starts or
ends) into the lines one kind of app writes. Every event carries the TRUE time; the
shape adds the host's clock skew itself, so a planted skew shows up in the log and
nowhere else (the ground truth keeps the true clock). Hand-rolled app shapes are in
appshapes.py, those of real logging libraries in libshapes_*.py; `shapes.SHAPES` lists
them all.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

# What a call line shows as the path: the full URL, the request-target sent, or the path
# relative to the client's configured base URL (next to the callee's name).
CallPath = Literal["url", "wire", "relative"]


def utc(epoch_s: float) -> datetime:
    """An aware UTC datetime."""
    return datetime.fromtimestamp(epoch_s, UTC)


@dataclass(frozen=True)
class Served:
    """A request the app serves; `at` is the start for `served_start`, the end otherwise."""

    request_id: str
    span_id: str | None
    method: str
    target: str  # path and query, as received
    at: float
    status: int = 0
    duration_s: float = 0.0
    size: int = 0  # response body bytes
    error: BaseException | None = None  # raised by the endpoint (its traceback is logged)
    user_agent: str = "-"
    remote: str = "127.0.0.1:0"  # the peer's address and port


@dataclass(frozen=True)
class Outgoing:
    """A call the app makes; `at` is the start for `call_start`, the end otherwise."""

    request_id: str
    span_id: str | None
    peer: str  # the callee's service name
    method: str
    url: str  # http://127.0.0.1:PORT/...
    wire: str  # the request-target sent
    relative: str  # relative to the client's base URL
    at: float
    status: int | None = None  # None: no response (network error)
    duration_s: float = 0.0


@dataclass(frozen=True)
class ShapeContext:
    """What a shape needs to know about its host."""

    path: Path
    host: str
    service: str
    skew_s: float
    id_key: str | None  # the key the id is logged under, when not the shape's own
    pid: int


class LineFile:
    """A log file that many handler threads append whole lines to."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        # Line buffering: a line is on disk as soon as it is written, as with a real app.
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, line: str) -> None:
        """Append one line (or several, joined by newlines); the final newline is added here."""
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        """Flush and close the file."""
        with self._lock:
            self._file.close()


class Shape:
    """The base of every shape: the skewed clock, the id key and the file; no line by default."""

    call_path: ClassVar[CallPath] = "url"
    id_default: ClassVar[str] = "request_id"

    def __init__(self, ctx: ShapeContext) -> None:
        self.ctx = ctx
        self.id_key = ctx.id_key or self.id_default
        self._out = self._open(ctx)

    def _open(self, ctx: ShapeContext) -> LineFile | None:
        return LineFile(ctx.path)

    def clock(self, at: float) -> datetime:
        """The host's (skewed) clock at the true time `at`, in UTC."""
        return utc(at + self.ctx.skew_s)

    def write(self, line: str) -> None:
        """Append a line."""
        assert self._out is not None
        self._out.write(line)

    def call_shown(self, call: Outgoing) -> str:
        """The path a call line of this shape shows."""
        return {"url": call.wire, "wire": call.wire, "relative": call.relative}[self.call_path]

    def served_start(self, ev: Served) -> None:
        """A request arrived."""

    def served_end(self, ev: Served) -> None:
        """The response was sent."""

    def call_start(self, ev: Outgoing) -> None:
        """A call is about to be sent."""

    def call_end(self, ev: Outgoing) -> None:
        """A call's response arrived (or the call failed)."""

    def close(self) -> None:
        """Flush and close the log."""
        if self._out is not None:
            self._out.close()


def failed(status: int | None) -> bool:
    """A call or request that ended in an error (logged at an error level)."""
    return status is None or status >= 500


def level_of(status: int | None) -> str:
    """`ERROR` for a failed call or request, else `INFO`."""
    return "ERROR" if failed(status) else "INFO"


def logfmt_value(value: object) -> str:
    """One logfmt value, quoted when it holds a space, `=`, a quote or nothing at all."""
    text = "-" if value is None else str(value)
    if text == "" or any(c in text for c in ' ="\\') or not text.isprintable():
        return json.dumps(text)
    return text


def logfmt(pairs: list[tuple[str, object]]) -> str:
    """A logfmt line from ordered key/value pairs."""
    return " ".join(f"{key}={logfmt_value(value)}" for key, value in pairs)
