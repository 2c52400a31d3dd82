"""The fast join gives what the plain one would: string keys, rank windows, parent walks,
and joins by band where a loop of identical calls would pair each call with each."""

from __future__ import annotations

import importlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from logtrace.ingest import FormatOptions
from logtrace.sources import resolve_sources
from logtrace.timelines import ambiguous, band, matching, names, parents, paths, placement, units
from logtrace.timelines.load import Loaded, TimelineOptions, load
from tests.deployments import Call, busy_deployment

SAMPLE = Path(__file__).parent.parent / "sample_logs"
FORMATS = FormatOptions(nginx_confs=(str(SAMPLE / "nginx" / "mesh-1.conf"),))
T0 = datetime(2024, 5, 1, tzinfo=UTC)
T0_LOOP = datetime(2026, 3, 4, 10, 0, 20, tzinfo=UTC)  # after the busy deployment's requests
# The package re-exports the function ``assemble``; the module holds the stages.
stages = importlib.import_module("logtrace.timelines.assemble")


def _spans() -> pl.DataFrame:
    loaded = load(resolve_sources([str(SAMPLE)]), TimelineOptions(formats=FORMATS))
    return loaded.timelines.spans.sort("sid")


@pytest.fixture(scope="module")
def spans(sample_loaded: Loaded) -> pl.DataFrame:
    """The sample logs' spans, with parents and corrected times."""
    return sample_loaded.timelines.spans.sort("sid")


@pytest.fixture(scope="module")
def loops(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The spans of a deployment whose requests call one path in a loop (through a
    whole-second proxy): 60 identical calls, 40 and 40 more, or 50 at once."""
    deployment = busy_deployment(requests=12)
    for i in range(4):
        calls = [Call("users", "/profile/9", work_s=0.002)] * 60
        if i == 2:
            calls = calls[:40] + [Call("items", "/stats", work_s=0.001)] * 40
        at = T0_LOOP + timedelta(seconds=3 * i)
        rid = f"{i + 1:x}" * 32
        deployment.request(
            rid, at, "/api/loop", calls[:50] if i == 3 else calls, "web-1", parallel=i == 3
        )
    directory = deployment.write(tmp_path_factory.mktemp("loops"))
    options = TimelineOptions(formats=FormatOptions())
    return load(resolve_sources([str(directory)]), options).timelines.spans.sort("sid")


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


def _reference_client_parents(spans: pl.DataFrame) -> pl.DataFrame:
    """parents.client_parents as a join of every call with every SERVER span of its
    source and request."""
    clients = spans.filter((pl.col("kind") == "CLIENT") & (pl.col("origin") == "app"))
    servers = spans.filter(pl.col("kind") == "SERVER").select(
        "request_id",
        "source",
        pl.col("sid").alias("parent_sid"),
        pl.col("start").alias("p_start"),
        pl.col("end").alias("p_end"),
    )
    tol = timedelta(microseconds=parents.TOL_US)
    joined = clients.select("sid", "request_id", "source", "start", "end").join(
        servers, on=["request_id", "source"]
    )
    inside = (pl.col("p_start") <= pl.col("start") + tol) & (pl.col("p_end") >= pl.col("end") - tol)
    gap = (pl.col("start") - pl.col("p_start")).dt.total_microseconds().abs()
    return (
        joined.with_columns(inside.alias("inside"), gap.alias("gap"))
        .sort(["inside", "p_start", "gap", "parent_sid"], descending=[True, True, False, False])
        .filter(pl.col("sid").is_first_distinct())
        .select("sid", "parent_sid", (~pl.col("inside")).alias("parent_guessed"))
        .sort("sid")
    )


def _chosen_pairs(spans: pl.DataFrame) -> pl.DataFrame:
    """The (callee, caller) pairs the join chose: SERVER spans called by a CLIENT span."""
    callers = spans.filter(pl.col("kind") == "CLIENT").select(pl.col("sid").alias("sid_c"))
    return (
        spans.filter(pl.col("kind") == "SERVER")
        .select("request_id", "sid", pl.col("parent_sid").alias("sid_c"))
        .join(callers, on="sid_c")
    )


def _reference_swappable(pairs: pl.DataFrame, spans: pl.DataFrame) -> list[int]:
    """ambiguous.swappable with each pair of a group set beside every other."""
    info = spans.select("sid", "source", "path", "start", "end", pl.col("within_s").alias("w"))
    side = info.rename({c: f"{c}_c" for c in info.columns})
    chosen = pairs.select("request_id", "sid", "sid_c").join(info, on="sid").join(side, on="sid_c")
    keys = ["request_id", "source", "source_c", "path_c"]
    both = chosen.join(chosen, on=keys, suffix="_o").filter(pl.col("sid") != pl.col("sid_o"))
    slack = pl.duration(microseconds=((pl.col("w") + pl.col("w_c_o")) * 1e6).cast(pl.Int64))
    slack_o = pl.duration(microseconds=((pl.col("w_o") + pl.col("w_c")) * 1e6).cast(pl.Int64))
    crossed = (
        (pl.col("start") >= pl.col("start_c_o") - slack)
        & (pl.col("end") <= pl.col("end_c_o") + slack)
        & (pl.col("start_o") >= pl.col("start_c") - slack_o)
        & (pl.col("end_o") <= pl.col("end_c") + slack_o)
    )
    return sorted(both.filter(crossed).get_column("sid").unique().to_list())


def test_a_loops_candidates_grow_with_its_calls_not_their_square(loops: pl.DataFrame) -> None:
    """60 identical calls of one request: each callee pairs with callers of close rank
    only (at most 2 * RANK_BAND + 1 of each calling source), not with all 60."""
    pairs = matching.candidates(loops).pairs
    per_callee = pairs.group_by("sid", "host_c").len().get_column("len")
    assert per_callee.max() == 2 * matching.RANK_BAND + 1  # a loop's callee far from its ends
    looped = loops.filter(pl.col("path").is_in(["/profile/9", "/users-svc/profile/9"]))
    assert looped.height > 4 * 60  # the loops are there


@pytest.mark.parametrize("data", ["loops", "spans"])
def test_the_calls_parents_are_those_a_join_of_every_server_span_gives(
    data: str, request: pytest.FixtureRequest
) -> None:
    spans: pl.DataFrame = request.getfixturevalue(data)
    got = parents.client_parents(spans).sort("sid")
    assert got.height > 0
    assert_frame_equal(got, _reference_client_parents(spans))


@pytest.mark.parametrize("data", ["loops", "spans"])
def test_the_undecidable_calls_are_those_a_join_of_every_pair_gives(
    data: str, request: pytest.FixtureRequest
) -> None:
    spans: pl.DataFrame = request.getfixturevalue(data)
    pairs = _chosen_pairs(spans)
    got = ambiguous.swappable(pairs, spans).to_list()
    assert got == _reference_swappable(pairs, spans)
    if data == "loops":  # 50 identical calls at once: which reached which, nobody can tell
        assert len(got) >= 2 * 50


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_join_by_band_is_a_join_filtered_to_ranks_close_enough(seed: int) -> None:
    rng = random.Random(seed)
    size = 400

    def side(name: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "k": [rng.choice("abc") for _ in range(size)],
                name: [rng.randint(0, 120) for _ in range(size)],
                f"{name}_row": list(range(size)),
            }
        )

    left, right = side("x"), side("y")
    got = band.near(left, right, ["k"], ("x", "y"), 7).sort("x_row", "y_row")
    want = (
        left.join(right, on="k")
        .filter((pl.col("x") - pl.col("y")).abs() <= 7)
        .select(got.columns)
        .sort("x_row", "y_row")
    )
    assert got.height > 0
    assert_frame_equal(got, want)


@pytest.mark.parametrize(
    ("seed", "room", "keys"),
    [(1, band.ROOM, "abcd"), (2, band.ROOM, "abcd"), (3, 20_000, "abcd"), (4, band.ROOM, "")],
)
def test_spans_that_contain_others_are_those_a_join_filtered_by_time_gives(
    seed: int, room: int, keys: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """band.containing against a join of every pair of a key: random spans (some without a
    time) under keys of one and two columns, a few keys far apart in time; with room for
    all keys at once, or (as keys that each last for ages would need) for one at a time;
    keys of many rows (by the inequality join), or of a few and of many."""
    monkeypatch.setattr(band, "ROOM", room)
    rng = random.Random(seed)
    keys = keys or "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "d" * 10
    size, tol = 300, 50

    def side(prefix: str) -> pl.DataFrame:
        rows = []
        for i in range(size):
            key = rng.choice(keys)
            at = T0 + timedelta(days=400 * (key == "d"), microseconds=rng.randint(0, 5000))
            end = at + timedelta(microseconds=rng.choice([0, 10, 100, 1000, 3000]))
            rows.append(
                {
                    "k": key,
                    "j": rng.choice("xy"),
                    f"{prefix}_start": None if i % 37 == 0 else at,
                    f"{prefix}_end": end,
                    f"{prefix}_row": i,
                }
            )
        return pl.DataFrame(rows)

    inner, outer = side("i"), side("o")
    times = ("i_start", "i_end", "o_start", "o_end")
    for on in (["k"], ["k", "j"]):
        around = outer if "j" in on else outer.drop("j")
        got = band.containing(inner, around, on, times, tol).sort("i_row", "o_row")
        slack = timedelta(microseconds=tol)
        want = (
            inner.join(around, on=on)
            .filter(
                (pl.col("o_start") <= pl.col("i_start") + slack)
                & (pl.col("o_end") >= pl.col("i_end") - slack)
            )
            .select(got.columns)
            .sort("i_row", "o_row")
        )
        assert got.height > size // 4
        assert_frame_equal(got, want)


def test_what_is_learnt_from_a_loop_is_what_all_its_calls_would_teach(
    loops: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Path mappings and duration units are learnt from the first calls of a loop
    (band.LOOP_SAMPLE), not from every pair of its calls: the same as from all of them,
    requests of every size included."""
    learnt = paths.learn(loops).frame
    rescaled = units.wrong_units(loops)
    assert learnt.height > 0  # the proxy's prefix
    monkeypatch.setattr(band, "LOOP_SAMPLE", 10**9)
    monkeypatch.setattr(paths, "_MAX_SPANS", 10**9)
    monkeypatch.setattr(units, "_MAX_SPANS", 10**9)
    assert_frame_equal(paths.learn(loops).frame, learnt)
    assert units.wrong_units(loops) == rescaled
