"""Run one app process: `python -m topology.serve --config extra/<host>.json`.

The process binds an ephemeral loopback port and prints `READY <port>` on stdout, then
reads one JSON line from stdin: its peers (where the services it calls are, known only
once every process has a port). It serves until SIGTERM, then drains in-flight requests
and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from topology import api, downstream
from topology.apps import App, AppConfig, AppHandler, Peer, Router
from topology.service_base import ServiceServer

ROUTERS: dict[str, Router] = {
    "api": api.route,
    "inventory": downstream.inventory,
    "users": downstream.users,
    "feed": downstream.feed,
}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="topology.serve", description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="the app's JSON config")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then drain and exit."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    config = AppConfig.read(args.config)
    server = ServiceServer(AppHandler, None)
    # A flag, not a threading.Event: the handler runs in the main thread between two
    # bytecodes, and Event.set() takes the lock Event.wait() may be holding right then
    # (a deadlock: the process ignored SIGTERM until the harness killed it).
    signalled: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"READY {server.port}", flush=True)
    line = sys.stdin.readline()
    if not line:  # the harness stopped before the topology was complete
        server.server_close()
        return 0
    peers = {role: Peer(**p) for role, p in json.loads(line).items()}
    app = App(config, peers, ROUTERS[config.role])
    server.app = app
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    Path(config.serving).touch()
    # Poll rather than block: a signal handler cannot call shutdown() from this thread
    # while serve_forever would be waiting on it.
    while not signalled:
        time.sleep(0.05)
    server.shutdown()
    serving.join()
    server.server_close()  # joins the handler threads still finishing their requests
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
