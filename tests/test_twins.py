"""Access logs that repeat each other, and ids that travel under other names."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import polars.selectors as cs
import pytest
from polars.testing import assert_frame_equal

from logtrace import twins
from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines import partitioned
from logtrace.timelines.load import JoinMode, TimelineOptions, load
from logtrace.twins import app_twin_pairs, drop_app_twins, drop_repeats, drop_twins
from tests.conftest import SAMPLE, SAMPLE_CONF

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


def test_of_a_log_and_a_gzip_of_its_first_part_the_whole_log_is_kept(tmp_path: Path) -> None:
    """Which of two alike is longer: a gzip'd file's text from its trailer, not a guess
    (8:1 took 1,000 compressed lines for longer than 1,200 plain ones, and lost 200)."""
    lines = (SAMPLE / "edge-1.access.log").read_bytes().splitlines(keepends=True)
    (tmp_path / "access.log").write_bytes(b"".join(lines[:1200]))
    (tmp_path / "access.log-20261126.gz").write_bytes(gzip.compress(b"".join(lines[:1000])))
    report = analyze(resolve_sources([str(tmp_path)]), AnalyzeOptions())
    assert report.latency.requests == 1200
    notes = [w for s in report.ingest.sources for w in s.warnings if "same requests" in w]
    assert len(notes) == 1 and notes[0].startswith(str(tmp_path / "access.log-20261126.gz"))


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


def _sample_copies(tmp_path: Path) -> tuple[list[str], list[str]]:
    """The sample logs in folder a/ and again in b/: (a's paths, a's and b's paths)."""
    from tests.conftest import SAMPLE

    for copy in ("a", "b"):
        (tmp_path / copy).mkdir()
        for log in sorted(SAMPLE.glob("*.log")):
            (tmp_path / copy / log.name).write_bytes(log.read_bytes())
    return [str(tmp_path / "a")], [str(tmp_path / "a"), str(tmp_path / "b")]


@pytest.mark.parametrize("join", ["memory", "partitioned"])
def test_a_folder_of_logs_given_twice_gives_the_timelines_of_one_copy(
    tmp_path: Path, join: JoinMode
) -> None:
    """Every log of a deployment (nginx and app) read twice: the app logs' copies repeat
    every entry too and are counted once, so the spans are those of one copy, to the last
    parent (before, calls got a second served span around them and traces a second root:
    2,052 requests instead of 2,500)."""
    from tests.conftest import SAMPLE_CONF

    once, twice = _sample_copies(tmp_path)
    options = TimelineOptions(FormatOptions(nginx_confs=(str(SAMPLE_CONF),)), join=join, parts=4)
    alone = load(resolve_sources(once), options)
    both = load(resolve_sources(twice), options)
    assert both.timelines.spans.sort("sid").equals(alone.timelines.spans.sort("sid"))
    assert both.app.height == alone.app.height
    notes = {
        s.path.rsplit("/", 1)[-1]: w
        for s in both.ingest.sources
        for w in s.warnings
        if "counted once" in w
    }
    assert sorted(notes) == sorted(p.name for p in (tmp_path / "b").iterdir())
    copy, original = (tmp_path / d / "inventory-1.log" for d in ("b", "a"))
    # its lines, tracebacks included, not its entries (3,496)
    assert notes["inventory-1.log"].startswith(f"{copy}: 5,596 lines repeat {original}")
    result = analyze(resolve_sources(twice), AnalyzeOptions())
    assert result.latency.requests == 2500


def _sample_app() -> pl.DataFrame:
    from tests.conftest import SAMPLE

    logs = [str(SAMPLE / f"{name}.log") for name in ("api-1", "api-2", "inventory-1", "users-1")]
    return load(resolve_sources(logs), TimelineOptions(join="memory")).app


# the lines compared: all, or (as above 100,000 lines) those of one request id in about 16
SAMPLES = pytest.mark.parametrize("sample", [100_000, 800])


@SAMPLES
def test_the_logs_of_different_services_and_replicas_are_no_twins(
    monkeypatch: pytest.MonkeyPatch, sample: int
) -> None:
    """api-1 and api-2 (two replicas), inventory and users: one request's lines in each,
    never the same lines; nor is a replica that logged the same entries a millisecond
    apart (its own clock, its own duration)."""
    monkeypatch.setattr("logtrace.twins._APP_SAMPLE", sample)
    app = _sample_app()
    assert app_twin_pairs(app) == []
    api = app.filter(pl.col("source").str.ends_with("api-1.log"))
    shifted = api.with_columns(
        pl.lit("api-3.log").alias("source"), pl.col("time") + pl.duration(milliseconds=1)
    )
    assert app_twin_pairs(pl.concat([api, shifted])) == []


@SAMPLES
def test_a_piece_of_an_app_log_copied_beside_it_is_counted_once(
    monkeypatch: pytest.MonkeyPatch, sample: int
) -> None:
    """The first half of a log (a rotated piece, a partial copy) beside the whole log: its
    lines all repeat the other's, so it gives way (the smaller log's share counts); the
    whole log is kept."""
    monkeypatch.setattr("logtrace.twins._APP_SAMPLE", sample)
    api = _sample_app().filter(pl.col("source").str.ends_with("api-1.log"))
    piece = api.head(api.height // 2).with_columns(pl.lit("piece.log").alias("source"))
    pairs = app_twin_pairs(pl.concat([piece, api]))
    assert [(kept, gone) for kept, gone, _ in pairs] == [(api["source"][0], "piece.log")]
    kept, twins = drop_app_twins(pl.concat([piece, api]), pairs)
    assert kept.equals(api)
    assert twins.dropped == [(api["source"][0], "piece.log", piece.height)]


# --- a log that repeats its own lines ---------------------------------------------------


def _with_repeats(folder: Path, *, again: slice) -> int:
    """sample_logs/ copied to ``folder``, the edge log's ``again`` lines written twice
    (at its end, as a log read again from somewhere would be); how many were."""
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("ground_truth.jsonl"))
    edge = folder / "edge-1.access.log"
    lines = edge.read_text().splitlines(keepends=True)
    edge.write_text("".join(lines + lines[again]))
    return len(lines[again])


@pytest.mark.parametrize("mode", ["memory", "partitioned"])
def test_a_log_read_twice_in_part_is_joined_as_if_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: JoinMode
) -> None:
    monkeypatch.setattr(partitioned, "PART_BYTES", 1 << 20)  # sample_logs: 4 MB, 4 parts
    once, twice = tmp_path / "once", tmp_path / "twice"
    shutil.copytree(SAMPLE, once, ignore=shutil.ignore_patterns("ground_truth.jsonl"))
    repeated = _with_repeats(twice, again=slice(1000, 2200))
    options = TimelineOptions(FormatOptions(nginx_confs=(str(SAMPLE_CONF),)), join=mode)
    spans, notes = {}, {}
    for folder in (once, twice):
        loaded = load(resolve_sources([str(folder)]), options)
        notes[folder] = [w for s in loaded.ingest.sources for w in s.warnings if "repeat" in w]
        # span ids hash the log's path: the tree is compared by depths and parents' lines
        frame = loaded.timelines.spans
        parent = frame.select(
            pl.col("sid").alias("parent_sid"), pl.col("line_no").alias("parent_line")
        )
        frame = frame.join(parent, on="parent_sid", how="left").drop(cs.ends_with("sid"))
        frame = frame.drop("source", strict=False)  # the log's path
        spans[folder] = frame.sort(pl.all())
    assert notes[once] == []
    assert notes[twice] == [twins.repeat_note(str(twice / "edge-1.access.log"), repeated)]
    assert_frame_equal(spans[once], spans[twice])


def test_a_repeat_is_equal_to_an_earlier_line_and_written_out_of_order() -> None:
    def line(n: int, rid: str, second: int, path: str = "/x") -> dict[str, object]:
        return {
            "line_no": n,
            "source": "edge",
            "request_id": rid,
            "time": T0 + timedelta(seconds=second),
            "path": path,
        }

    rows = [
        line(1, "a", 10),
        line(2, "b", 12),
        line(3, "a", 10),  # a repeat: equal to line 1, after a later line
        line(4, "a", 12, "/auth"),  # one request's subrequest: kept
        line(5, "c", 13),
        line(6, "c", 13),  # equal to line 5 but in order: two calls of an N+1 loop
    ]
    edge = twins.WrittenBefore().add(pl.DataFrame(rows), "edge")
    mesh = twins.WrittenBefore().add(edge.with_columns(pl.lit("mesh").alias("source")), "mesh")
    lines = pl.concat([edge, mesh])
    kept, repeats = drop_repeats(lines, {"edge"})  # mesh logs no $request_id: all kept
    assert kept.get_column("line_no").to_list() == [1, 2, 4, 5, 6, 1, 2, 3, 4, 5, 6]
    assert repeats == {"edge": 1}
    assert twins.WRITTEN_BEFORE not in kept.columns
    plain, none = drop_repeats(lines, set())
    assert none == {}
    assert_frame_equal(plain, lines.drop(twins.WRITTEN_BEFORE))


def test_analyze_of_one_log_tells_how_many_lines_repeat_it(tmp_path: Path) -> None:
    repeated = _with_repeats(tmp_path / "logs", again=slice(0, 700))
    edge = tmp_path / "logs" / "edge-1.access.log"
    result = analyze(resolve_sources([str(edge)]), AnalyzeOptions())
    (note,) = [w for s in result.ingest.sources for w in s.warnings if "repeat" in w]
    assert note.startswith(f"{edge}: {repeated:,} lines repeat earlier lines of this log")
    assert "about" not in note
    assert result.latency.requests == 2500 + repeated  # counted, and said so


def test_analyze_estimates_repeats_from_a_sample_of_request_ids_in_a_big_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twins, "REPEAT_HELD", 200)  # ~2,600 lines: 1 request id in 16
    repeated = _with_repeats(tmp_path / "logs", again=slice(0, 1500))
    edge = tmp_path / "logs" / "edge-1.access.log"
    result = analyze(resolve_sources([str(edge)]), AnalyzeOptions())
    (note,) = [w for s in result.ingest.sources for w in s.warnings if "repeat" in w]
    found = re.search(r"about ([\d,]+) lines \(counted among 1 request id in (\d+)\)", note)
    assert found is not None, note
    estimate, every = int(found.group(1).replace(",", "")), int(found.group(2))
    assert every >= 8
    assert abs(estimate - repeated) < 0.35 * repeated


def test_a_log_without_request_id_read_twice_is_not_judged(tmp_path: Path) -> None:
    log = SAMPLE / "combined" / "edge-1.combined.log"
    doubled = tmp_path / "edge-1.combined.log"
    doubled.write_text(log.read_text() * 2)
    result = analyze(resolve_sources([str(doubled)]), AnalyzeOptions())
    assert not [w for s in result.ingest.sources for w in s.warnings if "repeat" in w]


def test_tens_of_rotated_logs_of_one_host_are_compared_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """20 rotated pieces of a `combined` log (no request id) beside the JSON log of the
    same server, which has one of them in it: that one piece is its twin. The keys are
    made once for all 210 pairs (by the columns they key on), not once per pair: a folder
    of hourly logs is thousands of pairs, and took minutes."""

    def piece(n: int, *, lines: int = 40) -> dict[str, Sequence[object]]:
        times = [T0 + timedelta(hours=n, seconds=3 * i) for i in range(lines)]
        return {
            "time": times,
            "method": ["GET"] * lines,
            "path": [f"/items/{n * 1000 + i}" for i in range(lines)],
            "status": [200 + (i % 3) for i in range(lines)],
            "body_bytes_sent": [100 + i for i in range(lines)],
        }

    frames = [
        pl.DataFrame(piece(n)).with_columns(
            pl.lit(f"web.access.log.{n:02d}").alias("source"),
            pl.lit(None, pl.String).alias("request_id"),
        )
        for n in range(20)
    ]
    frames.append(
        pl.DataFrame(piece(7)).with_columns(
            pl.lit("web.json.log").alias("source"),
            pl.Series("request_id", [f"{i:032x}" for i in range(40)]),
        )
    )
    lines = pl.concat(frames, how="diagonal_relaxed").with_columns(pl.lit("web").alias("host"))
    keyed = twins._keys
    calls: list[int] = []

    def counted(nginx: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
        calls.append(1)
        return keyed(nginx, columns)

    monkeypatch.setattr(twins, "_keys", counted)
    found = twins.twin_pairs(lines)
    assert [(kept, gone) for kept, gone, _ in found] == [("web.json.log", "web.access.log.07")]
    assert sorted(found[0][2]) == ["body_bytes_sent", "method", "path", "status", "time"]
    assert len(calls) <= 2  # the ids' keys, then one set of columns for the 210 pairs
