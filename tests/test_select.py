"""``trace ID`` reads only the request's lines and a sample: the same trace as a full build."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from logtrace.analysis.trace import trace
from logtrace.cli import app
from logtrace.errors import NotFoundError
from logtrace.export.trace_json import trace_json
from logtrace.resolve import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines.load import Loaded, TimelineOptions, load
from logtrace.timelines.select import RequestSelection, Selector, raw_condition
from tests.conftest import PLANTED_SKEW, SAMPLE, SAMPLE_CONF

FORMATS = FormatOptions(nginx_confs=(str(SAMPLE_CONF),))


def selective(wanted: str, sample: int | None = None) -> Loaded:
    select = RequestSelection(wanted) if sample is None else RequestSelection(wanted, sample)
    return load(resolve_sources([str(SAMPLE)]), TimelineOptions(formats=FORMATS, select=select))


def some_ids(loaded: Loaded) -> list[str]:
    """Requests of every shape: the one on most hosts, one through the skewed host, the
    slowest, one of an edge-only route, and a few more."""
    spans = loaded.timelines.spans
    per = spans.group_by("request_id").agg(
        pl.col("host").n_unique().alias("hosts"),
        (pl.col("host") == "api-2").any().alias("skewed"),
        (pl.col("end") - pl.col("start")).max().alias("longest"),
        pl.len().alias("spans"),
    )
    picks = [
        per.sort(["hosts", "request_id"], descending=[True, False]).item(0, "request_id"),
        per.filter(pl.col("skewed")).sort("request_id").item(0, "request_id"),
        per.sort(["longest", "request_id"], descending=[True, False]).item(0, "request_id"),
        per.filter(pl.col("spans") == 1).sort("request_id").item(0, "request_id"),
    ]
    picks += per.sort("request_id").get_column("request_id").gather_every(500).to_list()
    return list(dict.fromkeys(str(p) for p in picks))


def assert_same_trace(full: Loaded, selected: Loaded, rid: str) -> None:
    a = trace(full, rid, with_lines=True, sources=resolve_sources([str(SAMPLE)]))
    b = trace(selected, rid, with_lines=True, sources=resolve_sources([str(SAMPLE)]))
    assert a.request_id == b.request_id
    assert_frame_equal(a.spans, b.spans)
    assert_frame_equal(a.critical, b.critical)
    assert a.skew_s == b.skew_s
    assert a.notes == b.notes
    assert a.lines == b.lines


def test_the_selective_trace_is_the_full_build_s(sample_loaded: Loaded) -> None:
    ids = some_ids(sample_loaded)
    assert len(ids) >= 6
    for rid in ids:
        selected = selective(rid)
        assert selected.sampled_requests is None  # the sample held every other request
        assert_same_trace(sample_loaded, selected, rid)


def test_a_host_with_a_clock_offset_gets_it_from_the_sample(sample_loaded: Loaded) -> None:
    rid = some_ids(sample_loaded)[1]  # through api-2, 150 ms ahead
    full = sample_loaded.timelines.offsets["api-2"].offset_s
    assert full == pytest.approx(0.150, abs=0.002)
    assert_same_trace(sample_loaded, selective(rid), rid)
    small = selective(rid, sample=300)
    assert small.sampled_requests is not None and small.sampled_requests < 400
    assert small.timelines.offsets["api-2"].offset_s == pytest.approx(full, abs=0.002)
    # the same spans, parents and raw times; the note says what the offsets came from
    a, b = trace(sample_loaded, rid), trace(small, rid)
    keys = ["span_id", "parent_span_id", "service", "kind", "raw_start", "raw_end"]
    assert_frame_equal(a.spans.select(keys), b.spans.select(keys))
    assert b.notes[-2].startswith(
        f"clock offsets and path mappings were estimated from {small.sampled_requests:,} "
        "requests: this one and a sample of the others"
    )
    # hex ids: most lines of other requests were cut before parsing, and counted
    stats = small.ingest.sources
    skipped = sum(s.lines_skipped for s in stats)
    assert skipped > sum(s.lines_total for s in stats) // 3
    assert all(s.lines_parsed + s.lines_rejected + s.lines_skipped == s.lines_total for s in stats)
    assert b.notes[-1].startswith(f"{skipped:,} of the ")


def test_only_the_request_and_the_sample_are_kept() -> None:
    small = selective("ffffffff", sample=50)  # no such request
    assert small.timelines.spans.get_column("request_id").n_unique() <= 50


@pytest.mark.parametrize("length", [4, 8, 32])
def test_a_unique_prefix_finds_the_request(sample_loaded: Loaded, length: int) -> None:
    rid = some_ids(sample_loaded)[0]
    prefix = rid[:length]
    full_ids = sample_loaded.timelines.spans.get_column("request_id").unique()
    if full_ids.filter(full_ids.str.starts_with(prefix)).len() > 1:
        pytest.skip("prefix not unique in sample_logs")
    assert trace(selective(prefix, sample=20), prefix).request_id == rid


def test_an_ambiguous_prefix_names_the_ids_as_a_full_build_does(sample_loaded: Loaded) -> None:
    with pytest.raises(NotFoundError) as full:
        trace(sample_loaded, "a")
    with pytest.raises(NotFoundError) as selected:
        trace(selective("a", sample=20), "a")
    assert (full.value.message, full.value.hint) == (selected.value.message, selected.value.hint)


def test_the_trace_command_prints_the_full_build_s_trace(sample_loaded: Loaded) -> None:
    rid = some_ids(sample_loaded)[1]
    args = ["trace", rid[:12], str(SAMPLE), "--nginx-conf", str(SAMPLE_CONF), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == trace_json(trace(sample_loaded, rid)).strip()


@pytest.mark.nginx
@pytest.mark.slow
def test_the_selective_trace_is_the_full_build_s_on_a_topology_run(topology_run: Path) -> None:
    """A real run (300 requests, a planted clock skew): the same traces either way."""
    conf = str(topology_run / "nginx" / "mesh-1" / "nginx.conf")
    formats = FormatOptions(nginx_confs=(conf,))
    sources = resolve_sources([str(topology_run / "logs")])
    full = load(sources, TimelineOptions(formats))
    spans = full.timelines.spans
    ids = spans.get_column("request_id").unique().sort().gather_every(60).to_list()
    skewed = spans.filter(pl.col("host") == PLANTED_SKEW[0]).get_column("request_id").min()
    for rid in [*ids, skewed]:
        selected = load(sources, TimelineOptions(formats, select=RequestSelection(str(rid))))
        a, b = trace(full, str(rid)), trace(selected, str(rid))
        assert_frame_equal(a.spans, b.spans)
        assert_frame_equal(a.critical, b.critical)
        assert (a.skew_s, a.notes) == (b.skew_s, b.notes)


@pytest.mark.parametrize("bound", ["0000beef", "7f3a0000", "a1b2c3d4", "ffffffff", "00", "f"])
def test_the_raw_prefilter_keeps_every_line_of_an_id_under_the_bound(bound: str) -> None:
    """A superset: any hex id sorting at or under the bound, wherever it stands in a line
    (nginx field, JSON value, traceparent, upper case), is kept; longer lines with no such
    id are not all kept."""
    rng = random.Random(bound)
    ids = ["".join(rng.choice("0123456789abcdef") for _ in range(32)) for _ in range(3000)]
    ids += [bound + "0" * (32 - len(bound)), bound[:3] + "0" * 29]
    shapes = [
        '127.0.0.1 - - [26/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 5 rid={}',
        '{{"ts":"2026-11-26T09:00:00.120Z","request_id":"{}"}}',
        "traceparent=00-{}-00f067aa0ba902b7-01 took 12ms",
        "X-Request-ID: {}",
    ]
    lines = [rng.choice(shapes).format(i.upper() if n % 5 == 0 else i) for n, i in enumerate(ids)]
    frame = pl.DataFrame({"line_no": range(len(lines)), "line": lines})
    kept = set(frame.filter(raw_condition(bound)).get_column("line_no").to_list())
    under = {n for n, i in enumerate(ids) if i <= bound}
    assert under <= kept
    if bound < "f":
        assert len(kept) < len(lines)


def test_whole_ids_are_read_in_full_beside_the_prefix() -> None:
    """``ids`` (a report's slowest requests): each is read whole, with a sample of none."""
    edge = resolve_sources([str(SAMPLE / "edge-1.access.log")])
    everything = load(edge, TimelineOptions(formats=FORMATS))
    ids = sorted(set(everything.timelines.spans.get_column("request_id").to_list()))[100:103]
    select = RequestSelection(ids[0], sample=0, ids=tuple(ids))
    chosen = load(edge, TimelineOptions(formats=FORMATS, select=select))
    assert sorted(set(chosen.timelines.spans.get_column("request_id").to_list())) == ids
    for rid in ids:
        assert_same_trace_of(everything, chosen, rid)


def test_one_services_logs_are_traced_without_a_sample() -> None:
    """One service's nginx logs: no calls between hosts, so nothing to learn from other
    requests. `trace` reads only the request's lines, and builds the full build's trace."""
    edge = resolve_sources([str(SAMPLE / "edge-1.access.log")])
    everything = load(edge, TimelineOptions(formats=FORMATS))
    rid = sorted(set(everything.timelines.spans.get_column("request_id").to_list()))[1234]
    chosen = load(edge, TimelineOptions(formats=FORMATS, select=RequestSelection(rid)))
    assert chosen.sampled_requests is None
    assert set(chosen.timelines.spans.get_column("request_id").to_list()) == {rid}
    (read,) = chosen.ingest.sources
    assert (read.lines_total, read.lines_skipped) == (2500, 2499)
    assert_same_trace_of(everything, chosen, rid)


def test_a_sample_of_none_cuts_the_raw_lines_from_the_first_chunk() -> None:
    """With a sample of none (a report of one service's logs) no other request's line is
    wanted: the raw lines are cut to those holding the ids from the first chunk on, of
    any kind of id, and a chunk keeps only their lines."""
    ids = [f"req-{n:06d}" for n in range(200)]
    selector = Selector(RequestSelection("req-000150", sample=0, ids=("req-000007",)))
    lines = pl.DataFrame({"line_no": range(200), "line": [f"rid={i} 200" for i in ids]})
    assert selector.raw(lines).get_column("line_no").to_list() == [7, 150]
    frame = pl.DataFrame({"line_no": range(200), "request_id": ids})
    assert selector.keep(frame).get_column("request_id").to_list() == ["req-000007", "req-000150"]
    assert selector.final(frame).height == 2


def test_ids_are_sought_as_they_are_written_whatever_characters_they_hold() -> None:
    """The raw lines are cut by one regex of the ids (faster than a search of each):
    an id is sought as its characters are, a regex's special ones included."""
    ids = ("a.b", "x|y", "(id)", "c*", "[1]", "^start", "end$", "€uro", "back\\slash", "a+b?")
    decoys = ("axb", "x", "y", "id", "cc", "1", "start", "end", "uro", "backslash", "aab")
    texts = [f"rid={i} 200" for i in ids] + [f"rid={d} 200" for d in decoys]
    lines = pl.DataFrame({"line_no": range(len(texts)), "line": texts})
    selector = Selector(RequestSelection("zzz", sample=0, ids=ids))
    kept = selector.raw(lines).get_column("line").to_list()
    assert kept == [f"rid={i} 200" for i in ids]


def assert_same_trace_of(full: Loaded, selected: Loaded, rid: str) -> None:
    a, b = trace(full, rid), trace(selected, rid)
    assert_frame_equal(a.spans, b.spans)
    assert_frame_equal(a.critical, b.critical)


def test_ids_that_are_not_random_hex_are_sampled_by_hash_and_no_raw_line_is_cut() -> None:
    """Sequential or named ids (``req-000123``): their smallest would be the first
    requests, not a sample, so they are ranked by a hash and every raw line is parsed."""
    ids = [f"req-{n:06d}" for n in range(200)]
    frame = pl.DataFrame({"line_no": range(200), "request_id": ids})
    selector = Selector(RequestSelection("req-000150", sample=20))
    kept = selector.keep(frame)
    assert selector.by_value is False and selector.sampled
    assert "req-000150" in kept.get_column("request_id").to_list()
    assert kept.height <= 21
    # not the first twenty: a hash picks them
    assert set(kept.get_column("request_id").to_list()) != set(ids[:20]) | {"req-000150"}
    lines = pl.DataFrame({"line_no": range(200), "line": [f"rid={i}" for i in ids]})
    assert selector.raw(lines).height == 200


def test_hex_ids_are_sampled_by_value_and_raw_lines_cut_to_the_bound() -> None:
    rng = random.Random(5)
    ids = ["".join(rng.choice("0123456789abcdef") for _ in range(32)) for _ in range(500)]
    frame = pl.DataFrame({"line_no": range(500), "request_id": ids})
    selector = Selector(RequestSelection(ids[7], sample=50))
    kept = set(selector.keep(frame).get_column("request_id").to_list())
    assert selector.by_value is True
    assert kept == set(sorted(ids)[:50]) | {ids[7]}
    lines = pl.DataFrame({"line_no": range(500), "line": [f"rid={i} 200" for i in ids]})
    raw = set(selector.raw(lines).get_column("line_no").to_list())
    assert {ids.index(i) for i in kept} <= raw < set(range(500))


@pytest.mark.parametrize("batch", [1, 700, 10**9])
def test_lines_cut_in_small_chunks_are_parsed_in_batches_to_the_same_trace(
    sample_loaded: Loaded, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw lines a prefilter keeps wait to be parsed in batches (one per cut chunk,
    a few chunks, or the whole source at its end): the trace, the counts and the lines
    are those of the full build."""
    from logtrace import ingest, sources

    monkeypatch.setattr(sources, "CHUNK_BYTES", 16 * 1024)
    monkeypatch.setattr(ingest, "CUT_BATCH", batch)
    rid = some_ids(sample_loaded)[1]
    small = selective(rid, sample=200)
    a, b = trace(sample_loaded, rid), trace(small, rid)
    keys = ["span_id", "parent_span_id", "service", "kind", "raw_start", "raw_end"]
    assert_frame_equal(a.spans.select(keys), b.spans.select(keys))
    assert small.timelines.offsets["api-2"].offset_s == pytest.approx(
        sample_loaded.timelines.offsets["api-2"].offset_s, abs=0.002
    )
    stats = small.ingest.sources
    assert sum(s.lines_skipped for s in stats) > sum(s.lines_total for s in stats) // 3
    assert all(s.lines_parsed + s.lines_rejected + s.lines_skipped == s.lines_total for s in stats)
    # every line of the request was parsed, in the order of its files
    full = trace(sample_loaded, rid, with_lines=True, sources=resolve_sources([str(SAMPLE)]))
    cut = trace(small, rid, with_lines=True, sources=resolve_sources([str(SAMPLE)]))
    assert full.lines == cut.lines


@pytest.mark.parametrize("batch", [1, 10**9])
def test_a_chunk_the_prefilter_keeps_whole_comes_after_the_cut_lines_before_it(
    batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks cut and chunks kept whole, in any mix: every line is parsed or skipped,
    and the lines come in the order of the file."""
    from logtrace import ingest, sources
    from logtrace.ingest import iter_lines
    from logtrace.ingest_report import IngestReport
    from logtrace.resolve import FormatResolver

    monkeypatch.setattr(sources, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(ingest, "CUT_BATCH", batch)
    path = SAMPLE / "edge-1.access.log"
    calls = iter(range(10**6))

    def every_other_chunk_cut(lines: pl.DataFrame) -> pl.DataFrame:
        if next(calls) % 2:  # odd chunks whole
            return lines
        return lines.filter(pl.col("line_no") % 3 == 0)

    report = IngestReport()
    chunks = iter_lines(
        resolve_sources([str(path)]),
        FormatResolver.from_options(FORMATS),
        report,
        prefilter=every_other_chunk_cut,
    )
    line_nos = [n for c in chunks for n in c.frame.get_column("line_no").to_list()]
    (stats,) = report.sources
    assert stats.lines_total > 100 and stats.lines_skipped > 20
    assert stats.lines_parsed + stats.lines_rejected + stats.lines_skipped == stats.lines_total
    assert line_nos == sorted(line_nos) and len(line_nos) == stats.lines_parsed
