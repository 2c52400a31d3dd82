"""topology.json: the variant, every host with what it logs and where, and the run's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from topology.layout import APP_TZ, COMBINED_FORMAT
from topology.model import NginxLog
from topology.shapes import SHAPES

if TYPE_CHECKING:
    from topology.harness import Topology


def _nginx_log(path: str, log: NginxLog, **more: Any) -> dict[str, Any]:
    return {
        "path": path,
        "format": log.text,
        "log_format_name": log.name,
        "logs_upstream": log.logs_upstream,
        "precise": log.precise,
        **more,
    }


def _process(topology: Topology, name: str) -> dict[str, Any]:
    proc = topology.procs.get(name)
    return {
        "port": proc.port if proc else None,
        "pid": proc.pid if proc else None,
        "pgid": proc.pid if proc else None,  # each child leads its own group
        "stopped_gracefully": topology.stopped.get(name),
    }


def _nginx_host(
    topology: Topology, name: str, service: str, log: NginxLog, tz: str
) -> dict[str, Any]:
    logs = [_nginx_log(f"logs/{name}.access.log", log)]
    if name in topology.rotated:
        rotated = f"logs/{topology.rotated[name].name}"
        logs.insert(0, _nginx_log(rotated, log, rotated=True))
    return {
        "kind": "nginx",
        "service": service,
        **_process(topology, name),
        "tz": tz,
        "skew_s": 0.0,
        "logs": logs,
        "error_log": f"nginx/{name}/error.log",
        "config": f"nginx/{name}/nginx.conf",
    }


def describe(topology: Topology) -> dict[str, Any]:
    """The content of topology.json."""
    variant = topology.variant
    hosts: dict[str, Any] = {}
    services: dict[str, list[str]] = {}
    for service in reversed(variant.services):
        for host in service.hosts:
            spec = SHAPES[host.shape]
            hosts[host.name] = {
                "kind": "app",
                "service": service.name,
                "role": service.role,
                **_process(topology, host.name),
                "tz": APP_TZ,
                "skew_s": topology.skews.get(host.name, 0.0),
                "logs": [
                    {
                        "path": f"logs/{host.name}.log",
                        "format": host.shape,
                        "library": spec.library,
                        "id_key": variant.app_key or host.id_key,
                    }
                ],
            }
            services.setdefault(service.name, []).append(host.name)
    if (proxy := variant.proxy) is not None:
        proxy_service = proxy.name.rsplit("-", 1)[0]
        hosts[proxy.name] = _nginx_host(
            topology, proxy.name, proxy_service, proxy.log, variant.proxy_tz
        )
        services[proxy_service] = [proxy.name]
    for edge in variant.edges:
        hosts[edge.name] = _nginx_host(topology, edge.name, "edge", edge.log, variant.edge_tz)
        services.setdefault("edge", []).append(edge.name)
    return {
        "variant": variant.name,
        "summary": variant.summary,
        "propagation": variant.propagation,
        "id_header": topology.propagation.header,
        "nginx_version": topology.nginx_version,
        "nginx_binary": topology.binary,
        "edge_format": variant.edges[0].log.name,
        "requests": topology.config.requests,
        "seed": topology.config.seed,
        "concurrency": topology.config.concurrency,
        "skews": dict(topology.skews),
        "services": services,
        "hosts": hosts,
        "edges": [e.name for e in variant.edges],
        "proxy": (
            {
                "host": proxy.name,
                "locations": [
                    {
                        "service": variant.service(loc.role).name,  # type: ignore[union-attr]
                        "public": loc.public,
                        "style": loc.style,
                        "upstream": loc.upstream,
                    }
                    for loc in proxy.locations
                ],
            }
            if proxy
            else None
        ),
        "dead_upstream_port": topology.dead_port,
        "extra_logs": [
            {
                "host": e.name,
                "path": f"extra/{e.name}.combined.log",
                "format": COMBINED_FORMAT,
                "log_format_name": "combined",
            }
            for e in variant.edges
            if e.combined_twin
        ],
        "ground_truth": "ground_truth.jsonl",
    }
