"""The traffic driver: sends the planned requests to the edges and records what it saw."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException

from topology.propagation import Propagation
from topology.scenarios import PlannedRequest

GIVE_UP_AFTER_S = 0.3  # the api needs ~0.6 s, so nginx logs 499
UPLOAD_BYTES = 200 * 1024
UPLOAD_CHUNKS = 10
UPLOAD_PAUSE_S = 0.04  # nine pauses: the body trickles in over ~0.36 s


@dataclass
class ClientResult:
    """What the client sent and what came back, on the true clock."""

    seq: int
    scenario: str
    method: str
    target: str
    route: str
    client_start: float
    client_end: float
    status: int | None
    client_gave_up: bool
    request_id: str | None  # from the response header that returns the id
    error: str | None  # a network error the client did not expect
    edge: str  # the edge host it was sent to


@dataclass(frozen=True)
class Target:
    """Where and how the client sends: an edge, and how the deployment carries the id."""

    edge: str
    port: int
    propagation: Propagation
    seed: int


def _headers(req: PlannedRequest, target: Target) -> dict[str, str]:
    headers = {
        **target.propagation.client_header(target.seed, req.seq),
        "User-Agent": req.user_agent,
        "Accept": "application/json",
        # The api copies this into its side channel, which is how a 499 (no response,
        # so no id in a response header) still gets its request id in the ground truth.
        "X-Client-Seq": str(req.seq),
        "Connection": "close",
    }
    if req.referer:
        headers["Referer"] = req.referer
    return headers


def _send_slow_upload(conn: HTTPConnection, req: PlannedRequest, target: Target) -> None:
    body = random.Random(req.seq).randbytes(UPLOAD_BYTES)
    size = len(body) // UPLOAD_CHUNKS
    conn.putrequest(req.scenario.method, req.target, skip_accept_encoding=True)
    headers = {**_headers(req, target), "Content-Type": "application/octet-stream"}
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    for i in range(UPLOAD_CHUNKS):
        if i:
            time.sleep(UPLOAD_PAUSE_S)
        last = i == UPLOAD_CHUNKS - 1
        conn.send(body[i * size :] if last else body[i * size : (i + 1) * size])


def send(target: Target, req: PlannedRequest, timeout_s: float) -> ClientResult:
    """Send one planned request and wait for its response (or give up, if planned)."""
    give_up = req.scenario.kind == "give_up"
    timeout = GIVE_UP_AFTER_S if give_up else timeout_s
    conn = HTTPConnection("127.0.0.1", target.port, timeout=timeout)
    status: int | None = None
    request_id: str | None = None
    gave_up = False
    error: str | None = None
    start = time.time()
    try:
        if req.scenario.kind == "slow_upload":
            _send_slow_upload(conn, req, target)
        else:
            conn.request(req.scenario.method, req.target, headers=_headers(req, target))
        response = conn.getresponse()
        response.read()
        status = response.status
        request_id = response.getheader(target.propagation.response_header)
    except TimeoutError:
        if give_up:
            gave_up = True
        else:
            error = f"no response within {timeout_s:g}s"
    except (OSError, HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()  # for the give-up case this close is what nginx sees as the abort
    end = time.time()
    return ClientResult(
        req.seq,
        req.scenario.name,
        req.scenario.method,
        req.target,
        req.scenario.route,
        start,
        end,
        status,
        gave_up,
        request_id,
        error,
        target.edge,
    )
