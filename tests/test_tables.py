"""The ``analyze`` report's tables at a terminal's width: numbers and request ids are never
cut; routes and paths give way in their middle, then columns drop in a stated order; a
pipe gets every table whole."""

from __future__ import annotations

import re
from contextlib import chdir
from pathlib import Path

import pytest

from logtrace.analysis.analyze import Analysis, AnalyzeOptions, analyze
from logtrace.render.console import record_console
from logtrace.render.tables import MAX_SOURCE_ROWS, files_label, render_analysis
from logtrace.resolve import FormatOptions
from logtrace.sources import resolve_sources
from tests.conftest import ROOT, Golden
from tests.deployments import busy_deployment

LONG_URLS = "tests/fixtures/long-urls/access.log"
WIDTHS = (80, 120, 200)
# What a cell starting with a digit holds: a count, a duration, a share, a time, an id.
NUMBER = re.compile(
    r"^(?:[\d,]+|[\d.]+ (?:ms|s)|[\d.]+%|\d+m\d\ds|\d+h\d\dm|[\d:.]+|[0-9a-f]{32})$"
)
TABLES = ("Sources", "Routes", "Slowest requests", "Hosts", "Time per service", "Slow paths")


@pytest.fixture(scope="module")
def long_urls() -> Analysis:
    """One nginx log (a real nginx, the trace preset) with paths of hundreds and
    thousands of characters."""
    with chdir(ROOT):
        return analyze(resolve_sources([LONG_URLS]), AnalyzeOptions(FormatOptions()))


@pytest.fixture(params=["sample", "long_urls"])
def case(request: pytest.FixtureRequest) -> Analysis:
    """Each report the goldens show: sample_logs/ and the long-URL log."""
    name = "sample_analysis" if request.param == "sample" else "long_urls"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def report(analysis: Analysis, width: int, *, fit: bool = True) -> str:
    console = record_console(width, fit=fit)
    render_analysis(console, analysis)
    return console.export_text()


def table(text: str, title: str) -> tuple[list[str], list[str]]:
    """The header words and the rows of the table titled ``title``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rule = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("─"))
    end = next(i for i in range(rule, len(lines)) if not lines[i].strip())
    return " ".join(lines[start + 2 : rule]).split(), lines[rule + 1 : end]


def steady(text: str) -> str:
    """The report without the "seen in" counts of the path mappings, which move by a few
    from run to run (timelines/paths.py ranks equally good callers in an unstable sort)."""
    return re.sub(r"(?<= )\d+ req(?= )", "N req", text)


def test_the_rewrites_a_stripping_proxy_makes_are_listed_with_their_support(
    tmp_path: Path,
) -> None:
    """Behind a proxy that strips the service's prefix, the report says how each hop
    rewrites paths, in every request that takes it (the sample logs rewrite none)."""
    logs = busy_deployment(prefix="strip").write(tmp_path)
    analysis = analyze(resolve_sources([str(logs)]), AnalyzeOptions(FormatOptions()))
    narrow = table(report(analysis, 80), "Paths rewritten between hops")[1]
    assert narrow and all(len(row) <= 80 and re.search(r" \d+ req $", row) for row in narrow)
    text = report(analysis, 200)
    header, rows = table(text, "Paths rewritten between hops")
    assert header == ["caller", "callee", "caller's", "path", "callee's", "path", "seen", "in"]
    cells = {(*(Path(c).name for c in row.split()[:2]), *row.split()[2:4]) for row in rows}
    assert ("proxy-1.access.log", "users-1.log", "/users-svc/…", "/…") in cells
    assert ("web-1.log", "proxy-1.access.log", "/…", "/users-svc/…") in cells
    assert all(row.split()[-1] == "req" for row in rows)


@pytest.mark.parametrize("width", WIDTHS)
def test_sample_logs_report_as_its_golden_file(
    sample_analysis: Analysis, width: int, golden: Golden
) -> None:
    golden(f"analyze_sample_w{width}.txt", steady(report(sample_analysis, width)))


@pytest.mark.parametrize("width", WIDTHS)
def test_long_urls_report_as_its_golden_file(
    long_urls: Analysis, width: int, golden: Golden
) -> None:
    golden(f"analyze_long_urls_w{width}.txt", report(long_urls, width))


@pytest.mark.parametrize("width", WIDTHS)
def test_request_ids_are_printed_whole_to_paste_into_trace(case: Analysis, width: int) -> None:
    text = report(case, width)
    _, rows = table(text, "Slowest requests")
    for request_id in case.latency.slowest.get_column("request_id"):
        assert any(f" {request_id} " in f" {row} " for row in rows), request_id
    if case.cross_host is not None:
        _, rows = table(text, "Slow paths")
        for path in case.cross_host.slow_paths:
            assert any(f" {path.request_id} " in f" {row} " for row in rows), path.request_id


@pytest.mark.parametrize("width", WIDTHS)
def test_no_number_is_cut_and_every_line_fits(case: Analysis, width: int) -> None:
    text = report(case, width)
    for title in TABLES[1:]:  # Sources: the format column wraps its words
        if title not in text:
            continue
        _, rows = table(text, title)
        for row in rows:
            cells = re.split(r"\s{3,}", row.strip())
            numbers = [c for c in cells if c[:1].isdigit() and not c.startswith("/")]
            assert all(NUMBER.match(c) or " ±" in c for c in numbers), row
            assert "…" not in "".join(numbers), row
    commands = {line for line in text.splitlines() if "logtrace trace " in line}
    assert max(len(line) for line in text.splitlines() if line not in commands) <= width


def test_the_route_gives_way_in_its_middle(long_urls: Analysis) -> None:
    _, rows = table(report(long_urls, 120), "Routes")
    route = next(row.split()[0] for row in rows if row.lstrip().startswith("/api/files/"))
    head, _, tail = route.partition("…")
    assert head.startswith("/api/files/xxx")
    assert tail.endswith("xxx")


@pytest.mark.parametrize(
    ("width", "routes", "slowest"),
    [
        (
            80,
            "route requests share p50 p99 max 4xx 5xx",
            "request id request status total",
        ),
        (
            200,
            "route requests share p50 p90 p95 p99 max upstr p50 4xx 5xx",
            "time (UTC) request id request status total upstream nginx tries",
        ),
    ],
)
def test_columns_drop_in_the_stated_order(
    sample_analysis: Analysis, width: int, routes: str, slowest: str
) -> None:
    text = report(sample_analysis, width)
    assert table(text, "Routes")[0] == routes.split()
    assert table(text, "Slowest requests")[0] == slowest.split()


def test_a_pipe_gets_every_table_whole(case: Analysis) -> None:
    text = report(case, 80, fit=False)
    for title in TABLES:
        if title in text:
            _, rows = table(text, title)
            assert not any("…" in row for row in rows), title
    for source in case.ingest.sources:
        assert source.path in text
    if case is not None and "long-urls" in case.ingest.sources[0].path:
        assert "/api/files/" + "x" * 9000 in text


def test_times_of_a_whole_second_log_show_whole_seconds(long_urls: Analysis) -> None:
    text = report(long_urls, 120)
    (time_range,) = [line for line in text.splitlines() if line.startswith("Time range:")]
    # the first request's start is its logged end minus $request_time: known to a second
    assert re.fullmatch(r"Time range: ≈[\d-]+ [\d:]+ → [\d-]+ [\d:]+ UTC  \(≈\d+ s\)", time_range)


def test_counted_nouns_agree_with_their_counts(tmp_path: Path) -> None:
    log = tmp_path / "one.log"
    log.write_text(
        '127.0.0.1 - - [26/Nov/2026:09:07:13 -0330] "GET /a HTTP/1.1" 200 3 "-" "curl/8" '
        "0.010 0.001, 0.008 0123456789abcdef0123456789abcdef\n"
    )
    analysis = analyze(resolve_sources([str(log)]), AnalyzeOptions(FormatOptions(preset="trace")))
    text = " ".join(report(analysis, 200).split())
    assert "1 of 1 request went upstream" in text
    assert "Retries: 1 request needed 1 extra upstream attempt, costing 1 ms" in text


def _pieces(tmp_path: Path, pieces: int, junk: set[int]) -> list[Path]:
    """sample_logs' edge log cut in ``pieces`` files (``edge.log``, ``edge.log.1`` ...),
    a line no format reads at the end of the ``junk`` ones."""
    lines = (ROOT / "sample_logs/edge-1.access.log").read_text().splitlines(keepends=True)
    size = -(-len(lines) // pieces)
    paths = []
    for i in range(pieces):
        path = tmp_path / ("edge.log" + (f".{i}" if i else ""))
        path.write_text("".join(lines[i * size : (i + 1) * size]) + ("junk\n" if i in junk else ""))
        paths.append(path)
    return paths


def test_rotated_files_of_one_log_are_one_row_and_their_rejects_are_bounded(
    tmp_path: Path,
) -> None:
    """Past MAX_SOURCE_ROWS sources, a log and its rotated files are summed in one row;
    rejected lines are shown by sample for the first few sources, the others counted."""
    paths = _pieces(tmp_path, MAX_SOURCE_ROWS + 5, junk={2, 3, 5, 8, 13, 21, 22})
    analysis = analyze(
        resolve_sources([str(p) for p in paths]), AnalyzeOptions(FormatOptions(preset="trace"))
    )
    text = report(analysis, 200)
    _, rows = table(text, "Sources")
    assert len(rows) == 1
    cells = rows[0].split()
    assert cells[:3] == [f"{tmp_path}/edge.log*", f"({len(paths)}", "files)"]
    assert cells[-3:] == ["2,507", "2,500", "7"]  # the sample's 2,500 lines and 7 junk ones
    assert f"{len(paths)} sources in 1 row: the files of one host, service" in text
    shown = re.findall(r"^Rejected lines in (\S+):", text, re.M)
    assert shown == [f"{tmp_path}/edge.log.{i}" for i in (2, 3, 5, 8, 13)]
    assert "Rejected lines in 2 more sources: does not match the log_format: 2" in text
    assert len(analysis.ingest.sources) == len(paths)  # --json still has each


def test_past_the_row_limit_the_smallest_clean_sources_are_summed_in_a_last_row(
    tmp_path: Path,
) -> None:
    """Sources of as many hosts as rows allowed and more: the ones with a rejected line
    and the biggest keep their rows, in their order; the others are summed in the last."""
    lines = (ROOT / "sample_logs/edge-1.access.log").read_text().splitlines(keepends=True)
    specs = []
    for i in range(MAX_SOURCE_ROWS + 3):
        path = tmp_path / f"h{i}.log"
        path.write_text("".join(lines[: 10 + 10 * i]) + ("junk\n" if i == 0 else ""))
        specs.append(f"{path}@host{i}")
    analysis = analyze(resolve_sources(specs), AnalyzeOptions(FormatOptions(preset="trace")))
    text = report(analysis, 200)
    _, rows = table(text, "Sources")
    assert len(rows) == MAX_SOURCE_ROWS
    hosts = [row.split()[1] for row in rows[:-1]]
    # host0 (a rejected line, the smallest) first, then the biggest 18, in their order
    assert hosts == ["host0", *(f"host{i}" for i in range(5, MAX_SOURCE_ROWS + 3))]
    summed = sum(10 + 10 * i for i in range(1, 5))
    assert rows[-1].split()[:4] == ["…", "4", "more", "sources"]
    assert rows[-1].split()[-3:] == [f"{summed:,}", f"{summed:,}", "0"]
    assert "the 4 smallest without a rejected line in the last" in text
    assert "files of one host" not in text  # no two sources share a host


def test_files_are_labelled_by_the_name_they_share() -> None:
    assert files_label(["/l/edge.log"]) == "/l/edge.log"
    assert files_label(["/l/edge.log", "/l/edge.log.1.gz"]) == "/l/edge.log* (2 files)"
    assert files_label(["/l/a/x.log", "/l/b/x.log"]) == "/l/* (2 files)"
    assert files_label(["a.log", "b.log"]) == "* (2 files)"


def test_files_of_one_log_whose_format_was_detected_are_one_row(tmp_path: Path) -> None:
    """Detection may score each file's first lines apart (a rejected line among them):
    the files are still one row, which says the format was detected on each."""
    paths = _pieces(tmp_path, MAX_SOURCE_ROWS + 1, junk={4})
    analysis = analyze(resolve_sources([str(p) for p in paths]), AnalyzeOptions(FormatOptions()))
    detected = {s.detected for s in analysis.ingest.sources}
    assert len(detected) > 1 and None not in detected
    _, rows = table(report(analysis, 200), "Sources")
    assert len(rows) == 1
    assert "(detected, on each file's first lines)" in rows[0]
