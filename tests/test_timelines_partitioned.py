"""The join a part of the requests at a time gives the in-memory join's results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.resolve import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines import load as load_module
from logtrace.timelines import partitioned
from logtrace.timelines import spill as spill_module
from logtrace.timelines.load import Loaded, TimelineOptions, join_mode, load
from logtrace.timelines.spill import NO_ID, part_of, spill
from tests.conftest import SAMPLE, SAMPLE_CONF, PipedStdin, disk_full_after, shell_signals
from tests.deployments import busy_deployment
from tests.test_timelines_join import _wrong_parents


def _both(directory: Path, parts: int, **options: object) -> tuple[Loaded, Loaded]:
    sources = resolve_sources([str(directory)])
    formats = FormatOptions(nginx_confs=(str(SAMPLE_CONF),) if directory == SAMPLE else ())
    memory = load(sources, TimelineOptions(formats, join="memory", **options))  # type: ignore[arg-type]
    split = load(sources, TimelineOptions(formats, join="partitioned", parts=parts, **options))  # type: ignore[arg-type]
    return memory, split


def _same(memory: Loaded, split: Loaded) -> None:
    assert_frame_equal(memory.timelines.spans.sort("sid"), split.timelines.spans.sort("sid"))
    assert memory.timelines.offsets == split.timelines.offsets
    assert memory.timelines.corrected_requests == split.timelines.corrected_requests
    assert memory.timelines.notes == split.timelines.notes
    # which mappings, and their support (all these inputs fit in the sample the
    # partitioned join learns them on)
    mappings = [m.timelines.mappings.frame.sort(pl.all()) for m in (memory, split)]
    assert_frame_equal(*mappings)
    assert [s.warnings for s in memory.ingest.sources] == [s.warnings for s in split.ingest.sources]
    for lines, lines_split in ((memory.nginx, split.nginx), (memory.app, split.app)):
        assert lines.height == lines_split.height
        if lines.height:
            key = ["source", "line_no"]
            assert_frame_equal(lines.sort(key), lines_split.sort(key), check_column_order=False)


@pytest.mark.parametrize("parts", [1, 3, 16])
def test_sample_logs_give_the_same_spans_a_part_at_a_time(parts: int) -> None:
    _same(*_both(SAMPLE, parts))


@pytest.mark.parametrize("parts", [2, 7])
@pytest.mark.parametrize("skew_correction", [True, False])
def test_a_skewed_multi_host_deployment_gives_the_same_spans_a_part_at_a_time(
    tmp_path: Path, parts: int, skew_correction: bool
) -> None:
    deployment = busy_deployment(requests=80, skew_s={"web-2": 0.180}, prefix="rewrite")
    memory, split = _both(deployment.write(tmp_path), parts, skew_correction=skew_correction)
    assert memory.timelines.spans.get_column("request_id").n_unique() == 80
    _same(memory, split)


@pytest.mark.parametrize("parts", [None, 3])  # the in-memory join, a part at a time
def test_only_the_app_columns_asked_for_are_kept_and_the_rest_is_the_same(
    parts: int | None,
) -> None:
    asked = frozenset({"source", "line_no", "event", "duration_s", "no_such_column"})
    both = [
        load(
            resolve_sources([str(SAMPLE)]),
            TimelineOptions(
                FormatOptions(nginx_confs=(str(SAMPLE_CONF),)),
                join="memory" if parts is None else "partitioned",
                parts=parts,
                app_columns=columns,
            ),
        )
        for columns in (None, asked)
    ]
    whole, kept = both
    assert "message" in whole.app.columns
    assert set(kept.app.columns) == asked & set(whole.app.columns)
    key = ["source", "line_no"]
    assert_frame_equal(
        kept.app.sort(key), whole.app.select(kept.app.columns).sort(key), check_column_order=False
    )
    assert_frame_equal(
        kept.timelines.spans.sort("sid"), whole.timelines.spans.sort("sid"), check_row_order=False
    )
    assert_frame_equal(kept.nginx.sort(key), whole.nginx.sort(key))


def test_a_traceparent_and_its_trace_id_land_in_one_part() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    ids = pl.DataFrame({"id": [f"00-{trace_id}-00f067aa0ba902b7-01", trace_id, None]})
    parts = ids.select(part_of(pl.col("id"), 64)).to_series().to_list()
    assert parts[0] == parts[1] != NO_ID
    assert parts[2] == NO_ID


def test_the_spill_is_removed_when_the_join_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(partitioned, "assemble", broken)
    sources = resolve_sources([str(SAMPLE)])
    with pytest.raises(KeyboardInterrupt):
        load(sources, TimelineOptions(FormatOptions(), join="partitioned", parts=4))
    assert list(tmp_path.iterdir()) == []


def test_a_spill_that_cannot_be_written_is_an_error_and_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spill's files are written by a thread of their own: its error (a full disk)
    is raised by the join all the same, and the folder is removed."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(spill_module, "HELD_BYTES", 20_000)  # written before the input ends
    written = disk_full_after(monkeypatch, 3)
    sources = resolve_sources([str(SAMPLE)])
    with pytest.raises(OSError, match="No space left"):
        load(sources, TimelineOptions(FormatOptions(), join="partitioned", parts=4))
    assert len(written) > 3
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("held_bytes", [64 * 1024 * 1024, 20_000])
def test_a_part_is_a_few_files_however_many_chunks_it_got(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held_bytes: int
) -> None:
    """A part's rows are held and written together, not a file per chunk and part (the
    square of the input: 213k files for 36.7M lines), and those held when the input ends
    are kept in memory; they read back as they were added, each part in order and all of
    them in the order they were read."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(spill_module, "HELD_BYTES", held_bytes)
    chunks = [
        pl.DataFrame(
            {
                "line_no": pl.int_range(100 * i + 1, 100 * i + 101, dtype=pl.UInt32, eager=True),
                "request_id": [f"r{(7 * i + j) % 41}" for j in range(100)],
                "line": [f"line {100 * i + j + 1} of chunk {i}" for j in range(100)],
            }
        )
        for i in range(60)
    ]
    with spill(4) as store:
        for chunk in chunks:
            store.add("nginx", chunk, pl.col("request_id"))
        parts = [store.read(p, "nginx") for p in range(4)]
        every = store.read_many(None, "nginx")
        files = len(list(store.root.glob("*/*.arrow")))
    if held_bytes > 1_000_000:
        assert files == 0  # all of it held until the end: kept in memory
    else:
        assert 4 < files < 60 * 4 / 3
    assert sum(p.height for p in parts) == 6000
    assert all(p.get_column("line_no").is_sorted() for p in parts)
    assert_frame_equal(every, pl.concat(chunks))
    assert_frame_equal(pl.concat(parts).sort("line_no"), pl.concat(chunks))


def test_the_rows_kept_in_memory_are_read_after_the_files_and_let_go_once_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunks still held when the input ends are not written: a part reads them after
    its files, whole or in slices, until the join lets the part go (every slice of it)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(spill_module, "HELD_BYTES", 4_000)  # a write every 6 chunks
    chunks = [
        pl.DataFrame(
            {
                "line_no": pl.int_range(100 * i + 1, 100 * i + 101, dtype=pl.UInt32, eager=True),
                "request_id": [f"r{(7 * i + j) % 41}" for j in range(100)],
            }
        )
        for i in range(25)
    ]
    every = pl.concat(chunks)
    with spill(2) as store:
        for chunk in chunks:
            store.add("nginx", chunk, pl.col("request_id"))
        assert sum(store.lines.values()) == every.height
        on_disk = pl.concat(pl.read_ipc(f) for f in store.root.glob("*/*.arrow"))
        assert 0 < on_disk.height < every.height  # the rest is in memory
        whole = [store.read(p, "nginx") for p in range(2)]
        thirds = [store.read_slices([(0, sub, 3)], "nginx") for sub in range(3)]
        assert_frame_equal(store.read_many(None, "nginx"), every)
        store.release([(0, 0, 3), (0, 1, 3)])
        assert_frame_equal(store.read(0, "nginx"), whole[0])  # a slice of it is still to come
        store.release([(0, 2, 3), (1, 0, 1)])
        gone = [store.read(p, "nginx") for p in range(2)]
    assert_frame_equal(pl.concat(whole).sort("line_no"), every)
    assert all(w.get_column("line_no").is_sorted() for w in whole)
    assert_frame_equal(pl.concat(thirds).sort("line_no"), whole[0].sort("line_no"))
    assert sum(g.height for g in gone) == on_disk.height  # what memory held is gone


def test_a_batch_being_written_when_the_input_ends_is_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last chunk can fill a batch, whose writing then starts as the input ends: the
    parts of it not written yet are kept in memory rather than waited for."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(spill_module, "HELD_BYTES", 20_000)  # the last, big chunk fills it
    written: list[str] = []
    slow = threading.Event()
    write_ipc = pl.DataFrame.write_ipc

    def writing(self: pl.DataFrame, file: Path, **options: Any) -> None:
        if not written:  # the first file takes 0.5 s to write
            threading.Timer(0.5, slow.set).start()
            slow.wait(timeout=10)
        written.append(str(file))
        write_ipc(self, file, **options)

    monkeypatch.setattr(pl.DataFrame, "write_ipc", writing)
    sizes = [100] * 5 + [10_000]
    starts = [1 + sum(sizes[:i]) for i in range(len(sizes))]
    chunks = [
        pl.DataFrame(
            {
                "line_no": pl.int_range(start, start + n, dtype=pl.UInt32, eager=True),
                "request_id": [f"r{(start + j) % 41}" for j in range(n)],
            }
        )
        for start, n in zip(starts, sizes, strict=True)
    ]
    every = pl.concat(chunks)
    with spill(4) as store:
        for chunk in chunks:
            store.add("nginx", chunk, pl.col("request_id"))
        assert sum(store.lines.values()) == every.height
        assert len(written) <= 1  # the one being written, if any: the other parts kept
        parts = [store.read(p, "nginx") for p in range(4)]
        assert_frame_equal(store.read_many(None, "nginx"), every)
    assert_frame_equal(pl.concat(parts).sort("line_no"), every)
    assert all(p.get_column("line_no").is_sorted() for p in parts)


def test_the_join_is_partitioned_above_a_size_or_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = resolve_sources([str(SAMPLE)])
    monkeypatch.delenv("LOGTRACE_JOIN", raising=False)
    assert join_mode(sources, TimelineOptions()) == "memory"
    monkeypatch.setattr(load_module, "PARTITION_ABOVE_BYTES", 1000)
    assert join_mode(sources, TimelineOptions()) == "partitioned"
    assert join_mode(sources, TimelineOptions(join="memory")) == "memory"
    monkeypatch.setenv("LOGTRACE_JOIN", "memory")
    assert join_mode(sources, TimelineOptions()) == "memory"
    assert join_mode(resolve_sources(["-"]), TimelineOptions(join="auto")) == "memory"


def test_a_pipe_that_does_not_end_within_what_is_read_ahead_is_joined_a_part_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its length is not known before it is read: memory bounded by a part, whatever it
    holds (`zcat *.gz | logtrace export spans -` held every span)."""
    monkeypatch.delenv("LOGTRACE_JOIN", raising=False)
    edge = (SAMPLE / "edge-1.access.log").read_bytes()  # 460 KB: more than is read ahead
    stdin = resolve_sources(["-"])
    monkeypatch.setattr("sys.stdin", PipedStdin(edge))
    assert join_mode(stdin, TimelineOptions()) == "partitioned"
    monkeypatch.setattr("sys.stdin", PipedStdin(edge[: edge.index(b"\n", 100_000) + 1]))
    assert join_mode(stdin, TimelineOptions()) == "memory"  # it ended: 100 KB
    monkeypatch.setattr("sys.stdin", PipedStdin(edge))
    loaded = load(stdin, TimelineOptions())
    assert loaded.ingest.sources[0].lines_parsed == 2500  # nothing read ahead was lost
    assert loaded.timelines.spans.get_column("request_id").n_unique() == 2500


@pytest.mark.parametrize(
    ("part_bytes", "joined_as"),
    [(2 * 1024 * 1024, "parts together"), (32 * 1024, "slices of a part")],
)
def test_a_pipe_is_joined_about_a_parts_worth_at_a_time_to_the_same_spans(
    monkeypatch: pytest.MonkeyPatch, part_bytes: int, joined_as: str
) -> None:
    """Its size is not known when it is cut in UNKNOWN_SIZE_PARTS parts: they are joined as
    many lines at a time as PART_BYTES of its text holds: small parts together, a big one
    in slices of whole requests. The spans are the in-memory join's (without the clock
    correction, whose offsets are learnt on a sample: a small one here)."""
    monkeypatch.delenv("LOGTRACE_JOIN", raising=False)
    monkeypatch.setattr(partitioned, "PART_BYTES", part_bytes)
    monkeypatch.setattr(partitioned, "SAMPLE_LINES", 1000)
    monkeypatch.setattr(partitioned, "UNKNOWN_SIZE_PARTS", 16)
    files = [str(p) for p in sorted(SAMPLE.glob("*.log")) if p.name != "api-1.log"]
    sources = resolve_sources(["-", *files])
    formats = FormatOptions(nginx_confs=(str(SAMPLE_CONF),))
    options = TimelineOptions(formats, skew_correction=False)
    piped = (SAMPLE / "api-1.log").read_bytes()
    jobs: list[list[tuple[int, int, int]]] = []
    part = partitioned.Partitioned.part

    def counted(self: partitioned.Partitioned, job: list[tuple[int, int, int]]) -> object:
        jobs.append(job)
        return part(self, job)

    monkeypatch.setattr(partitioned.Partitioned, "part", counted)
    monkeypatch.setattr("sys.stdin", PipedStdin(piped))
    split = load(sources, options)
    if joined_as == "parts together":
        assert max(len(job) for job in jobs) > 1
    else:
        assert max(subs for job in jobs for _, _, subs in job) > 1
    monkeypatch.setattr("sys.stdin", PipedStdin(piped))
    memory = load(sources, replace(options, join="memory"))
    assert split.timelines.spans.get_column("request_id").n_unique() == 2500
    assert_frame_equal(memory.timelines.spans.sort("sid"), split.timelines.spans.sort("sid"))


def test_several_id_columns_in_one_log_are_joined_in_memory(tmp_path: Path) -> None:
    """Which of them holds the request id is decided on every line at once."""
    fmt = (
        '$remote_addr [$time_local] "$request" $status $request_time $request_id $http_x_request_id'
    )
    lines = [
        f'10.0.0.1 [04/Mar/2026:10:00:0{i} +0000] "GET /a/{i} HTTP/1.1" 200 0.010 {i:032x} -'
        for i in range(6)
    ]
    (tmp_path / "edge.log").write_text("\n".join(lines) + "\n")
    sources = resolve_sources([str(tmp_path / "edge.log")])
    options = TimelineOptions(FormatOptions(log_format=fmt), join="partitioned", parts=3)
    split = load(sources, options)
    memory = load(sources, TimelineOptions(FormatOptions(log_format=fmt), join="memory"))
    assert split.nginx.get_column("request_id").to_list() == [f"{i:032x}" for i in range(6)]
    _same(memory, split)


@pytest.mark.parametrize(
    ("args", "fmt"),
    [
        (["export", "spans", "--format", "csv"], "csv"),
        (["export", "traces", "--to", "otlp-json"], "json"),
    ],
)
def test_exports_are_written_a_part_at_a_time_with_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], fmt: str
) -> None:
    monkeypatch.setattr(partitioned, "PART_BYTES", 1 << 20)  # sample_logs: 4 MB, 4 parts
    written = {}
    for mode in ("memory", "partitioned"):
        out = tmp_path / f"{mode}.{fmt}"
        argv = [*args, str(SAMPLE), "--nginx-conf", str(SAMPLE_CONF), "-o", str(out)]
        result = CliRunner().invoke(app, argv, env={"LOGTRACE_JOIN": mode})
        assert result.exit_code == 0, result.output
        written[mode] = out
    if fmt == "csv":
        memory, split = (pl.read_csv(written[m], infer_schema_length=0) for m in written)
        assert_frame_equal(memory.sort("span_id"), split.sort("span_id"))
    else:
        spans_memory, spans_split = (_otlp_spans(written[m]) for m in written)
        assert spans_memory == spans_split


def test_the_next_parts_are_joined_while_the_caller_uses_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(partitioned, "SAMPLE_LINES", 2000)  # the facts from the first part
    started: list[tuple[list[tuple[int, int, int]], str]] = []
    begun = threading.Condition()
    plain = partitioned.Partitioned.part

    def part(
        self: partitioned.Partitioned, job: list[tuple[int, int, int]]
    ) -> tuple[Loaded, object]:
        with begun:
            started.append((job, threading.current_thread().name))
            begun.notify_all()
        return plain(self, job)

    monkeypatch.setattr(partitioned.Partitioned, "part", part)
    formats = FormatOptions(nginx_confs=(str(SAMPLE_CONF),))
    options = TimelineOptions(formats, join="partitioned", parts=6)
    ahead = partitioned.JOINS_AHEAD
    assert ahead >= 2
    with partitioned.joined_parts(resolve_sources([str(SAMPLE)]), options) as joined:
        run = joined.run
        assert run is not None
        after_sample = run._jobs[run._sampled :]  # a part each: the size is known
        assert all(len(job) == 1 and job[0][2] == 1 for job in after_sample)
        assert len(after_sample) >= ahead + 2
        given = 0
        for loaded in joined.each():
            given += 1
            assert loaded.timelines.spans.height
            # while the caller has this part, the next `ahead` ones are being joined (one
            # after the other, the caller would wait for each)
            expected = min(len(after_sample), given - 1 + ahead)

            def enough(n: int = expected) -> bool:
                return len(started) >= n

            with begun:
                assert begun.wait_for(enough, timeout=30), (
                    f"part {given} given, {len(started)} of the next begun"
                )
    assert [n for n, _ in started] == after_sample  # each once, in order
    assert all(name.startswith("part") for _, name in started)
    assert given == 1 + len(after_sample)


def _otlp_spans(path: Path) -> list[str]:
    doc = json.loads(path.read_text())
    spans = [
        json.dumps(span, sort_keys=True)
        for resource in doc["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    return sorted(spans)


def test_an_export_of_logs_without_ids_fails_the_same_way_a_part_at_a_time(
    tmp_path: Path,
) -> None:
    log = SAMPLE / "combined" / "edge-1.combined.log"
    outcomes = []
    for mode in ("memory", "partitioned"):
        argv = ["export", "spans", str(log), "-o", str(tmp_path / f"{mode}.csv")]
        result = CliRunner().invoke(app, argv, env={"LOGTRACE_JOIN": mode})
        outcomes.append((result.exit_code, result.output))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == 5
    assert "no trace to export" in outcomes[0][1]


def test_facts_learnt_on_a_sample_of_the_parts_still_give_every_right_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An input larger than the sample: the facts come from the first parts only."""
    monkeypatch.setattr(partitioned, "SAMPLE_LINES", 300)  # 1 part of 8 (~225 lines)
    deployment = busy_deployment(requests=120, skew_s={"web-2": 0.180}, prefix="rewrite")
    directory = deployment.write(tmp_path)
    memory, split = _both(directory, 8)
    assert split.timelines.spans.get_column("request_id").n_unique() == 120
    assert _wrong_parents(split) == []
    parents = [m.timelines.spans.select("sid", "parent_sid").sort("sid") for m in (memory, split)]
    assert_frame_equal(*parents)
    assert abs(split.timelines.offsets["web-2"].offset_s - 0.180) < 0.002


@pytest.mark.parametrize(
    ("ending", "status", "said"),
    [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up")],
)
def test_ctrl_c_a_kill_or_a_hang_up_on_the_command_line_removes_the_spill(
    tmp_path: Path, ending: str, status: int, said: str
) -> None:
    """The command line ends at once on Ctrl-C, SIGTERM (kill, `timeout`) or SIGHUP (the
    terminal closed), and no ``finally`` runs: the spill's folder, which may hold
    gigabytes, is removed all the same, while its files are being written. SIGTERM and
    SIGHUP used to end the process with no cleanup at all."""
    proc, spills = _join_until_spilled(tmp_path)
    proc.send_signal(getattr(signal, ending))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err.decode().splitlines() == [f"logtrace: {said}"]
    assert list(spills.iterdir()) == []


def test_a_hang_up_the_process_was_started_to_ignore_is_ignored(tmp_path: Path) -> None:
    """Under `nohup` (SIGHUP ignored from the start) a closed terminal does not end the
    run: the join goes on to the end, and removes its spill as usual."""
    proc, spills = _join_until_spilled(tmp_path, ignore_hang_up=True)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert (tmp_path / "spans.csv").stat().st_size > 0
    assert list(spills.iterdir()) == []


def _join_until_spilled(
    tmp_path: Path, *, ignore_hang_up: bool = False
) -> tuple[subprocess.Popen[bytes], Path]:
    """A partitioned join run by the command line, once its first spill file is written
    (the test is skipped if the join ends before that); and the spills' TMPDIR. The
    process starts with the default handling of SIGINT, SIGTERM and SIGHUP, whatever the
    tests' own (`nohup`, a background job), or ignoring SIGHUP as under `nohup`."""

    logs, spills = tmp_path / "logs", tmp_path / "tmp"
    spills.mkdir()
    busy_deployment(requests=4000).write(logs)
    env = {**os.environ, "TMPDIR": str(spills), "LOGTRACE_JOIN": "partitioned"}
    command = ["export", "spans", "--format", "csv", "--out", str(tmp_path / "spans.csv")]
    # files written while the input is read (what is held at its end is kept in memory)
    run = (
        "from logtrace.timelines import spill; spill.HELD_BYTES = 64 * 1024; "
        "from logtrace.cli import main; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", run, *command, str(logs)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        # signal dispositions only, no locks taken
        preexec_fn=shell_signals(*([signal.SIGHUP] if ignore_hang_up else [])),  # noqa: PLW1509
    )
    deadline = time.monotonic() + 60
    while not list(spills.glob("logtrace-join-*/*/*.arrow")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no spill in 60 s"
        time.sleep(0.005)
    if proc.poll() is not None:
        proc.communicate()
        pytest.skip("the join ended before a spill file was seen")  # a very fast machine
    return proc, spills
