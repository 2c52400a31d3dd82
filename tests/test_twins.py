"""Access logs that repeat each other, and ids that travel under other names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines.load import TimelineOptions, load
from logtrace.twins import drop_twins

T0 = datetime(2026, 5, 4, 9, 0, 0, tzinfo=UTC)
JSON_FORMAT = (
    'log_format js escape=json \'{"msec":"$msec","rt":$request_time,"rid":"$request_id",'
    '"request":"$request","status":$status,"bytes":$body_bytes_sent,'
    '"addr":"$remote_addr","agent":"$http_user_agent"}\';'
)


def _trace_line(i: int, end: datetime, rid: str, rt: float, *, addr: str, agent: str) -> str:
    return (
        f'{addr} - - [{end:%d/%b/%Y:%H:%M:%S} +0000] "GET /items/{i} HTTP/1.1" 200 {100 + i} '
        f'"-" "{agent}" {rt:.3f} {rt:.3f} {rid}'
    )


def _json_line(i: int, end: datetime, rid: str, rt: float, *, addr: str, agent: str) -> str:
    return json.dumps(
        {
            "msec": f"{end.timestamp():.3f}",
            "rt": float(f"{rt:.3f}"),
            "rid": rid,
            "request": f"GET /items/{i} HTTP/1.1",
            "status": 200,
            "bytes": 100 + i,
            "addr": addr,
            "agent": agent,
        },
        separators=(",", ":"),
    )


def _requests(n: int = 30) -> list[tuple[int, datetime, str, float]]:
    return [
        (i, T0 + timedelta(milliseconds=250 * i + 17), f"{i:032x}", 0.004 + i % 7 / 1000)
        for i in range(n)
    ]


def test_one_server_writing_two_formats_counts_each_request_once(tmp_path: Path) -> None:
    """The same requests in a `trace` log and an escape=json log of one server."""
    reqs = _requests()
    (tmp_path / "web.access.log").write_text(
        "\n".join(_trace_line(i, t, r, rt, addr="10.0.0.9", agent="curl/8") for i, t, r, rt in reqs)
        + "\n"
    )
    (tmp_path / "web.json.log").write_text(
        "\n".join(_json_line(i, t, r, rt, addr="10.0.0.9", agent="curl/8") for i, t, r, rt in reqs)
        + "\n"
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"http {{ {JSON_FORMAT} server {{ access_log {tmp_path}/web.json.log js; }} }}\n"
    )
    formats = FormatOptions(nginx_confs=(str(conf),))
    sources = resolve_sources([str(tmp_path / "web.access.log"), str(tmp_path / "web.json.log")])
    result = analyze(sources, AnalyzeOptions(formats=formats))
    assert result.latency.requests == 30
    notes = [w for s in result.ingest.sources for w in s.warnings]
    # the JSON twin has millisecond times: the whole-second `trace` log gives way
    assert any("web.access.log" in n and "counted once" in n for n in notes), notes
    loaded = load(sources, TimelineOptions(formats))
    spans = loaded.timelines.spans.filter(pl.col("kind") == "SERVER")
    assert spans.height == 30
    assert spans.get_column("parent_sid").null_count() == 30  # no hop between the twins


def test_an_edge_and_the_proxy_behind_it_are_no_twins() -> None:
    """Same ids, paths, statuses and even request times, but the proxy sees the edge as
    its client: two hops, both kept."""
    reqs = _requests()
    edge = [
        _trace_line(i, t, r, rt, addr="203.0.113.7", agent="Firefox/128") for i, t, r, rt in reqs
    ]
    proxy = [_trace_line(i, t, r, rt, addr="10.0.0.2", agent="Firefox/128") for i, t, r, rt in reqs]
    frame = pl.DataFrame(
        {
            "source": ["edge.log"] * 30 + ["proxy.log"] * 30,
            "request_id": [r for _, _, r, _ in reqs] * 2,
            "status": [200] * 60,
            "request_time_s": [rt for *_, rt in reqs] * 2,
            "path": [f"/items/{i}" for i, *_ in reqs] * 2,
            "remote_addr": [line.split(" ", 1)[0] for line in edge + proxy],
        }
    )
    kept, twins = drop_twins(frame)
    assert twins.dropped == []
    assert kept.height == 60


def test_an_internal_nginx_logging_traceparent_joins_on_its_trace_id(tmp_path: Path) -> None:
    reqs = _requests(12)
    (tmp_path / "edge.access.log").write_text(
        "\n".join(
            _trace_line(i, t, r, 0.020, addr="203.0.113.7", agent="curl/8") for i, t, r, _ in reqs
        )
        + "\n"
    )
    fmt = '$remote_addr [$time_local] "$request" $status $request_time "$http_traceparent"'
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"http {{ log_format tp '{fmt}'; "
        f"server {{ access_log {tmp_path}/proxy.access.log tp; }} }}\n"
    )
    (tmp_path / "proxy.access.log").write_text(
        "\n".join(
            f"10.0.0.2 [{t - timedelta(milliseconds=2):%d/%b/%Y:%H:%M:%S} +0000] "
            f'"GET /items/{i} HTTP/1.1" 200 0.015 "00-{r}-{i:016x}-01"'
            for i, t, r, _ in reqs
        )
        + "\n"
    )
    loaded = load(
        resolve_sources([str(tmp_path)]),
        TimelineOptions(FormatOptions(nginx_confs=(str(conf),))),
    )
    assert loaded.id_columns[str(tmp_path / "proxy.access.log")] == "http_traceparent"
    spans = loaded.timelines.spans
    assert spans.get_column("request_id").n_unique() == 12
    proxy = spans.filter((pl.col("host") == "proxy") & (pl.col("kind") == "SERVER"))
    assert proxy.height == 12
    assert proxy.get_column("parent_sid").null_count() == 0  # each under its edge attempt


def test_a_copied_log_is_counted_once(tmp_path: Path) -> None:
    edge = (
        Path(__file__).resolve().parent.parent / "sample_logs" / "combined" / "edge-1.combined.log"
    )
    for name in ("access.log", "access-copy.log"):
        (tmp_path / name).write_bytes(edge.read_bytes())
    alone = analyze(resolve_sources([str(edge)]), AnalyzeOptions())
    both = analyze(resolve_sources([str(tmp_path)]), AnalyzeOptions())
    assert both.latency.requests == alone.latency.requests
    notes = [w for s in both.ingest.sources for w in s.warnings]
    assert len([n for n in notes if "counted once" in n]) == 1


def test_a_copied_log_with_several_lines_per_request_is_a_twin_of_its_original() -> None:
    """An internal proxy's log (a line per hop, several per request id) and its copy: the
    share of lines found in the other counts lines, not distinct keys."""
    sample = Path(__file__).resolve().parent.parent / "sample_logs"
    mesh = load(
        resolve_sources([str(sample / "mesh-1.access.log")]),
        TimelineOptions(FormatOptions(nginx_confs=(str(sample / "nginx" / "mesh-1.conf"),))),
    ).nginx
    # the case at hand: ids on several lines
    assert mesh.get_column("request_id").n_unique() < mesh.height
    copy = mesh.with_columns(pl.lit("copy.log").alias("source"))
    kept, twins = drop_twins(pl.concat([mesh, copy]))
    assert kept.height == mesh.height
    assert [(gone, n) for _, gone, n in twins.dropped] == [("copy.log", mesh.height)]


def test_a_real_nginx_s_folder_of_access_log_json_twin_and_error_log(tmp_path: Path) -> None:
    """What one nginx wrote (the corpus): access.log (combined), its escape=json twin and
    error.log, in one folder, no nginx.conf given: each request once, no fake hop, no app."""
    from tests.conftest import CORPUS

    folder = tmp_path / "nginx"
    folder.mkdir()
    for name, target in (
        ("combined.log", "access.log"),
        ("json.log", "access.json.log"),
        ("error.log", "error.log"),
    ):
        (folder / target).write_bytes((CORPUS / name).read_bytes())
    sources = resolve_sources([str(folder)])
    result = analyze(sources, AnalyzeOptions())
    assert result.latency.requests == 47
    assert result.cross_host is None  # no slow paths listing one request per twin
    kinds = {s.path.rsplit("/", 1)[-1]: (s.kind, s.format) for s in result.ingest.sources}
    assert kinds["access.json.log"] == ("nginx", "inferred")
    assert kinds["error.log"] == ("nginx-error", "nginx error log")
    notes = [w for s in result.ingest.sources for w in s.warnings]
    assert len([n for n in notes if "counted once" in n]) == 1, notes
    loaded = load(sources, TimelineOptions())
    spans = loaded.timelines.spans.filter(pl.col("kind") == "SERVER")
    assert spans.get_column("request_id").n_unique() == spans.height  # one span a request
    assert spans.get_column("parent_sid").null_count() == spans.height  # no hop
