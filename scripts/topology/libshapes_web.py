"""Node, Java and Ruby logging output: pino, winston, logback (Spring Boot's pattern), Rails.

Each reproduces the frame of the genuine samples in tests/fixtures/app-log-shapes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from topology.applogs import Outgoing, Served, Shape, ShapeContext, failed
from topology.libshapes_go import Raw, go_float, go_json


def _ms(seconds: float) -> Raw:
    """Milliseconds with one decimal, as JavaScript prints a number (78, not 78.0)."""
    return Raw(go_float(round(seconds * 1000, 1)))


class Pino(Shape):
    """pino() defaults: numeric level, epoch-ms `time`, pid, hostname, child bindings, `msg` last.

    Calls are logged when sent (`request to users`) and when answered (`response from users`).
    """

    id_default = "reqId"

    def _write(self, at: float, error: bool, msg: str, fields: Mapping[str, object]) -> None:
        record: dict[str, object] = {
            "level": 50 if error else 30,
            "time": int((at + self.ctx.skew_s) * 1000),
            "pid": self.ctx.pid,
            "hostname": self.ctx.host,
            **fields,
            "msg": msg,
        }
        self.write(go_json(record))

    def served_start(self, ev: Served) -> None:
        fields = {self.id_key: ev.request_id, "method": ev.method, "url": ev.target}
        self._write(ev.at, False, "incoming request", fields)

    def call_start(self, ev: Outgoing) -> None:
        fields = {self.id_key: ev.request_id, "peerService": ev.peer, "method": ev.method}
        self._write(ev.at, False, f"request to {ev.peer}", {**fields, "url": ev.url})

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "peerService": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "statusCode": ev.status,
            "durationMs": _ms(ev.duration_s),
        }
        self._write(ev.at, failed(ev.status), f"response from {ev.peer}", fields)

    def served_end(self, ev: Served) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "method": ev.method,
            "url": ev.target,
            "statusCode": ev.status,
            "responseTime": round(ev.duration_s * 1000),
        }
        self._write(ev.at, False, "request completed", fields)


class Winston(Shape):
    """winston `combine(timestamp(), json())` with `defaultMeta: {service}`: keys sorted."""

    id_default = "requestId"

    def _write(self, at: float, error: bool, message: str, fields: Mapping[str, object]) -> None:
        stamp = self.clock(at)
        record: dict[str, object] = {
            **fields,
            "level": "error" if error else "info",
            "message": message,
            "service": self.ctx.service,
            "timestamp": f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z",
        }
        self.write(go_json({k: record[k] for k in sorted(record)}))

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "peerService": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "statusCode": ev.status,
            "durationMs": _ms(ev.duration_s),
        }
        self._write(ev.at, failed(ev.status), "outgoing call", fields)

    def served_end(self, ev: Served) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "method": ev.method,
            "path": ev.target,
            "statusCode": ev.status,
            "durationMs": _ms(ev.duration_s),
        }
        self._write(ev.at, False, "request completed", fields)


class Logback(Shape):
    """logback with Spring Boot 3's console pattern: ISO time, `%5p`, pid, app, thread, MDC
    `[traceId-spanId]`, the logger padded to 40, then the message (key=value text)."""

    CONTROLLER = "com.example.{service}.web.Controller"
    CLIENT = "com.example.{service}.client.HttpClient"

    def __init__(self, ctx: ShapeContext) -> None:
        super().__init__(ctx)
        self._threads: dict[int, str] = {}
        self._lock = threading.Lock()
        short = ctx.service.replace("-", "")
        self._controller = self.CONTROLLER.format(service=short)
        self._client = self.CLIENT.format(service=short)

    def _thread(self) -> str:
        """Tomcat's worker name, `%15.15t`: cut from the left to its last 15 characters."""
        ident = threading.get_ident()
        with self._lock:
            name = self._threads.setdefault(
                ident, f"http-nio-8080-exec-{len(self._threads) % 200 + 1}"
            )
        return name[-15:]

    def _write(self, at: float, error: bool, logger: str, rid: str, message: str) -> None:
        stamp = self.clock(at)
        level = "ERROR" if error else "INFO"
        trace = rid.replace("-", "")
        self.write(
            f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z {level:>5} {self.ctx.pid} "
            f"--- [{self.ctx.service}] [{self._thread():>15}] [{trace}-{trace[-16:]}] "
            f"{logger:<40.40} : {message}"
        )

    def served_start(self, ev: Served) -> None:
        message = (
            f"request started {self.id_key}={ev.request_id} method={ev.method} path={ev.target}"
        )
        self._write(ev.at, False, self._controller, ev.request_id, message)

    def call_end(self, ev: Outgoing) -> None:
        status = "-" if ev.status is None else ev.status
        message = (
            f"outgoing call {self.id_key}={ev.request_id} service={ev.peer} method={ev.method} "
            f"url={ev.url} status={status} duration_ms={ev.duration_s * 1000:.1f}"
        )
        self._write(ev.at, failed(ev.status), self._client, ev.request_id, message)

    def served_end(self, ev: Served) -> None:
        message = (
            f"request completed {self.id_key}={ev.request_id} method={ev.method} "
            f"path={ev.target} status={ev.status} duration_ms={ev.duration_s * 1000:.1f}"
        )
        self._write(ev.at, False, self._controller, ev.request_id, message)


_REASONS = {
    200: "OK",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _camel(word: str) -> str:
    return "".join(part.capitalize() for part in word.replace("-", "_").split("_"))


class Rails(Shape):
    """Rails 6.1 production (`log_tags = [:request_id]`): Ruby Logger lines tagged with the id.

    A served request is `Started` / `Processing by` / `Parameters` then `Completed 200 OK in
    31ms`; the app logs its calls when sent (`calling users: GET <url>`) and when answered
    (`users responded 200 in 12.3ms`).
    """

    def _write(self, at: float, severity: str, rid: str, message: str) -> None:
        stamp = self.clock(at).strftime("%Y-%m-%dT%H:%M:%S.%f")
        self.write(f"{severity[0]}, [{stamp} #{self.ctx.pid}] {severity:>5} -- : [{rid}] {message}")

    def served_start(self, ev: Served) -> None:
        parts = urlsplit(ev.target)
        segments = [s for s in parts.path.split("/") if s]
        resource = _camel(segments[1]) if len(segments) > 1 else "Application"
        action = (
            "show"
            if segments and segments[-1].isdigit()
            else (segments[-1] if segments else "index")
        )
        params = dict(parse_qsl(parts.query))
        if segments and segments[-1].isdigit():
            params["id"] = segments[-1]
        elif len(segments) > 2 and segments[2].isdigit():
            params["id"] = segments[2]
        at = self.clock(ev.at).strftime("%Y-%m-%d %H:%M:%S +0000")
        lines = [
            f'Started {ev.method} "{ev.target}" for 127.0.0.1 at {at}',
            f"Processing by Api::{resource}Controller#{action.replace('-', '_')} as JSON",
        ]
        if params:
            shown = ", ".join(f"{json.dumps(k)}=>{json.dumps(v)}" for k, v in params.items())
            lines.append(f"  Parameters: {{{shown}}}")
        for message in lines:
            self._write(ev.at, "INFO", ev.request_id, message)

    def call_start(self, ev: Outgoing) -> None:
        self._write(ev.at, "INFO", ev.request_id, f"calling {ev.peer}: {ev.method} {ev.url}")

    def call_end(self, ev: Outgoing) -> None:
        severity = "ERROR" if failed(ev.status) else "INFO"
        answer = "no response" if ev.status is None else f"responded {ev.status}"
        message = f"{ev.peer} {answer} in {ev.duration_s * 1000:.1f}ms"
        self._write(ev.at, severity, ev.request_id, message)

    def served_end(self, ev: Served) -> None:
        reason = _REASONS.get(ev.status, "")
        ms = round(ev.duration_s * 1000)
        allocations = 600 + round(ev.duration_s * 1e6) % 4000
        if failed(ev.status):
            detail = f"(Allocations: {allocations})"
        else:
            detail = f"(Views: {0.2 + (ms % 7) / 10:.1f}ms | Allocations: {allocations})"
        self._write(
            ev.at, "INFO", ev.request_id, f"Completed {ev.status} {reason} in {ms}ms {detail}"
        )
