"""Python logging libraries' default output: structlog (JSON and console) and gunicorn.

Each reproduces the frame of the genuine samples in tests/fixtures/app-log-shapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from topology.applogs import Outgoing, Served, Shape, failed


class StructlogJson(Shape):
    """structlog's JSON chain: event fields, `event`, context (`request_id`), level, timestamp."""

    def _write(
        self, at: float, level: str, event: str, rid: str, fields: Mapping[str, object]
    ) -> None:
        record = {
            **fields,
            "event": event,
            self.id_key: rid,
            "level": level,
            "timestamp": self.clock(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        self.write(json.dumps(record))

    def served_start(self, ev: Served) -> None:
        fields = {"method": ev.method, "path": ev.target}
        self._write(ev.at, "info", "request started", ev.request_id, fields)

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            "peer_service": ev.peer,
            "http_method": ev.method,
            "url": ev.url,
            "status_code": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 1),
        }
        level = "error" if failed(ev.status) else "info"
        self._write(ev.at, level, "outgoing call", ev.request_id, fields)

    def served_end(self, ev: Served) -> None:
        fields: dict[str, object] = {
            "method": ev.method,
            "path": ev.target,
            "status_code": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 1),
        }
        self._write(ev.at, "info", "request completed", ev.request_id, fields)


class StructlogConsole(Shape):
    """structlog's ConsoleRenderer without colours: seconds-only local time, padded level and
    event, then the keys sorted."""

    def _write(self, at: float, level: str, event: str, fields: Mapping[str, object]) -> None:
        stamp = self.clock(at).strftime("%Y-%m-%d %H:%M:%S")
        pairs = " ".join(f"{k}={fields[k]}" for k in sorted(fields))
        self.write(f"{stamp} [{level:<9}] {event:<30} {pairs}")

    def served_start(self, ev: Served) -> None:
        fields = {self.id_key: ev.request_id, "method": ev.method, "path": ev.target}
        self._write(ev.at, "info", "request received", fields)

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "peer": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "status": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 1),
        }
        self._write(ev.at, "error" if failed(ev.status) else "info", "upstream call", fields)

    def served_end(self, ev: Served) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "method": ev.method,
            "path": ev.target,
            "status": ev.status,
            "duration_ms": round(ev.duration_s * 1000, 1),
        }
        self._write(ev.at, "info", "request handled", fields)


class Gunicorn(Shape):
    """gunicorn: the access log with ` %(D)s %({x-request-id}i)s` appended, and the app's
    lines through `gunicorn.error` (`[ts] [pid] [LEVEL] msg`), in one file."""

    def served_end(self, ev: Served) -> None:
        stamp = self.clock(ev.at).strftime("%d/%b/%Y:%H:%M:%S +0000")
        micros = round(ev.duration_s * 1e6)
        self.write(
            f'127.0.0.1 - - [{stamp}] "{ev.method} {ev.target} HTTP/1.0" {ev.status} {ev.size} '
            f'"-" "{ev.user_agent}" {micros} {ev.request_id}'
        )

    def call_end(self, ev: Outgoing) -> None:
        stamp = self.clock(ev.at).strftime("%Y-%m-%d %H:%M:%S +0000")
        level = "ERROR" if failed(ev.status) else "INFO"
        status = "-" if ev.status is None else ev.status
        self.write(
            f"[{stamp}] [{self.ctx.pid}] [{level}] outgoing call {self.id_key}={ev.request_id} "
            f"service={ev.peer} method={ev.method} url={ev.url} status={status} "
            f"duration_ms={ev.duration_s * 1000:.1f}"
        )
