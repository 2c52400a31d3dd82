"""The simulated hosts, their log files and log formats: one table every module reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HostKind = Literal["nginx", "app"]

# The edge format users have: no $msec, so an edge span's start is known to ±1 s.
EDGE_TRACE_FORMAT = (
    "$remote_addr - $remote_user [$time_local] "
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" '
    "$request_time $upstream_response_time $request_id"
)
# The precise edge format: exact start times and per-attempt upstream lists.
EDGE_TIMING_FORMAT = (
    "$remote_addr - $remote_user [$time_local] "
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" '
    "rt=$request_time msec=$msec rid=$request_id "
    'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time" '
    'uct="$upstream_connect_time" uht="$upstream_header_time"'
)
MESH_FORMAT = (
    '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent '
    "rt=$request_time msec=$msec xrid=$http_x_request_id "
    'ua="$upstream_addr" us="$upstream_status" urt="$upstream_response_time"'
)
# nginx's predefined format; written only as the edge's second log.
COMBINED_FORMAT = (
    "$remote_addr - $remote_user [$time_local] "
    '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
)

EDGE_FORMATS: dict[str, str] = {"trace": EDGE_TRACE_FORMAT, "timing": EDGE_TIMING_FORMAT}

NGINX_TZ = "America/St_Johns"  # a -03:30 offset, so time-zone handling is exercised
APP_TZ = "UTC"


@dataclass(frozen=True)
class Host:
    """One simulated host: a process, the service it runs and how it logs."""

    name: str
    kind: HostKind
    service: str
    log_format: str  # nginx: a log_format string; apps: json | logfmt | python-logging | text

    @property
    def log_name(self) -> str:
        """File name of the host's main log inside the logs directory."""
        return f"{self.name}.access.log" if self.kind == "nginx" else f"{self.name}.log"


def hosts(edge_format: str) -> tuple[Host, ...]:
    """All hosts in start order: every host's dependencies come before it."""
    return (
        Host("inventory-1", "app", "inventory", "python-logging"),
        Host("users-1", "app", "users", "text"),
        Host("mesh-1", "nginx", "mesh", MESH_FORMAT),
        Host("api-1", "app", "api", "json"),
        Host("api-2", "app", "api", "logfmt"),
        Host("edge-1", "nginx", "edge", EDGE_FORMATS[edge_format]),
    )


APP_HOSTS: tuple[str, ...] = ("inventory-1", "users-1", "api-1", "api-2")
NGINX_HOSTS: tuple[str, ...] = ("mesh-1", "edge-1")

# Where the api's downstream peers live; each service has exactly one instance.
PEER_HOSTS: dict[str, str] = {"inventory": "inventory-1", "users": "users-1"}
