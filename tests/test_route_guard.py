"""The cardinality guard: a route position with hundreds of distinct values becomes {*}."""

from __future__ import annotations

import polars as pl
import pytest

from logtrace.analysis.route_guard import MAX_VALUES, RouteGuard

NAMES = [f"user{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}" for i in range(1000)]


def guarded(guard: RouteGuard, routes: list[str]) -> list[str]:
    frame = pl.DataFrame({"route": routes})
    return frame.select(guard.expr(pl.col("route")).alias("route")).get_column("route").to_list()


def feed(routes: list[str], chunk: int, max_values: int = MAX_VALUES) -> RouteGuard:
    guard = RouteGuard(max_values)
    for start in range(0, len(routes), chunk):
        guard.see(pl.Series(routes[start : start + chunk]).unique())
    return guard


def test_a_position_with_too_many_values_becomes_a_star() -> None:
    routes = [f"/u/{n}" for n in NAMES] + ["/u/{id}", "/health", "/v/a"]
    guard = feed(routes, 64)
    assert guarded(guard, ["/u/alice", "/u/{id}", "/health", "/v/a", "/u/a/b"]) == [
        "/u/{*}",
        "/u/{*}",
        "/health",
        "/v/a",
        "/u/a/b",
    ]
    assert guard.collapsed().rows() == [("/u/{*}", 2, 1001)]


def test_a_position_with_as_many_values_as_allowed_stays() -> None:
    routes = [f"/u/{n}" for n in NAMES[:MAX_VALUES]]
    guard = feed(routes, 50)
    assert guarded(guard, routes[:3]) == routes[:3]
    assert guard.collapsed().is_empty()
    guard.see(pl.Series([f"/u/{NAMES[MAX_VALUES]}"]))  # one more
    assert guarded(guard, routes[:1]) == ["/u/{*}"]


@pytest.mark.parametrize("chunk", [1, 7, 100, 5000])
def test_the_result_does_not_depend_on_the_chunks(chunk: int) -> None:
    """A grid of users x files: the users collapse, then the files (their groups merged)."""
    routes = [f"/files/{u}/{f}" for u in NAMES[:40] for f in NAMES[:30]]
    routes += ["/files/shared/readme", "/other/x/y"]
    guard = feed(routes, chunk, max_values=25)
    assert guarded(guard, ["/files/bob/report", "/files/shared/readme", "/other/x/y"]) == [
        "/files/{*}/{*}",
        "/files/{*}/{*}",
        "/other/x/y",
    ]
    assert guard.collapsed().rows() == [("/files/{*}/{*}", 2, 41), ("/files/{*}/{*}", 3, 31)]


def test_values_seen_again_are_counted_once() -> None:
    routes = [f"/u/{n}" for n in NAMES]
    guard = feed(routes + routes[::-1] + routes, 97)
    assert guard.collapsed().rows() == [("/u/{*}", 2, 1000)]


def test_routes_without_a_leading_slash_are_left_alone() -> None:
    guard = feed(["(no path)", "*", *[f"/u/{n}" for n in NAMES]], 100)
    assert guarded(guard, ["(no path)", "*"]) == ["(no path)", "*"]


def test_names_with_regex_characters_collapse_like_any_other() -> None:
    odd = ["a b", "(x)", "a+b", "[1]", "a.b", "$x", "a|b", "\\", "a\tb", "é-~#&", "{id}", "^"]
    routes = [f"/q/{o}{n}/x" for o in odd for n in NAMES[:30]]
    guard = feed(routes, 50)
    assert set(guarded(guard, routes)) == {"/q/{*}/x"}
    assert guard.collapsed().rows() == [("/q/{*}/x", 2, len(routes))]


@pytest.mark.parametrize("chunk", [13, 100, 5000])
def test_lines_guarded_as_they_come_are_the_distinct_routes_seen(chunk: int) -> None:
    """``guarded`` takes a chunk's lines (repeats, nulls, routes under a {*} already,
    one star or two) and gives what ``see`` of their distinct routes and ``expr`` give,
    and counts the same values."""
    grid = [f"/files/{u}/{f}" for u in NAMES[:40] for f in NAMES[:30]]
    users = [f"/u/{n}/x" for n in NAMES[:400]]
    routes = [*grid, *users, *users[::3], "/files/shared/readme", "(no path)", "/u/{*}/x"]
    routes = [r for pair in zip(routes, reversed(routes), strict=True) for r in pair]  # interleaved
    seen, lines = RouteGuard(25), RouteGuard(25)
    for start in range(0, len(routes), chunk):
        part = pl.Series("route", [*routes[start : start + chunk], None])
        seen_collapsed = seen.see(part.unique())
        expected = guarded(seen, part.to_list())
        got, collapsed = lines.guarded(part)
        assert (got.name, got.to_list(), collapsed) == ("route", expected, seen_collapsed)
    assert lines.collapsed().rows() == seen.collapsed().rows()
    assert lines.collapsed().rows() == [
        ("/u/{*}/x", 2, 400),  # a route that is a {*} already is none of its values
        ("/files/{*}/{*}", 2, 41),
        ("/files/{*}/{*}", 3, 31),
    ]
