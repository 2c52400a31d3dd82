"""How the request id travels: its header, the edge's nginx directives, and the apps' side.

A registry of the three ways real deployments carry it: nginx's `X-Request-ID`, an
`X-Correlation-ID` that a client may already have set, and W3C `traceparent` whose
trace id is the id (the edge maps `$request_id` into it when the client sent none).
"""

from __future__ import annotations

import random
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Protocol


class Headers(Protocol):
    """Request headers, looked up by name (http.server's message, or a dict)."""

    def get(self, name: str, /) -> str | None:
        """The header's value, None when absent."""


TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


@dataclass(frozen=True)
class Propagation:
    """One way of carrying the id, from the edge's config to the apps' headers."""

    name: str
    header: str  # what the edge sends upstream and the apps forward
    response_header: str  # the edge returns the id in it, for the client's ground truth
    edge_variable: str  # the nginx variable holding the id at the edge
    edge_http: str  # nginx `http` directives (maps) the edge needs
    edge_server: str  # nginx `server` directives: set the upstream header, return the id
    client_every: int = 0  # every n-th client request brings its own id (0: never)
    spans: bool = False  # apps make their own span id and log it

    def read(self, headers: Headers) -> str:
        """The id an app finds in a request's headers (`-` when there is none)."""
        value = headers.get(self.header) or ""
        if self.spans:
            found = TRACEPARENT.fullmatch(value)
            return found[1] if found else "-"
        return value or "-"

    def outgoing(self, request_id: str, span_id: str | None) -> dict[str, str]:
        """The headers an app sends on a call made while serving `request_id`."""
        if self.spans:
            return {self.header: f"00-{request_id}-{span_id or '0' * 15 + '1'}-01"}
        return {self.header: request_id}

    def client_header(self, seed: int, seq: int) -> dict[str, str]:
        """The id a client sends on its own (a mobile app's correlation id, a browser's trace)."""
        if not self.client_every or seq % self.client_every:
            return {}
        rng = random.Random(f"{seed}/client-id/{seq}")
        if self.spans:
            return {self.header: f"00-{rng.randbytes(16).hex()}-{rng.randbytes(8).hex()}-01"}
        return {self.header: str(uuid.UUID(bytes=rng.randbytes(16), version=4))}


def new_span_id() -> str:
    """A random 16-hex span id."""
    return secrets.token_hex(8)


REQUEST_ID = Propagation(
    name="x-request-id",
    header="X-Request-ID",
    response_header="X-Request-ID",
    edge_variable="$request_id",
    edge_http="",
    edge_server=(
        "        proxy_set_header X-Request-ID $request_id;\n"
        "        add_header X-Request-ID $request_id always;\n"
    ),
)
CORRELATION_ID = Propagation(
    name="x-correlation-id",
    header="X-Correlation-ID",
    response_header="X-Correlation-ID",
    edge_variable="$correlation_id",
    edge_http=(
        "    # Keep the caller's correlation id; mint one from $request_id when it sent none.\n"
        "    map $http_x_correlation_id $correlation_id {\n"
        '        ""      $request_id;\n'
        "        default $http_x_correlation_id;\n"
        "    }\n"
    ),
    edge_server=(
        "        proxy_set_header X-Correlation-ID $correlation_id;\n"
        "        add_header X-Correlation-ID $correlation_id always;\n"
    ),
    client_every=3,
)
TRACEPARENT_ID = Propagation(
    name="traceparent",
    header="traceparent",
    response_header="X-Trace-Id",
    edge_variable="$trace_id",
    edge_http=(
        "    map $http_traceparent $trace_id {\n"
        '        "~^00-(?<tid>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$"  $tid;\n'
        "        default                                               $request_id;\n"
        "    }\n"
        "    map $http_traceparent $parent_span_id {\n"
        '        "~^00-[0-9a-f]{32}-(?<psid>[0-9a-f]{16})-[0-9a-f]{2}$" $psid;\n'
        '        default "";\n'
        "    }\n"
        "    map $request_id $ngx_span_id {\n"
        '        "~(?<sid>[0-9a-f]{16})$" $sid;\n'
        "    }\n"
    ),
    edge_server=(
        "        proxy_set_header traceparent 00-$trace_id-$ngx_span_id-01;\n"
        "        add_header X-Trace-Id $trace_id always;\n"
    ),
    client_every=4,
    spans=True,
)

PROPAGATIONS: dict[str, Propagation] = {
    p.name: p for p in (REQUEST_ID, CORRELATION_ID, TRACEPARENT_ID)
}
