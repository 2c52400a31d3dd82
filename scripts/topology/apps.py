"""What every service process shares: its peers, outgoing calls, the served-request handler.

Each app writes, besides its log, the true start/end of every request it served and of
every call it made to a side channel (`truth/<host>.jsonl`). A call carries an
`X-Truth-Ref` header that the callee records, so the harness can join a call to the
request it became at the callee (through a proxy or not) without reading any log.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from topology.applogs import LineFile, Outgoing, Served, Shape
from topology.propagation import PROPAGATIONS, new_span_id
from topology.service_base import Jitter, JsonHandler, ServiceServer
from topology.shapes import make_shape

# One clock for every time an app records: the wall clock read once, advanced by the
# monotonic one. Start times (wall) and durations (monotonic) then agree even when the
# VM's wall clock is stepped between two readings: two calls sent before either answer
# was read were once recorded 1 ms apart, the second starting after the first ended.
_WALL0 = time.time()
_MONO0 = time.perf_counter()


def wall_time(mono: float) -> float:
    """The wall-clock time of a ``time.perf_counter()`` reading, on the app's one clock."""
    return _WALL0 + (mono - _MONO0)


Reply = tuple[int, object]
CALL_TIMEOUT_S = 5.0
TRUTH_REF = "X-Truth-Ref"
CLIENT_SEQ = "X-Client-Seq"


@dataclass(frozen=True)
class Peer:
    """How an app reaches a service: the port it connects to and the path mapping on the way."""

    service: str
    base: str  # the prefix of the service's routes
    port: int
    proxy: str | None  # the proxy host in between; None when called directly
    public: str = ""  # the proxy location's prefix
    upstream: str = ""  # what the proxy puts in its place
    client_base: str = ""  # the path part of the client's base URL

    def wire(self, native: str) -> str:
        """The request-target sent for a path the service serves as `native`."""
        if self.proxy is None:
            return native
        return self.public + native[len(self.upstream) :]


@dataclass(frozen=True)
class AppConfig:
    """One app process, as the harness writes it to extra/<host>.json."""

    host: str
    service: str
    role: str
    base: str
    shape: str
    id_key: str | None
    skew_s: float
    seed: int
    propagation: str
    log: str
    truth: str
    shared: str  # a directory the service's instances share
    serving: str  # created once the app serves (the harness waits for it)

    @classmethod
    def read(cls, path: Path) -> AppConfig:
        """Load a config file."""
        return cls(**json.loads(path.read_text(encoding="utf-8")))


@dataclass
class CallRecord:
    """One outgoing call as the caller saw it, on the true clock."""

    ref: str
    caller: str
    caller_host: str
    callee: str
    method: str
    target: str  # the request-target sent (what a proxy logs)
    route: str  # the callee's route template
    caller_path: str  # the path the caller's log line shows
    proxy: str | None
    start: float
    end: float
    status: int | None
    attempt: int
    concurrent_group: int | None


@dataclass
class RequestContext:
    """One served request while the app works on it."""

    request_id: str
    span_id: str | None
    seq: int | None
    ref: str | None
    calls: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: CallRecord) -> None:
        """Record a finished call (parallel calls finish on other threads)."""
        with self._lock:
            self.calls.append(call)


@dataclass(frozen=True)
class Request:
    """A served request as a router sees it: the path is relative to the service's base."""

    method: str
    path: str
    query: str
    body: bytes


Router = Callable[["App", RequestContext, Request], Reply]


class PendingCall:
    """A call sent and not yet answered (several can be in flight at once)."""

    def __init__(
        self,
        app: App,
        ctx: RequestContext,
        event: Outgoing,
        record: CallRecord,
        port: int,
        *,
        t0: float,
    ) -> None:
        self.app, self.ctx, self.event, self.record = app, ctx, event, record
        self.t0 = t0  # time.perf_counter() when the call started (record.start)
        self.conn = HTTPConnection("127.0.0.1", port, timeout=CALL_TIMEOUT_S)
        self.failed = False

    def finish(self) -> int | None:
        """Read the answer, log the call's end and record it; its status, None on an error."""
        status: int | None = None
        try:
            if not self.failed:
                response = self.conn.getresponse()
                response.read()
                status = response.status
        except (OSError, HTTPException):
            status = None
        finally:
            self.conn.close()
        duration = time.perf_counter() - self.t0
        end = self.record.start + duration
        self.app.log.call_end(replace(self.event, at=end, status=status, duration_s=duration))
        self.record.end, self.record.status = end, status
        self.ctx.add(self.record)
        return status


class App:
    """The state of one app process."""

    def __init__(self, config: AppConfig, peers: dict[str, Peer], router: Router) -> None:
        self.config = config
        self.host = config.host
        self.seed = config.seed
        self.peers = peers
        self.router = router
        self.propagation = PROPAGATIONS[config.propagation]
        self.log: Shape = make_shape(
            config.shape,
            path=Path(config.log),
            host=config.host,
            service=config.service,
            skew_s=config.skew_s,
            id_key=config.id_key,
        )
        self.truth = LineFile(Path(config.truth))
        self.jitter = Jitter(f"{config.seed}/{config.host}")
        self._refs = itertools.count(1)
        self._lock = threading.Lock()
        self._shared = Path(config.shared)

    def first_time(self, key: str) -> bool:
        """True the first time any instance of the service sees a key.

        The instances share a directory (as they would share a database): creating a
        file for the key succeeds only once.
        """
        try:
            os.close(os.open(self._shared / key, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def send(
        self,
        ctx: RequestContext,
        role: str,
        method: str,
        rel: str,
        route_rel: str,
        *,
        attempt: int = 1,
        concurrent_group: int | None = None,
    ) -> PendingCall:
        """Send a call to the service of a role at `rel` (under its base); finish() awaits it."""
        peer = self.peers[role]
        wire = peer.wire(peer.base + rel)
        with self._lock:
            ref = f"{self.host}/{next(self._refs)}"
        t0 = time.perf_counter()
        start = wall_time(t0)
        event = Outgoing(
            ctx.request_id,
            ctx.span_id,
            peer.service,
            method,
            f"http://127.0.0.1:{peer.port}{wire}",
            wire,
            wire[len(peer.client_base) :],
            start,
        )
        record = CallRecord(
            ref=ref,
            caller=self.config.service,
            caller_host=self.host,
            callee=peer.service,
            method=method,
            target=wire,
            route=peer.base + route_rel,
            caller_path=self.log.call_shown(event),
            proxy=peer.proxy,
            start=start,
            end=start,
            status=None,
            attempt=attempt,
            concurrent_group=concurrent_group,
        )
        pending = PendingCall(self, ctx, event, record, peer.port, t0=t0)
        self.log.call_start(event)
        headers = {
            **self.propagation.outgoing(ctx.request_id, ctx.span_id),
            TRUTH_REF: ref,
            "Content-Type": "application/json",
        }
        try:
            body = b"{}" if method == "POST" else None
            pending.conn.request(method, wire, body=body, headers=headers)
        except (OSError, HTTPException):
            pending.failed = True
        return pending

    def call(
        self,
        ctx: RequestContext,
        role: str,
        method: str,
        rel: str,
        route_rel: str,
        *,
        attempt: int = 1,
    ) -> int | None:
        """Call the service of a role and wait for its answer; None on a network error."""
        return self.send(ctx, role, method, rel, route_rel, attempt=attempt).finish()

    def close(self) -> None:
        """Flush and close the log and the side channel."""
        self.log.close()
        self.truth.close()


class AppHandler(JsonHandler):
    """Serves a request through the app's router, logs it, and records the truth."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    def _serve(self) -> None:
        app = cast(App, cast(ServiceServer, self.server).app)
        body = self.read_body() if self.command == "POST" else b""
        t0 = time.perf_counter()
        start = wall_time(t0)
        seq = self.headers.get(CLIENT_SEQ) or ""
        ctx = RequestContext(
            app.propagation.read(self.headers),
            new_span_id() if app.propagation.spans else None,
            int(seq) if seq.isdigit() else None,
            self.headers.get(TRUTH_REF),
        )
        served = Served(
            ctx.request_id,
            ctx.span_id,
            self.command,
            self.path,
            start,
            user_agent=self.headers.get("User-Agent") or "-",
            remote=f"{self.client_address[0]}:{self.client_address[1]}",
        )
        app.log.served_start(served)
        error: BaseException | None = None
        try:
            status, payload = self._route(app, ctx, body)
        except RuntimeError as exc:
            status, payload, error = 503, {"error": str(exc)}, exc
        except Exception as exc:
            status, payload, error = 500, {"error": type(exc).__name__}, exc
        delivered = self.reply(status, payload)
        duration = time.perf_counter() - t0
        end = start + duration
        size = len(json.dumps(payload).encode())
        app.log.served_end(
            replace(served, at=end, status=status, duration_s=duration, size=size, error=error)
        )
        record: dict[str, Any] = {
            "seq": ctx.seq,
            "ref": ctx.ref,
            "request_id": ctx.request_id,
            "service": app.config.service,
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

    def _route(self, app: App, ctx: RequestContext, body: bytes) -> Reply:
        parts = urlsplit(self.path)
        base = app.config.base
        if not parts.path.startswith(base):
            return 404, {"error": "no such route"}
        rel = parts.path[len(base) :] or "/"
        return app.router(app, ctx, Request(self.command, rel, parts.query, body))
