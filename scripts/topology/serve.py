"""Run one Python service process: `python -m topology.serve --service api --host api-1 ...`.

The process binds an ephemeral loopback port, prints `READY <port>` on stdout, serves
until SIGTERM, then drains in-flight requests and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Protocol

from topology.api import ApiApp, ApiHandler
from topology.applogs import API_LOGS, LineFile, TextLog, python_logger
from topology.downstream import InventoryApp, InventoryHandler, UsersApp, UsersHandler
from topology.service_base import Jitter, ServiceServer


class _Closeable(Protocol):
    def close(self) -> None: ...


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="topology.serve", description=__doc__)
    parser.add_argument("--service", required=True, choices=["api", "inventory", "users"])
    parser.add_argument("--host", required=True, help="the simulated host name, e.g. api-2")
    parser.add_argument("--log", required=True, type=Path, help="the service's log file")
    parser.add_argument("--log-format", default="json", choices=sorted(API_LOGS))
    parser.add_argument("--skew", type=float, default=0.0, help="seconds added to log times")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mesh-port", type=int, default=0, help="api only: mesh-1's port")
    parser.add_argument("--truth", type=Path, help="api only: the ground-truth side channel")
    return parser.parse_args(argv)


def _server(args: argparse.Namespace) -> tuple[ServiceServer, list[_Closeable]]:
    """The server for the chosen service, and the logs to close after draining."""
    jitter = Jitter(f"{args.seed}/{args.host}")
    if args.service == "api":
        if args.truth is None or not args.mesh_port:
            raise SystemExit("topology.serve: error: the api needs --truth and --mesh-port")
        api_log = API_LOGS[args.log_format](args.log, args.skew)
        truth = LineFile(args.truth)
        app = ApiApp(args.host, args.mesh_port, args.seed, api_log, truth)
        return ServiceServer(ApiHandler, app), [api_log, truth]
    if args.service == "inventory":
        logger = python_logger(args.log, args.service, args.skew)
        return ServiceServer(InventoryHandler, InventoryApp(logger, jitter)), []
    text_log = TextLog(args.log, args.service, args.skew)
    return ServiceServer(UsersHandler, UsersApp(text_log, jitter)), [text_log]


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then drain and exit."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    server, logs = _server(args)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    print(f"READY {server.port}", flush=True)
    # Poll rather than block: a signal handler cannot call shutdown() from this thread
    # while serve_forever would be waiting on it.
    while not stop.wait(0.1):
        pass
    server.shutdown()
    serving.join()
    server.server_close()  # joins the handler threads still finishing their requests
    for log in logs:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
