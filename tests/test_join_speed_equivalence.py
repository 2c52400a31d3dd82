"""The fast join gives what the plain one would: string keys, rank windows, parent walks."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines import matching, names, parents, placement
from logtrace.timelines.load import Loaded, TimelineOptions, load

SAMPLE = Path(__file__).parent.parent / "sample_logs"
FORMATS = FormatOptions(nginx_confs=(str(SAMPLE / "nginx" / "mesh-1.conf"),))
T0 = datetime(2024, 5, 1, tzinfo=UTC)
# The package re-exports the function ``assemble``; the module holds the stages.
stages = importlib.import_module("logtrace.timelines.assemble")


def _spans() -> pl.DataFrame:
    loaded = load(resolve_sources([str(SAMPLE)]), TimelineOptions(formats=FORMATS))
    return loaded.timelines.spans.sort("sid")


@pytest.fixture(scope="module")
def spans(sample_loaded: Loaded) -> pl.DataFrame:
    """The sample logs' spans, with parents and corrected times."""
    return sample_loaded.timelines.spans.sort("sid")


def _reference_pairs(spans: pl.DataFrame) -> pl.DataFrame:
    """Candidate pairs as a join on the strings, ranked by a window per group, each span's
    peer compared with the other's names in Python."""
    has_key = pl.col("request_id").is_not_null() & pl.col("path").is_not_null()

    def ranked(kind: str, suffix: str) -> pl.DataFrame:
        side = spans.filter((pl.col("kind") == kind) & has_key)
        group = ["request_id", "path", "source", *(["peer"] if kind == "CLIENT" else [])]
        coarse = pl.col("precision_s") >= matching.COARSE_S
        line_time = (
            pl.when(coarse)
            .then(pl.col("raw_end").max().over("line_sid"))
            .otherwise(pl.col("raw_start").min().over("line_sid"))
        )
        lines = (
            side.with_columns(line_time.alias("_t"))
            .group_by("line_sid")
            .agg(*(pl.col(c).first() for c in group), pl.col("_t", "line_no").first())
        )
        rank = pl.struct("_t", "line_no", "line_sid").rank("dense").over(group).alias("rank")
        ranks = lines.select("line_sid", rank)
        return side.join(ranks, on="line_sid").select(
            "request_id",
            "path",
            *(
                pl.col(c).alias(f"{c}{suffix}")
                for c in (
                    "sid", "source", "origin", "method", "status", "start", "end", "rank",
                    "raw_start", "raw_end", "peer", "service", "host", "line_sid",
                )
            ),
        )  # fmt: skip

    pairs = ranked("SERVER", "").join(ranked("CLIENT", "_c"), on=["request_id", "path"])
    pairs = pairs.filter(
        (pl.col("source") != pl.col("source_c"))
        & (
            pl.col("method").is_null()
            | pl.col("method_c").is_null()
            | (pl.col("method") == pl.col("method_c"))
        )
    )
    # a callee outlasting the request its caller served (the caller did not give up)
    duration_of = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    lines = spans.filter((pl.col("origin") == "nginx") & (pl.col("kind") == "SERVER"))
    serving = dict(lines.select("sid", duration_of).iter_rows())
    limit: dict[int, int] = {}
    for row in spans.filter(pl.col("kind") == "CLIENT").iter_rows(named=True):
        if row["origin"] == "nginx":
            limit[row["sid"]] = serving[row["line_sid"]]
            continue
        around = spans.filter(
            (pl.col("kind") == "SERVER")
            & (pl.col("source") == row["source"])
            & (pl.col("request_id") == row["request_id"])
            & (pl.col("raw_start") <= row["raw_start"] + timedelta(microseconds=2000))
            & (pl.col("raw_end") >= row["raw_end"] - timedelta(microseconds=2000))
        )
        if around.height:
            limit[row["sid"]] = int(around.select(duration_of.min()).item())
    gave_up = pl.col("status_c").is_null() | pl.col("status_c").is_in([408, 499, 504])
    outlasts = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds() > pl.col(
        "sid_c"
    ).replace_strict(limit, default=None, return_dtype=pl.Int64) + 4000
    pairs = pairs.filter(~(outlasts.fill_null(value=False) & ~gave_up))
    fit = pl.struct("peer_c", "service", "host").map_elements(
        lambda r: names.fits(r["peer_c"], r["service"], r["host"]), return_dtype=pl.Boolean
    )
    tier = pl.when((pl.col("origin") == "app") & (pl.col("origin_c") == "app")).then(10)
    status_gap = pl.when(pl.col("status") != pl.col("status_c")).then(0.5).otherwise(0.0)
    gap_s = (pl.col("start") - pl.col("start_c")).dt.total_microseconds().abs() / 1e6
    duration = (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds()
    duration_c = (pl.col("raw_end_c") - pl.col("raw_start_c")).dt.total_microseconds()
    waited = ((duration_c - duration) / 1e6).clip(0.0, 1.0) * 0.3
    overran = ((duration - duration_c) / 1e6).clip(0.0, 1.0) * 0.3
    cost = (
        tier.otherwise(0)
        + (pl.col("rank").cast(pl.Int64) - pl.col("rank_c").cast(pl.Int64)).abs()
        + status_gap
        + pl.when(duration_c + 2000 < duration).then(0.5 + overran).otherwise(waited)
        + pl.when(pl.col("_fits")).then(-0.3)
        .when(~pl.col("_fits") & (pl.col("origin") == "app")).then(0.5)
        .otherwise(0.0)
        + gap_s.clip(upper_bound=5.0) * 0.1
    )  # fmt: skip
    pairs = pairs.with_columns(fit.alias("_fits"))
    return pairs.select("sid", "sid_c", cost.alias("cost")).sort("sid", "sid_c")


def test_candidate_pairs_are_those_of_a_join_on_request_id_and_path(spans: pl.DataFrame) -> None:
    got = (
        matching.costed(matching.candidates(spans), spans)
        .select("sid", "sid_c", "cost")
        .sort("sid", "sid_c")
    )
    assert got.height > 0
    assert_frame_equal(got, _reference_pairs(spans))


def test_hash_collisions_change_neither_pairs_nor_timelines(
    spans: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three hash values for all keys: every join and rank group collides.
    monkeypatch.setattr(matching, "_key", lambda *columns: pl.struct(*columns).hash() % 3)
    assert_frame_equal(_spans(), spans)


def test_costed_finds_the_pairs_again_when_the_spans_were_reordered(spans: pl.DataFrame) -> None:
    found = matching.candidates(spans)
    shuffled = spans.sample(fraction=1.0, shuffle=True, seed=7)
    got = matching.costed(found, shuffled).sort("sid", "sid_c")
    assert_frame_equal(got, matching.costed(matching.candidates(spans), spans).sort("sid", "sid_c"))


def test_depth_counts_steps_up_to_the_root_a_missing_parent_and_the_cap_in_a_loop() -> None:
    links = pl.DataFrame(
        {
            "sid": [1, 2, 3, 4, 5, 6],
            "parent_sid": [None, 1, 2, 99, 6, 5],
        },
        schema={"sid": pl.UInt64, "parent_sid": pl.UInt64},
    )
    depth = parents.depth(links).get_column("depth").to_list()
    assert depth == [0, 1, 2, 1, 64, 64]


def test_attempts_upstream_time_to_the_end_of_the_line_places_a_coarse_line() -> None:
    """Two attempts on a whole-second line: the first attempt's callee ran inside it, so the
    line ended between its callee's end plus the second attempt and its callee's start
    plus both attempts: in the middle of that window."""
    at = T0 + timedelta(seconds=10)
    line, first, second, callee = 1, 2, 3, 4
    base = {
        "request_id": "r",
        "source": "edge",
        "host": "edge",
        "precision_s": 1.0,
        "origin": "nginx",
        "line_sid": line,
        "skew_s": 0.0,
    }
    rows = [
        {**base, "sid": line, "kind": "SERVER", "attempt": None, "raw_start": at, "raw_end": at},
        {
            **base,
            "sid": first,
            "kind": "CLIENT",
            "attempt": 1,
            "raw_start": at - timedelta(milliseconds=30),
            "raw_end": at - timedelta(milliseconds=20),
        },
        {
            **base,
            "sid": second,
            "kind": "CLIENT",
            "attempt": 2,
            "raw_start": at - timedelta(milliseconds=20),
            "raw_end": at,
        },
        {
            **base,
            "sid": callee,
            "kind": "SERVER",
            "source": "api",
            "host": "api",
            "origin": "app",
            "precision_s": 0.000001,
            "line_sid": callee,
            "attempt": None,
            "raw_start": at + timedelta(milliseconds=400),
            "raw_end": at + timedelta(milliseconds=408),
        },
    ]
    spans = pl.DataFrame(
        rows,
        schema={
            "request_id": pl.String,
            "sid": pl.UInt64,
            "kind": pl.String,
            "origin": pl.String,
            "source": pl.String,
            "host": pl.String,
            "attempt": pl.UInt32,
            "raw_start": pl.Datetime("us", "UTC"),
            "raw_end": pl.Datetime("us", "UTC"),
            "precision_s": pl.Float64,
            "line_sid": pl.UInt64,
            "skew_s": pl.Float64,
        },
    ).with_columns(pl.col("raw_start").alias("start"), pl.col("raw_end").alias("end"))
    pairs = pl.DataFrame(
        {"sid": [callee], "sid_c": [first], "precision": [0.000001]},
        schema={"sid": pl.UInt64, "sid_c": pl.UInt64, "precision": pl.Float64},
    )
    placed, _ = placement.place(spans, pairs)
    ends = dict(placed.select("sid", "end").iter_rows())
    assert ends[line] == at + timedelta(milliseconds=429)
    assert ends[first] == at + timedelta(milliseconds=409)
