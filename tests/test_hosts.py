"""Which host and service a log's path names (hosts.py)."""

from __future__ import annotations

import polars as pl
import pytest

from logtrace.hosts import host_from_path, names_from_path, service_from_host, service_of


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("logs/web-1.access.log.2.gz", "web-1"),
        ("edge-1.log", "edge-1"),
        ("/var/log/api-3/access.log", "api-3"),
        ("/var/log/nginx/access.log", "local"),
        ("logs/web-1/nginx/access.log", "web-1"),  # gathered: a folder per host
        ("logs/web-2/var/log/nginx/access.log.1", "web-2"),  # rsync -R
        ("/tmp/access.log", "local"),
        ("-", "stdin"),
        ("/dev/fd/63", "pipe-63"),  # bash's <(command)
        ("/proc/self/fd/12", "pipe-12"),
    ],
)
def test_host_comes_from_the_file_name(path: str, host: str) -> None:
    assert host_from_path(path) == host


_ID = "0123456789abcdef" * 4
_PODS = "/var/log/containers/"


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (f"{_PODS}api-7d9f8b6c5d-x2x4z_shop_api-{_ID}.log", ("api-7d9f8b6c5d-x2x4z", "api")),
        (f"{_PODS}fluentd-x2x4z_kube-system_fluentd-{_ID}.log", ("fluentd-x2x4z", "fluentd")),
        (f"{_PODS}nginx-proxy_default_nginx-{_ID}.log", ("nginx-proxy", "nginx-proxy")),
        ("/var/log/pods/db_postgres-1_1b2c3d4e-1111-2222-3333-444455556666/pg/0.log.20261126-120000.gz",
         ("postgres-1", "postgres")),
        (f"/var/lib/docker/containers/{_ID}/{_ID}-json.log", (_ID[:12], _ID[:12])),
        ("logs/web-1.access.log", ("web-1", "web")),
        ("/var/log/pods/not-a-pod/app/0.log", ("not-a-pod", "not-a-pod")),
    ],
)  # fmt: skip
def test_a_containers_log_names_its_pod_and_workload(path: str, names: tuple[str, str]) -> None:
    assert names_from_path(path) == names


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("api-2", "api"),
        ("web1", "web"),
        ("edge", "edge"),
        ("web-1.example.com", "web"),  # a syslog line's host, or PATH@HOST
        ("10.0.0.5", "10.0.0.5"),  # an address names no service but itself
        ("fd00::5", "fd00::5"),
        ("7", "7"),
    ],
)
def test_service_is_the_host_without_its_instance_number(host: str, service: str) -> None:
    assert service_from_host(host) == service
    column = pl.DataFrame({"host": [host]}).select(service_of(pl.col("host")))
    assert column.item() == service  # the same, for the hosts of a column
