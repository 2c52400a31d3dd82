"""``analyze`` across hosts: every section covers the requests the filters keep."""

from __future__ import annotations

import polars as pl
import pytest

from logtrace.analysis.analyze import Analysis, AnalyzeOptions, analyze
from logtrace.analysis.derive import Filters
from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from tests.conftest import ROOT

SAMPLE = ROOT / "sample_logs"
FORMATS = FormatOptions(nginx_confs=(str(SAMPLE / "nginx" / "mesh-1.conf"),))
ERRORS = Filters(status=((500, 599),))


@pytest.fixture(scope="module")
def errors_only() -> Analysis:
    return analyze(resolve_sources([str(SAMPLE)]), AnalyzeOptions(FORMATS, ERRORS, top=200))


def test_the_latency_section_counts_the_requests_kept(errors_only: Analysis) -> None:
    assert errors_only.latency.requests == 125  # the 504s (sample_logs/ground_truth.jsonl)
    assert set(errors_only.latency.statuses) == {504}


def test_traces_services_and_hosts_count_the_traces_of_the_requests_kept(
    errors_only: Analysis,
) -> None:
    cross = errors_only.cross_host
    assert cross is not None
    assert cross.traces == 125
    edge = cross.services.filter((pl.col("service") == "edge") & (pl.col("kind") == "SERVER"))
    assert edge.get_column("requests").to_list() == [125]
    assert cross.hosts.get_column("requests").max() == 125


def test_slow_paths_and_insights_only_name_requests_kept(errors_only: Analysis) -> None:
    cross = errors_only.cross_host
    assert cross is not None
    kept = set(errors_only.latency.slowest.get_column("request_id"))
    assert len(kept) == 125
    assert {p.request_id for p in cross.slow_paths} <= kept
    assert all(p.status == 504 for p in cross.slow_paths)
    found = set(cross.insights.findings.get_column("request_id"))
    assert found and found <= kept
    assert cross.insights.requests == 125
