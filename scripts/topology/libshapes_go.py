"""Go logging libraries' default output: log/slog (text, JSON), zap, zerolog, logrus.

Each reproduces the frame of the genuine samples in tests/fixtures/app-log-shapes
(timestamps, levels, key names and order, duration units); the messages and app fields
are the ones a Go service using that library typically writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from topology.applogs import Outgoing, Served, Shape, failed


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): `16.460744ms`, `512.3µs`, `1.5s`, `2m3.1s`."""
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _decimal(ns, 1_000) + "µs"
    if ns < 1_000_000_000:
        return _decimal(ns, 1_000_000) + "ms"
    minutes, rest = divmod(ns, 60_000_000_000)
    hours, minutes = divmod(minutes, 60)
    head = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "")
    return head + _decimal(rest, 1_000_000_000) + "s"


def _decimal(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + str(rest).rjust(digits, "0").rstrip("0")


def ns(seconds: float) -> int:
    """Seconds as integer nanoseconds (Go's time.Duration)."""
    return round(seconds * 1e9)


def go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): the shortest text that reads back the same."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def go_json(record: dict[str, object]) -> str:
    """encoding/json-style output: no spaces; floats already formatted are kept raw."""
    parts = []
    for key, value in record.items():
        raw = value.text if isinstance(value, Raw) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{json.dumps(key)}:{raw}")
    return "{" + ",".join(parts) + "}"


class Raw:
    """A JSON number already written the way Go writes it."""

    def __init__(self, text: str) -> None:
        self.text = text


def _slog_quote(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="') or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


def _logrus_quote(value: object) -> str:
    text = str(value)
    plain = all(c.isascii() and (c.isalnum() or c in "-._/@^+") for c in text)
    return text if plain else json.dumps(text, ensure_ascii=False)


class SlogText(Shape):
    """log/slog TextHandler: `time=...T10:40:23.445Z level=INFO msg="..." key=value`.

    Calls are logged when sent and when answered (`calling service` / `service responded`).
    """

    def _write(
        self, at: float, status: int | None, msg: str, attrs: Sequence[tuple[str, object]]
    ) -> None:
        """`attrs` starts with the request id (bound with logger.With, so it comes first)."""
        stamp = self.clock(at)
        head = f"time={stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z"
        level = "ERROR" if failed(status) else "INFO"
        pairs = [("msg", msg), (self.id_key, attrs[0][1]), *attrs[1:]]
        body = " ".join(f"{k}={_slog_quote(v)}" for k, v in pairs)
        self.write(f"{head} level={level} {body}")

    def served_start(self, ev: Served) -> None:
        attrs = [("id", ev.request_id), ("method", ev.method), ("path", ev.target)]
        self._write(ev.at, 0, "request started", attrs)

    def call_start(self, ev: Outgoing) -> None:
        attrs = [("id", ev.request_id), ("peer_service", ev.peer), ("method", ev.method)]
        self._write(ev.at, 0, "calling service", [*attrs, ("url", ev.url)])

    def call_end(self, ev: Outgoing) -> None:
        attrs: list[tuple[str, object]] = [
            ("id", ev.request_id),
            ("peer_service", ev.peer),
            ("method", ev.method),
            ("url", ev.url),
            ("status", "" if ev.status is None else ev.status),
            ("duration", go_duration(ns(ev.duration_s))),
        ]
        self._write(ev.at, ev.status, "service responded", attrs)

    def served_end(self, ev: Served) -> None:
        attrs: list[tuple[str, object]] = [
            ("id", ev.request_id),
            ("method", ev.method),
            ("path", ev.target),
            ("status", ev.status),
            ("duration", go_duration(ns(ev.duration_s))),
        ]
        self._write(ev.at, 0, "request completed", attrs)


def _rfc3339_nano(epoch_s: float, stamp_text: str) -> str:
    """`2026-12-03T10:40:23.88473338Z`: nanoseconds with trailing zeros dropped."""
    nanos = round(epoch_s * 1e9) % 1_000_000_000
    frac = f"{nanos:09d}".rstrip("0")
    return f"{stamp_text}.{frac}Z" if frac else f"{stamp_text}Z"


class SlogJson(Shape):
    """log/slog JSONHandler: RFC3339Nano time, `duration` in integer nanoseconds; end lines only."""

    def _write(self, at: float, status: int | None, msg: str, attrs: dict[str, object]) -> None:
        skewed = at + self.ctx.skew_s
        record: dict[str, object] = {
            "time": _rfc3339_nano(skewed, f"{self.clock(at):%Y-%m-%dT%H:%M:%S}"),
            "level": "ERROR" if failed(status) else "INFO",
            "msg": msg,
            **attrs,
        }
        self.write(go_json(record))

    def call_end(self, ev: Outgoing) -> None:
        attrs: dict[str, object] = {
            self.id_key: ev.request_id,
            "peer": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "status": ev.status,
            "duration": ns(ev.duration_s),
        }
        self._write(ev.at, ev.status, "outgoing request", attrs)

    def served_end(self, ev: Served) -> None:
        attrs: dict[str, object] = {
            self.id_key: ev.request_id,
            "method": ev.method,
            "path": ev.target,
            "status": ev.status,
            "duration": ns(ev.duration_s),
        }
        self._write(ev.at, 200, "request completed", attrs)


class Zap(Shape):
    """zap.NewProduction(): epoch-seconds `ts`, `caller`, durations in float seconds.

    Served requests are logged the way gin-contrib/zap does (the message is the path);
    Error lines carry a `stacktrace`, as zap adds one to every Error-level entry.
    """

    def _write(
        self, at: float, error: bool, caller: str, msg: str, fields: Mapping[str, object]
    ) -> None:
        record: dict[str, object] = {
            "level": "error" if error else "info",
            "ts": Raw(go_float(at + self.ctx.skew_s)),
            "caller": caller,
            "msg": msg,
            **fields,
        }
        if error:
            record["stacktrace"] = (
                "main.(*client).Do\n\t/srv/app/internal/client/http.go:57\n"
                "main.(*server).handle\n\t/srv/app/internal/server/handlers.go:88\n"
                "net/http.HandlerFunc.ServeHTTP\n\t/usr/lib/go-1.22/src/net/http/server.go:2166"
            )
        self.write(go_json(record))

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "peer": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "status": ev.status,
            "duration": Raw(go_float(ns(ev.duration_s) / 1e9)),
        }
        self._write(ev.at, failed(ev.status), "client/http.go:57", "upstream call", fields)

    def served_end(self, ev: Served) -> None:
        parts = urlsplit(ev.target)
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "status": ev.status,
            "method": ev.method,
            "path": parts.path,
            "query": parts.query,
            "ip": ev.remote.rsplit(":", 1)[0],
            "user-agent": "" if ev.user_agent == "-" else ev.user_agent,
            "latency": Raw(go_float(ns(ev.duration_s) / 1e9)),
        }
        self._write(ev.at, False, "ginzap@v1.1.3/zap.go:82", parts.path, fields)


class Zerolog(Shape):
    """zerolog's global logger: `time` (whole seconds) last but for `message`; Dur in float ms.

    Served requests as in zerolog's README access handler (`Msg("")`, so no message key).
    """

    def _write(self, at: float, status: int | None, msg: str, fields: Mapping[str, object]) -> None:
        """`fields` starts with `id`, the request id bound to the logger."""
        record: dict[str, object] = {
            "level": "error" if failed(status) else "info",
            self.id_key: fields["id"],
            **{k: v for k, v in fields.items() if k != "id"},
            "time": f"{self.clock(at):%Y-%m-%dT%H:%M:%S}Z",
        }
        if msg:
            record["message"] = msg
        self.write(go_json(record))

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            "id": ev.request_id,
            "service": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "status": ev.status,
            "duration": Raw(go_float(ns(ev.duration_s) / 1e6)),
        }
        self._write(ev.at, ev.status, "downstream request", fields)

    def served_end(self, ev: Served) -> None:
        fields: dict[str, object] = {
            "id": ev.request_id,
            "method": ev.method,
            "url": ev.target,
            "status": ev.status,
            "size": ev.size,
            "duration": Raw(go_float(ns(ev.duration_s) / 1e6)),
        }
        self._write(ev.at, 200, "", fields)


_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class LogrusText(Shape):
    """logrus TextFormatter (no tty): `time="...Z" level=info msg="..."`, fields sorted.

    Served requests as negroni-logrus writes them (`started handling request`,
    `completed handling request` with `took` and `measure#web.latency`).
    """

    def _write(self, at: float, error: bool, msg: str, fields: Mapping[str, object]) -> None:
        stamp = f"{self.clock(at):%Y-%m-%dT%H:%M:%S}Z"
        body = " ".join(f"{k}={_logrus_quote(fields[k])}" for k in sorted(fields))
        level = "error" if error else "info"
        self.write(f"time={_logrus_quote(stamp)} level={level} msg={_logrus_quote(msg)} {body}")

    def _request(self, ev: Served) -> dict[str, object]:
        return {
            self.id_key: ev.request_id,
            "method": ev.method,
            "remote": ev.remote,
            "request": ev.target,
        }

    def served_start(self, ev: Served) -> None:
        self._write(ev.at, False, "started handling request", self._request(ev))

    def call_end(self, ev: Outgoing) -> None:
        fields: dict[str, object] = {
            self.id_key: ev.request_id,
            "peer": ev.peer,
            "method": ev.method,
            "url": ev.url,
            "status": "" if ev.status is None else ev.status,
            "duration": go_duration(ns(ev.duration_s)),
        }
        self._write(ev.at, failed(ev.status), "upstream request", fields)

    def served_end(self, ev: Served) -> None:
        fields = {
            **self._request(ev),
            "measure#web.latency": ns(ev.duration_s),
            "status": ev.status,
            "text_status": _STATUS_TEXT.get(ev.status, ""),
            "took": go_duration(ns(ev.duration_s)),
        }
        self._write(ev.at, False, "completed handling request", fields)
