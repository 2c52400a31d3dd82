"""The application log writers: one shape per host, each the contract with logtrace's parser.

Every writer takes the TRUE time of the event and adds the host's clock skew itself,
so a planted skew shows up in the log and nowhere else (the ground truth keeps the
true clock).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class LineFile:
    """A log file that many handler threads append whole lines to."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        # Line buffering: a line is on disk as soon as it is written, as with a real app.
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, line: str) -> None:
        """Append one line; the newline is added here."""
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        """Flush and close the file."""
        with self._lock:
            self._file.close()


class ApiLog(Protocol):
    """What the api service logs; api-1 and api-2 implement it in different formats."""

    def started(self, at: float, *, request_id: str, method: str, path: str) -> None:
        """The request arrived."""

    def call(
        self,
        at: float,
        *,
        request_id: str,
        peer: str,
        method: str,
        url: str,
        target: str,
        status: int | None,
        duration_s: float,
    ) -> None:
        """An outgoing call to a downstream service ended."""

    def finished(
        self,
        at: float,
        *,
        request_id: str,
        method: str,
        path: str,
        status: int,
        duration_s: float,
    ) -> None:
        """The response was sent."""

    def close(self) -> None:
        """Flush and close the log."""


def _level(status: int | None) -> str:
    return "ERROR" if status is None or status >= 500 else "INFO"


class JsonApiLog:
    """api-1: JSON lines, ISO-8601 times with a `+00:00` offset, durations in ms."""

    def __init__(self, path: Path, skew_s: float) -> None:
        self._out = LineFile(path)
        self._skew_s = skew_s

    def _write(self, at: float, level: str, msg: str, fields: Mapping[str, object]) -> None:
        record: dict[str, object] = {
            "time": _utc(at + self._skew_s).isoformat(timespec="microseconds"),
            "level": level,
            "service": "api",
            "msg": msg,
        }
        record.update(fields)
        self._out.write(json.dumps(record))

    def started(self, at: float, *, request_id: str, method: str, path: str) -> None:
        """The request arrived."""
        fields = {"request_id": request_id, "method": method, "path": path}
        self._write(at, "INFO", "request started", fields)

    def call(
        self,
        at: float,
        *,
        request_id: str,
        peer: str,
        method: str,
        url: str,
        target: str,
        status: int | None,
        duration_s: float,
    ) -> None:
        """An outgoing call ended; api-1 logs the full URL it called."""
        fields: dict[str, object] = {
            "request_id": request_id,
            "peer": peer,
            "method": method,
            "url": url,
            "status": status,
            "duration_ms": round(duration_s * 1000, 3),
        }
        self._write(at, _level(status), "downstream call", fields)

    def finished(
        self,
        at: float,
        *,
        request_id: str,
        method: str,
        path: str,
        status: int,
        duration_s: float,
    ) -> None:
        """The response was sent."""
        fields: dict[str, object] = {
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_s * 1000, 3),
        }
        self._write(at, _level(status), "request finished", fields)

    def close(self) -> None:
        """Flush and close the log."""
        self._out.close()


def logfmt_value(value: object) -> str:
    """One logfmt value, quoted when it holds a space, `=`, a quote or nothing at all."""
    text = "-" if value is None else str(value)
    if text == "" or any(c in text for c in ' ="\\') or not text.isprintable():
        return json.dumps(text)
    return text


def logfmt(pairs: list[tuple[str, object]]) -> str:
    """A logfmt line from ordered key/value pairs."""
    return " ".join(f"{key}={logfmt_value(value)}" for key, value in pairs)


class LogfmtApiLog:
    """api-2: logfmt, ISO-8601 times with `Z`, durations as `took=8.2ms`."""

    def __init__(self, path: Path, skew_s: float) -> None:
        self._out = LineFile(path)
        self._skew_s = skew_s

    def _write(self, at: float, level: str, msg: str, pairs: list[tuple[str, object]]) -> None:
        ts = _utc(at + self._skew_s).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        head: list[tuple[str, object]] = [
            ("ts", ts),
            ("level", level.lower()),
            ("service", "api"),
            ("msg", msg),
        ]
        self._out.write(logfmt(head + pairs))

    def started(self, at: float, *, request_id: str, method: str, path: str) -> None:
        """The request arrived."""
        pairs: list[tuple[str, object]] = [
            ("req_id", request_id),
            ("method", method),
            ("path", path),
        ]
        self._write(at, "INFO", "request started", pairs)

    def call(
        self,
        at: float,
        *,
        request_id: str,
        peer: str,
        method: str,
        url: str,
        target: str,
        status: int | None,
        duration_s: float,
    ) -> None:
        """An outgoing call ended; api-2 logs only the target, not the full URL."""
        pairs: list[tuple[str, object]] = [
            ("req_id", request_id),
            ("peer", peer),
            ("method", method),
            ("url", target),
            ("status", status),
            ("took", f"{duration_s * 1000:.1f}ms"),
        ]
        self._write(at, _level(status), "call finished", pairs)

    def finished(
        self,
        at: float,
        *,
        request_id: str,
        method: str,
        path: str,
        status: int,
        duration_s: float,
    ) -> None:
        """The response was sent."""
        pairs: list[tuple[str, object]] = [
            ("req_id", request_id),
            ("method", method),
            ("path", path),
            ("status", status),
            ("took", f"{duration_s * 1000:.1f}ms"),
        ]
        self._write(at, _level(status), "request finished", pairs)

    def close(self) -> None:
        """Flush and close the log."""
        self._out.close()


API_LOGS: dict[str, type[JsonApiLog] | type[LogfmtApiLog]] = {
    "json": JsonApiLog,
    "logfmt": LogfmtApiLog,
}


class _SkewedFormatter(logging.Formatter):
    """logging's default `%(asctime)s` (naive, comma millis), on the host's skewed clock."""

    def __init__(self, skew_s: float) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._skew_s = skew_s

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # The handler passes the event's true end time; fall back to the record's own.
        at = float(getattr(record, "at", record.created)) + self._skew_s
        stamp = _utc(at)
        # Naive local time, and the service runs with TZ=UTC, so local time is UTC.
        return f"{stamp:%Y-%m-%d %H:%M:%S},{stamp.microsecond // 1000:03d}"


def python_logger(path: Path, name: str, skew_s: float) -> logging.Logger:
    """A stdlib logger writing `2026-11-26 12:00:00,123 INFO <name> <message>` lines."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(_SkewedFormatter(skew_s))
    logger.addHandler(handler)
    return logger


class TextLog:
    """users-1: free text with key=value pairs and microsecond times in brackets."""

    def __init__(self, path: Path, service: str, skew_s: float) -> None:
        self._out = LineFile(path)
        self._service = service
        self._skew_s = skew_s

    def served(
        self,
        at: float,
        *,
        request_id: str,
        method: str,
        target: str,
        status: int,
        elapsed_s: float,
    ) -> None:
        """A request ended; elapsed is in seconds."""
        stamp = _utc(at + self._skew_s).strftime("%Y/%m/%d %H:%M:%S.%f")
        self._out.write(
            f"[{stamp}] {self._service} served {method} {target} "
            f"status={status} elapsed={elapsed_s:.4f} request_id={request_id}"
        )

    def close(self) -> None:
        """Flush and close the log."""
        self._out.close()
