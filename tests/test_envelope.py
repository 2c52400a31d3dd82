"""Logs in a container runtime's envelope (CRI, Docker's json-file) read as the lines
they hold: the same report as the plain logs, every line counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from logtrace import envelope
from logtrace.cli import app
from logtrace.envelope import Envelope

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs"
CONF = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
runner = CliRunner()


def _time(i: int) -> str:
    """RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano, as kubelet
    and containerd write it)."""
    return f"2026-11-26T12:37:{i // 1000 % 60:02d}.{i % 1000:03d}{(i * 7919) % 1000:03d}1Z"


def cri(lines: list[str]) -> str:
    return "".join(
        f"{_time(i)} {'stdout' if i % 9 else 'stderr'} F {ln}\n" for i, ln in enumerate(lines)
    )


def go_json(value: str) -> str:
    """A JSON string as Go's encoding/json writes it (Docker's json-file driver): <, >
    and & escaped as \\u003c, \\u003e, \\u0026; other characters as UTF-8."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def docker(lines: list[str]) -> str:
    return "".join(
        f'{{"log":{go_json(ln + chr(10))},"stream":"stdout","time":"{_time(i)}"}}\n'
        for i, ln in enumerate(lines)
    )


def _fixed(i: int) -> str:
    """RFC 3339 with nine digits of fraction, always (RFC3339NanoFixed: kubectl logs
    --timestamps, docker logs --timestamps)."""
    return f"2026-11-26T12:37:{i // 1000 % 60:02d}.{i % 1000:03d}{(i * 7919) % 1000:03d}001Z"


def timestamped(lines: list[str]) -> str:
    return "".join(f"{_fixed(i)} {ln}\n" for i, ln in enumerate(lines))


def compose(streams: dict[str, list[str]], *, colour: bool = False, times: bool = False) -> str:
    """``docker compose logs`` of containers named by ``streams``' keys: their lines
    interleaved, three at a time, each after its container's name padded to one more
    than the longest and " | " ("%-{width}s | ", cmd/formatter/logs.go); ``colour``: as
    with --ansi always (each container's prefix in a colour); ``times``: --timestamps.
    First, the line ``docker compose up`` prints before any container's."""
    width = max(map(len, streams)) + 1
    out = [f"Attaching to {', '.join(sorted(streams))}"]
    at = dict.fromkeys(streams, 0)
    while any(at[n] < len(v) for n, v in streams.items()):
        for k, (name, lines) in enumerate(streams.items()):
            for line in lines[at[name] : at[name] + 3]:
                prefix = f"{name:<{width}} | "
                if colour:
                    prefix = f"\x1b[{36 + k % 3}m{prefix}\x1b[0m"
                out.append(prefix + (f"{_fixed(len(out))} " if times else "") + line)
            at[name] += 3
    return "\n".join(out) + "\n"


def _micros(i: int) -> int:
    return 1_795_696_633_000_000 + i * 1_234_567


def journal(lines: list[str]) -> str:
    """As ``journalctl -o json`` prints records: a JSON object a line, its fields in no
    set order (a hash's), the time in microseconds since the epoch (see
    fixtures/syslog/journal.json, written by journalctl itself)."""
    out = []
    for i, line in enumerate(lines):
        record = {
            "_TRANSPORT": "stdout",
            "__REALTIME_TIMESTAMP": str(_micros(i)),
            "MESSAGE": line,
            "__CURSOR": f"s=9c9d885cb52742a4a09127b61d4df93e;i={i + 1:x};b=0f4f6b5c;m=f4240;t=1",
            "_HOSTNAME": "orders-7",
            "SYSLOG_IDENTIFIER": "orders",
        }
        keys = sorted(record, key=lambda k: hash((k, i)))
        out.append(json.dumps({k: record[k] for k in keys}, ensure_ascii=False) + "\n")
    return "".join(out)


def report(*args: str, folder: Path = SAMPLE) -> dict[str, Any]:
    """analyze --json, with the logs' folder taken off the paths it names."""
    result = runner.invoke(app, ["analyze", *args, "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout.replace(f"{folder}/", ""))
    return doc


def _same(plain: dict[str, Any], wrapped: dict[str, Any]) -> None:
    for key in ("requests", "latency", "routes", "slowest", "error_rate"):
        assert wrapped[key] == plain[key], key
    for p, w in zip(plain["sources"], wrapped["sources"], strict=True):
        for key in ("path", "lines_total", "lines_parsed", "lines_rejected", "format", "host"):
            assert w[key] == p[key], key


@pytest.mark.parametrize("wrap", [cri, docker])
def test_an_nginx_log_in_an_envelope_reads_as_the_plain_log(tmp_path: Path, wrap: Any) -> None:
    edge = SAMPLE / "edge-1.access.log"
    plain = report(str(edge))
    (tmp_path / "edge-1.access.log").write_text(wrap(edge.read_text().splitlines()))
    wrapped = report(str(tmp_path / "edge-1.access.log"), folder=tmp_path)
    _same(plain, wrapped)
    name = "cri" if wrap is cri else "docker-json"
    assert wrapped["sources"][0]["envelope"] == name
    assert plain["sources"][0]["envelope"] is None


def test_the_logs_of_several_services_in_envelopes_join_as_the_plain_ones(
    tmp_path: Path,
) -> None:
    names = ["edge-1.access.log", "mesh-1.access.log", "api-1.log", "api-2.log",
             "inventory-1.log", "users-1.log"]  # fmt: skip
    for i, name in enumerate(names):
        wrap = cri if i % 2 else docker
        (tmp_path / name).write_text(wrap((SAMPLE / name).read_text().splitlines()))
    plain = report(*(str(SAMPLE / n) for n in names), *CONF)
    wrapped = report(*(str(tmp_path / n) for n in names), *CONF, folder=tmp_path)
    _same(plain, wrapped)
    assert wrapped["services"] == plain["services"]
    assert [s["envelope"] for s in wrapped["sources"]] == ["docker-json", "cri"] * 3


def test_lines_outside_the_envelope_and_cut_parts_are_counted(tmp_path: Path) -> None:
    """A line the runtime cut (P parts, then F) is joined again: parsed, counted once, and
    said; a plain line among enveloped ones is parsed as itself."""
    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines()[:300]
    text = cri(lines[:100]) + lines[100] + "\n" + cri(lines[101:])
    long = lines[5]
    text += f"{_time(1)} stdout P {long[:40]}\n{_time(2)} stdout F {long[40:]}\n"
    (tmp_path / "edge.log").write_text(text)
    (source,) = report(str(tmp_path / "edge.log"), "--preset", "trace")["sources"]
    assert source["lines_total"] == 301
    assert (source["lines_parsed"], source["lines_rejected"]) == (301, 0)
    assert source["envelope"] == "cri"
    assert any("1 part of lines the container runtime had cut" in w for w in source["warnings"])


def cut(lines: list[str], size: int, *, wrap: str) -> str:
    """Lines as a runtime writes them when longer than ``size`` bytes: in parts of
    ``size``, each in an envelope line of its own (CRI: P, then F; json-file: the line's
    end only in the last part); every third line on stderr, and a stdout line written
    between a stderr line's parts where one follows."""
    rows: list[tuple[int, str, bool, str]] = []  # line, stream, a part (more to come), text
    for i, line in enumerate(lines):
        stream = "stderr" if i % 3 == 0 else "stdout"
        data = line.encode()
        pieces = [data[k : k + size].decode() for k in range(0, len(data), size)] or [""]
        rows += [(i, stream, k < len(pieces) - 1, p) for k, p in enumerate(pieces)]
    for k in range(len(rows) - 2):
        if rows[k][1] == "stderr" and rows[k][2] and rows[k + 2][1] == "stdout":
            rows[k + 1], rows[k + 2] = rows[k + 2], rows[k + 1]
    out = []
    for i, stream, more, piece in rows:
        if wrap == "cri":
            out.append(f"{_time(i)} {stream} {'P' if more else 'F'} {piece}\n")
        else:
            log = go_json(piece + ("" if more else "\n"))
            out.append(f'{{"log":{log},"stream":"{stream}","time":"{_time(i)}"}}\n')
    return "".join(out)


@pytest.mark.parametrize("wrap", ["cri", "docker"])
def test_lines_the_runtime_cut_in_parts_are_read_whole(tmp_path: Path, wrap: str) -> None:
    """JSON app lines of up to 40 KB, cut at 16 KB as containerd and Docker do, stdout's
    and stderr's parts interleaved, read in blocks smaller than a line: each line whole
    again, at its first part's number, and the report the plain log's."""
    from logtrace.sources import ReadReport, Source, iter_frames

    lines = (SAMPLE / "api-1.log").read_text().splitlines()
    padded = [
        ln[:-1] + f', "payload": "{"x" * (i * 977 % 40000)}"}}' if i % 7 == 0 else ln
        for i, ln in enumerate(lines)
    ]
    (tmp_path / "api-1.log").write_text("\n".join(padded) + "\n")
    (tmp_path / "wrapped.log").write_text(cut(padded, 16 * 1024, wrap=wrap))
    read = ReadReport()
    source = Source(str(tmp_path / "wrapped.log"), "api-1", "api")
    frames = list(iter_frames(source, read, 64 * 1024))
    whole = pl.concat(frames).sort("line_no")
    assert sorted(whole.get_column("line").to_list()) == sorted(padded)
    assert whole.get_column("line_no").is_unique().all()
    assert read.parts_joined == sum(max(0, (len(ln.encode()) - 1) // (16 * 1024)) for ln in padded)
    plain = report(str(tmp_path / "api-1.log"), folder=tmp_path)
    wrapped = report(str(tmp_path / "wrapped.log"), folder=tmp_path)
    for key in ("requests", "latency", "routes", "error_rate"):
        assert wrapped[key] == plain[key], key
    (counted,) = wrapped["sources"]
    assert (counted["lines_total"], counted["lines_rejected"]) == (len(padded), 0)


def test_logs_that_merely_start_with_a_time_are_in_no_envelope() -> None:
    def lines(*texts: str) -> pl.DataFrame:
        return pl.DataFrame({"line_no": range(1, len(texts) + 1), "line": list(texts)})

    assert envelope.detect(lines(*(SAMPLE / "inventory-1.log").read_text().splitlines())) is None
    zap = '2026-11-26T12:37:13.123Z\tINFO\tserved\t{"path": "/a"}'
    assert envelope.detect(lines(zap, zap)) is None
    assert envelope.detect(lines('{"log":"x","level":"info"}')) is None
    assert envelope.detect(lines(cri(["a", "b"]).splitlines()[0], None)) is Envelope.CRI  # type: ignore[arg-type]


def test_an_empty_line_logged_is_a_blank_line() -> None:
    frame = pl.DataFrame(
        {"line_no": [1, 2], "line": [cri(["", "x"]).splitlines()[i] for i in (0, 1)]}
    )
    assert envelope.unwrap(frame, Envelope.CRI).get_column("line").to_list() == [None, "x"]
    assert envelope.text_of(envelope.unwrap(frame, Envelope.CRI)) == b"\nx\n"


FIXTURES = Path(__file__).parent / "fixtures"
REAL_LOGS = sorted((FIXTURES / "app-log-shapes").glob("*.log")) + sorted(
    (FIXTURES / "nginx-edge-cases").glob("*.log")
)


@pytest.mark.parametrize("log", REAL_LOGS, ids=lambda p: p.name)
def test_real_logs_are_in_no_envelope_and_wrapped_come_out_the_same(log: Path) -> None:
    """34 logging setups' output and real nginx lines (a Spring Boot log starts with an
    RFC 3339 time too): in no envelope; in either, unwrapped to exactly their lines."""
    text = log.read_bytes().decode("utf-8", "backslashreplace")
    lines = text.splitlines()
    frame = pl.DataFrame({"line_no": range(1, len(lines) + 1), "line": lines})
    frame = frame.with_columns(pl.col("line").replace("", None))
    assert envelope.detect(frame) is None
    in_syslog = syslog(lines, ["web-2"] * len(lines))
    in_kubectl = "".join(f"[pod/web-5c8d66c76d-4lk2p/nginx] {ln}\n" for ln in lines)
    for text, kind in (
        (cri(lines), Envelope.CRI),
        (docker(lines), Envelope.DOCKER),
        (in_syslog, Envelope.SYSLOG),
        (journal(lines), Envelope.JOURNAL),
    ):
        wrapped = pl.DataFrame({"line_no": frame["line_no"], "line": text.splitlines()})
        assert envelope.detect(wrapped) is kind
        unwrapped = envelope.unwrap(wrapped, kind)
        assert_frame_equal(unwrapped.select("line_no", "line"), frame)
        if kind is Envelope.SYSLOG:
            assert unwrapped.select("host", "service").unique().rows() == [("web-2", "web")]
    wrapped = pl.DataFrame({"line_no": frame["line_no"], "line": in_kubectl.splitlines()})
    assert envelope.detect(wrapped) is Envelope.KUBECTL
    unwrapped = envelope.unwrap(wrapped, Envelope.KUBECTL)
    assert_frame_equal(unwrapped.select("line_no", "line"), frame)
    assert unwrapped.select("host", "service").unique().rows() == [("web-5c8d66c76d-4lk2p", "web")]
    assert envelope.detect_all(frame) == ()
    nested = [
        (timestamped(lines), (Envelope.TIMESTAMPS,)),
        (compose({"web-1": lines}), (Envelope.COMPOSE,)),
        (
            compose({"web-1": lines}, colour=True, times=True),
            (Envelope.COMPOSE, Envelope.TIMESTAMPS),
        ),
        (
            "".join(
                f"[pod/web-5c8d66c76d-4lk2p/nginx] {ln}"
                for ln in timestamped(lines).splitlines(True)
            ),
            (Envelope.KUBECTL, Envelope.TIMESTAMPS),
        ),
    ]
    for text, kinds in nested:
        rows = text.splitlines()
        rows = rows[1:] if rows[0].startswith("Attaching to") else rows
        wrapped = pl.DataFrame({"line_no": frame["line_no"], "line": rows})
        assert envelope.detect_all(wrapped) == kinds
        assert_frame_equal(envelope.unwrap_all(wrapped, kinds).select("line_no", "line"), frame)


# The sample deployment on a Kubernetes node: each log as the kubelet keeps it
# (/var/log/pods/<namespace>_<pod>_<uid>/<container>/0.log, CRI lines), pods of
# Deployments (api: two replicas), a StatefulSet (users-0) and the ingress controller.
PODS = {
    "edge-1.access.log": (
        "ingress-nginx",
        "ingress-nginx-controller-5c8d66c76d-4lk2p",
        "controller",
    ),
    "mesh-1.access.log": ("mesh", "mesh-6f7d8b9c4-q2w4x", "nginx"),
    "api-1.log": ("shop", "api-7d9f8b6c5d-x2x4z", "api"),
    "api-2.log": ("shop", "api-7d9f8b6c5d-b5q8w", "api"),
    "inventory-1.log": ("shop", "inventory-79c8d6f5b4-k2m4p", "app"),
    "users-1.log": ("shop", "users-0", "users"),
}
WORKLOADS = {"edge": "ingress-nginx-controller", "mesh": "mesh", "api": "api",
             "inventory": "inventory", "users": "users"}  # fmt: skip


def test_a_kubernetes_nodes_pod_logs_give_the_sample_deployments_report(tmp_path: Path) -> None:
    """Pointed at /var/log/pods: a folder per pod, CRI lines; hosts are the pods and
    services their workloads; the report is the plain logs' with those names."""
    for i, (name, (namespace, pod, container)) in enumerate(PODS.items()):
        folder = (
            tmp_path / "pods" / f"{namespace}_{pod}_{i:08d}-aaaa-bbbb-cccc-dddddddddddd" / container
        )
        folder.mkdir(parents=True)
        (folder / "0.log").write_text(cri((SAMPLE / name).read_text().splitlines()))
    plain = report(*(str(SAMPLE / n) for n in PODS), *CONF)
    pods = report(str(tmp_path / "pods"), *CONF, folder=tmp_path)
    for key in ("requests", "latency", "routes", "error_rate"):
        assert pods[key] == plain[key], key
    assert sorted((s["host"], s["service"]) for s in pods["sources"]) == sorted(
        (pod, WORKLOADS[s["service"]])
        for s, (_, pod, _) in zip(plain["sources"], PODS.values(), strict=True)
    )
    renamed = [
        {**row, "service": WORKLOADS[row["service"]], "hosts": ""} for row in plain["services"]
    ]
    assert [{**row, "hosts": ""} for row in pods["services"]] == renamed


SYSLOG = FIXTURES / "syslog"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("traditional.log", "syslog"), ("precise.log", "syslog"), ("journal.json", "journal-json")],
)
def test_nginx_logging_to_syslog_as_rsyslog_wrote_it_reads_as_its_own_file(
    name: str, kind: str
) -> None:
    """Real nginx, access_log syslog:server=... and a file; real rsyslogd, and the same
    records in a journal as ``journalctl -o json`` prints them (fixtures)."""
    plain = report(str(SYSLOG / "access.log"), folder=SYSLOG)
    wrapped = report(str(SYSLOG / name), folder=SYSLOG)
    for key in ("requests", "latency", "routes", "error_rate"):
        assert wrapped[key] == plain[key], key

    strip = [{**r, "source": None, "line_no": None} for r in plain["slowest"]]
    slowest = [{**r, "source": None, "line_no": None} for r in wrapped["slowest"]]
    if kind == "syslog":
        assert slowest == strip
    else:  # the journal's times place lines within their second: ties may order otherwise
        assert [r["request_time_s"] for r in slowest] == [r["request_time_s"] for r in strip]
        assert all(r["time"][:19] in {s["time"][:19] for s in strip} for r in slowest)
    (source,) = wrapped["sources"]
    assert (source["envelope"], source["lines_parsed"], source["lines_rejected"]) == (
        kind,
        900,
        0,
    )
    assert (source["host"], source["service"]) == ("vm", "vm")


def syslog(lines: list[str], hosts: list[str]) -> str:
    """As rsyslog's traditional format writes what each host's nginx sent."""
    return "".join(
        f"Dec  5 16:55:{i % 60:02d} {host} nginx: {line}\n"
        for i, (line, host) in enumerate(zip(lines, hosts, strict=True))
    )


def test_a_central_syslog_files_lines_are_each_of_the_host_that_sent_them(
    tmp_path: Path,
) -> None:
    """Two edges' lines in one file: spans on each edge, as from a file per edge."""
    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines()
    hosts = ["edge-1" if i % 3 else "edge-2" for i in range(len(lines))]
    (tmp_path / "syslog").write_text(syslog(lines, hosts))
    for host in ("edge-1", "edge-2"):
        mine = [ln for ln, h in zip(lines, hosts, strict=True) if h == host]
        (tmp_path / f"{host}.log").write_text("\n".join(mine) + "\n")

    def spans(*files: str) -> pl.DataFrame:
        out = tmp_path / "spans.csv"
        result = runner.invoke(app, ["export", "spans", *files, "-o", str(out), "--no-lines"])
        assert result.exit_code == 0, result.output
        keys = ["request_id", "host", "service", "kind", "start", "end", "status"]
        return pl.read_csv(out, infer_schema=False).select(keys).sort(keys)

    together = spans(str(tmp_path / "syslog"))
    apart = spans(str(tmp_path / "edge-1.log"), str(tmp_path / "edge-2.log"))
    assert_frame_equal(together, apart)
    assert sorted(together.get_column("host").unique().to_list()) == ["edge-1", "edge-2"]
    assert together.get_column("service").unique().to_list() == ["edge"]


@pytest.mark.parametrize(
    "prefix",
    [
        "Dec 05 16:55:09 web-1 nginx[4242]: ",  # journalctl -o short
        "2026-12-05T16:55:09+0000 web-1 nginx[4242]: ",  # journalctl -o short-iso
        "2026-12-05T16:55:09.123456+01:00 web-1 nginx: ",  # rsyslog's RSYSLOG_FileFormat
    ],
)
def test_the_journals_and_syslogs_time_shapes_are_unwrapped(prefix: str) -> None:
    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines()[:50]
    frame = pl.DataFrame({"line_no": range(1, 51), "line": [prefix + ln for ln in lines]})
    assert envelope.detect(frame) is Envelope.SYSLOG
    unwrapped = envelope.unwrap(frame, Envelope.SYSLOG)
    assert unwrapped.get_column("line").to_list() == lines
    assert unwrapped.select("host", "service").unique().rows() == [("web-1", "web")]


def test_a_syslog_file_beside_a_plain_log_of_its_service_is_compared_with_it(
    tmp_path: Path,
) -> None:
    """edge-8.log (syslog lines of edge-1 and edge-2) and edge-9.log, the first 100 of the
    same lines as nginx wrote them: one service, compared on their first lines, and the
    copy counted once."""
    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines()
    hosts = ["edge-1" if i % 3 else "edge-2" for i in range(len(lines))]
    (tmp_path / "edge-8.log").write_text(syslog(lines, hosts))
    (tmp_path / "edge-9.log").write_text("\n".join(lines[:100]) + "\n")
    doc = report(str(tmp_path / "edge-8.log"), str(tmp_path / "edge-9.log"), folder=tmp_path)
    assert doc["requests"] == len(lines)
    assert [(s["host"], s["service"]) for s in doc["sources"]] == [
        ("edge-1, edge-2", "edge"),
        ("edge-9", "edge"),
    ]
    assert any("counted once" in w for w in doc["sources"][1]["warnings"])


def test_a_trace_of_a_syslog_file_shows_its_lines_as_nginx_wrote_them(tmp_path: Path) -> None:
    lines = (SAMPLE / "edge-1.access.log").read_text().splitlines()
    (tmp_path / "central.log").write_text(syslog(lines, ["edge-2"] * len(lines)))
    rid = lines[4].split()[-1]
    result = runner.invoke(app, ["trace", rid, str(tmp_path / "central.log"), "--lines", "--json"])
    assert result.exit_code == 0, result.output
    spans = json.loads(result.stdout)["spans"]
    assert {s["host"] for s in spans} == {"edge-2"}
    assert spans[0]["lines"] == [f"{tmp_path / 'central.log'}:5: {lines[4]}"]


def test_kubectl_logs_of_a_deployments_pods_in_one_stream_are_each_of_its_pod(
    tmp_path: Path,
) -> None:
    """kubectl logs -l app=api --prefix: two replicas' lines in one stream, each of its
    pod; the report is that of a file per replica."""
    pods = ["api-7d9f8b6c5d-x2x4z", "api-7d9f8b6c5d-b5q8w"]
    lines = (SAMPLE / "api-1.log").read_text().splitlines()
    ids = [json.loads(ln).get("request_id") or "" for ln in lines]
    of = [pods[int(i[-1], 16) % 2] if i else pods[0] for i in ids]  # a request stays on one pod
    (tmp_path / "api.log").write_text(
        "".join(f"[pod/{p}/api] {ln}\n" for p, ln in zip(of, lines, strict=True))
    )
    labels = []
    for pod in pods:
        (tmp_path / f"{pod}.log").write_text(
            "".join(f"{ln}\n" for p, ln in zip(of, lines, strict=True) if p == pod)
        )
        labels += ["--source", f"{pod}/api={tmp_path / pod}.log"]
    others = [str(SAMPLE / n) for n in ("edge-1.access.log", "mesh-1.access.log", "api-2.log",
                                         "inventory-1.log", "users-1.log")]  # fmt: skip
    plain = report(*others, *labels, *CONF)
    streamed = report(*others, str(tmp_path / "api.log"), *CONF)
    for key in ("requests", "latency", "routes", "error_rate", "services"):
        assert streamed[key] == plain[key], key
    (source,) = [s for s in streamed["sources"] if s["path"].endswith("api.log")]
    assert (source["envelope"], source["host"], source["service"]) == (
        "kubectl",
        ", ".join(sorted(pods)),
        "api",
    )
    assert source["lines_rejected"] == 0
    hosts = sorted((h["host"], h["spans"]) for h in plain["hosts"])
    assert sorted((h["host"], h["spans"]) for h in streamed["hosts"]) == hosts


def test_kubectl_logs_of_a_pods_containers_in_one_stream_are_each_a_log(tmp_path: Path) -> None:
    """kubectl logs --all-containers --prefix of pods whose nginx container proxies to
    their app container: each container's lines are a log of their own, in its format
    (nginx's, the app's JSON); each line is of its pod, whose workload is the service."""
    edge = (SAMPLE / "edge-1.access.log").read_text().splitlines()
    api = (SAMPLE / "api-1.log").read_text().splitlines()
    pods = ["web-5c8d66c76d-4lk2p", "web-5c8d66c76d-9xq7m"]
    rows = [f"[pod/{pods[i % 2]}/nginx] {ln}" for i, ln in enumerate(edge)]
    rows += [f"[pod/{pods[i % 2]}/app] {ln}" for i, ln in enumerate(api)]
    rows = [r for pair in zip(rows[: len(edge)], rows[len(edge) :], strict=False) for r in pair]
    rows += [f"[pod/{pods[i % 2]}/app] {ln}" for i, ln in enumerate(api)][len(edge) :]
    (tmp_path / "web.log").write_text("\n".join(rows) + "\n")
    plain = report(str(SAMPLE / "edge-1.access.log"), str(SAMPLE / "api-1.log"), *CONF)
    streamed = report(str(tmp_path / "web.log"), *CONF, folder=tmp_path)
    for key in ("requests", "latency", "routes", "error_rate"):
        assert streamed[key] == plain[key], key
    by_path = {s["path"]: s for s in streamed["sources"]}
    assert sorted(by_path) == ["web.log[app]", "web.log[nginx]"]
    assert (by_path["web.log[nginx]"]["format"], by_path["web.log[app]"]["format"]) == (
        "trace",
        "json",
    )
    for source in by_path.values():
        assert (source["host"], source["service"], source["lines_rejected"]) == (
            ", ".join(sorted(pods)),
            "web",
            0,
        )
    assert sum(s["lines_total"] for s in by_path.values()) == len(edge) + len(api)


def test_syslog_hosts_named_in_full_or_by_address_give_their_services() -> None:
    """rsyslog writes the name a host sent (web-1.example.com) or, wanting one, its
    address: edges under a domain are one service; an address is its own."""
    line = (SAMPLE / "edge-1.access.log").read_text().splitlines()[0]
    hosts = ["web-1.example.com", "web-2.example.com", "10.0.0.5"]
    frame = pl.DataFrame({"line_no": [1, 2, 3], "line": syslog([line] * 3, hosts).splitlines()})
    names = envelope.unwrap(frame, Envelope.SYSLOG).select("host", "service").rows()
    assert names == [(h, s) for h, s in zip(hosts, ["web", "web", "10.0.0.5"], strict=True)]


def test_logs_with_the_runtimes_timestamps_read_as_the_plain_ones(tmp_path: Path) -> None:
    """``kubectl logs --timestamps`` of each service: the sample deployment's report."""
    names = list(PODS)
    for name in names:
        (tmp_path / name).write_text(timestamped((SAMPLE / name).read_text().splitlines()))
    plain = report(*(str(SAMPLE / n) for n in names), *CONF)
    wrapped = report(*(str(tmp_path / n) for n in names), *CONF, folder=tmp_path)
    _same(plain, wrapped)
    assert wrapped["services"] == plain["services"]
    assert {s["envelope"] for s in wrapped["sources"]} == {"timestamped"}


@pytest.mark.parametrize("options", [{}, {"colour": True, "times": True}])
def test_a_docker_compose_stream_reads_as_a_log_per_container(
    tmp_path: Path, options: dict[str, bool]
) -> None:
    """``docker compose logs`` of the whole deployment, one file: nginx's lines and three
    apps' (each in its own format) interleaved. Each container's lines are a log of their
    own, with their own format: the report of the files a container each. The line compose
    writes of its own is counted, rejected, once."""
    containers = {"edge-1": "edge-1.access.log", "mesh-1": "mesh-1.access.log",
                  "api-1": "api-1.log", "api-2": "api-2.log", "inventory-1": "inventory-1.log",
                  "users-1": "users-1.log"}  # fmt: skip
    streams = {c: (SAMPLE / f).read_text().splitlines() for c, f in containers.items()}
    (tmp_path / "compose.log").write_text(compose(streams, **options))
    plain = report(*(str(SAMPLE / f) for f in containers.values()), *CONF)
    stream = report(str(tmp_path / "compose.log"), *CONF, folder=tmp_path)
    for key in ("requests", "latency", "routes", "error_rate", "services"):
        assert stream[key] == plain[key], key
    by_host = {s["host"]: s for s in stream["sources"]}
    assert sorted(by_host) == sorted(containers)
    for p in plain["sources"]:
        s = by_host[p["host"]]
        assert (s["path"], s["service"], s["format"]) == (
            f"compose.log[{p['host']}]",
            p["service"],
            p["format"],
        )
        strays = 1 if s["host"] == "api-1" else 0  # "Attaching to ...": the first's
        assert (s["lines_total"], s["lines_parsed"]) == (
            p["lines_total"] + strays,
            p["lines_parsed"],
        )
        if strays:  # not read in the first's format: compose's own
            assert s["rejected_reasons"] == {envelope.STRAY_REASON: 1}
        assert s["envelope"] == ("compose+timestamped" if options else "compose")
    total = sum(len(v) for v in streams.values()) + 1
    assert sum(s["lines_total"] for s in stream["sources"]) == total


def test_a_compose_stream_given_a_host_is_one_log(tmp_path: Path) -> None:
    """``PATH@HOST`` says the file is one log: not split (its lines name their containers
    all the same, as a syslog file's name their hosts)."""
    lines = (SAMPLE / "api-1.log").read_text().splitlines()
    (tmp_path / "c.log").write_text(compose({"api-1": lines[:50], "api-2": lines[50:100]}))
    (source,) = report(f"{tmp_path / 'c.log'}@api", folder=tmp_path)["sources"]
    assert (source["path"], source["lines_total"], source["lines_rejected"]) == ("c.log", 101, 1)
    assert source["host"] == "api-1, api-2"


def test_each_line_of_a_split_stream_is_one_containers() -> None:
    """Lines naming a container are its; those naming none (or read with no names at
    all) are the first container's alone: each line counted once."""
    from logtrace.sources import Source

    named = pl.DataFrame(
        {"line_no": [1, 2, 3], "line": ["a", "b", "c"], envelope.ORIGIN: ["x-1", None, "y-1"]}
    )
    first = Source("c.log", "x-1", "x", only="x-1", strays=True)
    second = Source("c.log", "y-1", "y", only="y-1")
    assert first.lines_of(named)["line_no"].to_list() == [1, 2]
    assert second.lines_of(named)["line_no"].to_list() == [3]
    bare = named.drop(envelope.ORIGIN)
    assert (first.lines_of(bare).height, second.lines_of(bare).height) == (3, 0)
    assert (first.label, second.label) == ("c.log[x-1]", "c.log[y-1]")


WINSTON = FIXTURES / "app-log-shapes" / "node-winston-json.log"


@pytest.mark.parametrize("wrap", [cri, docker, timestamped, journal])
def test_an_app_that_logs_no_time_takes_its_envelopes(tmp_path: Path, wrap: Any) -> None:
    """winston's json() logs no time: read as it is, every entry is rejected; in a
    container runtime's envelope, each entry is placed at the time the runtime gives its
    line, and the report says how many were."""
    lines = WINSTON.read_text().splitlines()
    alone = runner.invoke(app, ["analyze", str(WINSTON), "--json"])
    assert alone.exit_code != 0 and "no timestamp" in alone.output
    (tmp_path / "orders.log").write_text(wrap(lines))
    (source,) = report(str(tmp_path / "orders.log"), folder=tmp_path)["sources"]
    assert (source["lines_parsed"], source["lines_rejected"]) == (len(lines), 0)
    assert source["entries_timed_by_envelope"] == len(lines)
    assert any("log no time of their own" in w for w in source["warnings"])
    rid = json.loads(lines[0])["requestId"]
    result = runner.invoke(app, ["trace", rid, str(tmp_path / "orders.log"), "--json"])
    assert result.exit_code == 0, result.output
    spans = json.loads(result.stdout)["spans"]
    assert spans
    for span in spans:  # each ends when its line (request completed, call ended) was taken down
        i = span["line_no"] - 1
        if wrap is journal:
            taken = datetime.fromtimestamp(_micros(i) / 1e6, UTC)
        else:
            stamp = _fixed if wrap is timestamped else _time
            taken = datetime.fromisoformat(stamp(i)[:26] + "+00:00")
        assert datetime.fromisoformat(span["raw_end"]) == taken, span


@pytest.mark.parametrize(
    ("log", "served", "calls"),
    [("python-logging-basicconfig.log", 2, 6), ("python-uvicorn.log", 2, 3)],
)
def test_a_text_log_without_times_in_an_envelope_is_read(
    tmp_path: Path, log: str, served: int, calls: int
) -> None:
    """Python's basicConfig and uvicorn log no time (their lines begin with the level):
    as files they are no log logtrace knows; from a container runtime, whose envelope
    times each line, they are text app logs, each entry at its line's time."""
    lines = (FIXTURES / "app-log-shapes" / log).read_text().splitlines()
    alone = runner.invoke(app, ["analyze", str(FIXTURES / "app-log-shapes" / log), "--json"])
    assert alone.exit_code != 0
    (tmp_path / "app.log").write_text(cri(lines))
    (source,) = report(str(tmp_path / "app.log"), folder=tmp_path)["sources"]
    assert (source["format"], source["lines_parsed"], source["lines_rejected"]) == (
        "text",
        len(lines),
        0,
    )
    events = source["app_events"]
    assert (events["server"], events["client"]) == (served, calls)
    assert source["entries_timed_by_envelope"] > 0


def _coarse(n: int, taken: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """nginx LINES of ``n`` requests logged in whole seconds (each 0.2 s long), and the
    frame of their raw lines with the times an envelope gives them."""
    second = [datetime(2026, 11, 26, 12, 0, i // 10, tzinfo=UTC) for i in range(n)]
    lines = pl.DataFrame(
        {
            "line_no": pl.Series(range(1, n + 1), dtype=pl.UInt32),
            "time": pl.Series(second, dtype=pl.Datetime("us", "UTC")),
            "start": pl.Series(second, dtype=pl.Datetime("us", "UTC")),
            "request_time_s": [0.2] * n,
            "time_precision_s": [1.0] * n,
        }
    )
    frame = pl.DataFrame(
        {
            "line_no": pl.Series(range(1, n + 1), dtype=pl.UInt32),
            "line": ["x"] * n,
            envelope.ENVELOPE_TIME: taken,
        }
    )
    return lines, frame


def _within(n: int, *, late: int = 0, digits: int = 9) -> list[str]:
    """Times in each line's second (the i-th line of a second at i/10 s and a bit), the
    first ``late`` of every 10 lines a second late; ``digits`` of fraction."""
    out = []
    for i in range(n):
        second = i // 10 + (1 if i % 10 < late else 0)
        fraction = f"{(i % 10) * 100_000_000 + 12_345_678:09d}"[:digits]
        out.append(f"2026-11-26T12:00:{second:02d}" + (f".{fraction}" if digits else "") + "Z")
    return out


def test_coarse_times_are_refined_only_when_the_envelopes_show_when_lines_were_written() -> None:
    lines, frame = _coarse(200, _within(200))
    known = envelope.refinement(lines, frame, 1.0)
    assert known == pytest.approx(0.01)  # one line's worth of 200, twice
    assert known is not None
    refined, placed = envelope.refine_times(lines, frame, 1.0, known)
    assert placed == 200
    times = refined.get_column("time").to_list()
    assert times[13] == datetime(2026, 11, 26, 12, 0, 1, 312345, tzinfo=UTC)
    lasted = (refined.get_column("time") - refined.get_column("start")).dt.total_milliseconds()
    assert lasted.to_list() == [200] * 200
    assert refined.get_column("time_precision_s").to_list() == [pytest.approx(0.01)] * 200
    for taken in (
        _within(10),  # too few lines to tell
        _within(200, late=3),  # a third late: a buffered log's
        _within(200, digits=0),  # the envelope's own times in seconds (rsyslog's)
    ):
        lines, frame = _coarse(len(taken), taken)
        assert envelope.refinement(lines, frame, 1.0) is None
    lines, frame = _coarse(200, _within(200, late=1)[:100] + _within(200)[100:])
    known = envelope.refinement(lines, frame, 1.0)
    assert known == pytest.approx(0.1)  # 10 of 200 late: 5%, twice
    assert known is not None
    refined, placed = envelope.refine_times(lines, frame, 1.0, known)
    assert placed == 190  # those late keep their seconds
    kept = refined.filter(pl.col("time_precision_s") == 1.0)
    assert kept.height == 10 and kept.get_column("time").dt.microsecond().max() == 0


@pytest.mark.parametrize("log", ["java-logback-default.log", "java-log4j2-default.log"])
def test_a_time_of_day_takes_its_envelopes_day(tmp_path: Path, log: str) -> None:
    """logback's and log4j2's default patterns log HH:mm:ss.SSS only: as files, each entry
    is rejected (no date); from a container runtime, each keeps its time of day, on the day
    of its line's envelope nearest it: a line logged at 23:59:59.990 and taken down just
    after midnight is of the day before."""
    lines = (FIXTURES / "app-log-shapes" / log).read_text().splitlines()
    alone = runner.invoke(app, ["analyze", str(FIXTURES / "app-log-shapes" / log), "--json"])
    assert alone.exit_code != 0 and "time of day without a date" in alone.output
    first = lines[0]
    late = "23:59:59.990" + first[len("10:40:27.784") :]
    taken = ["2026-11-27T00:00:00.004000001Z"] + [
        f"2026-11-26T{ln[:8]}.{ln[9:12]}400001Z" if ln[:2].isdigit() else "2026-11-26T12:00:00.5Z"
        for ln in lines
    ]
    rows = [late, *lines]
    (tmp_path / "app.log").write_text(
        "".join(f"{t} stdout F {ln}\n" for t, ln in zip(taken, rows, strict=True))
    )
    (source,) = report(str(tmp_path / "app.log"), folder=tmp_path)["sources"]
    assert source["lines_rejected"] == 0 and source["entries_timed_by_envelope"] > 0
    assert sum(source["app_events_untimed"].values()) == 0
    from logtrace.applog import AppLogOptions, parse_app_chunk
    from logtrace.applog.shapes import AppFormat

    frame = envelope.unwrap(
        pl.DataFrame(
            {
                "line_no": pl.Series(range(1, len(rows) + 1), dtype=pl.UInt32),
                "line": (tmp_path / "app.log").read_text().splitlines(),
            }
        ),
        Envelope.CRI,
    )
    parsed = parse_app_chunk(frame, AppFormat.TEXT, AppLogOptions()).lines
    times = dict(zip(parsed["line_no"].to_list(), parsed["time"].to_list(), strict=True))
    assert times[1] == datetime(2026, 11, 26, 23, 59, 59, 990000, tzinfo=UTC)  # the day before
    for n, ln in enumerate(rows[1:], start=2):
        if n in times:
            logged = datetime.strptime(ln[:12], "%H:%M:%S.%f").time()
            assert times[n] == datetime.combine(datetime(2026, 11, 26).date(), logged, UTC)


@pytest.mark.parametrize("wrap", ["docker", "journal", "cut"])
def test_records_decoded_at_once_give_what_each_member_sought_alone_gives(
    wrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Docker's and the journal's records are decoded once for all their members; a chunk
    with a line that is no such record (cut short: a crash mid-write) has each member
    sought in the text, as before. Both give the same lines, times, hosts and parts."""
    lines = (SAMPLE / "api-1.log").read_text().splitlines()[:400]
    text = {
        "docker": lambda: docker(lines),
        "journal": lambda: journal(lines),
        "cut": lambda: cut(lines, 300, wrap="docker"),
    }[wrap]()
    frame = pl.DataFrame({"line_no": range(len(text.splitlines())), "line": text.splitlines()})
    found = envelope.detect_all(frame)
    assert found
    # a record cut short (its last brace gone): still in the envelope, no JSON
    broken = frame.with_columns(
        pl.when(pl.col("line_no") == 7)
        .then(pl.col("line").str.strip_suffix("}"))
        .otherwise("line")
        .alias("line")
    )
    assert broken.get_column("line")[7] != frame.get_column("line")[7]
    decoded = [envelope.unwrap_all(f, found, streams=True) for f in (frame, broken)]

    def refused(*_: object, **__: object) -> pl.Expr:
        raise pl.exceptions.ComputeError("no JSON decoding here")

    monkeypatch.setattr(pl.expr.string.ExprStringNameSpace, "json_decode", refused)
    sought = [envelope.unwrap_all(f, found, streams=True) for f in (frame, broken)]
    for one, other in zip(decoded, sought, strict=True):
        assert_frame_equal(one, other)
    assert decoded[0].get_column("line").to_list()[:3] == lines[:3] or wrap == "cut"


# Pieces of lines that come near Docker's and the journal's starts, and cross them.
_NEAR_STARTS = [
    "{", " ", "\t", "\u00a0", '"', "log", '"log"', ":", ",", "x", '\\"', '"stream"',
    '"stdout"', '"stderr"', "}", "\x1e", '"__CURSOR"', '"s=1a;i=2;b=3f;', "\r", "é",
]  # fmt: skip
_EDGES = [
    '{"log":"GET /\\n","stream":"stdout","time":"2026-11-26T12:00:00Z"}',
    '{ "log" : "x" , "stream" : "stderr"}',
    '{"log":","stream":"stdout"}',  # the tail only where the head ends: not in it
    '{"log":" ,"stream":"stdout"}',
    '{"log":","stream":"stdout" and ","stream":"stderr"',  # again after it: in it
    '{"log":",","stream":"stdout"}',
    '{"stream":"stdout","log":"x"}',
    '\x1e{"__CURSOR" : "s=1a;i=2;b=3f;"}',
    '"__CURSOR":"s=1a;i=2;b=3f;"{',
    "",
]


@pytest.mark.parametrize("kind", [Envelope.DOCKER, Envelope.JOURNAL])
@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.lists(st.sampled_from(_NEAR_STARTS), max_size=14), max_size=40))
def test_a_start_tested_in_parts_takes_the_lines_its_whole_regex_takes(
    kind: Envelope, pieces: list[list[str]]
) -> None:
    """Docker's and the journal's starts (``head.*tail``) are tested as a head and a tail
    sought apart, not by a regex walking each whole line: the lines in the envelope are
    the same, those where the tail begins inside the head included."""
    lines = pl.Series([*_EDGES, *("".join(p) for p in pieces), None], dtype=pl.String)
    start = envelope._SHAPES[kind].start  # the regex it stands for
    assert envelope.in_envelope(lines, kind).to_list() == lines.str.contains(start).to_list()


def test_the_edges_of_a_start_in_parts_are_as_the_regex_says() -> None:
    lines = pl.Series(_EDGES)
    assert envelope.in_envelope(lines, Envelope.DOCKER).to_list() == [
        True, True, False, False, True, True, False, False, False, False,
    ]  # fmt: skip
    journal = envelope.in_envelope(lines, Envelope.JOURNAL).to_list()
    assert journal == [False] * 7 + [True, False, False]


_NEAR_COMPOSE = [
    "web-1", "proj_web_12", "db-2", "x", "-", "_", "1", "m", ";", " ", "  ", "\t", "|", "| ",
    "\x1b[36m", "\x1b[1;33m", "\x1b[0m", "\x1b[", "é",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.lists(st.sampled_from(_NEAR_COMPOSE), max_size=12), max_size=40))
def test_a_compose_lines_container_is_what_the_starts_groups_capture(
    pieces: list[list[str]],
) -> None:
    """A compose line's container is its first word out of its colour, not the start's
    captures: the same name on every line in the envelope, null on the others."""
    lines = [
        "web-1   | GET / 200",
        "\x1b[36mproj_web_12 | \x1b[0mGET / 200",
        "\x1b[1;33mm-1  | \x1b[0m",
        "web-1| GET /",
        *("".join(p) for p in pieces),
    ]
    frame = pl.DataFrame({"line_no": range(len(lines)), "line": lines})
    start = envelope._STARTS[Envelope.COMPOSE]  # the regex the names stand for
    captured = pl.coalesce(
        pl.col("line").str.extract(start.pattern, i)
        for g, i in start.groupindex.items()
        if g.startswith("host")
    )
    want = frame.select(captured).to_series().to_list()
    assert envelope.unwrap(frame, Envelope.COMPOSE).get_column("host").to_list() == want
    assert want[:4] == ["web-1", "proj_web_12", "m-1", None]
    assert envelope.origins(frame, (Envelope.COMPOSE,)) == {w for w in want if w is not None}
