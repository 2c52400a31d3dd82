"""The "api" service (api-1, api-2): the endpoints that plant each performance pattern.

Every outgoing call goes through mesh-1 with the request's X-Request-ID, and the api
writes the true start/end of the request and of each call to a side channel
(`truth/<host>.jsonl`) that the harness merges into the ground truth.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.client import HTTPConnection, HTTPException
from typing import cast
from urllib.parse import urlsplit

from topology.applogs import ApiLog, LineFile
from topology.layout import PEER_HOSTS
from topology.service_base import JsonHandler, ServiceServer

Reply = tuple[int, object]

CALL_TIMEOUT_S = 5.0
RESERVE_BACKOFF_S = 0.020
REPORT_WORK_S = 1.35  # plus a downstream call: ~1.4 s, past the edge's 1 s read timeout
SEARCH_WORK_S = 0.6  # the client gives up after 0.3 s


@dataclass
class Call:
    """One outgoing call as the api saw it, on the true clock."""

    caller: str
    caller_host: str
    callee: str
    callee_host: str
    method: str
    target: str
    route: str
    start: float
    end: float
    status: int | None
    attempt: int
    concurrent_group: int | None


@dataclass
class RequestContext:
    """One incoming request while the api works on it."""

    request_id: str
    seq: int | None
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        """Record a finished call (parallel calls finish on other threads)."""
        with self._lock:
            self.calls.append(call)


@dataclass
class ApiApp:
    """State of one api instance: its host name, log, side channel and the mesh."""

    host: str
    mesh_port: int
    seed: int
    log: ApiLog
    truth: LineFile

    def call(
        self,
        ctx: RequestContext,
        peer: str,
        method: str,
        target: str,
        route: str,
        *,
        attempt: int = 1,
        concurrent_group: int | None = None,
    ) -> int | None:
        """Call a downstream service through mesh-1; returns its status, None on a network error."""
        start = time.time()
        t0 = time.perf_counter()
        status: int | None = None
        conn = HTTPConnection("127.0.0.1", self.mesh_port, timeout=CALL_TIMEOUT_S)
        try:
            body = b"{}" if method == "POST" else None
            headers = {"X-Request-ID": ctx.request_id, "Content-Type": "application/json"}
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, HTTPException):
            status = None
        finally:
            conn.close()
        duration = time.perf_counter() - t0
        end = start + duration
        url = f"http://127.0.0.1:{self.mesh_port}{target}"
        self.log.call(
            end,
            request_id=ctx.request_id,
            peer=peer,
            method=method,
            url=url,
            target=target,
            status=status,
            duration_s=duration,
        )
        ctx.add(
            Call(
                caller="api",
                caller_host=self.host,
                callee=peer,
                callee_host=PEER_HOSTS[peer],
                method=method,
                target=target,
                route=route,
                start=start,
                end=end,
                status=status,
                attempt=attempt,
                concurrent_group=concurrent_group,
            )
        )
        return status


def _ok(status: int | None) -> int:
    return 200 if status == 200 else 502


def _order(app: ApiApp, ctx: RequestContext, oid: str) -> Reply:
    status = app.call(ctx, "inventory", "GET", f"/inventory/items/{oid}", "/inventory/items/{id}")
    return _ok(status), {"order": int(oid)}


def _order_item_ids(app: ApiApp, oid: str) -> list[int]:
    # The same order always has the same items, on both api hosts.
    rng = random.Random(f"{app.seed}/order/{oid}")
    return rng.sample(range(1, 1000), rng.randint(8, 15))


def _order_items(app: ApiApp, ctx: RequestContext, oid: str) -> Reply:
    """N+1: one call per item, one after the other."""
    statuses = [
        app.call(ctx, "inventory", "GET", f"/inventory/items/{k}", "/inventory/items/{id}")
        for k in _order_item_ids(app, oid)
    ]
    return _ok(200 if all(s == 200 for s in statuses) else None), {"items": len(statuses)}


def _order_items_batch(app: ApiApp, ctx: RequestContext, oid: str) -> Reply:
    """The control for N+1: the same items in one batched call."""
    ids = ",".join(str(k) for k in _order_item_ids(app, oid))
    status = app.call(ctx, "inventory", "GET", f"/inventory/items?ids={ids}", "/inventory/items")
    return _ok(status), {"order": int(oid)}


def _dashboard(app: ApiApp, ctx: RequestContext, uid: str) -> Reply:
    """Two independent calls made one after the other."""
    user = app.call(ctx, "users", "GET", f"/users/{uid}", "/users/{id}")
    stats = app.call(ctx, "inventory", "GET", "/inventory/stats", "/inventory/stats")
    return _ok(user if stats == 200 else stats), {"user": int(uid)}


def _dashboard_parallel(app: ApiApp, ctx: RequestContext, uid: str) -> Reply:
    """The control for `sequential`: the same two calls, overlapping in time."""
    # The barrier releases both threads together, so the calls overlap even on a busy box.
    barrier = threading.Barrier(2, timeout=CALL_TIMEOUT_S)
    results: dict[str, int | None] = {}

    def run(key: str, peer: str, target: str, route: str) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        results[key] = app.call(ctx, peer, "GET", target, route, concurrent_group=1)

    threads = [
        threading.Thread(target=run, args=("user", "users", f"/users/{uid}", "/users/{id}")),
        threading.Thread(
            target=run, args=("stats", "inventory", "/inventory/stats", "/inventory/stats")
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CALL_TIMEOUT_S * 2)
    ok = results.get("user") == 200 and results.get("stats") == 200
    return _ok(200 if ok else None), {"user": int(uid)}


def _profile(app: ApiApp, ctx: RequestContext, uid: str) -> Reply:
    """Control: two routes of the same service, one after the other."""
    user = app.call(ctx, "users", "GET", f"/users/{uid}", "/users/{id}")
    prefs = app.call(ctx, "users", "GET", f"/users/{uid}/prefs", "/users/{id}/prefs")
    return _ok(user if prefs == 200 else prefs), {"user": int(uid)}


def _cart(app: ApiApp, ctx: RequestContext, uid: str) -> Reply:
    """The identical call three times: a cache candidate."""
    statuses = [app.call(ctx, "users", "GET", f"/users/{uid}", "/users/{id}") for _ in range(3)]
    return _ok(200 if all(s == 200 for s in statuses) else None), {"user": int(uid)}


def _flaky(app: ApiApp, ctx: RequestContext, oid: str) -> Reply:
    # Nothing odd here: the edge's first attempt went to a dead server before this one.
    return _order(app, ctx, oid)


def _reserve(app: ApiApp, ctx: RequestContext, oid: str) -> Reply:
    """Retry once after a short backoff when inventory answers 503."""
    target, route = f"/inventory/reserve/{oid}", "/inventory/reserve/{id}"
    status = app.call(ctx, "inventory", "POST", target, route, attempt=1)
    if status == 503:
        time.sleep(RESERVE_BACKOFF_S)
        status = app.call(ctx, "inventory", "POST", target, route, attempt=2)
    return _ok(status), {"reserved": int(oid)}


def _report(app: ApiApp, ctx: RequestContext, rid: str) -> Reply:
    """Slow work that outlives the edge's 1 s read timeout."""
    time.sleep(REPORT_WORK_S)
    status = app.call(ctx, "inventory", "GET", "/inventory/stats", "/inventory/stats")
    return _ok(status), {"report": int(rid)}


def _search(app: ApiApp, ctx: RequestContext, _: str) -> Reply:
    time.sleep(SEARCH_WORK_S)
    return 200, {"results": []}


def _recommendations(app: ApiApp, ctx: RequestContext, uid: str) -> Reply:
    """A downstream 500 swallowed: the client still gets 200 with a fallback."""
    status = app.call(ctx, "users", "GET", f"/users/{uid}/recs", "/users/{id}/recs")
    fallback = status != 200
    return 200, {"user": int(uid), "recommendations": [], "fallback": fallback}


Endpoint = Callable[[ApiApp, RequestContext, str], Reply]

GET_ROUTES: tuple[tuple[str, Endpoint], ...] = (
    (r"/api/orders/(\d+)", _order),
    (r"/api/orders/(\d+)/items", _order_items),
    (r"/api/orders/(\d+)/items-batch", _order_items_batch),
    (r"/api/dashboard/(\d+)", _dashboard),
    (r"/api/dashboard-parallel/(\d+)", _dashboard_parallel),
    (r"/api/profile/(\d+)", _profile),
    (r"/api/cart/(\d+)", _cart),
    (r"/api/flaky/(\d+)", _flaky),
    (r"/api/reserve/(\d+)", _reserve),
    (r"/api/report/(\d+)", _report),
    (r"/api/search", _search),
    (r"/api/recommendations/(\d+)", _recommendations),
)


class ApiHandler(JsonHandler):
    """Dispatches to the endpoints, logs start and end, and records the truth."""

    server_version = "api/1.0"

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve(b"")

    def do_POST(self) -> None:
        """Serve a POST (only /api/upload exists)."""
        self._serve(self.read_body())

    def _dispatch(self, app: ApiApp, ctx: RequestContext, body: bytes) -> Reply:
        path = urlsplit(self.path).path
        if self.command == "POST":
            if path == "/api/upload":
                return 200, {"received_bytes": len(body)}
            return 404, {"error": "no such route"}
        for pattern, endpoint in GET_ROUTES:
            if m := re.fullmatch(pattern, path):
                return endpoint(app, ctx, m[1] if m.re.groups else "")
        return 404, {"error": "no such route"}

    def _serve(self, body: bytes) -> None:
        app = cast(ApiApp, cast(ServiceServer, self.server).app)
        start = time.time()
        t0 = time.perf_counter()
        seq_header = self.headers.get("X-Client-Seq") or ""
        ctx = RequestContext(self.request_id(), int(seq_header) if seq_header.isdigit() else None)
        app.log.started(start, request_id=ctx.request_id, method=self.command, path=self.path)
        status, payload = self._dispatch(app, ctx, body)
        delivered = self.reply(status, payload)
        duration = time.perf_counter() - t0
        end = start + duration
        app.log.finished(
            end,
            request_id=ctx.request_id,
            method=self.command,
            path=self.path,
            status=status,
            duration_s=duration,
        )
        record = {
            "seq": ctx.seq,
            "request_id": ctx.request_id,
            "service": "api",
            "host": app.host,
            "method": self.command,
            "target": self.path,
            "start": start,
            "end": end,
            "status": status,
            "delivered": delivered,
            "calls": [asdict(c) for c in sorted(ctx.calls, key=lambda c: c.start)],
        }
        app.truth.write(json.dumps(record))
