"""The "api" role (behind the edges): the endpoints that plant each performance pattern.

Calls name the service they go to by role (inventory, users, feed) and a path under
that service's base; the app's peers decide whether that goes through a proxy (with
which prefix) or straight to the service.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

from topology.apps import App, Reply, Request, RequestContext

RESERVE_BACKOFF_S = 0.020
REPORT_WORK_S = 1.35  # plus a downstream call: ~1.4 s, past the edge's 1 s read timeout
SEARCH_WORK_S = 0.6  # the client gives up after 0.3 s


def _ok(status: int | None) -> int:
    return 200 if status == 200 else 502


def _order(app: App, ctx: RequestContext, oid: str) -> Reply:
    status = app.call(ctx, "inventory", "GET", f"/items/{oid}", "/items/{id}")
    return _ok(status), {"order": int(oid)}


def _order_item_ids(app: App, oid: str) -> list[int]:
    # The same order always has the same items, on every api host.
    rng = random.Random(f"{app.seed}/order/{oid}")
    return rng.sample(range(1, 1000), rng.randint(8, 15))


def _order_items(app: App, ctx: RequestContext, oid: str) -> Reply:
    """N+1: one call per item, one after the other."""
    statuses = [
        app.call(ctx, "inventory", "GET", f"/items/{k}", "/items/{id}")
        for k in _order_item_ids(app, oid)
    ]
    return _ok(200 if all(s == 200 for s in statuses) else None), {"items": len(statuses)}


def _order_items_batch(app: App, ctx: RequestContext, oid: str) -> Reply:
    """The control for N+1: the same items in one batched call."""
    ids = ",".join(str(k) for k in _order_item_ids(app, oid))
    status = app.call(ctx, "inventory", "GET", f"/items?ids={ids}", "/items")
    return _ok(status), {"order": int(oid)}


def _dashboard(app: App, ctx: RequestContext, uid: str) -> Reply:
    """Two independent calls made one after the other."""
    user = app.call(ctx, "users", "GET", f"/{uid}", "/{id}")
    stats = app.call(ctx, "inventory", "GET", "/stats", "/stats")
    return _ok(user if stats == 200 else stats), {"user": int(uid)}


def _dashboard_parallel(app: App, ctx: RequestContext, uid: str) -> Reply:
    """The control for `sequential`: the same two calls, in flight at the same time.

    Both requests are sent before either answer is read, so they overlap however busy
    the machine is (threads released together could still run one after the other).
    """
    user = app.send(ctx, "users", "GET", f"/{uid}", "/{id}", concurrent_group=1)
    stats = app.send(ctx, "inventory", "GET", "/stats", "/stats", concurrent_group=1)
    ok = user.finish() == 200
    ok = stats.finish() == 200 and ok
    return _ok(200 if ok else None), {"user": int(uid)}


def _profile(app: App, ctx: RequestContext, uid: str) -> Reply:
    """Control: two routes of the same service, one after the other."""
    user = app.call(ctx, "users", "GET", f"/{uid}", "/{id}")
    prefs = app.call(ctx, "users", "GET", f"/{uid}/prefs", "/{id}/prefs")
    return _ok(user if prefs == 200 else prefs), {"user": int(uid)}


def _cart(app: App, ctx: RequestContext, uid: str) -> Reply:
    """The identical call three times: a cache candidate."""
    statuses = [app.call(ctx, "users", "GET", f"/{uid}", "/{id}") for _ in range(3)]
    return _ok(200 if all(s == 200 for s in statuses) else None), {"user": int(uid)}


def _flaky(app: App, ctx: RequestContext, oid: str) -> Reply:
    # Nothing odd here: the edge's first attempt went to a dead server before this one.
    return _order(app, ctx, oid)


def _reserve(app: App, ctx: RequestContext, oid: str) -> Reply:
    """Retry once after a short backoff when inventory answers 503."""
    status = app.call(ctx, "inventory", "POST", f"/reserve/{oid}", "/reserve/{id}", attempt=1)
    if status == 503:
        time.sleep(RESERVE_BACKOFF_S)
        status = app.call(ctx, "inventory", "POST", f"/reserve/{oid}", "/reserve/{id}", attempt=2)
    return _ok(status), {"reserved": int(oid)}


def _report(app: App, ctx: RequestContext, rid: str) -> Reply:
    """Slow work that outlives the edge's 1 s read timeout."""
    time.sleep(REPORT_WORK_S)
    status = app.call(ctx, "inventory", "GET", "/stats", "/stats")
    return _ok(status), {"report": int(rid)}


def _search(app: App, ctx: RequestContext, _: str) -> Reply:
    time.sleep(SEARCH_WORK_S)
    return 200, {"results": []}


def _recommendations(app: App, ctx: RequestContext, uid: str) -> Reply:
    """A downstream 500 swallowed: the client still gets 200 with a fallback."""
    status = app.call(ctx, "users", "GET", f"/{uid}/recs", "/{id}/recs")
    fallback = status != 200
    return 200, {"user": int(uid), "recommendations": [], "fallback": fallback}


def _feed(app: App, ctx: RequestContext, uid: str) -> Reply:
    """A call to feed, which calls users in turn: a chain three services deep."""
    status = app.call(ctx, "feed", "GET", f"/{uid}?limit=20", "/{id}")
    return _ok(status), {"user": int(uid)}


Endpoint = Callable[[App, RequestContext, str], Reply]

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
    (r"/api/feed/(\d+)", _feed),
)


def route(app: App, ctx: RequestContext, req: Request) -> Reply:
    """Dispatch one request of the api role."""
    if req.method == "POST":
        if req.path == "/api/upload":
            return 200, {"received_bytes": len(req.body)}
        return 404, {"error": "no such route"}
    for pattern, endpoint in GET_ROUTES:
        if m := re.fullmatch(pattern, req.path):
            return endpoint(app, ctx, m[1] if m.re.groups else "")
    return 404, {"error": "no such route"}
