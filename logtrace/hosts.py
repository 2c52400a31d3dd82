"""Which host and service a log's path names: ``logs/web-1.access.log.2.gz`` → web-1
(service web); a generic name (``access.log``) → the nearest folder above that names one;
a Kubernetes container's log → its pod and workload; bash's ``<(command)`` → ``pipe-63``.
``PATH@HOST`` and ``--source`` override it (``sources.resolve_sources``)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

STDIN = "-"

# File stems too generic to name a host: a folder above names it instead.
_GENERIC_STEMS = frozenset(
    {
        "access",
        "error",
        "app",
        "application",
        "server",
        "output",
        "stdout",
        "stderr",
        "log",
        "logs",
        "nginx",
        "default",
        "current",
    }
)
# Folders that name no host either, and how far up one that does is looked for.
_GENERIC_FOLDERS = _GENERIC_STEMS | {"var", "tmp", "sample_logs", "srv", "opt", "usr", "mnt"}
_HOST_FOLDERS_UP = 4
_HOST_SUFFIX = re.compile(r"[-_]?[0-9]+$")
_IP = re.compile(r"^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$")  # v4, v6
_FD_PATH = re.compile(r"^/(?:dev|proc/(?:self|[0-9]+))/fd/([0-9]+)$")


def host_from_path(path: str) -> str:
    """The host a file's name suggests: ``logs/web-1.access.log.2.gz`` → ``web-1``."""
    if path == STDIN:
        return "stdin"
    fd = _FD_PATH.match(path)
    if fd:  # bash's <(command): /dev/fd/63
        return f"pipe-{fd.group(1)}"
    p = Path(path)
    stem = p.name.split(".")[0] or p.name
    if stem.lower() not in _GENERIC_STEMS and not stem.isdigit():  # 0.log: no host's name
        return stem
    # the nearest folder with a name of its own: logs/web-1/var/log/nginx/access.log → web-1
    for folder in p.resolve().parents[:_HOST_FOLDERS_UP]:
        if folder.name and folder.name.lower() not in _GENERIC_FOLDERS:
            return folder.name
    return "local"


def service_from_host(host: str) -> str:
    """A host's service name: its name, out of its domain, without a trailing instance
    number (api-2 → api, web-1.example.com → web); an IP address is its own."""
    if _IP.match(host):
        return host
    name = host.split(".", 1)[0]
    return _HOST_SUFFIX.sub("", name) or name


def service_of(host: pl.Expr) -> pl.Expr:
    """:func:`service_from_host` of each host of a column."""
    name = host.str.extract(r"^([^.]*)", 1)
    service = name.str.replace(_HOST_SUFFIX.pattern, "")
    return (
        pl.when(host.str.contains(_IP.pattern))
        .then(host)
        .when(service == "")
        .then(name)
        .otherwise(service)
    )


def names_from_path(path: str) -> tuple[str, str]:
    """The host and service a file's path suggests: a container's log names its pod and
    workload (:func:`container_names`), any other file its host (:func:`host_from_path`)."""
    named = container_names(path)
    if named is not None:
        return named
    host = host_from_path(path)
    return host, service_from_host(host)


# Kubernetes' container logs: /var/log/containers/<pod>_<namespace>_<container>-<id>.log,
# links to /var/log/pods/<namespace>_<pod>_<uid>/<container>/0.log (and its rotations)
_K8S_LINK = re.compile(r"^([a-z0-9][a-z0-9.-]*)_[a-z0-9-]+_[a-z0-9-]+-[0-9a-f]{64}\.log")
_K8S_POD = re.compile(r"^[a-z0-9-]+_([a-z0-9][a-z0-9.-]*)_[0-9a-f-]{36}$")
_K8S_LOG = re.compile(r"^[0-9]+\.log")
# what a pod's name adds to its workload's: a ReplicaSet's hash and a random suffix
# (a Deployment's pods), or the suffix alone (a DaemonSet's, a Job's), in the letters
# Kubernetes makes names of; a StatefulSet's ordinal (-0) goes as an instance number
_K8S_ALPHABET = "[bcdfghjklmnpqrstvwxz2456789]"
_K8S_SUFFIX = re.compile(f"(?:-{_K8S_ALPHABET}{{6,10}})?-{_K8S_ALPHABET}{{5}}$")
# Docker's json-file logs: /var/lib/docker/containers/<id>/<id>-json.log
_DOCKER_LOG = re.compile(r"^([0-9a-f]{64})-json\.log")


def container_names(path: str) -> tuple[str, str] | None:
    """(pod, workload) of a Kubernetes container's log file, as the kubelet names it
    (``api-7d9f8b6c5d-x2x4z_default_api-<id>.log`` → api-7d9f8b6c5d-x2x4z, api); (the
    short id, twice) of a Docker container's; None for any other file."""
    p = Path(path)
    link = _K8S_LINK.match(p.name)
    pod_dir = _K8S_POD.match(p.parent.parent.name) if _K8S_LOG.match(p.name) else None
    docker = _DOCKER_LOG.match(p.name)
    if docker is not None:
        return docker.group(1)[:12], docker.group(1)[:12]
    found = link or pod_dir
    if found is None:
        return None
    pod = found.group(1)
    return pod, workload_of_pod(pod)


def workload_of_pod(pod: str) -> str:
    """A pod's workload: its name without what Kubernetes added (api-7d9f8b6c5d-x2x4z →
    api, users-0 → users)."""
    workload = _K8S_SUFFIX.sub("", pod)
    return workload if workload != pod else service_from_host(pod)


def workloads_of(pods: pl.Expr) -> pl.Expr:
    """:func:`workload_of_pod` of each pod of a column."""
    workload = pods.str.replace(_K8S_SUFFIX.pattern, "")
    return pl.when(workload != pods).then(workload).otherwise(service_of(pods))
