"""A deployment as data: which hosts a topology variant runs, how they are wired, how they log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["api", "inventory", "users", "feed"]
# How the internal proxy maps a location to the service behind it:
#   pass     `location /users/ { proxy_pass http://users; }`           (path preserved)
#   strip    `location /users-svc/ { proxy_pass http://users_svc/; }`  (prefix cut to `upstream`)
#   rewrite  `location /v1/users/ { rewrite ^/v1/users/(.*)$ /$1 break; proxy_pass http://users; }`
RouteStyle = Literal["pass", "strip", "rewrite"]


@dataclass(frozen=True)
class NginxLog:
    """One nginx `log_format`: its name and its text."""

    name: str
    text: str
    escape_json: bool = False

    @property
    def logs_upstream(self) -> bool:
        """True when each line also shows the upstream attempts (so they become spans)."""
        return "$upstream_response_time" in self.text

    @property
    def precise(self) -> bool:
        """True when the line has a millisecond timestamp, not only `$time_local`."""
        return "$msec" in self.text


@dataclass(frozen=True)
class Edge:
    """A public nginx in front of the api service."""

    name: str
    log: NginxLog
    rotate: bool = False  # renamed, reopened (USR1) and gzipped halfway through the run
    combined_twin: bool = False  # also writes nginx's `combined` to extra/<name>.combined.log


@dataclass(frozen=True)
class Location:
    """How the internal proxy reaches one service, and how callers address it."""

    role: Role
    public: str  # the location prefix callers use, e.g. /users-svc/
    style: RouteStyle
    upstream: str  # what the service receives in place of `public`, e.g. /
    client_base: str = ""  # the path part of the callers' configured base URL

    def wire(self, native: str) -> str:
        """The request-target a caller sends for a path the service serves as `native`."""
        if not native.startswith(self.upstream):
            raise ValueError(f"{native!r} is not under {self.upstream!r} ({self.public})")
        return self.public + native[len(self.upstream) :]


@dataclass(frozen=True)
class Proxy:
    """The internal nginx the services call each other through."""

    name: str
    log: NginxLog
    locations: tuple[Location, ...]

    def location(self, role: Role) -> Location:
        """The location that leads to the service of a role."""
        return next(loc for loc in self.locations if loc.role == role)


@dataclass(frozen=True)
class AppHost:
    """One process of a service and the shape of its log (a key of shapes.SHAPES)."""

    name: str
    shape: str
    id_key: str | None = None  # the key its log writes the request id under, if not the shape's


@dataclass(frozen=True)
class Service:
    """A service: the endpoints it serves (its role), where its routes live, its instances."""

    name: str  # as callers name it, and as a host name without its instance number
    role: Role
    base: str  # prefix of every route it serves: /inventory/items/1 has base /inventory
    hosts: tuple[AppHost, ...]


@dataclass(frozen=True)
class Variant:
    """One realistic deployment the harness can start (`run.py --variant NAME`)."""

    name: str
    summary: str
    edges: tuple[Edge, ...]
    services: tuple[Service, ...]  # the api service (the edges' upstream) first
    proxy: Proxy | None  # None: apps call each other directly
    propagation: str  # a key of propagation.PROPAGATIONS
    skews: tuple[tuple[str, float], ...] = ()  # planted clock skews (seconds) by app host
    app_key: str | None = (
        None  # the key every app logs the id under, when the id is not X-Request-ID
    )
    edge_tz: str = "America/St_Johns"
    proxy_tz: str = "America/St_Johns"
    scenarios: tuple[str, ...] | None = None  # None: every scenario its roles can serve

    @property
    def api(self) -> Service:
        """The service behind the edges."""
        return self.services[0]

    def service(self, role: Role) -> Service | None:
        """The service playing a role, if the variant has one."""
        return next((s for s in self.services if s.role == role), None)

    @property
    def roles(self) -> frozenset[str]:
        """The roles present."""
        return frozenset(s.role for s in self.services)

    @property
    def app_hosts(self) -> tuple[AppHost, ...]:
        """Every app process, callees first (the start order)."""
        return tuple(h for s in reversed(self.services) for h in s.hosts)

    def service_of(self, host: str) -> Service:
        """The service a host belongs to."""
        return next(s for s in self.services if any(h.name == host for h in s.hosts))

    @property
    def nginx_hosts(self) -> tuple[str, ...]:
        """Every nginx host: the proxy (if any), then the edges."""
        proxy = (self.proxy.name,) if self.proxy else ()
        return proxy + tuple(e.name for e in self.edges)
