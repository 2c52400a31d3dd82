"""render/fit.py: tables that give way to a terminal's width without cutting numbers."""

from __future__ import annotations

import pytest
from rich.text import Text

from logtrace.render.console import record_console
from logtrace.render.fit import Column, FitTable, middle, overhead, shared_folder


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("/api/orders", 20, "/api/orders"),
        ("/api/dashboard-parallel/{id}", 20, "/api/dashb…llel/{id}"),
        ("sample_logs/edge-1.access.log", 25, "sample…/edge-1.access.log"),  # the file's name
        ("GET /api/orders/{id}/items", 22, "GET /api/or…{id}/items"),
        ("abcdef", 3, "a…f"),
        ("abcdef", 1, "…"),
        ("日本語のテキストです", 9, "日本…です"),  # wide characters count twice
    ],
)
def test_middle_keeps_both_ends(text: str, width: int, expected: str) -> None:
    assert middle(text, width) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["sample_logs/a.log", "sample_logs/b/c.log"], "sample_logs/"),
        (["logs/a.log"], "logs/"),
        (["/api/orders", "/api/users"], "/api/"),
        (["/api/orders", "/static/x"], "/"),
        (["GET /api/a", "GET /api/b"], ""),  # a request, not a path
        ([], ""),
    ],
)
def test_shared_folder(texts: list[str], expected: str) -> None:
    assert shared_folder(texts) == expected


def render(table: FitTable, width: int, *, fit: bool = True) -> list[str]:
    console = record_console(width, fit=fit)
    console.print(table, crop=False)
    return console.export_text().splitlines()


def routes() -> FitTable:
    table = FitTable(
        "Routes",
        [
            Column("route", "flex", min_width=10),
            Column("requests"),
            Column("p50", drop=2),
            Column("p99", drop=1),
        ],
    )
    table.add_row("/api/a-rather-long-route-name/{id}", "12,345", "1.00 s", "1.20 s")
    table.add_row("/api/b", Text("7", style="red"), "35 ms", "2m05s")
    return table


def test_a_table_that_fits_is_left_whole() -> None:
    lines = render(routes(), 80)
    assert lines[4].split() == [
        "/api/a-rather-long-route-name/{id}",
        "12,345",
        *["1.00", "s", "1.20", "s"],
    ]


def test_the_flex_column_gives_way_before_any_column_drops() -> None:
    lines = render(routes(), 50)
    assert lines[2].split() == ["route", "requests", "p50", "p99"]
    assert "…" in lines[4]
    assert lines[4].split()[1:] == ["12,345", "1.00", "s", "1.20", "s"]
    assert max(len(line) for line in lines) <= 50


def test_columns_drop_in_their_rank_order() -> None:
    assert render(routes(), 40)[2].split() == ["route", "requests", "p50"]
    assert render(routes(), 30)[2].split() == ["route", "requests"]


def test_numbers_are_never_cut_even_when_nothing_fits() -> None:
    lines = render(routes(), 20)
    assert lines[4].split() == ["…/a-…/{id}", "12,345"]
    assert lines[5].split() == ["/api/b", "7"]


def test_a_pipe_gets_the_table_whole_however_narrow() -> None:
    lines = render(routes(), 40, fit=False)
    assert "/api/a-rather-long-route-name/{id}" in lines[4]
    assert lines[2].split() == ["route", "requests", "p50", "p99"]


def test_headers_wrap_before_a_flex_cell_is_cut_when_that_is_enough() -> None:
    table = FitTable("T", [Column("route", "flex"), Column("upstream p50")])
    table.add_row("/api/orders/{id}", "9 ms")
    width = len("/api/orders/{id}") + len("upstream") + overhead(2)
    lines = render(table, width)
    assert lines[2].split() == ["upstream"] and lines[3].split() == ["route", "p50"]
    assert "/api/orders/{id}" in lines[5]


def test_text_columns_wrap_at_spaces() -> None:
    table = FitTable("T", [Column("id", "id"), Column("format", "text", min_width=8)])
    table.add_row("abc", "trace (detected, 12/12 sample lines)")
    lines = render(table, 24)
    assert [line.strip() for line in lines[4:7]] == [
        "abc   trace (detected,",
        "12/12 sample",
        "lines)",
    ]


def test_shared_folders_go_first_and_the_room_goes_to_the_others() -> None:
    table = FitTable(
        "Sources", [Column("source", "flex", min_width=8), Column("format", "text", min_width=6)]
    )
    table.add_row("some/long/folder/edge.log", "trace (detected)")
    table.add_row("some/long/folder/api.log", "json (detected)")
    lines = render(table, 32)
    assert [line.strip() for line in lines[4:6]] == [
        "…/edge.log   trace (detected)",
        "…/api.log    json (detected)",
    ]


def test_a_row_needs_one_cell_per_column() -> None:
    with pytest.raises(ValueError, match="2 cells for 4 columns"):
        routes().add_row("a", "b")
