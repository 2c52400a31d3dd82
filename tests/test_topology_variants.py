"""Every topology variant runs for real and plants what it claims, in its logs and its truth.

The runs are the session's small seeded matrix (conftest.py's `variant_run`), shared with
test_topology_matrix.py.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from topology.procs import group_members, port_accepts
from topology.shapes import SHAPES
from topology.truth import all_calls
from topology.variants import VARIANTS

from tests.conftest import MATRIX_REQUESTS

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

Runner = Callable[[str], Path]
PROXIED = [name for name, v in VARIANTS.items() if v.proxy is not None]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
HEX32 = re.compile(r"[0-9a-f]{32}")


def truth(run: Path) -> list[dict[str, Any]]:
    lines = (run / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def topology(run: Path) -> dict[str, Any]:
    return dict(json.loads((run / "topology.json").read_text(encoding="utf-8")))


def log_text(run: Path, host: str) -> str:
    """Everything a host logged, its rotated and compressed files included."""
    texts = []
    for log in topology(run)["hosts"][host]["logs"]:
        path = run / log["path"]
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        texts.append(raw.decode("utf-8"))
    return "".join(texts)


def proxied_calls(run: Path) -> list[dict[str, Any]]:
    return [c for r in truth(run) for c in all_calls(r["calls"]) if c["proxy"]]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_request_has_an_id_and_one_line_at_its_edge(
    variant_run: Runner, variant: str
) -> None:
    run = variant_run(variant)
    records = truth(run)
    assert len(records) == MATRIX_REQUESTS
    edges = topology(run)["edges"]
    lines = {edge: log_text(run, edge).splitlines() for edge in edges}
    assert sum(len(v) for v in lines.values()) == len(records)
    for record in records:
        assert record["request_id"], record["seq"]
        assert any(record["request_id"] in line for line in lines[record["edge"]]), record["seq"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_call_reached_its_service_and_is_in_both_logs(
    variant_run: Runner, variant: str
) -> None:
    run = variant_run(variant)
    calls = [c for r in truth(run) for c in all_calls(r["calls"])]
    assert calls
    for call in calls:
        assert call["callee_host"] is not None, call["target"]
        assert call["callee_path"].split("?")[0] in log_text(run, call["callee_host"])
        assert call["caller_path"].split("?")[0] in log_text(run, call["caller_host"])


@pytest.mark.parametrize("variant", PROXIED)
def test_the_proxy_maps_paths_as_its_locations_say(variant_run: Runner, variant: str) -> None:
    run = variant_run(variant)
    proxy = topology(run)["proxy"]
    styles = {loc["style"] for loc in proxy["locations"]}
    proxy_log = log_text(run, proxy["host"])
    calls = proxied_calls(run)
    assert calls
    for call in calls:
        assert f'"{call["method"]} {call["proxy_path"]} HTTP/1.1"' in proxy_log
        if styles == {"pass"}:
            assert call["proxy_path"] == call["callee_path"]
        else:  # every location strips or rewrites: the proxy's path is never the service's
            assert call["proxy_path"] != call["callee_path"]


def test_strip_logs_one_call_three_ways_as_in_the_issue(variant_run: Runner) -> None:
    run = variant_run("strip")
    users = [c for c in proxied_calls(run) if c["callee"] == "users-svc"]
    assert users
    for call in users:
        assert re.fullmatch(r"/profile/\d+(/\w+)?", call["caller_path"])
        assert call["proxy_path"] == "/users-svc" + call["callee_path"]
        assert call["caller_path"] == call["callee_path"]
    web = log_text(run, "web-1") + log_text(run, "web-2")
    assert '"event":"downstream_call"' in web
    assert '"target":"users-svc"' in web
    feed = log_text(run, "feed-svc-1")
    assert re.search(
        r"\] feed-svc: call users-svc GET /profile/\d+ -> 200 in [\d.]+ms$", feed, re.M
    )
    assert re.search(r"\] feed-svc: GET /feed/\d+\?limit=20 200 [\d.]+ms$", feed, re.M)
    assert re.search(r'msg="request finished" .*duration_ms=', log_text(run, "users-svc-1"))
    assert re.search(r" trace_id=[0-9a-f]{32}$", log_text(run, "inventory-svc-1"), re.M)


def test_strip_edge_log_is_rotated_halfway_and_gzipped(variant_run: Runner) -> None:
    run = variant_run("strip")
    logs = [log["path"] for log in topology(run)["hosts"]["edge-1"]["logs"]]
    assert logs == ["logs/edge-1.access.log.1.gz", "logs/edge-1.access.log"]
    rotated = gzip.decompress((run / logs[0]).read_bytes()).decode().splitlines()
    current = (run / logs[1]).read_text().splitlines()
    assert len(rotated) + len(current) == MATRIX_REQUESTS
    # Rotated when half the responses were in; requests in flight land on either side.
    assert abs(len(rotated) - MATRIX_REQUESTS / 2) <= 10
    assert not (run / "logs" / "edge-1.access.log.1").exists()


def test_strip_nginx_log_whole_seconds_and_the_edge_another_zone(variant_run: Runner) -> None:
    run = variant_run("strip")
    hosts = topology(run)["hosts"]
    proxy_format = hosts["proxy-1"]["logs"][0]["format"]
    assert "$http_x_request_id" in proxy_format
    assert "$msec" not in proxy_format
    assert "$upstream_addr" not in proxy_format
    assert all(" +0530] " in line for line in log_text(run, "edge-1").splitlines())


@pytest.mark.parametrize("variant", ["strip", "direct", "libraries"])
def test_a_chain_is_three_services_deep(variant_run: Runner, variant: str) -> None:
    run = variant_run(variant)
    nested = [r for r in truth(run) if r["scenario"] == "nested"]
    assert nested
    for record in nested:
        (feed,) = record["calls"]
        (users,) = feed["calls"]
        assert users["caller_host"] == feed["callee_host"]
        assert users["callee"] == record["calls"][0]["calls"][0]["callee"]
        assert bool(users["proxy"]) == (VARIANTS[variant].proxy is not None)


def test_direct_calls_go_straight_to_the_service(variant_run: Runner) -> None:
    run = variant_run("direct")
    hosts = topology(run)["hosts"]
    assert sorted(n for n, h in hosts.items() if h["kind"] == "nginx") == ["edge-1"]
    api1 = log_text(run, "api-1")
    for call in [c for r in truth(run) for c in all_calls(r["calls"])]:
        assert call["proxy"] is None
        if call["caller_host"] == "api-1":
            port = hosts[call["callee_host"]]["port"]
            assert f"http://127.0.0.1:{port}{call['target']}" in api1


def test_two_edges_take_turns(variant_run: Runner) -> None:
    run = variant_run("two-edges")
    records = truth(run)
    assert {r["edge"] for r in records} == {"edge-1", "edge-2"}
    assert all(r["edge"] == f"edge-{(r['seq'] - 1) % 2 + 1}" for r in records)
    assert topology(run)["hosts"]["edge-2"]["service"] == "edge"


def test_correlation_ids_a_client_sent_are_kept_everywhere(variant_run: Runner) -> None:
    run = variant_run("correlation-id")
    records = truth(run)
    sent = [r for r in records if UUID.fullmatch(r["request_id"])]
    minted = [r for r in records if HEX32.fullmatch(r["request_id"])]
    assert sent
    assert len(sent) + len(minted) == len(records)
    edge, mesh = log_text(run, "edge-1"), log_text(run, "mesh-1")
    for record in sent:
        assert f"cid={record['request_id']}" in edge
        if record["calls"]:
            assert f"cid={record['request_id']}" in mesh
            assert record["request_id"] in log_text(run, record["server"]["host"])


def test_traceparent_carries_the_trace_id_as_the_id(variant_run: Runner) -> None:
    run = variant_run("traceparent")
    records = truth(run)
    assert all(HEX32.fullmatch(r["request_id"]) for r in records)
    edge = [json.loads(line) for line in log_text(run, "edge-1").splitlines()]
    by_trace = {e["trace_id"]: e for e in edge}
    inherited = [e for e in edge if e["in_traceparent"]]
    assert inherited  # some clients sent their own traceparent; the edge kept its trace id
    assert all(e["trace_id"] != e["req_id"] for e in inherited)
    mesh = log_text(run, "mesh-1")
    for record in records:
        assert record["request_id"] in by_trace
        if record["calls"]:
            assert re.search(rf'traceparent="00-{record["request_id"]}-[0-9a-f]{{16}}-01"', mesh)
    assert re.search(
        r'"trace_id": "[0-9a-f]{32}", "span_id": "[0-9a-f]{16}"', log_text(run, "api-1")
    )


@pytest.mark.parametrize("variant", ["coarse-proxy", "skew-behind-coarse"])
def test_coarse_proxies_log_whole_seconds_only(variant_run: Runner, variant: str) -> None:
    run = variant_run(variant)
    log = topology(run)["hosts"]["mesh-1"]["logs"][0]
    assert not log["precise"]
    assert "msec=" not in log_text(run, "mesh-1")


def test_the_skew_behind_whole_second_proxies_is_in_its_log(variant_run: Runner) -> None:
    run = variant_run("skew-behind-coarse")
    skew = topology(run)["skews"]["feed-1"]
    ends = {
        c["served"]["request_id"]: c["served"]["end"]
        for r in truth(run)
        for c in all_calls(r["calls"])
        if c["callee_host"] == "feed-1"
    }
    shifts = []
    for line in log_text(run, "feed-1").splitlines():
        if 'msg="request finished"' in line:
            stamp = line.split(" ", 1)[0].removeprefix("ts=").replace("Z", "+00:00")
            rid = re.search(r"request_id=(\S+)", line)
            assert rid
            shifts.append(datetime.fromisoformat(stamp).timestamp() - ends[rid[1]])
    assert shifts
    assert all(abs(s - skew) <= 0.005 for s in shifts)
    # Nothing but a whole-second nginx calls it or is called by it.
    feed_calls = [
        c
        for r in truth(run)
        for c in all_calls(r["calls"])
        if "feed-1" in (c["caller_host"], c["callee_host"])
    ]
    assert feed_calls
    assert all(c["proxy"] == "mesh-1" for c in feed_calls)


def test_libraries_log_in_at_least_six_library_shapes(variant_run: Runner) -> None:
    run = variant_run("libraries")
    hosts = topology(run)["hosts"]
    shapes = {h["logs"][0]["format"] for h in hosts.values() if h["kind"] == "app"}
    libraries = {s for s in shapes if SHAPES[s].corpus}
    assert len(libraries) >= 6
    for name, host in hosts.items():
        if host["kind"] == "app":
            frame = SHAPES[host["logs"][0]["format"]].frame
            assert frame
            lines = log_text(run, name).splitlines()
            assert lines, name
            assert all(re.match(frame, line) for line in lines), name


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list process groups")
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_process_a_variant_started_is_gone(variant_run: Runner, variant: str) -> None:
    hosts = topology(variant_run(variant))["hosts"]
    for name, host in hosts.items():
        assert host["stopped_gracefully"], name
        assert group_members(host["pgid"]) == [], name
        assert not port_accepts(host["port"]), name
