"""Hand-rolled app log shapes: JSON, logfmt, JSON events, Python logging, free text.

These are the formats of the original topology (api-1 JSON, api-2 logfmt, inventory's
Python logging, users' free text) and of the deployment issue 11 describes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import ClassVar

from topology.applogs import (
    CallPath,
    LineFile,
    Outgoing,
    Served,
    Shape,
    ShapeContext,
    failed,
    level_of,
    logfmt,
    utc,
)


class JsonShape(Shape):
    """api-1: JSON lines, ISO-8601 times with a `+00:00` offset, durations in ms."""

    def _write(self, at: float, level: str, msg: str, fields: Mapping[str, object]) -> None:
        record: dict[str, object] = {
            "time": self.clock(at).isoformat(timespec="microseconds"),
            "level": level,
            "service": self.ctx.service,
            "msg": msg,
        }
        record.update(fields)
        self.write(json.dumps(record))

    def _ids(self, request_id: str, span_id: str | None) -> dict[str, object]:
        ids: dict[str, object] = {self.id_key: request_id}
        if span_id:
            ids["span_id"] = span_id
        return ids

    def served_start(self, ev: Served) -> None:
        fields = {**self._ids(ev.request_id, ev.span_id), "method": ev.method, "path": ev.target}
        self._write(ev.at, "INFO", "request started", fields)

    def call_end(self, ev: Outgoing) -> None:
        """api-1 logs the full URL it called."""
        fields: dict[str, object] = {
            **self._ids(ev.request_id, ev.span_id),
            "peer": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "status": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 3),
        }
        self._write(ev.at, level_of(ev.status), "downstream call", fields)

    def served_end(self, ev: Served) -> None:
        fields: dict[str, object] = {
            **self._ids(ev.request_id, ev.span_id),
            "method": ev.method,
            "path": ev.target,
            "status": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 3),
        }
        self._write(ev.at, level_of(ev.status), "request finished", fields)


class LogfmtShape(Shape):
    """api-2: logfmt, ISO-8601 times with `Z`, durations as `took=8.2ms`."""

    call_path: ClassVar[CallPath] = "wire"
    id_default = "req_id"

    def _write(self, at: float, level: str, msg: str, pairs: Sequence[tuple[str, object]]) -> None:
        ts = self.clock(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        head: list[tuple[str, object]] = [
            ("ts", ts),
            ("level", level.lower()),
            ("service", self.ctx.service),
            ("msg", msg),
        ]
        self.write(logfmt([*head, *pairs]))

    def _ids(self, request_id: str, span_id: str | None) -> list[tuple[str, object]]:
        ids: list[tuple[str, object]] = [(self.id_key, request_id)]
        return ids + ([("span_id", span_id)] if span_id else [])

    def served_start(self, ev: Served) -> None:
        pairs = [*self._ids(ev.request_id, ev.span_id), ("method", ev.method), ("path", ev.target)]
        self._write(ev.at, "INFO", "request started", pairs)

    def call_end(self, ev: Outgoing) -> None:
        """api-2 logs only the request-target, not the full URL."""
        pairs: list[tuple[str, object]] = [
            *self._ids(ev.request_id, ev.span_id),
            ("peer", ev.peer),
            ("method", ev.method),
            ("url", ev.wire),
            ("status", ev.status),
            ("took", f"{ev.duration_s * 1000:.1f}ms"),
        ]
        self._write(ev.at, level_of(ev.status), "call finished", pairs)

    def served_end(self, ev: Served) -> None:
        pairs: list[tuple[str, object]] = [
            *self._ids(ev.request_id, ev.span_id),
            ("method", ev.method),
            ("path", ev.target),
            ("status", ev.status),
            ("took", f"{ev.duration_s * 1000:.1f}ms"),
        ]
        self._write(ev.at, level_of(ev.status), "request finished", pairs)


class LogfmtMsShape(LogfmtShape):
    """A Go-style service: logfmt with `request_id` and `duration_ms`, one line per request."""

    call_path: ClassVar[CallPath] = "url"
    id_default = "request_id"

    def served_start(self, ev: Served) -> None:
        """Only the end is logged."""

    def call_end(self, ev: Outgoing) -> None:
        pairs: list[tuple[str, object]] = [
            *self._ids(ev.request_id, ev.span_id),
            ("peer", ev.peer),
            ("method", ev.method),
            ("url", ev.url),
            ("status", ev.status),
            ("duration_ms", round(ev.duration_s * 1000, 1)),
        ]
        self._write(ev.at, level_of(ev.status), "upstream call", pairs)

    def served_end(self, ev: Served) -> None:
        pairs: list[tuple[str, object]] = [
            *self._ids(ev.request_id, ev.span_id),
            ("method", ev.method),
            ("path", ev.target),
            ("status", ev.status),
            ("duration_ms", round(ev.duration_s * 1000, 1)),
        ]
        self._write(ev.at, level_of(ev.status), "request finished", pairs)


class EventJsonShape(Shape):
    """A web app's JSON events: request_start, downstream_call (named target), request_end."""

    call_path: ClassVar[CallPath] = "relative"

    def _write(self, at: float, level: str, event: str, fields: Mapping[str, object]) -> None:
        stamp = self.clock(at)
        record: dict[str, object] = {
            "ts": f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z",
            "level": level.lower(),
            "event": event,
            self.id_key: None,
        }
        record.update(fields)
        self.write(json.dumps(record, separators=(",", ":")))

    def _ids(self, ev: Served | Outgoing) -> dict[str, object]:
        return {self.id_key: ev.request_id, **({"span_id": ev.span_id} if ev.span_id else {})}

    def served_start(self, ev: Served) -> None:
        fields = {**self._ids(ev), "method": ev.method, "path": ev.target}
        self._write(ev.at, "INFO", "request_start", fields)

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            **self._ids(ev),
            "target": ev.peer,
            "method": ev.method,
            "path": ev.relative,
            "status": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 1),
        }
        self._write(ev.at, level_of(ev.status), "downstream_call", fields)

    def served_end(self, ev: Served) -> None:
        fields: dict[str, object] = {
            **self._ids(ev),
            "method": ev.method,
            "path": ev.target,
            "status": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 1),
        }
        self._write(ev.at, level_of(ev.status), "request_end", fields)


class _SkewedFormatter(logging.Formatter):
    """logging's default `%(asctime)s` (naive, comma millis), on the host's skewed clock."""

    def __init__(self, fmt: str, skew_s: float) -> None:
        super().__init__(fmt)
        self._skew_s = skew_s

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # The shape passes the event's true time; fall back to the record's own.
        at = float(getattr(record, "at", record.created)) + self._skew_s
        stamp = utc(at)
        # Naive local time, and the service runs with TZ=UTC, so local time is UTC.
        return f"{stamp:%Y-%m-%d %H:%M:%S},{stamp.microsecond // 1000:03d}"


class PythonLoggingShape(Shape):
    """stdlib logging, `%(asctime)s %(levelname)s %(name)s %(message)s`, `rid=` in the message."""

    FORMAT: ClassVar[str] = "%(asctime)s %(levelname)s %(name)s %(message)s"
    id_default = "rid"
    call_path: ClassVar[CallPath] = "wire"

    def _open(self, ctx: ShapeContext) -> LineFile | None:
        self.logger = logging.getLogger(f"{ctx.service}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self._handler = logging.FileHandler(ctx.path, encoding="utf-8")
        self._handler.setFormatter(_SkewedFormatter(self.FORMAT, ctx.skew_s))
        self.logger.addHandler(self._handler)
        return None

    def _ids(self, ev: Served | Outgoing) -> str:
        span = f" span_id={ev.span_id}" if ev.span_id else ""
        return f"{self.id_key}={ev.request_id}{span}"

    def _log(self, ev: Served | Outgoing, status: int | None, msg: str, *args: object) -> None:
        error = ev.error if isinstance(ev, Served) else None
        level = logging.ERROR if failed(status) else logging.INFO
        # An endpoint's exception is logged with its traceback, as logging.exception does.
        exc_info = (type(error), error, error.__traceback__) if error is not None else None
        self.logger.log(level, msg, *args, exc_info=exc_info, extra=self._extra(ev))

    def _extra(self, ev: Served | Outgoing) -> dict[str, object]:
        return {"at": ev.at}

    def served_end(self, ev: Served) -> None:
        self._log(
            ev,
            ev.status,
            "%s %s %s %d in %.1fms",
            self._ids(ev),
            ev.method,
            ev.target,
            ev.status,
            ev.duration_s * 1000,
        )

    def call_end(self, ev: Outgoing) -> None:
        status = "-" if ev.status is None else ev.status
        shown = self.call_shown(ev)
        args = (self._ids(ev), ev.peer, ev.method, shown, status, ev.duration_s * 1000)
        self._log(ev, ev.status, "%s call %s %s %s -> %s in %.1fms", *args)

    def close(self) -> None:
        self._handler.close()
        self.logger.removeHandler(self._handler)


class PythonLoggingContextShape(PythonLoggingShape):
    """stdlib logging with the id put in by a filter (django-log-request-id's documented format).

    Lines: `INFO     [2026-12-03 10:30:42,216] [<id>] feed-svc: GET /feed/1?limit=20 200 198.7ms`
    and `... call users-svc GET /profile/1 -> 200 in 17.9ms`.
    """

    FORMAT = "%(levelname)-8s [%(asctime)s] [%(request_id)s] %(name)s: %(message)s"
    call_path: ClassVar[CallPath] = "relative"

    def _extra(self, ev: Served | Outgoing) -> dict[str, object]:
        return {"at": ev.at, "request_id": ev.request_id}

    def served_end(self, ev: Served) -> None:
        args = (ev.method, ev.target, ev.status, ev.duration_s * 1000)
        self._log(ev, ev.status, "%s %s %d %.1fms", *args)

    def call_end(self, ev: Outgoing) -> None:
        status = "-" if ev.status is None else ev.status
        args = (ev.peer, ev.method, ev.relative, status, ev.duration_s * 1000)
        self._log(ev, ev.status, "call %s %s %s -> %s in %.1fms", *args)


class TextShape(Shape):
    """users-1: free text with key=value pairs and microsecond times in brackets."""

    call_path: ClassVar[CallPath] = "wire"

    def _stamp(self, at: float) -> str:
        return self.clock(at).strftime("%Y/%m/%d %H:%M:%S.%f")

    def _ids(self, ev: Served | Outgoing) -> str:
        span = f" span_id={ev.span_id}" if ev.span_id else ""
        return f"{self.id_key}={ev.request_id}{span}"

    def served_end(self, ev: Served) -> None:
        """A request ended; elapsed is in seconds."""
        self.write(
            f"[{self._stamp(ev.at)}] {self.ctx.service} served {ev.method} {ev.target} "
            f"status={ev.status} elapsed={ev.duration_s:.4f} {self._ids(ev)}"
        )

    def call_end(self, ev: Outgoing) -> None:
        status = "-" if ev.status is None else ev.status
        self.write(
            f"[{self._stamp(ev.at)}] {self.ctx.service} called {ev.peer} {ev.method} {ev.wire} "
            f"status={status} elapsed={ev.duration_s:.4f} {self._ids(ev)}"
        )
