"""What the simulated site serves and who asks: routes, clients, statuses, as data.

A route's position in `ROUTES` is its popularity rank (Zipf-like weights). Placeholders
in paths (`{id}`, `{uuid}`, ...) are filled per request by `traffic.py`; downstream calls
reuse the same values, so `/api/products/17` calls `/inventory/items/17`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from loggen.rng import gather


@dataclass(frozen=True)
class Call:
    """A downstream HTTP call that the api makes while serving a route."""

    method: str
    path: str
    ok_status: int = 200


@dataclass(frozen=True)
class Route:
    """One templated endpoint and how it behaves."""

    method: str
    path: str
    service: str  # "api" (proxied), "static" / "nginx" / "scanner" (answered by nginx)
    median_ms: float
    sigma: float
    size: int  # median body bytes
    statuses: str  # a key of STATUS_PROFILES
    tail: float = 0.01  # share of requests that hit a heavy (Pareto) latency tail
    users: Call | None = None
    inventory: Call | None = None
    agent: str | None = None  # a key of AGENT_OVERRIDES; None = the client's own agent
    authenticated: bool = False  # sends HTTP basic auth, so $remote_user is set


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/products/{id}", "api", 28, 0.6, 2400, "read",
          inventory=Call("GET", "/inventory/items/{id}")),
    Route("GET", "/static/app.{build}.js", "static", 0.4, 0.9, 184_000, "static"),
    Route("GET", "/api/search?q={q}", "api", 85, 0.8, 9800, "read", tail=0.03),
    Route("GET", "/api/cart", "api", 22, 0.5, 1300, "read",
          users=Call("GET", "/users/{id}/cart")),
    Route("GET", "/health", "nginx", 0.0, 0.0, 2, "health", tail=0.0, agent="probe"),
    Route("GET", "/api/users/{id}", "api", 18, 0.5, 900, "read",
          users=Call("GET", "/users/{id}")),
    Route("GET", "/static/app.{build}.css", "static", 0.4, 0.9, 61_000, "static"),
    Route("GET", "/images/products/{id}/main.webp", "static", 1.2, 1.0, 45_000, "static"),
    Route("GET", "/api/orders/{id}", "api", 45, 0.6, 3100, "read",
          inventory=Call("GET", "/inventory/orders/{id}/reservations")),
    Route("POST", "/api/cart/items", "api", 60, 0.5, 420, "write",
          inventory=Call("POST", "/inventory/reservations", 201)),
    Route("GET", "/api/recommendations/{uuid}", "api", 120, 0.7, 6400, "read", tail=0.03,
          inventory=Call("GET", "/inventory/items/{id}")),
    Route("GET", "/api/users/{id}/cart", "api", 35, 0.5, 1700, "read",
          users=Call("GET", "/users/{id}"), inventory=Call("GET", "/inventory/carts/{id}")),
    Route("GET", "/static/vendor.{build}.js", "static", 0.6, 0.9, 412_000, "static"),
    Route("GET", "/api/sessions/{hex}", "api", 9, 0.4, 310, "read",
          users=Call("GET", "/users/sessions/{hex}")),
    Route("GET", "/api/categories", "api", 12, 0.4, 5200, "read"),
    Route("GET", "/api/categories/{id2}/products?page={page}", "api", 55, 0.6, 14_000, "read",
          inventory=Call("GET", "/inventory/categories/{id2}/items")),
    Route("POST", "/api/orders", "api", 180, 0.6, 820, "write", tail=0.02,
          users=Call("GET", "/users/{id}"),
          inventory=Call("POST", "/inventory/reservations/commit", 201)),
    Route("GET", "/api/orders/{id}/items", "api", 40, 0.5, 2900, "read",
          inventory=Call("GET", "/inventory/orders/{id}/items")),
    Route("GET", "/favicon.ico", "static", 0.2, 0.5, 15_086, "favicon"),
    Route("GET", "/api/inventory/{id}/stock", "api", 15, 0.4, 140, "read",
          inventory=Call("GET", "/inventory/items/{id}/stock")),
    Route("POST", "/api/auth/login", "api", 220, 0.3, 610, "auth",
          users=Call("POST", "/users/login")),
    Route("GET", "/api/notifications?since={since}", "api", 250, 1.2, 700, "read", tail=0.05),
    Route("PUT", "/api/users/{id}/preferences", "api", 30, 0.5, 260, "write",
          users=Call("PUT", "/users/{id}/preferences")),
    Route("DELETE", "/api/cart/items/{id}", "api", 25, 0.5, 0, "delete",
          inventory=Call("DELETE", "/inventory/reservations/{id}", 204)),
    Route("POST", "/api/auth/refresh", "api", 15, 0.4, 590, "auth",
          users=Call("POST", "/users/tokens", 201)),
    Route("GET", "/api/shipments/{hex}/tracking", "api", 300, 0.9, 1900, "read", tail=0.05),
    Route("GET", "/robots.txt", "static", 0.2, 0.5, 68, "static"),
    Route("GET", "/api/orders/{uuid}/invoice.pdf", "api", 450, 0.5, 88_000, "read",
          users=Call("GET", "/users/{id}")),
    Route("POST", "/api/payments/{uuid}/capture", "api", 380, 0.6, 530, "write", tail=0.03,
          inventory=Call("POST", "/inventory/reservations/{uuid}/capture")),
    Route("GET", "/api/users/{id}/orders/{id2}", "api", 50, 0.5, 2600, "read",
          inventory=Call("GET", "/inventory/orders/{id2}")),
    Route("GET", "/api/admin/reports/{id}", "api", 2200, 0.8, 54_000, "read", tail=0.05,
          authenticated=True),
    Route("GET", "/wp-login.php", "scanner", 0.3, 0.5, 153, "scanner", agent="scanner"),
    Route("GET", "/.env", "scanner", 0.3, 0.5, 153, "scanner", agent="scanner"),
)  # fmt: skip

# (status, weight) per profile; 499/502/504 are produced by nginx, never logged by the app.
STATUS_PROFILES: dict[str, tuple[tuple[int, float], ...]] = {
    "read": ((200, 9300), (304, 150), (400, 80), (401, 120), (403, 30), (404, 200),
             (429, 30), (499, 30), (500, 25), (502, 12), (503, 8), (504, 10)),
    "write": ((201, 7000), (200, 2200), (400, 300), (401, 100), (409, 80), (422, 150),
              (429, 30), (499, 30), (500, 50), (502, 20), (503, 10), (504, 20)),
    "delete": ((204, 9300), (404, 400), (401, 100), (499, 10), (500, 50), (502, 20), (504, 10)),
    "auth": ((200, 8000), (401, 1600), (429, 200), (499, 10), (500, 30), (502, 10), (504, 10)),
    "static": ((200, 6800), (304, 3000), (404, 150), (206, 40), (499, 10)),
    "favicon": ((200, 4000), (304, 3000), (404, 3000)),
    "health": ((200, 1),),
    "scanner": ((404, 9000), (403, 700), (400, 300)),
}  # fmt: skip

# Statuses the api answers before calling anything downstream (and quickly).
EARLY_REJECT = frozenset({400, 401, 403, 409, 422, 429})
# Statuses that nginx produces itself when the upstream fails or the client leaves.
NGINX_ONLY = frozenset({499, 502, 504})

# Client user agents and their share of clients. The last ones contain bytes that nginx
# escapes (\x22 for a double quote, \xC3\xA9 for UTF-8 é), as real logs do now and then.
AGENTS: tuple[tuple[str, float, bool], ...] = (  # (user agent, weight, sends a referer)
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 30, True),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 15, True),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 12, True),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.6778.81 Mobile Safari/537.36", 12, True),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/18.1 Safari/605.1.15", 7, True),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
     6, True),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 5, True),
    ("ShopApp/5.12.1 (iPhone; iOS 18.1; Scale/3.00)", 4, False),
    ("okhttp/4.12.0", 3, False),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 2, True),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 2, False),
    ("curl/8.5.0", 2, False),
    ("python-requests/2.32.3", 2, False),
    ("Go-http-client/2.0", 1.5, False),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 1, False),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 1, False),
    ("-", 0.5, False),
    ("Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36 \\x22Caf\\xC3\\xA9App\\x22",
     0.2, True),
)  # fmt: skip

AGENT_OVERRIDES: dict[str, tuple[str, ...]] = {
    "probe": ("kube-probe/1.31",),
    "scanner": (
        "Mozilla/5.0 zgrab/0.x",
        "Mozilla/5.0 (l9scan/2.0.; +https://leakix.net)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36",
    ),
}

REFERERS: tuple[tuple[str, float], ...] = (
    ("-", 45),
    ("https://shop.example.com/", 18),
    ("https://shop.example.com/cart", 8),
    ("https://shop.example.com/search?q=running+shoes", 6),
    ("https://shop.example.com/checkout", 4),
    ("https://www.google.com/", 12),
    ("https://www.bing.com/", 2),
    ("android-app://com.google.android.gm/", 1),
    ("https://t.co/x1Yb9kQ2Lm", 1),
)

# Search terms as nginx logs them: percent-encoded, raw UTF-8 escaped as \xNN, stray quotes.
QUERIES: tuple[tuple[str, float], ...] = (
    ("shoes", 20),
    ("running+shoes", 12),
    ("winter%20jacket", 8),
    ("usb-c&sort=price", 6),
    ("t-shirt", 6),
    ("laptop+stand", 5),
    ("lego&page=2", 4),
    ("caf\\xC3\\xA9", 1),
    ("\\x22gift\\x22", 0.5),
    ("n\\xC3\\xBCrnberg", 0.5),
    ("%E2%9C%93", 0.3),
)

# Front-end build hashes (a deploy happened, so more than one is live).
BUILDS: tuple[tuple[str, float], ...] = (("3f9c2a1b", 5), ("8d04e6f7", 3), ("c51b9e20", 2))

REMOTE_USERS: tuple[str, ...] = ("alice", "ops-bob", "svc-reports")

PROTOCOLS: tuple[tuple[str, float], ...] = (("HTTP/2.0", 60), ("HTTP/1.1", 38), ("HTTP/1.0", 2))

# Public-looking first octets for client IPv4 addresses.
FIRST_OCTETS: tuple[int, ...] = (
    23, 31, 37, 45, 51, 62, 66, 72, 78, 81, 86, 91, 95, 98, 104, 109, 151, 176, 185, 188,
    193, 203, 212, 217,
)  # fmt: skip

# Request lines that are not HTTP at all, as nginx escapes them (status 400, ~1 in 20k).
GARBAGE_REQUESTS: tuple[tuple[str, int], ...] = (  # (request, body bytes)
    ("\\x16\\x03\\x01\\x00\\xF7\\x01\\x00\\x00\\xF3\\x03\\x03\\xA1\\x9E\\x0B\\xC4\\x8F"
     "\\x12\\x7F\\x5C\\xD0\\x93\\x21\\x4B\\xE6\\x08\\xB5\\x17", 157),
    ("\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03\\x5Bj\\x87\\x1D\\xC2", 157),
    ("\\x16\\x03\\x03\\x00\\xDC\\x01\\x00\\x00\\xD8\\x03\\x03S\\x9E\\xB4", 157),
    ("", 0),
    ("SSH-2.0-Go", 157),
    ("MGLNDD_203.0.113.7_443", 157),
)  # fmt: skip
GARBAGE_RATE = 1 / 20_000


def route_attr(name: str, dtype: pl.DataType | None = None) -> pl.Expr:
    """A Route field as a per-row column, looked up by the `route` column."""
    return gather([getattr(r, name) for r in ROUTES], pl.col("route"), dtype)


def call_attr(call: str, attr: str) -> pl.Expr:
    """A field of a route's downstream Call (`users` / `inventory`); null without one."""
    values: list[object] = []
    for route in ROUTES:
        target = getattr(route, call)
        values.append(None if target is None else getattr(target, attr))
    return gather(values, pl.col("route"))
