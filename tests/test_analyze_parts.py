"""``analyze`` across hosts reduces the join a part at a time: the same report as from
every span at once (analysis/across.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logtrace.analysis import across
from logtrace.analysis.analyze import AnalyzeOptions, analyze
from logtrace.analysis.derive import Filters
from logtrace.export.insights_json import insights_dict
from logtrace.export.report import analysis_dict
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines import partitioned
from logtrace.timelines.load import Loaded
from tests.conftest import SAMPLE, SAMPLE_CONF
from tests.deployments import busy_deployment


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A partitioned join of many small parts, the facts learnt on the first few, the
    parts' call sums added up every few parts; the list gets the number of parts each
    join yielded."""
    monkeypatch.setenv("LOGTRACE_JOIN", "partitioned")
    monkeypatch.setattr(partitioned, "PART_BYTES", 150_000)
    monkeypatch.setattr(partitioned, "SAMPLE_LINES", 2_000)
    monkeypatch.setattr(across, "MERGE_EVERY", 2)  # the parts' call sums merged on the way
    yielded: list[int] = []
    parts = partitioned.Partitioned.parts

    def counted(self: partitioned.Partitioned) -> Iterator[Loaded]:
        yielded.append(0)
        for part in parts(self):
            yielded[-1] += 1
            yield part

    monkeypatch.setattr(partitioned.Partitioned, "parts", counted)
    return yielded


def _both(paths: list[str], options: AnalyzeOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report reduced a part at a time, and from every span at once (as ``report``
    pages keep them): the same join, the same sample, the same facts."""
    sources = resolve_sources(paths)
    parts = analyze(sources, options)
    whole = analyze(sources, AnalyzeOptions(**{**options.__dict__, "keep_timelines": True}))
    assert whole.loaded is not None and parts.loaded is None
    docs = []
    for analysis in (parts, whole):
        assert analysis.cross_host is not None
        # the insights in full: every request's findings, the summary, the hot targets
        found = insights_dict(analysis.cross_host.insights, per_request=True)
        docs.append({**analysis_dict(analysis), "insights": found})
    return docs[0], docs[1]


SAMPLE_FORMATS = FormatOptions(nginx_confs=(str(SAMPLE_CONF),))


@pytest.mark.parametrize(
    "filters",
    [Filters(), Filters(status=((500, 599),)), Filters(route="/api/orders/{id}/items")],
    ids=["all", "5xx", "route"],
)
def test_the_sample_deployment_gives_the_same_report_a_part_at_a_time(
    small_parts: list[int], filters: Filters
) -> None:
    parts, whole = _both([str(SAMPLE)], AnalyzeOptions(SAMPLE_FORMATS, filters=filters, top=5))
    assert small_parts[0] > 5  # the report was reduced over that many parts
    assert parts["traces"] > 0
    assert parts == whole


def test_app_logs_alone_give_the_same_report_a_part_at_a_time(small_parts: list[int]) -> None:
    logs = [str(SAMPLE / f"{name}.log") for name in ("api-1", "api-2", "inventory-1", "users-1")]
    parts, whole = _both(logs, AnalyzeOptions())
    assert small_parts[0] > 5
    assert parts["requests"] == whole["requests"] > 0
    assert parts == whole


def test_a_skewed_deployment_with_a_rewriting_proxy_gives_the_same_report_a_part_at_a_time(
    tmp_path: Path, small_parts: list[int]
) -> None:
    deployment = busy_deployment(requests=400, skew_s={"web-2": 0.180}, prefix="rewrite")
    parts, whole = _both([str(deployment.write(tmp_path))], AnalyzeOptions(top=3))
    assert small_parts[0] > 2
    assert parts["insights"]["findings"]  # N+1 and repeats found in parts
    assert parts == whole


@pytest.mark.parametrize("parts", [2, 7])
def test_the_service_table_of_parts_of_disjoint_requests_is_that_of_all_spans(
    sample_loaded: Loaded, parts: int
) -> None:
    """Sums add up and the percentiles read off the merged counts of each duration are
    polars' "nearest" quantiles of all durations."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from logtrace.analysis.services import service_part, service_table, services_of

    spans = sample_loaded.timelines.spans
    part = pl.col("request_id").hash(7) % parts
    split = [service_part(spans.filter(part == i)) for i in range(parts)]
    key = ["service", "kind"]
    whole, merged = (t.sort(key) for t in (service_table(spans), services_of(split)))
    assert_frame_equal(whole, merged, check_exact=False, rel_tol=1e-12)
    assert whole.select("p50_s", "p99_s").equals(merged.select("p50_s", "p99_s"))  # exact


def test_services_with_the_same_time_are_listed_by_name_however_parts_come(
    sample_loaded: Loaded,
) -> None:
    """Two services whose spans last alike tie on self time: the table lists them by
    name, whatever the order of the parts (it varied from run to run with thousands of
    one-line logs)."""
    import polars as pl

    from logtrace.analysis.services import service_part, services_of

    spans = sample_loaded.timelines.spans
    service = spans.get_column("service").drop_nulls().sort().item(0)
    one = spans.filter(pl.col("service") == service).drop("parent_sid")
    one = one.with_columns(pl.lit(None, spans.schema["parent_sid"]).alias("parent_sid"))
    copies = []
    for k, name in enumerate(["zeta", "alpha", "mu"]):
        sid = pl.col("sid") if k == 0 else pl.col("sid") + k * 10**9
        copies.append(one.with_columns(pl.lit(name).alias("service"), sid.alias("sid")))
    parts = [service_part(c.select(spans.columns)) for c in copies]
    tables = [services_of(p) for p in (parts, parts[::-1], parts[1:] + parts[:1])]
    assert tables[0].get_column("service").to_list()[:3] == ["alpha", "mu", "zeta"]
    assert all(t.equals(tables[0]) for t in tables)
