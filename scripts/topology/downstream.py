"""The downstream services behind mesh-1: "inventory" (stdlib logging) and "users" (free text)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qs, urlsplit

from topology.applogs import TextLog
from topology.service_base import Jitter, JsonHandler, ServiceServer

Reply = tuple[int, object]


@dataclass
class InventoryApp:
    """State of one inventory instance."""

    log: logging.Logger
    jitter: Jitter
    # Request ids that already hit a busy reservation lock: their retry succeeds, which
    # makes the api's retry deterministic without any test-only header.
    _contended: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def first_reservation_attempt(self, request_id: str) -> bool:
        """True the first time a request id asks for a reservation."""
        with self._lock:
            if len(self._contended) > 100_000:  # bounded memory on very long runs
                self._contended.clear()
            if request_id in self._contended:
                return False
            self._contended.add(request_id)
            return True


def _item(app: InventoryApp, handler: JsonHandler, item_id: str) -> Reply:
    app.jitter.sleep_ms(2, 15)
    return 200, {"id": int(item_id), "stock": int(item_id) * 7 % 50}


def _items(app: InventoryApp, handler: JsonHandler, query: str) -> Reply:
    ids = [int(i) for i in parse_qs(query).get("ids", [""])[0].split(",") if i]
    # One query for many ids: a little more work than one item, far less than N items.
    app.jitter.sleep_ms(3 + 0.4 * len(ids), 8 + 0.6 * len(ids))
    return 200, {"items": [{"id": i, "stock": i * 7 % 50} for i in ids]}


def _stats(app: InventoryApp, handler: JsonHandler) -> Reply:
    app.jitter.sleep_ms(4, 15)
    return 200, {"items": 1000, "low_stock": 17}


def _take_reservation_lock(item_id: str) -> None:
    raise RuntimeError(f"reservation lock for item {item_id} is held by another order")


def _reserve(app: InventoryApp, handler: JsonHandler, item_id: str) -> Reply:
    handler.read_body()
    app.jitter.sleep_ms(2, 6)
    if app.first_reservation_attempt(handler.request_id()):
        _take_reservation_lock(item_id)
    return 200, {"reserved": int(item_id)}


class InventoryHandler(JsonHandler):
    """Routes /inventory/...; one log line per request, written when it ends."""

    server_version = "inventory/1.0"

    def do_GET(self) -> None:
        """Serve a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST."""
        self._serve()

    def _route(self, app: InventoryApp) -> Reply:
        parts = urlsplit(self.path)
        if self.command == "GET":
            if m := re.fullmatch(r"/inventory/items/(\d+)", parts.path):
                return _item(app, self, m[1])
            if parts.path == "/inventory/items":
                return _items(app, self, parts.query)
            if parts.path == "/inventory/stats":
                return _stats(app, self)
        if self.command == "POST" and (m := re.fullmatch(r"/inventory/reserve/(\d+)", parts.path)):
            return _reserve(app, self, m[1])
        return 404, {"error": "no such route"}

    def _serve(self) -> None:
        app = cast(InventoryApp, cast(ServiceServer, self.server).app)
        start = time.time()
        t0 = time.perf_counter()
        rid = self.request_id()
        try:
            status, payload = self._route(app)
        except RuntimeError as exc:
            self.reply(503, {"error": str(exc)})
            self._log_exception(app, start, t0, rid, 503)
            return
        except Exception as exc:
            self.reply(500, {"error": type(exc).__name__})
            self._log_exception(app, start, t0, rid, 500)
            return
        self.reply(status, payload)
        elapsed = time.perf_counter() - t0
        level = logging.ERROR if status >= 500 else logging.INFO
        app.log.log(
            level,
            "rid=%s %s %s %d in %.1fms",
            rid,
            self.command,
            self.path,
            status,
            elapsed * 1000,
            extra={"at": start + elapsed},
        )

    def _log_exception(
        self, app: InventoryApp, start: float, t0: float, rid: str, status: int
    ) -> None:
        # Called inside the `except` block: logging.exception appends the real traceback.
        elapsed = time.perf_counter() - t0
        app.log.exception(
            "rid=%s %s %s %d in %.1fms",
            rid,
            self.command,
            self.path,
            status,
            elapsed * 1000,
            extra={"at": start + elapsed},
        )


@dataclass
class UsersApp:
    """State of one users instance."""

    log: TextLog
    jitter: Jitter


def _user(app: UsersApp, uid: str) -> Reply:
    app.jitter.sleep_ms(2, 10)
    return 200, {"id": int(uid), "name": f"user{uid}"}


def _prefs(app: UsersApp, uid: str) -> Reply:
    app.jitter.sleep_ms(2, 8)
    return 200, {"id": int(uid), "theme": "dark" if int(uid) % 2 else "light"}


def _recs(app: UsersApp, uid: str) -> Reply:
    # The recommendation model is "down": the api is expected to swallow this 500.
    app.jitter.sleep_ms(3, 8)
    return 500, {"error": "recommendation model unavailable"}


USERS_ROUTES: tuple[tuple[str, Callable[[UsersApp, str], Reply]], ...] = (
    (r"/users/(\d+)", _user),
    (r"/users/(\d+)/prefs", _prefs),
    (r"/users/(\d+)/recs", _recs),
)


class UsersHandler(JsonHandler):
    """Routes /users/...; one free-text line per request, written when it ends."""

    server_version = "users/1.0"

    def do_GET(self) -> None:
        """Serve a GET."""
        app = cast(UsersApp, cast(ServiceServer, self.server).app)
        start = time.time()
        t0 = time.perf_counter()
        status, payload = 404, cast(object, {"error": "no such route"})
        path = urlsplit(self.path).path
        for pattern, route in USERS_ROUTES:
            if m := re.fullmatch(pattern, path):
                status, payload = route(app, m[1])
                break
        self.reply(status, payload)
        elapsed = time.perf_counter() - t0
        app.log.served(
            start + elapsed,
            request_id=self.request_id(),
            method="GET",
            target=self.path,
            status=status,
            elapsed_s=elapsed,
        )
