"""The topology matrix: every deployment the harness can start, as data (`VARIANTS`)."""

from __future__ import annotations

from topology.layout import (
    COARSE_MESH,
    EDGE_CORRELATION,
    EDGE_TIMING,
    EDGE_TRACE,
    EDGE_TRACEPARENT,
    MESH,
    MESH_CORRELATION,
    MESH_TRACEPARENT,
    PROXY_TRACE,
)
from topology.model import AppHost, Edge, Location, NginxLog, Proxy, Role, Service, Variant


def _passing(role: Role, prefix: str) -> Location:
    """`location /users/ { proxy_pass http://users; }`: the service sees the same path."""
    return Location(role, f"{prefix}/", "pass", f"{prefix}/")


def _stripping(role: Role, service: str) -> Location:
    """`location /users-svc/ { proxy_pass http://users_svc/; }`: the prefix is cut off."""
    return Location(role, f"/{service}/", "strip", "/", client_base=f"/{service}")


def _classic(
    api: tuple[str, str] = ("json", "logfmt"),
    feed: str = "logfmt-ms",
    users: str = "text",
    inventory: str = "python-logging",
) -> tuple[Service, ...]:
    """The original services (api, inventory, users) plus feed, which calls users."""
    return (
        Service("api", "api", "", (AppHost("api-1", api[0]), AppHost("api-2", api[1]))),
        Service("feed", "feed", "/feed", (AppHost("feed-1", feed),)),
        Service("users", "users", "/users", (AppHost("users-1", users),)),
        Service("inventory", "inventory", "/inventory", (AppHost("inventory-1", inventory),)),
    )


def _mesh(
    log_format: NginxLog = MESH, roles: tuple[Role, ...] = ("inventory", "users", "feed")
) -> Proxy:
    """mesh-1: a path-preserving internal proxy in front of the classic services."""
    prefixes = {"inventory": "/inventory", "users": "/users", "feed": "/feed"}
    return Proxy("mesh-1", log_format, tuple(_passing(r, prefixes[r]) for r in roles))


PRESERVE = Variant(
    name="preserve",
    summary="the original topology: path-preserving mesh with $msec, X-Request-ID",
    edges=(Edge("edge-1", EDGE_TRACE, combined_twin=True),),
    services=(
        Service("api", "api", "", (AppHost("api-1", "json"), AppHost("api-2", "logfmt"))),
        Service(
            "inventory", "inventory", "/inventory", (AppHost("inventory-1", "python-logging"),)
        ),
        Service("users", "users", "/users", (AppHost("users-1", "text"),)),
    ),
    proxy=_mesh(roles=("inventory", "users")),
    propagation="x-request-id",
    skews=(("api-2", 0.150),),
)

STRIP = Variant(
    name="strip",
    summary=(
        "prefix-stripping proxy, whole seconds at every nginx, edge log rotated and gzipped, "
        "depth-3 chain web → proxy → feed-svc → proxy → users-svc"
    ),
    edges=(Edge("edge-1", EDGE_TRACE, rotate=True),),
    services=(
        Service("web", "api", "", (AppHost("web-1", "event-json"), AppHost("web-2", "event-json"))),
        Service("feed-svc", "feed", "/feed", (AppHost("feed-svc-1", "python-logging-ctx"),)),
        Service("users-svc", "users", "/profile", (AppHost("users-svc-1", "logfmt-ms"),)),
        Service(
            "inventory-svc",
            "inventory",
            "",
            (AppHost("inventory-svc-1", "text", id_key="trace_id"),),
        ),
    ),
    proxy=Proxy(
        "proxy-1",
        PROXY_TRACE,
        (
            _stripping("feed", "feed-svc"),
            _stripping("users", "users-svc"),
            _stripping("inventory", "inventory-svc"),
        ),
    ),
    propagation="x-request-id",
    skews=(("web-2", 0.180),),
    edge_tz="Asia/Kolkata",
    proxy_tz="UTC",
)

REWRITE = Variant(
    name="rewrite",
    summary="internal proxy rewrites a versioned public prefix into the service's own",
    edges=(Edge("edge-1", EDGE_TRACE),),
    services=(
        Service("api", "api", "", (AppHost("api-1", "json"), AppHost("api-2", "event-json"))),
        Service("feed", "feed", "/feed", (AppHost("feed-1", "text"),)),
        Service("users", "users", "", (AppHost("users-1", "logfmt-ms"),)),
        Service(
            "inventory", "inventory", "/inventory", (AppHost("inventory-1", "python-logging"),)
        ),
    ),
    proxy=Proxy(
        "mesh-1",
        MESH,
        (
            Location("inventory", "/v2/stock/", "rewrite", "/inventory/", "/v2/stock"),
            Location("users", "/v1/users/", "rewrite", "/", "/v1/users"),
            Location("feed", "/v1/feed/", "rewrite", "/feed/", "/v1/feed"),
        ),
    ),
    propagation="x-request-id",
    skews=(("inventory-1", -0.080),),
)

COARSE_PROXY = Variant(
    name="coarse-proxy",
    summary="path-preserving internal proxy logging $time_local only (whole seconds)",
    edges=(Edge("edge-1", EDGE_TRACE),),
    services=_classic(),
    proxy=_mesh(COARSE_MESH),
    propagation="x-request-id",
    skews=(("users-1", 0.090),),
)

DIRECT = Variant(
    name="direct",
    summary="no internal proxy: apps call each other at http://127.0.0.1:PORT",
    edges=(Edge("edge-1", EDGE_TRACE),),
    services=_classic(feed="python-logging-ctx"),
    proxy=None,
    propagation="x-request-id",
    skews=(("inventory-1", 0.110),),
)

TWO_EDGES = Variant(
    name="two-edges",
    summary="two edge nginx instances of one service; the client alternates between them",
    edges=(Edge("edge-1", EDGE_TRACE), Edge("edge-2", EDGE_TRACE)),
    services=_classic(),
    proxy=_mesh(),
    propagation="x-request-id",
    skews=(("api-1", -0.120),),
    edge_tz="Europe/Berlin",
)

CORRELATION = Variant(
    name="correlation-id",
    summary="the id travels as X-Correlation-ID (kept from the client, else from $request_id)",
    edges=(Edge("edge-1", EDGE_CORRELATION),),
    services=_classic(),
    proxy=_mesh(MESH_CORRELATION),
    propagation="x-correlation-id",
    app_key="correlation_id",
    skews=(("api-2", 0.150),),
)

TRACEPARENT = Variant(
    name="traceparent",
    summary="W3C traceparent whose trace id is the id; apps log trace_id and span_id",
    edges=(Edge("edge-1", EDGE_TRACEPARENT),),
    services=_classic(),
    proxy=_mesh(MESH_TRACEPARENT),
    propagation="traceparent",
    app_key="trace_id",
    skews=(("users-1", 0.100),),
    edge_tz="UTC",
)

SKEW_BEHIND_COARSE = Variant(
    name="skew-behind-coarse",
    summary="a skewed service whose callers and callees are all whole-second nginx",
    edges=(Edge("edge-1", EDGE_TIMING),),
    services=_classic(),
    proxy=_mesh(COARSE_MESH),
    propagation="x-request-id",
    skews=(("feed-1", 0.120),),
)

LIBRARIES = Variant(
    name="libraries",
    summary="apps logging in the default shapes of twelve real logging libraries",
    edges=(Edge("edge-1", EDGE_TRACE),),
    services=(
        Service(
            "web",
            "api",
            "",
            (
                AppHost("web-1", "structlog-json"),
                AppHost("web-2", "slog-text"),
                AppHost("web-3", "rails"),
                AppHost("web-4", "structlog-console"),
            ),
        ),
        Service(
            "feed", "feed", "/feed", (AppHost("feed-1", "logback"), AppHost("feed-2", "gunicorn"))
        ),
        Service(
            "users",
            "users",
            "/users",
            (
                AppHost("users-1", "logrus-text"),
                AppHost("users-2", "pino"),
                AppHost("users-3", "winston"),
            ),
        ),
        Service(
            "inventory",
            "inventory",
            "/inventory",
            (
                AppHost("inventory-1", "zap"),
                AppHost("inventory-2", "zerolog"),
                AppHost("inventory-3", "slog-json"),
            ),
        ),
    ),
    proxy=_mesh(),
    propagation="x-request-id",
    skews=(("web-1", 0.130),),
)

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        PRESERVE,
        STRIP,
        REWRITE,
        COARSE_PROXY,
        DIRECT,
        TWO_EDGES,
        CORRELATION,
        TRACEPARENT,
        SKEW_BEHIND_COARSE,
        LIBRARIES,
    )
}
