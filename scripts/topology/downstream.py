"""The services behind the api: "inventory", "users" and "feed" (which calls users).

Paths here are relative to the service's base (its routes may live under /inventory,
/profile or at the root, depending on the variant).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from topology.apps import App, Reply, Request, RequestContext

NOT_FOUND: Reply = (404, {"error": "no such route"})


def _take_reservation_lock(item_id: str) -> None:
    raise RuntimeError(f"reservation lock for item {item_id} is held by another order")


def inventory(app: App, ctx: RequestContext, req: Request) -> Reply:
    """Items, a batched lookup, stats, and reservations whose first attempt fails (503)."""
    path = req.path
    if req.method == "GET":
        if m := re.fullmatch(r"/items/(\d+)", path):
            app.jitter.sleep_ms(2, 15)
            return 200, {"id": int(m[1]), "stock": int(m[1]) * 7 % 50}
        if path == "/items":
            ids = [int(i) for i in parse_qs(req.query).get("ids", [""])[0].split(",") if i]
            # One query for many ids: a little more work than one item, far less than N items.
            app.jitter.sleep_ms(3 + 0.4 * len(ids), 8 + 0.6 * len(ids))
            return 200, {"items": [{"id": i, "stock": i * 7 % 50} for i in ids]}
        if path == "/stats":
            app.jitter.sleep_ms(4, 15)
            return 200, {"items": 1000, "low_stock": 17}
    if req.method == "POST" and (m := re.fullmatch(r"/reserve/(\d+)", path)):
        app.jitter.sleep_ms(2, 6)
        # The first attempt of each request hits a busy lock: the api's retry then succeeds,
        # deterministically and without any test-only header.
        if app.first_time(ctx.request_id):
            _take_reservation_lock(m[1])
        return 200, {"reserved": int(m[1])}
    return NOT_FOUND


def users(app: App, ctx: RequestContext, req: Request) -> Reply:
    """A user, their preferences, and recommendations whose model is down (500)."""
    path = req.path
    if req.method != "GET":
        return NOT_FOUND
    if m := re.fullmatch(r"/(\d+)", path):
        app.jitter.sleep_ms(2, 10)
        return 200, {"id": int(m[1]), "name": f"user{m[1]}"}
    if m := re.fullmatch(r"/(\d+)/prefs", path):
        app.jitter.sleep_ms(2, 8)
        return 200, {"id": int(m[1]), "theme": "dark" if int(m[1]) % 2 else "light"}
    if re.fullmatch(r"/(\d+)/recs", path):
        # The recommendation model is "down": the api is expected to swallow this 500.
        app.jitter.sleep_ms(3, 8)
        return 500, {"error": "recommendation model unavailable"}
    return NOT_FOUND


def feed(app: App, ctx: RequestContext, req: Request) -> Reply:
    """A user's feed: the owner's profile from users, then some work of its own."""
    if req.method != "GET" or not (m := re.fullmatch(r"/(\d+)", req.path)):
        return NOT_FOUND
    app.jitter.sleep_ms(1, 4)
    status = app.call(ctx, "users", "GET", f"/{m[1]}", "/{id}")
    app.jitter.sleep_ms(2, 8)
    limit = int(parse_qs(req.query).get("limit", ["20"])[0])
    return (200 if status == 200 else 502), {"owner": int(m[1]), "items": [], "limit": limit}
