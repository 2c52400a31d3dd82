"""Small multi-host deployments written as log files, with the parent of every line known.

For unit tests of the join: an edge nginx (``trace`` preset, ``$time_local`` in a +05:30
zone) in front of web apps logging JSON, which call services through an internal nginx
(``trace``-shaped, whole seconds) that strips (or keeps, or rewrites) a path prefix; the
services log logfmt. Times are exact on a true clock; a host may have a skewed clock.
The real-nginx topologies of ``scripts/topology`` test the same with real processes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ZONE = timezone(timedelta(hours=5, minutes=30))
T0 = datetime(2026, 3, 4, 10, 0, 0, tzinfo=UTC)


def _local(at: datetime) -> str:
    return at.astimezone(ZONE).strftime("%d/%b/%Y:%H:%M:%S %z")


def _trace_line(
    end: datetime, method: str, target: str, status: int, *, rt: float, urt: str, rid: str
) -> str:
    return (
        f'127.0.0.1 - - [{_local(end)}] "{method} {target} HTTP/1.1" {status} 12 "-" '
        f'"curl/8.0" {rt:.3f} {urt} {rid}'
    )


@dataclass(frozen=True)
class Call:
    """One call a web app makes to a service, and what the service logs."""

    service: str  # e.g. "users"
    path: str  # as the app calls it: /profile/7
    status: int = 200
    work_s: float = 0.008


@dataclass
class Deployment:
    """The hosts' logs, filled one request at a time."""

    prefix: str = "strip"  # strip | keep | rewrite: what the internal proxy does to paths
    skew_s: dict[str, float] = field(default_factory=dict)  # host -> clock offset
    lines: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)

    def _log(self, host: str, at: datetime, text: str) -> None:
        self.lines.setdefault(host, []).append((at, text))

    def _clock(self, host: str, at: datetime) -> datetime:
        return at + timedelta(seconds=self.skew_s.get(host, 0.0))

    def proxy_path(self, call: Call) -> str:
        if self.prefix == "keep":
            return call.path
        if self.prefix == "rewrite":
            return f"/v1/{call.service}{call.path}"
        return f"/{call.service}-svc{call.path}"

    def request(
        self,
        rid: str,
        at: datetime,
        path: str,
        calls: list[Call],
        web: str,
        *,
        parallel: bool = False,
    ) -> None:
        """One request through edge-1 and ``web``, its calls one after another (or all at
        once)."""
        t = at + timedelta(milliseconds=1)
        server_start = t
        self._app(web, t, {"event": "request_start", "request_id": rid, "path": path})
        t += timedelta(milliseconds=2)
        if parallel:
            t = max(self._call(web, rid, t, call) for call in calls)
        for call in [] if parallel else calls:
            t = self._call(web, rid, t, call)
            t += timedelta(milliseconds=1)
        server_end = t + timedelta(milliseconds=1)
        served = (server_end - server_start).total_seconds()
        self._app(
            web,
            server_end,
            {"event": "request_end", "request_id": rid, "method": "GET", "path": path,
             "status": 200, "duration_ms": round(served * 1000, 3)},
        )  # fmt: skip
        edge_end = server_end + timedelta(microseconds=700)
        rt = (edge_end - at).total_seconds()
        urt = (edge_end - server_start).total_seconds() + 0.0002
        self._log(
            "edge-1",
            edge_end,
            _trace_line(edge_end, "GET", path, 200, rt=rt, urt=f"{urt:.3f}", rid=rid),
        )

    def _app(self, host: str, at: datetime, fields: dict[str, object]) -> None:
        stamp = self._clock(host, at).isoformat(timespec="microseconds").replace("+00:00", "Z")
        self._log(host, at, json.dumps({"ts": stamp, "level": "info", **fields}))

    def _call(self, web: str, rid: str, t: datetime, call: Call) -> datetime:
        start = t
        proxy_start = start + timedelta(microseconds=300)
        svc_start = proxy_start + timedelta(microseconds=500)
        svc_end = svc_start + timedelta(seconds=call.work_s)
        proxy_end = svc_end + timedelta(microseconds=400)
        end = proxy_end + timedelta(microseconds=300)
        host = f"{call.service}-1"
        stamp = self._clock(host, svc_end).isoformat(timespec="microseconds").replace("+00:00", "Z")
        self._log(
            host,
            svc_end,
            f'ts={stamp} level=info msg="request finished" request_id={rid} method=GET '
            f"path={call.path} status={call.status} duration_ms={call.work_s * 1000:.3f}",
        )
        rt = (proxy_end - proxy_start).total_seconds()
        urt = (svc_end - svc_start).total_seconds() + 0.0006
        self._log(
            "proxy-1",
            proxy_end,
            _trace_line(
                proxy_end,
                "GET",
                self.proxy_path(call),
                call.status,
                rt=rt,
                urt=f"{urt:.3f}",
                rid=rid,
            ),
        )
        self._app(
            web,
            end,
            {"event": "downstream_call", "request_id": rid, "target": f"{call.service}-svc",
             "method": "GET", "path": call.path, "status": call.status,
             "duration_ms": round((end - start).total_seconds() * 1000, 3)},
        )  # fmt: skip
        return end

    def write(self, directory: Path) -> Path:
        """Every host's log, lines in the order they were written."""
        directory.mkdir(parents=True, exist_ok=True)
        for host, entries in self.lines.items():
            name = f"{host}.access.log" if host in ("edge-1", "proxy-1") else f"{host}.log"
            ordered = [text for _, text in sorted(entries, key=lambda e: e[0])]
            (directory / name).write_text("\n".join(ordered) + "\n")
        return directory


def busy_deployment(requests: int = 60, seed: int = 3, **options: object) -> Deployment:
    """Requests of a few shapes: one call, N+1 calls, two services, repeats; overlapping."""
    rng = random.Random(seed)
    deployment = Deployment(**options)  # type: ignore[arg-type]
    for i in range(requests):
        at = T0 + timedelta(milliseconds=137 * i + rng.randint(0, 40))
        shape = i % 4
        if shape == 0:
            calls = [Call("users", f"/profile/{rng.randint(1, 99)}")]
        elif shape == 1:
            calls = [Call("items", f"/items/{rng.randint(1, 999)}") for _ in range(6)]
        elif shape == 2:
            calls = [Call("users", "/profile/5"), Call("items", "/stats", work_s=0.012)]
        else:
            calls = [Call("users", "/profile/9")] * 3
        web = f"web-{1 + i % 2}"
        deployment.request(f"{i:032x}", at, f"/api/page/{i}", calls, web)
    return deployment
