"""What the Python services share: a draining threaded server and a JSON-replying handler."""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ServiceServer(ThreadingHTTPServer):
    """A threaded HTTP server on an ephemeral loopback port that drains on close.

    Handler threads are not daemons and `server_close` joins them, so a request still
    in flight when the harness asks for shutdown (the api finishing a request after the
    edge already answered 504) still writes its log lines and its ground-truth record.
    """

    daemon_threads = False
    block_on_close = True
    # The default backlog of 5 drops SYNs under 8 concurrent clients, and a retransmitted
    # SYN adds a whole second to a request: noise the planted patterns do not need.
    request_queue_size = 128

    def __init__(self, handler: type[BaseHTTPRequestHandler], app: Any) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.app = app

    @property
    def port(self) -> int:
        """The port the kernel picked."""
        return int(self.server_address[1])


class Jitter:
    """Sleeps of a few milliseconds, so downstream durations are real and measurable."""

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def sleep_ms(self, low: float, high: float) -> None:
        """Sleep for a uniformly drawn number of milliseconds."""
        with self._lock:
            ms = self._rng.uniform(low, high)
        time.sleep(ms / 1000)


class JsonHandler(BaseHTTPRequestHandler):
    """A handler that replies with JSON and never writes http.server's stderr access log."""

    # nginx speaks HTTP/1.0 to upstreams by default; one request per connection.
    protocol_version = "HTTP/1.0"
    server_version = "svc/1.0"
    timeout = 10  # a stalled peer must not pin a handler thread forever

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: each service writes its own log in its own format."""

    def read_body(self) -> bytes:
        """Read the request body announced by Content-Length (nginx always sends one)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status: int, payload: object) -> bool:
        """Send a JSON response; False when the peer had already gone away."""
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # nginx closes the upstream connection on a 504 or a client abort (499).
            return False
        return True
