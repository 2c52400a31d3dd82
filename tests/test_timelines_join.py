"""The join on deployments the repository's own apps do not look like: proxies that strip,
keep or rewrite path prefixes, whole-second timestamps at every nginx, skewed hosts."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from logtrace.analysis.trace import trace
from logtrace.ingest import FormatOptions
from logtrace.ingest_report import IngestReport
from logtrace.parse import SourceStats
from logtrace.sources import resolve_sources
from logtrace.timelines import paths
from logtrace.timelines.load import Loaded, TimelineOptions, load, warn_oversized
from tests.conftest import SAMPLE
from tests.deployments import T0, Call, Deployment, busy_deployment

CHAIN = (
    ("edge-1", "SERVER"),
    ("edge-1", "CLIENT"),
    ("web", "SERVER"),
    ("web", "CLIENT"),
    ("proxy-1", "SERVER"),
    ("proxy-1", "CLIENT"),
    ("svc", "SERVER"),
)


def _load(directory: Path) -> Loaded:
    return load(resolve_sources([str(directory)]), TimelineOptions(FormatOptions()))


def _wrong_parents(loaded: Loaded) -> list[str]:
    """Every span whose parent is not the one the deployment's structure says."""
    wrong: list[str] = []
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in loaded.timelines.spans.sort("raw_end", "line_no").iter_rows(named=True):
        by_request[row["request_id"]].append(row)
    for rid, spans in by_request.items():
        role = {
            s["sid"]: (
                s["host"] if s["host"] in ("edge-1", "proxy-1") else
                "web" if s["host"].startswith("web") else "svc",
                s["kind"],
            )
            for s in spans
        }  # fmt: skip
        calls = [s for s in spans if role[s["sid"]] == ("web", "CLIENT")]
        chains = [[s for s in spans if role[s["sid"]] == r] for r in CHAIN[4:]]
        want: dict[int, int | None] = {}
        edge, attempt, web = ([s for s in spans if role[s["sid"]] == r] for r in CHAIN[:3])
        want[edge[0]["sid"]] = None
        want[attempt[0]["sid"]] = edge[0]["sid"]
        want[web[0]["sid"]] = attempt[0]["sid"]
        for k, call in enumerate(calls):
            proxy, proxy_attempt, svc = (chain[k] for chain in chains)
            want[call["sid"]] = web[0]["sid"]
            want[proxy["sid"]] = call["sid"]
            want[proxy_attempt["sid"]] = proxy["sid"]
            want[svc["sid"]] = proxy_attempt["sid"]
        for s in spans:
            if want.get(s["sid"], "?") != s["parent_sid"]:
                wrong.append(f"{rid} {role[s['sid']]} {s['path']}")
    return wrong


@pytest.mark.parametrize("prefix", ["strip", "keep", "rewrite"])
def test_every_parent_is_right_through_a_proxy_that_strips_keeps_or_rewrites(
    tmp_path: Path, prefix: str
) -> None:
    loaded = _load(busy_deployment(prefix=prefix).write(tmp_path))
    spans = loaded.timelines.spans
    assert spans.get_column("request_id").n_unique() == 60
    assert _wrong_parents(loaded) == []
    assert spans.filter(pl.col("parent_guessed")).is_empty()


def test_path_mappings_are_learnt_from_the_pairs_they_explain(tmp_path: Path) -> None:
    loaded = _load(busy_deployment(prefix="rewrite").write(tmp_path))
    learnt = paths.learn(loaded.timelines.spans)
    rows = {
        (a.rsplit("/", 1)[-1], b.rsplit("/", 1)[-1], pc, p)
        for a, b, pc, p, *_ in learnt.frame.iter_rows()
    }
    # the app's calls gain the prefix at the proxy, the proxy's attempts lose it again
    assert ("web-1.log", "proxy-1.access.log", "", "/v1/users") in rows
    assert ("web-2.log", "proxy-1.access.log", "", "/v1/items") in rows
    assert ("proxy-1.access.log", "users-1.log", "/v1/users", "") in rows
    assert ("proxy-1.access.log", "items-1.log", "/v1/items", "") in rows
    # the edge's paths share no tail with the calls': nothing learnt between them
    assert not any(a.startswith("edge-1") for a, *_ in rows)


def test_the_sample_deployment_rewrites_no_path() -> None:
    """The sample logs' mesh passes paths as they are. The edge's /api/orders/N and the
    mesh's /inventory/items/N (behind the app that called it) end alike, and their
    millisecond durations made the edge's attempt the nearest caller of the mesh's span
    in 27 of the 375 requests where both are seen (41 of 133 the other way): far from
    the most of them a rule of the deployment explains (0.85-1.0 in the harness's
    rewriting proxies), so no rewrite is learnt (four were)."""
    loaded = _load(SAMPLE)
    assert paths.learn(loaded.timelines.spans).frame.is_empty()
    assert loaded.timelines.mappings.frame.is_empty()


def test_a_coincidence_in_one_request_is_no_mapping() -> None:
    spans = pl.DataFrame(
        {
            "request_id": ["r1", "r1", "r2", "r2"],
            "source": ["a", "b", "a", "b"],
            "kind": ["CLIENT", "SERVER", "CLIENT", "SERVER"],
            "path": ["/x/report/7", "/report/7", "/y/1", "/y/1"],
        }
    )
    many = pl.concat(
        [
            spans,
            pl.DataFrame(
                {
                    "request_id": [f"q{i}" for i in range(40)],
                    "source": ["a"] * 40,
                    "kind": ["CLIENT"] * 40,
                    "path": [f"/z/{i}" for i in range(40)],
                }
            ),
        ]
    )
    at = pl.lit(datetime(2026, 1, 1, tzinfo=UTC), pl.Datetime("us", "UTC"))
    timed = many.with_columns(
        at.alias("raw_start"), (at + timedelta(milliseconds=5)).alias("raw_end")
    )
    assert paths.learn(timed).frame.is_empty()


def _spans_of(rows: list[tuple[str, str, str, str, float]]) -> pl.DataFrame:
    """Spans (request id, source, kind, path, duration in ms) all starting at one time."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        [(*r[:4], at, at + timedelta(microseconds=round(r[4] * 1000))) for r in rows],
        schema={
            "request_id": pl.String,
            "source": pl.String,
            "kind": pl.String,
            "path": pl.String,
            "raw_start": pl.Datetime("us", "UTC"),
            "raw_end": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def _edge_api_inventory(edge_path: str, durations: list[tuple[float, ...]]) -> pl.DataFrame:
    """A request per entry of ``durations`` (ms of the edge's attempt, the api's span,
    the api's call and the inventory's span): edge → api → inventory, no rewrite."""
    rows = []
    for i, (edge, api, call, inventory) in enumerate(durations):
        rows += [
            (f"r{i}", "edge", "CLIENT", f"{edge_path}/{i}", edge),
            (f"r{i}", "api", "SERVER", f"{edge_path}/{i}", api),
            (f"r{i}", "api", "CLIENT", f"/inventory/items/{i}", call),
            (f"r{i}", "inventory", "SERVER", f"/inventory/items/{i}", inventory),
        ]
    return _spans_of(rows)


def _a_real_rewrite_still_wins(spans: pl.DataFrame) -> None:
    """With the inventory's paths without their prefix (a proxy strips it), the callee's
    path is called by nobody as it is: the api → inventory rewrite is learnt."""
    proxied = spans.with_columns(
        pl.when(pl.col("source") == "inventory")
        .then(pl.col("path").str.replace("/inventory", ""))
        .otherwise(pl.col("path"))
    )
    learnt = paths.learn(proxied).frame.select("source_c", "source", "prefix_c", "prefix")
    assert ("api", "inventory", "/inventory", "") in learnt.rows()


def test_the_callers_caller_is_no_mapping() -> None:
    """edge → api → inventory, the api doing little besides its call: in half of the
    requests the edge's attempt (``/api/flaky/N``) waited less beyond the inventory's
    span (``/inventory/items/N``) than the api's call of that very path did. But the
    attempt waited least beyond the api's span, its own callee: no edge → inventory
    rewrite is learnt (it was, from 3 requests, in a CI run, and put 20 of 300 requests'
    inventory spans under the edge's failed first attempt)."""
    # the edge's attempt reached the api; the api's call took 14.2 or 13.2 ms
    spans = _edge_api_inventory(
        "/api/flaky", [(13.5, 13.4, 14.2 if i % 2 else 13.2, 12.6) for i in range(6)]
    )
    assert paths.learn(spans).frame.is_empty()
    _a_real_rewrite_still_wins(spans)


def test_a_wait_within_the_durations_precision_is_no_reason_for_a_mapping() -> None:
    """The durations of a real run on a busy machine (the topology harness's `direct`
    variant): the edge's attempt (13 ms, nginx's millisecond) "waited" 0.40 ms beyond the
    inventory's span (12.6 ms) and 0.56 ms beyond the api's own span (13.559 ms, which
    counts work after its response), while the api's call of the inventory's very path
    (13.037 ms) waited 0.44 ms beyond it. Waits that differ by less than the durations'
    precision decide nothing: the call that names the path is the inventory's caller.
    Learnt from 3 such requests in 1,000, the edge → inventory rewrite put 66 of them
    under the edge's attempts (93.4% of the trees right)."""
    spans = _edge_api_inventory("/api/orders", [(13.0, 13.559, 13.037, 12.6)] * 6)
    assert paths.learn(spans).frame.is_empty()
    _a_real_rewrite_still_wins(spans)


def test_an_app_that_logs_its_end_late_keeps_its_place_behind_the_edge() -> None:
    """Another request of that busy run: the api logged its span (11.5 ms) after the
    edge's attempt that reached it ended (9 ms), and the inventory's (4.8 ms) well inside
    the api's call (7.7 ms); the edge's first attempt failed at once (0 ms). Without the
    api's span as its callee, the attempt's nearest tail was the inventory's: a rewrite
    learnt from 4 such requests in 1,000."""
    rows = []
    for i in range(6):
        rows += [
            (f"r{i}", "edge", "SERVER", f"/api/flaky/{i}", 9.0),
            (f"r{i}", "edge", "CLIENT", f"/api/flaky/{i}", 0.0),
            (f"r{i}", "edge", "CLIENT", f"/api/flaky/{i}", 9.0),
            (f"r{i}", "api", "SERVER", f"/api/flaky/{i}", 11.501),
            (f"r{i}", "api", "CLIENT", f"/inventory/items/{i}", 7.729),
            (f"r{i}", "inventory", "SERVER", f"/inventory/items/{i}", 4.8),
        ]
    learnt = paths.learn(_spans_of(rows)).frame
    assert learnt.filter(pl.col("source") == "inventory").is_empty()


def test_an_app_that_logs_its_end_late_is_served_by_the_attempt_that_reached_it(
    tmp_path: Path,
) -> None:
    """Genuine lines of a busy run (the topology harness's `rewrite` variant): the edge's
    first attempt failed at once (0.000 s, a dead upstream), the second took 13 ms, and
    the api, which logged its end after the edge had ended, took 15.2 ms. Neither attempt
    is long enough; the one that falls 2 ms short reached it, not the one 15 ms short."""
    rid = "9c5a75307648c64556bf1e7bd8913d6b"
    (tmp_path / "edge-1.access.log").write_text(
        '127.0.0.1 - - [04/Dec/2026:16:49:37 -0330] "GET /api/flaky/374 HTTP/1.1" 200 14 '
        '"https://shop.example/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) '
        f'AppleWebKit/605.1.15 Safari/605.1.15" 0.014 0.000, 0.013 {rid}\n'
    )
    app = [
        ("20:19:37.540617", '"msg": "request started"', ""),
        ("20:19:37.555816", '"msg": "request finished"', ', "status": 200, "duration_ms": 15.199'),
    ]
    (tmp_path / "api-1.log").write_text(
        "".join(
            f'{{"time": "2026-12-04T{t}+00:00", "level": "INFO", "service": "api", {msg}, '
            f'"request_id": "{rid}", "method": "GET", "path": "/api/flaky/374"{more}}}\n'
            for t, msg, more in app
        )
    )
    spans = _load(tmp_path).timelines.spans
    attempts = spans.filter(pl.col("kind") == "CLIENT").sort("attempt")
    assert attempts.get_column("attempt").to_list() == [1, 2]
    served = spans.filter((pl.col("kind") == "SERVER") & (pl.col("origin") == "app"))
    assert served.get_column("parent_sid").to_list() == [attempts.get_column("sid")[1]]


def test_whole_second_proxy_lines_are_placed_inside_their_callers(tmp_path: Path) -> None:
    loaded = _load(busy_deployment().write(tmp_path))
    spans = loaded.timelines.spans
    parents = spans.select(
        pl.col("sid").alias("parent_sid"),
        pl.col("start").alias("p_start"),
        pl.col("end").alias("p_end"),
    )
    nested = spans.join(parents, on="parent_sid").with_columns(
        ((pl.col("start") - pl.col("p_start")).dt.total_microseconds() / 1e6).alias("early"),
        ((pl.col("end") - pl.col("p_end")).dt.total_microseconds() / 1e6).alias("late"),
    )
    # whole-second lines are placed from the precise spans around them: within 2 ms
    assert nested.select(pl.col("early").min()).item() >= -0.002
    assert nested.select(pl.col("late").max()).item() <= 0.002


def test_a_skewed_app_behind_whole_second_proxies_has_its_offset_found(tmp_path: Path) -> None:
    loaded = _load(busy_deployment(requests=80, skew_s={"web-2": 0.180}).write(tmp_path))
    offsets = loaded.timelines.offsets
    assert abs(offsets["web-2"].offset_s - 0.180) <= 0.010, offsets
    assert abs(offsets["web-1"].offset_s) <= 0.010, offsets
    assert _wrong_parents(loaded) == []


def test_every_parent_is_right_in_a_loop_of_identical_calls(tmp_path: Path) -> None:
    """60 calls of one request to one path, one after another, through a whole-second
    proxy: the i-th call reached the i-th proxy line and its attempt the i-th service span
    (the join pairs calls of close rank only, band.py)."""
    deployment = busy_deployment(requests=8)
    loop = [Call("users", "/profile/9", work_s=0.002)] * 60
    for i in range(2):
        at = T0 + timedelta(seconds=5 + 3 * i)
        deployment.request(f"{i + 10:x}" * 32, at, "/api/loop", loop, f"web-{1 + i}")
    loaded = _load(deployment.write(tmp_path))
    assert loaded.timelines.spans.height > 2 * 4 * 60
    assert _wrong_parents(loaded) == []


def test_a_deployment_whose_every_request_is_a_loop_still_learns_its_proxy(
    tmp_path: Path,
) -> None:
    """Every request makes 60 identical calls through the proxy that strips a prefix: 242
    spans a request, more than the learning takes from a request (``paths._MAX_SPANS``),
    until a loop counts by its first spans (band.LOOP_SAMPLE). Without the mapping no call
    finds the proxy line it reached."""
    deployment = Deployment()
    loop = [Call("users", "/profile/9", work_s=0.002)] * 60
    for i in range(6):
        at = T0 + timedelta(seconds=2 * i)
        deployment.request(f"{i + 1:x}" * 32, at, "/api/loop", loop, f"web-{1 + i % 2}")
    loaded = _load(deployment.write(tmp_path))
    assert loaded.timelines.mappings.frame.height > 0
    assert _wrong_parents(loaded) == []


def test_identical_calls_at_the_same_time_are_said_to_be_undecidable(tmp_path: Path) -> None:
    deployment = busy_deployment(requests=8)
    same = [Call("users", "/profile/3", work_s=0.010)] * 2  # as long as each other
    deployment.request(
        "f" * 32, T0 + timedelta(seconds=5), "/api/twice", same, "web-1", parallel=True
    )
    loaded = _load(deployment.write(tmp_path))
    spans = loaded.timelines.spans
    flagged = spans.filter(pl.col("parent_ambiguous"))
    assert set(flagged.get_column("request_id")) == {"f" * 32}
    # the proxy lines either call reached, and the service spans either attempt reached
    assert sorted(flagged.get_column("host")) == ["proxy-1", "proxy-1", "users-1", "users-1"]
    notes = trace(loaded, "f" * 32).notes
    assert any("cannot tell which reached which" in n for n in notes)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_log_read_twice_gets_the_same_parents_whatever_the_order_of_its_spans(
    tmp_path: Path, seed: int
) -> None:
    """Every request of an app log logged twice (a file and its copy in one): each call
    has two identical SERVER spans around it, and the choice between them is made by the
    spans' ids, not by the order the rows happen to be in (a report that changed from run
    to run)."""
    from logtrace.timelines.assemble import assemble
    from logtrace.timelines.load import lines_to_spans

    text = (SAMPLE / "api-1.log").read_text()
    twice = tmp_path / "api-1.log"
    twice.write_text(text + text)
    app = load(resolve_sources([str(twice)]), TimelineOptions(FormatOptions(), join="memory")).app
    spans = lines_to_spans(pl.DataFrame(), app)
    shuffled = spans.sample(fraction=1.0, shuffle=True, seed=seed)
    parents = [
        assemble(s).spans.select("sid", "parent_sid", "depth").sort("sid")
        for s in (spans, shuffled)
    ]
    assert parents[0].get_column("parent_sid").null_count() < parents[0].height  # calls nested
    assert parents[0].equals(parents[1])


def test_a_log_line_of_a_log_read_twice_goes_to_the_same_span_whatever_the_order(
    tmp_path: Path,
) -> None:
    """A plain log line inside two identical served spans (each request logged twice)
    belongs to the one the spans' ids choose, however the spans' rows are ordered."""
    import json

    from logtrace.export.traces import events

    entries: list[dict[str, object]] = []
    for i in range(20):
        at = f"2026-12-03T12:00:{i:02d}"
        rid = f"{i:032x}"
        entries.append({"time": f"{at}.150000+00:00", "msg": "cache miss", "request_id": rid})
        entries.append(
            {
                "time": f"{at}.300000+00:00",
                "msg": "request finished",
                "request_id": rid,
                "method": "GET",
                "path": f"/items/{i}",
                "status": 200,
                "duration_ms": 200.0,
            }
        )
    text = "".join(json.dumps(e) + "\n" for e in entries)
    log = tmp_path / "api.log"
    log.write_text(text + text)
    loaded = load(resolve_sources([str(log)]), TimelineOptions(FormatOptions(), join="memory"))
    spans = loaded.timelines.spans
    owners = [
        events(loaded, spans.sample(fraction=1.0, shuffle=True, seed=seed)).sort(
            "source", "line_no"
        )
        for seed in range(6)
    ]
    assert owners[0].height == 40
    assert all(o.equals(owners[0]) for o in owners)


def test_the_report_of_every_log_read_twice_is_the_same_each_run(tmp_path: Path) -> None:
    """The sample logs given twice (two copies of the folder): each copy is counted once
    (tests/test_twins.py), whichever of the identical logs the join keeps; two runs give
    the same report."""
    import shutil

    from typer.testing import CliRunner

    from logtrace.cli import app
    from tests.conftest import SAMPLE_CONF

    for copy in ("a", "b"):
        shutil.copytree(SAMPLE, tmp_path / copy)
    args = ["analyze", str(tmp_path / "a"), str(tmp_path / "b"), "--nginx-conf", str(SAMPLE_CONF)]
    runs = [CliRunner().invoke(app, [*args, "--json"]) for _ in range(2)]
    assert runs[0].exit_code == 0, runs[0].output
    assert runs[0].stdout == runs[1].stdout


def test_each_nginx_log_is_joined_on_its_own_id_column_however_many_logs() -> None:
    """An edge's lines take ``$request_id``, an internal proxy's the header it received
    (the one the app logs too); a log of no id column none. Sources are grouped by the
    column they take, so thousands of logs cost a condition per column, not per log."""
    from logtrace.timelines.load import choose_id_columns, with_ids

    edges = [f"edge-{k}.log" for k in range(300)]
    rows: list[tuple[str, str | None, str | None]] = [
        (s, f"r{k}", None) for k, s in enumerate(edges)
    ]
    rows += [("proxy.log", "minted-1", "a1"), ("proxy.log", "minted-2", "a2")]
    rows += [("plain.log", None, None)]
    nginx = pl.DataFrame(
        rows,
        schema={"source": pl.String, "request_id": pl.String, "http_x_request_id": pl.String},
        orient="row",
    )
    app = pl.DataFrame({"request_id": ["a1", "a2", "r7"]})
    choice = choose_id_columns(nginx, app, None)
    assert choice["proxy.log"] == "http_x_request_id"
    assert {choice[s] for s in edges} == {"request_id"}
    assert choice["plain.log"] == "request_id"
    joined = with_ids(nginx.drop("request_id"), choice)  # an id column absent: none
    assert joined.get_column("request_id").to_list()[-3:] == ["a1", "a2", None]
    assert joined.get_column("request_id").null_count() == 301
    ids = with_ids(nginx, choice).get_column("request_id").to_list()
    assert ids == [f"r{k}" for k in range(300)] + ["a1", "a2", None]


def test_the_example_of_an_id_too_common_is_the_same_whatever_order_the_ids_came_in() -> None:
    """Ids of equally many spans (a log holding its lines many times over): the warning
    names the first of them, not whichever the join met first (a report that changed
    from run to run)."""
    hits = pl.DataFrame({"source": ["api.log"], "n_ids": [3], "n": [3600]})
    said = []
    for ids in (["b" * 32, "a" * 32, "c" * 32], ["c" * 32, "b" * 32, "a" * 32]):
        report = IngestReport(sources=[SourceStats(path="api.log", host="api", service="api")])
        warn_oversized(report, dict.fromkeys(ids, 1200), hits)
        said.append(report.sources[0].warnings)
    assert said[0] == said[1]
    assert f"e.g. '{'a' * 32}': 1,200 in all" in said[0][0]
