"""The nginx configurations of a variant: its edges and its internal proxy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from topology.model import Edge, Location, NginxLog, Proxy
from topology.procs import HarnessError
from topology.propagation import Propagation

UNSAFE_PATH_CHARS = set("$\"'\\;{}")


def conf_path(path: Path) -> str:
    """A path quoted for nginx.conf; refuses what nginx would misread (`$` starts a variable)."""
    text = str(path)
    if UNSAFE_PATH_CHARS & set(text):
        chars = "".join(sorted(UNSAFE_PATH_CHARS))
        raise HarnessError(
            f"output path {text!r} holds one of {chars}, which nginx.conf cannot quote"
        )
    return f'"{text}"'


def upstream_name(service: str) -> str:
    """An nginx upstream name for a service (users-svc → users_svc)."""
    return service.replace("-", "_")


def _head(host: str, prefix: Path, workers: int) -> str:
    # Workers of a root master run as `nobody` unless told otherwise, and could then not
    # write request bodies into the temp dirs under the output directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {conf_path(prefix / 'tmp' / kind)};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# {host}: part of the logtrace test topology; everything listens on 127.0.0.1.
daemon off;
master_process on;
worker_processes {workers};
{user}pid {conf_path(prefix / "nginx.pid")};
error_log {conf_path(prefix / "error.log")} info;

events {{ worker_connections 1024; }}

http {{
{temp}
    default_type application/octet-stream;
    keepalive_timeout 10s;
"""


def _log_format(log: NginxLog) -> str:
    escape = "escape=json " if log.escape_json else ""
    return f"    log_format {log.name} {escape}'{log.text}';\n"


def _servers(ports: Sequence[int], extra: str = "") -> str:
    return "\n".join(f"        server 127.0.0.1:{p} max_fails=0{extra};" for p in ports)


def edge_conf(
    prefix: Path,
    edge: Edge,
    *,
    port: int,
    api: str,
    api_ports: Sequence[int],
    dead: int,
    access_log: Path,
    combined_log: Path | None,
    propagation: Propagation,
) -> str:
    """A public proxy in front of the api service's instances."""
    combined = f"        access_log {conf_path(combined_log)} combined;\n" if combined_log else ""
    up = upstream_name(api)
    return (
        _head(edge.name, prefix, workers=2)
        + "\n"
        + _log_format(edge.log)
        + propagation.edge_http
        + f"""
    # max_fails=0: a planted 504 counts as a failed attempt, and with the default
    # max_fails=1 two of them would take both servers out for fail_timeout (10 s),
    # turning all traffic in that window into "no live upstreams" 502s.
    upstream {up} {{
{_servers(api_ports)}
    }}
    # The dead server is a primary that is never marked down (max_fails=0) and the first
    # api host a backup, so EVERY /api/flaky/ request tries the dead one first and then
    # retries; with plain round-robin only every other request would.
    upstream {up}_flaky {{
        server 127.0.0.1:{dead} max_fails=0;
        server 127.0.0.1:{api_ports[0]} max_fails=0 backup;
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name {edge.name};
        access_log {conf_path(access_log)} {edge.log.name};
{combined}
{propagation.edge_server}
        location /static/ {{
            default_type text/plain;
            return 200 "static\\n";
        }}
        location /api/flaky/ {{
            proxy_pass http://{up}_flaky;
            proxy_next_upstream error timeout http_502 http_503;
        }}
        location /api/report/ {{
            proxy_pass http://{up};
            proxy_read_timeout 1s;
            # Without this the default `error timeout` would replay the slow request
            # on the other api host after the timeout.
            proxy_next_upstream off;
        }}
        location / {{
            proxy_pass http://{up};
        }}
    }}
}}
"""
    )


def location_block(loc: Location, upstream: str) -> str:
    """One `location` of the internal proxy, in the style of the variant."""
    if loc.style == "pass":
        if loc.public != loc.upstream:
            raise ValueError(
                f"a path-preserving location cannot map {loc.public} to {loc.upstream}"
            )
        body = f"proxy_pass http://{upstream};"
    elif loc.style == "strip":
        body = f"proxy_pass http://{upstream}{loc.upstream};"
    else:
        body = f"rewrite ^{loc.public}(.*)$ {loc.upstream}$1 break; proxy_pass http://{upstream};"
    return f"        location {loc.public} {{ {body} }}"


def proxy_conf(
    prefix: Path,
    proxy: Proxy,
    *,
    port: int,
    upstreams: dict[str, tuple[str, Sequence[int]]],
    access_log: Path,
) -> str:
    """The internal proxy the services call each other through.

    `upstreams` maps each role to its service's name and its instances' ports.
    """
    blocks = "\n".join(
        f"    upstream {upstream_name(name)} {{\n{_servers(ports)}\n    }}"
        for name, ports in upstreams.values()
    )
    locations = "\n".join(
        location_block(loc, upstream_name(upstreams[loc.role][0])) for loc in proxy.locations
    )
    return (
        _head(proxy.name, prefix, workers=1)
        + "\n"
        + _log_format(proxy.log)
        + f"""
    # max_fails=0: one refused connection on a busy box must cost one call, not mark
    # the only instance down for 10 s.
{blocks}

    server {{
        listen 127.0.0.1:{port};
        server_name {proxy.name};
        access_log {conf_path(access_log)} {proxy.log.name};

        # The id header is passed through untouched (nginx forwards client headers).
{locations}
        location / {{ return 404; }}
    }}
}}
"""
    )
