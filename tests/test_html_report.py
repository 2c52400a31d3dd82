"""``logtrace report``: one self-contained HTML page whose numbers are analyze --json's."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.errors import ExitStatus
from logtrace.html.page import script_json
from tests.html_logs import HOSTILE_MARKERS, HOSTILE_REQUESTS, write_hostile_log

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs"
CONF = ["--nginx-conf", str(SAMPLE / "nginx" / "mesh-1.conf")]
runner = CliRunner()
DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def build(tmp: Path, *args: str) -> str:
    out = tmp / "report.html"
    result = runner.invoke(app, ["report", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def analyze_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["analyze", *args, "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without the path mappings' request counts, which differ by one
    between runs of analyze itself (43 or 44 on sample_logs)."""
    out = dict(doc)
    out["path_mappings"] = [
        {k: v for k, v in m.items() if k != "requests"} for m in doc.get("path_mappings", [])
    ]
    return out


def embedded(page: str) -> dict[str, Any]:
    found = DATA.findall(page)
    assert len(found) == 1
    doc: dict[str, Any] = json.loads(found[0])
    return doc


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build(tmp_path_factory.mktemp("report"), str(SAMPLE), *CONF, "--top", "5")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    log = write_hostile_log(folder)
    return build(folder, str(log), "--preset", "trace"), log


def test_the_page_holds_analyze_json_unchanged(sample_page: str) -> None:
    expected = analyze_json(str(SAMPLE), *CONF, "--top", "5", "--every", "auto")
    data = embedded(sample_page)
    assert data["schema"] == "logtrace.report/1"
    assert comparable(data["analysis"]) == comparable(expected)
    assert expected["requests"] == 2500  # sample_logs: README's numbers
    assert len(expected["buckets"]) >= 30  # --every auto by default


def test_waterfalls_are_the_slowest_requests_as_trace_builds_them(sample_page: str) -> None:
    data = embedded(sample_page)
    slowest = [r["request_id"] for r in data["analysis"]["slowest"]]
    examples = [f["examples"][0] for f in data["insights"]["findings"][:10]]
    ids = [t["request_id"] for t in data["traces"]]
    assert ids == list(dict.fromkeys(slowest + examples))
    assert len(ids) == 5 + 9  # sample_logs: 9 findings, none of them about these 5
    first = data["traces"][0]
    result = runner.invoke(app, ["trace", first["request_id"], str(SAMPLE), *CONF, "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    assert [s["span_id"] for s in first["spans"]] == [s["span_id"] for s in cli["spans"]]
    assert [s["duration_s"] for s in first["spans"]] == [s["duration_s"] for s in cli["spans"]]
    assert first["duration_s"] == cli["duration_s"]
    assert {c["span_id"] for c in first["critical_path"]} == {
        c["span_id"] for c in cli["critical_path"]
    }
    assert first["spans"][0]["start_s"] == 0.0


@pytest.mark.parametrize("hosts", [1, 2])
def test_one_services_waterfalls_are_the_traces_trace_builds(tmp_path: Path, hosts: int) -> None:
    """A page of one service's nginx logs (whole seconds, `$time_local`; one host, or two
    of the service with requests of their own) reads its slowest requests' lines again, and
    only theirs: no sample of other requests (clock offsets, path mappings: nothing to
    learn without calls between hosts). Each waterfall is the trace `logtrace trace`
    builds, sample and all."""
    paths = [str(SAMPLE / "edge-1.access.log")]
    if hosts == 2:  # edge-2: the same traffic, each request's id its own (reversed)
        lines = (SAMPLE / "edge-1.access.log").read_text().splitlines()
        other = [ln[: ln.rindex(" ") + 1] + ln[ln.rindex(" ") + 1 :][::-1] for ln in lines]
        (tmp_path / "edge-2.access.log").write_text("\n".join(other) + "\n")
        paths.append(str(tmp_path / "edge-2.access.log"))
    data = embedded(build(tmp_path, *paths, "--top", "8"))
    assert data["analysis"]["requests"] == 2500 * hosts and len(data["traces"]) == 8
    for drawn in data["traces"]:
        result = runner.invoke(app, ["trace", drawn["request_id"], *paths, "--json"])
        assert result.exit_code == 0, result.output
        cli = json.loads(result.stdout)
        assert drawn["duration_s"] == cli["duration_s"]
        for key in ("span_id", "parent_span_id", "duration_s", "precision_s", "name"):
            assert [s[key] for s in drawn["spans"]] == [s[key] for s in cli["spans"]], key
        assert {c["span_id"] for c in drawn["critical_path"]} == {
            c["span_id"] for c in cli["critical_path"]
        }


def test_insights_are_summarised_without_every_request_id(sample_page: str) -> None:
    insights = embedded(sample_page)["insights"]
    assert insights["requests"] == 2500
    patterns = {f["pattern"] for f in insights["findings"]}
    assert {"n_plus_one", "retry", "slow_client"} <= patterns
    assert all("request_ids" not in f for f in insights["findings"])


def csp_of(page: str) -> dict[str, list[str]]:
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert found is not None
    policy = found.group(1).replace("&#x27;", "'")
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_a_strict_csp_allows_only_the_page_own_script_and_style(sample_page: str) -> None:
    csp = csp_of(sample_page)
    scripts = re.findall(r"<script>(.*?)</script>", sample_page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", sample_page, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == [sha256_source(scripts[0])]
    assert csp["style-src"] == [sha256_source(styles[0])]
    assert csp["img-src"] == ["data:"]
    assert "'unsafe-inline'" not in str(csp) and "'unsafe-eval'" not in str(csp)


def test_the_page_refers_to_nothing_outside_itself(sample_page: str) -> None:
    urls = set(re.findall(r"\b(?:https?|ftp|wss?)://[^\s\"'<>)]*", sample_page))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace: a name, never fetched
    assert not re.search(
        r"<(?:link|img|iframe|object|embed)[^>]*(?:src|href)=\"(?!data:)", sample_page
    )
    assert not re.search(r"\son[a-z]+=", sample_page)  # no inline event handler at all


def test_log_text_never_becomes_markup(hostile: tuple[str, Path]) -> None:
    page, _ = hostile
    assert page.count("<script") == 2  # the data and the page's script, nothing else
    assert page.count("</script>") == 2
    for marker in HOSTILE_MARKERS:
        assert marker not in page, marker
    data = embedded(page)
    routes = {r["route"] for r in data["analysis"]["routes"]}
    assert "/a/<script>alert(1)</script>" in routes  # as data, escaped in the JSON
    samples = [s["line"] for src in data["analysis"]["sources"] for s in src["rejected_samples"]]
    assert any("<img src=x onerror=alert(2)>" in line for line in samples)


def test_hostile_report_still_equals_analyze_json(hostile: tuple[str, Path]) -> None:
    page, log = hostile
    data = embedded(page)
    assert data["analysis"] == analyze_json(str(log), "--preset", "trace", "--every", "auto")
    # the hostile requests are the slowest, and each got its waterfall
    ids = [t["request_id"] for t in data["traces"]]
    assert ids[:4] == ["a" * 31 + n for n in "1345"]
    assert len(HOSTILE_REQUESTS) == 5


@pytest.mark.parametrize(
    "text",
    [
        "</script><script>alert(1)</script>",
        "<!--<script>",
        "a\u2028b\u2029c",
        "&amp; <b>",
        "\x00\x1b",
    ],
)
def test_embedded_json_cannot_end_its_script_element(text: str) -> None:
    encoded = script_json({"s": text})
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded
    assert "\u2028" not in encoded and "\u2029" not in encoded and "\x1b" not in encoded
    assert json.loads(encoded) == {"s": text}


def test_output_in_a_missing_folder_is_refused_before_reading(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "report.html"
    result = runner.invoke(app, ["report", str(SAMPLE), *CONF, "-o", str(out)])
    assert result.exit_code == int(ExitStatus.NO_INPUT)
    assert "does not exist" in result.output
    assert not out.exists()


def test_a_bad_bucket_size_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(SAMPLE), "--every", "5q", "-o", str(tmp_path / "r")])
    assert result.exit_code == int(ExitStatus.USAGE)
    assert "--every '5q' is not a bucket size" in result.output


def test_top_bounds_the_waterfalls_of_a_single_nginx_log(tmp_path: Path) -> None:
    edge = str(SAMPLE / "edge-1.access.log")
    data = embedded(build(tmp_path, edge, "--top", "3"))
    slowest = [r["request_id"] for r in data["analysis"]["slowest"]]
    assert len(slowest) == 3
    assert [t["request_id"] for t in data["traces"]] == slowest
    # nginx and its upstream attempts: one server span and one client span a try
    first = data["traces"][0]
    assert first["spans"][0]["kind"] == "SERVER"
    assert {s["kind"] for s in first["spans"][1:]} == {"CLIENT"}


def test_waterfalls_are_cut_to_the_span_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans per trace and in all are bounded, a parent kept before its children."""
    from contextlib import chdir

    from logtrace.analysis.analyze import AnalyzeOptions, analyze
    from logtrace.html import data as html_data
    from logtrace.html.data import report_data
    from logtrace.html.traces import report_traces
    from logtrace.resolve import FormatOptions
    from logtrace.sources import resolve_sources

    monkeypatch.setattr(html_data, "MAX_TRACE_SPANS", 4)
    monkeypatch.setattr(html_data, "MAX_SPANS", 10)

    formats = FormatOptions(nginx_confs=("sample_logs/nginx/mesh-1.conf",))
    with chdir(ROOT):
        sources = resolve_sources(["sample_logs/"])
        result = analyze(sources, AnalyzeOptions(formats=formats, top=5, keep_timelines=True))
        traced = report_traces(result, sources, top=5, formats=formats)
    assert len(traced.traces) == 14  # the 5 slowest and 9 insights' examples
    doc = report_data(result, traced, inputs=["sample_logs/"])
    sizes = [len(t["spans"]) for t in doc["traces"]]
    assert sizes == [4, 4, 2]  # 7 spans each: 4, 4, then what is left of 10
    assert all(t["spans_total"] == 7 for t in doc["traces"])
    assert "11 more requests (slowest, or examples of insights)" in doc["trace_notes"][0]
    for t in doc["traces"]:
        ids = {s["span_id"] for s in t["spans"]}
        assert all(s["parent_span_id"] in ids for s in t["spans"][1:])
        assert {c["span_id"] for c in t["critical_path"]} <= ids


@pytest.mark.slow
def test_a_large_log_gives_a_small_page(tmp_path: Path) -> None:
    """200,000 lines of the benchmark kit's nginx log (10,000 distinct paths and more):
    the page stays far under 3 MB, its size set by --top, not by the lines."""
    import subprocess
    import sys

    out = tmp_path / "logs"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "generate.py"),
            "--lines",
            "200000",
            "--edge-only",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    page = build(tmp_path, str(out / "edge.log"), "--top", "50")
    size = len(page.encode("utf-8"))
    data = embedded(page)
    assert data["analysis"]["requests"] == 200_000
    assert len(data["traces"]) == 50
    assert size < 1_000_000, size  # measured: 0.15 MB; a 1M-line log: 0.08 MB at --top 10


def test_a_single_log_from_stdin_has_no_waterfall_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    text = (SAMPLE / "edge-1.access.log").read_text(encoding="utf-8")
    result = runner.invoke(app, ["report", "-", "-o", str(out)], input=text)
    assert result.exit_code == 0, result.output
    data = embedded(out.read_text(encoding="utf-8"))
    assert data["analysis"]["requests"] == 2500
    assert data["traces"] == []
    assert data["trace_notes"] == [
        "logs read from stdin or a pipe cannot be read again for waterfalls"
    ]


def test_the_largest_top_still_gives_a_page_under_3_mb(tmp_path: Path) -> None:
    from logtrace.html.data import MAX_SPANS

    page = build(tmp_path, str(SAMPLE), *CONF, "--top", "500")
    data = embedded(page)
    assert len(data["analysis"]["slowest"]) == 500
    assert sum(len(t["spans"]) for t in data["traces"]) == MAX_SPANS  # the budget, full
    assert len(page.encode("utf-8")) < 3_000_000


def test_top_is_at_most_500(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(SAMPLE), "--top", "501", "-o", str(tmp_path / "r")])
    assert result.exit_code == int(ExitStatus.USAGE)
