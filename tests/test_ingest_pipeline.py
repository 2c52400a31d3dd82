"""iter_lines across sources: the next source's chunks are parsed while one source's last
chunks are, and what comes out is what each source alone gives."""

from __future__ import annotations

import shutil
import threading
from dataclasses import asdict
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import logtrace.sources as sources_module
from logtrace import ingest
from logtrace.ingest import FormatOptions, FormatResolver, IngestReport, iter_lines
from logtrace.parse import SourceStats
from logtrace.sources import Source

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs"
CHUNK = 32 * 1024  # a sample log of ~500 KB: many chunks


def rotated(tmp_path: Path) -> list[Source]:
    """The edge's log cut in two as logrotate would, an app log whose tracebacks cross
    chunk ends, another nginx log, an empty file and a file of no known format."""
    lines = (SAMPLE / "edge-1.access.log").read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "edge-1.access.log.1").write_bytes(b"".join(lines[:half]))
    (tmp_path / "edge-1.access.log").write_bytes(b"".join(lines[half:]))
    shutil.copy(SAMPLE / "inventory-1.log", tmp_path / "inventory-1.log")
    shutil.copy(SAMPLE / "mesh-1.access.log", tmp_path / "mesh-1.access.log")
    (tmp_path / "empty-1.log").write_bytes(b"")
    (tmp_path / "noise-1.log").write_bytes(b"\x01\x02 nothing to see\n" * 50)
    names = [
        "edge-1.access.log.1",
        "edge-1.access.log",
        "inventory-1.log",
        "mesh-1.access.log",
        "empty-1.log",
        "noise-1.log",
    ]
    return [Source(str(tmp_path / n), n.split(".")[0], n.split("-")[0]) for n in names]


def small_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many chunks each parse of held small chunks takes, as ``ingest._parse_small``
    is called from now on."""
    parse_small = ingest._parse_small
    sizes: list[int] = []

    def watched(pieces: list[tuple[ingest._Job, pl.DataFrame]]) -> list[ingest._Parsed]:
        sizes.append(len(pieces))
        return parse_small(pieces)

    monkeypatch.setattr(ingest, "_parse_small", watched)
    return sizes


def read(
    sources: list[Source], transform: ingest.Transform | None = None, *, keep_line: bool = True
) -> tuple[list[tuple[str, str, pl.DataFrame]], IngestReport]:
    report = IngestReport()
    resolver = FormatResolver.from_options(FormatOptions())
    chunks = [
        (c.source.label, c.kind, c.frame)
        for c in iter_lines(sources, resolver, report, keep_line=keep_line, transform=transform)
    ]
    return chunks, report


def test_each_source_gives_what_it_gives_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources_module, "CHUNK_BYTES", CHUNK)
    sources = rotated(tmp_path)
    together, report = read(sources)
    # in order: every chunk of a source before the next source's
    labels = [label for label, _, _ in together]
    assert labels == sorted(labels, key=[s.label for s in sources].index)
    assert len(together) > 2 * len(sources)  # several chunks each
    for source, stats in zip(sources, report.sources, strict=True):
        alone, alone_report = read([source])
        mine = [(k, f) for label, k, f in together if label == source.label]
        assert [k for k, _ in mine] == [k for _, k, _ in alone]
        for (_, frame), (_, _, expected) in zip(mine, alone, strict=True):
            assert_frame_equal(frame, expected)
        assert asdict(stats) == asdict(alone_report.sources[0])
        assert stats.lines_total == stats.lines_parsed + stats.lines_rejected
    by_path = {s.path: s for s in report.sources}
    assert by_path[str(tmp_path / "empty-1.log")].warnings  # "empty, not a single line"
    assert by_path[str(tmp_path / "inventory-1.log")].lines_parsed == 5_596


def test_the_next_source_is_parsed_beside_the_last_chunk_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last chunk of the first file is held until a chunk of the second is being
    parsed: a reader that waited for the first file's last chunk would never get there
    (the hold gives up after 10 s, and the test fails)."""
    monkeypatch.setattr(sources_module, "CHUNK_BYTES", CHUNK)
    monkeypatch.setattr(ingest, "WORKERS", 2)
    monkeypatch.setattr(ingest, "SMALL_CHUNK_ROWS", 0)  # each chunk parsed alone
    first, second = rotated(tmp_path)[:2]
    last_line = len(Path(first.label).read_bytes().splitlines())
    started = threading.Event()
    held: list[bool] = []
    parse = ingest._parse

    def watched(job: ingest._Job, frame: pl.DataFrame, text: bytes | None) -> ingest._Parsed:
        if job.source.label == second.label:
            started.set()
        elif frame.get_column("line_no").max() == last_line:
            held.append(started.wait(timeout=10))
        return parse(job, frame, text)

    monkeypatch.setattr(ingest, "_parse", watched)
    chunks, report = read([first, second])
    assert held == [True]
    assert [label for label, _, _ in chunks][-1] == second.label
    assert sum(s.lines_parsed for s in report.sources) == last_line + len(
        Path(second.label).read_bytes().splitlines()
    )


def test_first_lines_of_many_files_are_judged_each_on_its_own(tmp_path: Path) -> None:
    """The files' first lines are read side by side: each kind, and the copy found among
    rotated files, as one file at a time gives them."""
    sources = rotated(tmp_path)
    shutil.copy(tmp_path / "edge-1.access.log", tmp_path / "edge-2.access.log")
    sources.append(Source(str(tmp_path / "edge-2.access.log"), "edge-2", "edge"))
    resolver = FormatResolver.from_options(FormatOptions())
    kinds = ingest.plan_sources(sources, resolver)
    assert kinds == {
        s.label: kind
        for s in sources
        for kind in ingest.plan_sources([s], resolver).values()  # the empty file: none
    }
    assert [kinds[s.label] for s in sources if s.label in kinds] == [
        "nginx",
        "nginx",
        "app",
        "nginx",
        "unknown",
        "nginx",
    ]
    nginx = [s for s in sources if kinds.get(s.label) == "nginx"]
    assert ingest.twin_sources(nginx, resolver) == [
        (str(tmp_path / "edge-1.access.log"), str(tmp_path / "edge-2.access.log"))
    ]


def test_the_first_lines_of_files_of_one_format_parsed_at_once_are_each_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files of one format are parsed in one batch for the copies' check, each line given
    back its file and its number: the same lines as parsing them one by one, and a batch
    never above TWIN_BATCH_LINES (several batches here)."""
    sources = rotated(tmp_path)
    sources.append(Source(str(SAMPLE / "edge-1.access.log"), "edge-2", "edge"))
    resolver = FormatResolver.from_options(FormatOptions())
    nginx = [
        (source, frame, parser.nginx)
        for source, frame, parser, _ in ingest.first_lines(sources, resolver)
        if parser is not None and parser.nginx is not None
    ]
    monkeypatch.setattr(ingest, "TWIN_BATCH_LINES", 2_500)
    batches = ingest._batches(nginx)
    assert [len(b) for b in batches] == [2, 1, 1]  # the edge's, the mesh's, and one more
    assert all(len({cf for _, _, cf in batch}) == 1 for batch in batches)
    together = pl.concat([ingest._twin_lines(batch) for batch in batches], how="diagonal_relaxed")
    alone = pl.concat([ingest._twin_lines([item]) for item in nginx], how="diagonal_relaxed")
    assert_frame_equal(
        together.sort("source", "line_no"), alone.sort("source", "line_no"), check_row_order=True
    )
    per_file = together.group_by("source").agg(pl.col("line_no").min(), pl.len())
    assert per_file.get_column("line_no").to_list() == [1] * len(nginx)


def test_a_parser_chosen_whole_on_the_first_lines_is_not_chosen_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first lines read to plan (256 KB) choose each file's parser; when they hold as
    many lines as the choice looks at, or the whole file, reading the file takes that
    choice (and what it said: detected, inferred, unknown) rather than choosing again.
    The same chunks and the same stats come out; a longer file of fewer lines in its
    first 256 KB is chosen again."""
    sources = rotated(tmp_path)
    wide = tmp_path / "wide-1.log"  # 800 lines of 400 bytes: 655 in the first 256 KB
    wide.write_bytes((b"\x01\x02 nothing to see " + b"-" * 377 + b"\n") * 800)
    sources.append(Source(str(wide), "wide-1", "wide"))
    resolver = FormatResolver.from_options(FormatOptions())
    firsts = ingest.first_lines(sources, resolver)
    whole = {f.source.label for f in firsts if f.choice is not None}
    assert str(tmp_path / "edge-1.access.log") in whole
    assert str(tmp_path / "mesh-1.access.log") in whole  # its format inferred, with a warning
    assert str(tmp_path / "noise-1.log") in whole  # 50 lines: the whole file
    assert str(wide) not in whole  # chosen again
    calls: list[str] = []
    choose = ingest._choose

    def counted(
        frame: pl.DataFrame, fixed: object, resolver: FormatResolver, stats: SourceStats
    ) -> object:
        calls.append(stats.path)
        return choose(frame, fixed, resolver, stats)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "_choose", counted)
    outputs = []
    for given in ((), firsts):
        calls.clear()
        report = IngestReport()
        chunks = [
            (c.source.label, c.kind, c.frame)
            for c in iter_lines(
                sources, resolver, report, keep_line=True, chosen=ingest.choices(given)
            )
        ]
        outputs.append((chunks, report, list(calls)))
    (again, report_again, chose_again), (taken, report_taken, chose_taken) = outputs
    assert sorted(chose_again) == sorted([*chose_taken, *whole])
    assert [(label, kind) for label, kind, _ in taken] == [
        (label, kind) for label, kind, _ in again
    ]
    for (_, _, frame), (_, _, expected) in zip(taken, again, strict=True):
        assert_frame_equal(frame, expected)
    assert [asdict(s) for s in report_taken.sources] == [asdict(s) for s in report_again.sources]
    mesh = next(s for s in report_taken.sources if s.path.endswith("mesh-1.access.log"))
    assert mesh.detected is not None and mesh.detected.startswith("inferred from the lines")
    assert any("the format was inferred" in w for w in mesh.warnings)


def _doubled(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns((pl.col("status") * 2).alias("twice"))


def _ok_only(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("status") < 400)


@pytest.mark.parametrize("transform", [None, _doubled, _ok_only])
@pytest.mark.parametrize("keep_line", [True, False])
def test_small_chunks_parsed_together_give_what_each_gives_alone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    transform: ingest.Transform | None,
    keep_line: bool,
) -> None:
    """Small nginx chunks of several files (and of one) are parsed as one chunk: the
    chunks, lines, numbers, rejects and counts of each are those it gives parsed alone,
    with a transform that keeps every row or one that drops some."""
    monkeypatch.setattr(sources_module, "CHUNK_BYTES", CHUNK)
    sources = rotated(tmp_path)
    edge = (SAMPLE / "edge-1.access.log").read_bytes().splitlines(keepends=True)
    for k in range(3):  # small files of one format, with a line of no format among them
        part = edge[k * 200 : (k + 1) * 200]
        part.insert(50, b"\x16\x03 not a line of this log\n")
        (tmp_path / f"edge-2.log.{k}").write_bytes(b"".join(part))
        sources.append(Source(str(tmp_path / f"edge-2.log.{k}"), "edge-2", "edge"))
    together = small_parses(monkeypatch)
    batched, report = read(sources, transform, keep_line=keep_line)
    assert max(together) > 1
    assert len({label for label, _, _ in batched}) == len(sources) - 2  # empty, noise
    monkeypatch.setattr(ingest, "SMALL_CHUNK_ROWS", 0)
    alone, alone_report = read(sources, transform, keep_line=keep_line)
    assert [(label, kind) for label, kind, _ in batched] == [(lb, k) for lb, k, _ in alone]
    for (_, _, frame), (_, _, expected) in zip(batched, alone, strict=True):
        assert_frame_equal(frame, expected)
    assert [asdict(s) for s in report.sources] == [asdict(s) for s in alone_report.sources]
    rejected = report.sources[-1]
    assert rejected.lines_rejected == 1
    assert rejected.samples[0].line_no == 51


def test_small_chunks_are_held_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks wait in the flight until their parse is sent off: at most
    ``SMALL_BATCH_CHUNKS`` of them to a parse, however many small files there are, and
    what comes out is what each file gives alone."""
    edge = (SAMPLE / "edge-1.access.log").read_bytes().splitlines(keepends=True)
    sources = []
    for k in range(9):
        (tmp_path / f"edge.log.{k}").write_bytes(b"".join(edge[k * 5 : (k + 1) * 5]))
        sources.append(Source(str(tmp_path / f"edge.log.{k}"), "edge", "edge"))
    monkeypatch.setattr(ingest, "SMALL_BATCH_CHUNKS", 2)
    sizes = small_parses(monkeypatch)
    batched, report = read(sources)
    assert sizes == [2, 2, 2, 2, 1]
    monkeypatch.setattr(ingest, "SMALL_CHUNK_ROWS", 0)
    alone, alone_report = read(sources)
    assert len(batched) == len(alone) == 9
    for (_, _, frame), (_, _, expected) in zip(batched, alone, strict=True):
        assert_frame_equal(frame, expected)
    assert [asdict(s) for s in report.sources] == [asdict(s) for s in alone_report.sources]
