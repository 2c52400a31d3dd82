"""The Gantt chart and the request-flow diagram of one trace, as a person reads them."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import polars as pl
import pytest
from rich.cells import cell_len
from rich.console import Console

from logtrace.analysis.critical_path import critical_path
from logtrace.analysis.trace_view import RequestTrace
from logtrace.render.console import record_console
from logtrace.render.flow import render_flow
from logtrace.render.gantt import EIGHTHS, OFF_PATH, ON_PATH_GLYPHS, THIN_OFF_PATH, render_gantt
from logtrace.schema import CRITICAL, EXPORT_SPANS
from tests.conftest import Golden

BASE = datetime(2026, 11, 26, 12, 37, 13, 412_000, tzinfo=UTC)


@dataclass(frozen=True)
class S:
    """A span to build: times in milliseconds from BASE (after any clock correction)."""

    key: str
    parent: str | None
    service: str
    host: str
    kind: str
    name: str
    start_ms: float
    dur_ms: float
    status: int | None = 200
    error: bool = False
    attempt: int | None = None
    peer: str | None = None
    target: str | None = None
    precision_s: float = 1e-6
    skew_s: float = 0.0
    guessed: bool = False


def span_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def at(ms: float) -> datetime:
    return BASE + timedelta(microseconds=round(ms * 1000))


def tree_order(spans: list[S]) -> list[tuple[S, int]]:
    kids: dict[str | None, list[S]] = {}
    for s in spans:
        kids.setdefault(s.parent, []).append(s)
    out: list[tuple[S, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in sorted(kids.get(parent, []), key=lambda s: s.start_ms):
            out.append((s, depth))
            walk(s.key, depth + 1)

    walk(None, 0)
    return out


def make_trace(
    request_id: str,
    spans: list[S],
    *,
    notes: tuple[str, ...] = (),
    skew: dict[str, float] | None = None,
    lines: Mapping[str, tuple[str, ...]] | None = None,
) -> RequestTrace:
    """A RequestTrace with EXPORT_SPANS and CRITICAL frames of exactly the schema's dtypes."""
    ordered = tree_order(spans)
    rows: list[dict[str, object]] = []
    for s, depth in ordered:
        method, _, route = s.name.partition(" ")
        start, end = at(s.start_ms), at(s.start_ms + s.dur_ms)
        shift = timedelta(seconds=s.skew_s)
        rows.append(
            {
                "request_id": request_id,
                "span_id": span_id(s.key),
                "parent_span_id": span_id(s.parent) if s.parent else None,
                "parent_guessed": s.guessed,
                "host": s.host,
                "service": s.service,
                "kind": s.kind,
                "name": s.name,
                "method": method,
                "route": route,
                "target": s.target or route,
                "peer": s.peer,
                "start": start,
                "end": end,
                "raw_start": start - shift,
                "raw_end": end - shift,
                "duration_s": s.dur_ms / 1000,
                "precision_s": s.precision_s,
                "skew_s": s.skew_s,
                "status": s.status,
                "error": s.error or (s.status or 0) >= 500,
                "attempt": s.attempt,
                "source": f"{s.host}.log",
                "line_no": len(rows) + 1,
                "depth": depth,
            }
        )
    tuples = [
        (
            str(r["span_id"]),
            cast("str | None", r["parent_span_id"]),
            cast(datetime, r["start"]),
            cast(datetime, r["end"]),
        )
        for r in rows
    ]
    critical = [
        {
            "request_id": request_id,
            "span_id": sec.span_id,
            "section_start": sec.start,
            "section_end": sec.end,
        }
        for sec in critical_path(tuples, str(rows[0]["span_id"]))
    ]
    return RequestTrace(
        request_id=request_id,
        spans=pl.DataFrame(rows, schema=EXPORT_SPANS),
        critical=pl.DataFrame(critical, schema=CRITICAL),
        skew_s=skew or {},
        notes=notes,
        lines={span_id(k): v for k, v in (lines or {}).items()},
    )


# --- the cases ------------------------------------------------------------------------------

ITEMS = [332, 904, 56, 700, 824, 160, 125, 734, 537, 252, 464, 88]
ITEM_MS = [4.2, 13.2, 12.2, 4.2, 4.4, 9.1, 5.1, 3.3, 13.3, 6.6, 3.3, 7.9]


def via_mesh(key: str, callee: str, route: str, item: str, *, t: float, ms: float) -> list[S]:
    """api's call through mesh-1 (nginx) to ``callee``: CLIENT, mesh SERVER, callee SERVER."""
    target = route.replace("{id}", item)
    return [
        S(f"{key}.c", "api", "api", "api-2", "CLIENT", f"GET {route}", t, ms + 1.4,
          peer=callee, target=target, skew_s=0.150),
        S(f"{key}.m", f"{key}.c", "mesh", "mesh-1", "SERVER", f"GET {route}", t + 0.4, ms + 0.6,
          target=target, precision_s=1e-3),
        S(f"{key}.s", f"{key}.m", callee, f"{callee}-1", "SERVER", f"GET {route}", t + 0.6, ms,
          target=target, precision_s=1e-3),
    ]  # fmt: skip


def retry_case() -> RequestTrace:
    """edge-1 retries on a dead api-1, api-2 makes 12 sequential calls then 2 parallel ones."""
    spans = [
        S("edge", None, "edge", "edge-1", "SERVER", "GET /api/orders/{id}/items", 0, 1412,
          target="/api/orders/5/items", precision_s=1.0),
        S("up1", "edge", "edge", "edge-1", "CLIENT", "GET /api/orders/{id}/items", 1, 1001,
          status=502, attempt=1, peer="10.0.1.11:8080", target="/api/orders/5/items",
          precision_s=1.0),
        S("up2", "edge", "edge", "edge-1", "CLIENT", "GET /api/orders/{id}/items", 1003, 407,
          attempt=2, peer="10.0.1.12:8080", target="/api/orders/5/items", precision_s=1.0),
        S("api", "up2", "api", "api-2", "SERVER", "GET /api/orders/{id}/items", 1005, 403,
          target="/api/orders/5/items", skew_s=0.150),
    ]  # fmt: skip
    t = 1010.0
    for i, (item, ms) in enumerate(zip(ITEMS, ITEM_MS, strict=True)):
        spans += via_mesh(f"inv{i}", "inventory", "/inventory/items/{id}", str(item), t=t, ms=ms)
        t += ms + 12
    users = via_mesh("users", "users", "/users/{id}", "5", t=t + 2, ms=38)
    users[2] = replace(users[2], guessed=True)
    spans += users
    spans += via_mesh("stats", "inventory", "/inventory/stats", "", t=t + 3, ms=71)
    return make_trace(
        "c1405abcbaf320b38811d5104a094314",
        spans,
        notes=(
            "edge-1 logs $time_local: its spans are placed to the second",
            "users-1 span has no caller in the logs; parent chosen by time",
        ),
        skew={"api-2": 0.150},
    )


def timeout_case() -> RequestTrace:
    """edge-1 gives up after 60 s (504) while api-1 keeps working for 15 s more."""
    spans = [
        S("edge", None, "edge", "edge-1", "SERVER", "POST /api/checkout", 0, 60_004,
          status=504, precision_s=1.0),
        S("up1", "edge", "edge", "edge-1", "CLIENT", "POST /api/checkout", 2, 60_001,
          status=504, attempt=1, peer="10.0.1.11:8080", precision_s=1.0),
        S("api", "up1", "api", "api-1", "SERVER", "POST /api/checkout", 9, 75_020),
        S("pay", "api", "api", "api-1", "CLIENT", "POST /users/{id}/charge", 15, 74_990,
          peer="users", target="/users/7/charge"),
        S("mesh", "pay", "mesh", "mesh-1", "SERVER", "POST /users/{id}/charge", 16, 74_987,
          target="/users/7/charge", precision_s=1e-3),
        S("users", "mesh", "users", "users-1", "SERVER", "POST /users/{id}/charge", 18, 74_983,
          target="/users/7/charge", precision_s=1e-3),
    ]  # fmt: skip
    return make_trace("6b1f0e4d2a9c4d7e8f00112233445566", spans)


def tiny_case() -> RequestTrace:
    """One span: a health check nobody else saw."""
    spans = [S("api", None, "api", "api-1", "SERVER", "GET /healthz", 0, 1.2)]
    lines = {
        "api": (
            '{"time": "2026-11-26T12:37:13.413200+00:00", "level": "INFO", "service": "api", '
            '"msg": "request finished", "request_id": "0f0e", "method": "GET", '
            '"path": "/healthz", "status": 200, "duration_ms": 1.2}',
        )
    }
    return make_trace("0f0e0d0c0b0a09080706050403020100", spans, lines=lines)


ANSI = "\x1b[31m"
OSC8 = "\x1b]8;;http://x\x1b\\"
BIDI = "\u202e"
MARKUP = "[bold]x[/bold]"


def hostile_case() -> RequestTrace:
    """Log text that tries to colour, link, overwrite, reverse, or style the terminal."""
    spans = [
        S("edge", None, "edge", "edge-1", "SERVER", f"GET /a{ANSI}red{MARKUP}", 0, 40,
          precision_s=1.0),
        S("api", "edge", f"api{MARKUP}", "api-1", "SERVER", f"GET /{OSC8}link\r{BIDI}exe.txt",
          2, 35, status=500, error=True),
        S("out", "api", f"api{MARKUP}", "api-1", "CLIENT", f"POST /{BIDI}x", 5, 20,
          peer=f"{ANSI}evil{OSC8}", status=None, error=True),
    ]  # fmt: skip
    lines = {
        "edge": (f'1.2.3.4 - - [26/Nov/2026:09:07:13 -0330] "GET /a{ANSI}red{MARKUP}" 200',),
        "api": (f"ts=... msg=boom\r{OSC8}click me{BIDI} {MARKUP} [/] [link=http://x]y[/link]",),
        "out": ("Traceback (most recent call last):", f"  ValueError: {ANSI}\x07\x00{MARKUP}"),
    }
    return make_trace(f"{MARKUP}{ANSI}rid", spans, lines=lines)


CASES: dict[str, Callable[[], RequestTrace]] = {
    "retry": retry_case,
    "timeout": timeout_case,
    "tiny": tiny_case,
    "hostile": hostile_case,
}
RENDERERS: dict[str, Callable[[Console, RequestTrace], None]] = {
    "gantt": render_gantt,
    "flow": render_flow,
}


def rendered(renderer: str, trace: RequestTrace, width: int, **kw: Any) -> str:
    console = record_console(width=width)
    if renderer == "gantt":
        render_gantt(console, trace, **kw)
    else:
        render_flow(console, trace)
    return console.export_text()


# --- golden files ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", [100, 80])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("renderer", list(RENDERERS))
def test_trace_renders_as_its_golden_file(
    renderer: str, case: str, width: int, golden: Golden
) -> None:
    golden(f"trace_{renderer}_{case}_w{width}.txt", rendered(renderer, CASES[case](), width))


@pytest.mark.parametrize("case", ["tiny", "hostile"])
def test_gantt_shows_each_spans_log_lines_under_it(case: str, golden: Golden) -> None:
    golden(
        f"trace_gantt_{case}_lines_w80.txt", rendered("gantt", CASES[case](), 80, show_lines=True)
    )


# --- width ----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 100, 160])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("renderer", list(RENDERERS))
def test_no_line_is_wider_than_the_console(renderer: str, case: str, width: int) -> None:
    for show_lines in (False, True) if renderer == "gantt" else (False,):
        text = rendered(renderer, CASES[case](), width, show_lines=show_lines)
        too_wide = [line for line in text.splitlines() if cell_len(line) > width]
        assert not too_wide, too_wide


def test_a_wider_console_gives_the_bars_more_cells() -> None:
    narrow = bar_lengths(rendered("gantt", proportional_case(), 80))
    wide = bar_lengths(rendered("gantt", proportional_case(), 160))
    assert wide["root"] > 2 * narrow["root"] - 16


# --- bars to scale --------------------------------------------------------------------------

GLYPH_EIGHTHS = {g: i for i, g in enumerate(EIGHTHS)} | {
    OFF_PATH: 8,
    THIN_OFF_PATH: 1,
    "▐": 4,
    "▕": 1,
}


def bar_lengths(text: str) -> dict[str, int]:
    """Bar length in eighths of a cell, per row, keyed by the row's operation (its last word)."""
    out = {}
    for line in text.splitlines():
        cells = [GLYPH_EIGHTHS[c] for c in line if c in GLYPH_EIGHTHS and c != " "]
        match = re.search(r"GET /(\w+)", line)
        if cells and match:
            out[match.group(1)] = sum(cells)
    return out


def proportional_case() -> RequestTrace:
    spans = [
        S("root", None, "api", "api-1", "SERVER", "GET /root", 0, 1000),
        S("one", "root", "api", "api-1", "CLIENT", "GET /one", 50, 200, peer="db"),
        S("two", "root", "api", "api-1", "CLIENT", "GET /two", 300, 400, peer="db"),
        S("par", "root", "api", "api-1", "CLIENT", "GET /par", 310, 100, peer="db"),
    ]
    return make_trace("proportional", spans)


@pytest.mark.parametrize("width", [80, 100, 160])
def test_bars_are_drawn_to_scale(width: int) -> None:
    lengths = bar_lengths(rendered("gantt", proportional_case(), width))
    one_cell = 8
    assert abs(lengths["two"] - 2 * lengths["one"]) <= 2 * one_cell  # on the critical path
    assert abs(lengths["one"] - 2 * lengths["par"]) <= 2 * one_cell  # "par" is off it
    assert abs(lengths["root"] - 5 * lengths["one"]) <= 3 * one_cell


def test_a_span_shorter_than_one_cell_still_shows_a_mark() -> None:
    spans = [
        S("root", None, "api", "api-1", "SERVER", "GET /root", 0, 60_000),
        S("blip", "root", "api", "api-1", "CLIENT", "GET /blip", 30_000, 0.3, peer="db"),
        S("tail", "root", "api", "api-1", "CLIENT", "GET /tail", 30_001, 0.1, peer="db"),
    ]
    lengths = bar_lengths(rendered("gantt", make_trace("blip", spans), 80))
    assert lengths["blip"] >= 1
    assert lengths["tail"] >= 1


# --- the critical path ----------------------------------------------------------------------


def span_lines(text: str, trace: RequestTrace) -> dict[str, str]:
    """The Gantt row of each span id: the rows follow the axis' ruler line, in frame order."""
    lines = text.splitlines()
    ruler = next(i for i, line in enumerate(lines) if "├" in line and "┤" in line)
    ids = trace.spans.get_column("span_id").to_list()
    return dict(zip(ids, lines[ruler + 1 : ruler + 1 + len(ids)], strict=True))


@pytest.mark.parametrize("width", [80, 100, 160])
@pytest.mark.parametrize("case", ["retry", "timeout", "tiny", "hostile"])
def test_critical_path_glyphs_are_on_exactly_the_critical_spans(case: str, width: int) -> None:
    trace = CASES[case]()
    rows = span_lines(rendered("gantt", trace, width), trace)
    on_path = {sid for sid, line in rows.items() if ON_PATH_GLYPHS & set(line)}
    assert on_path == set(trace.critical.get_column("span_id").to_list())


def test_critical_path_summary_names_the_dominant_operation() -> None:
    text = rendered("gantt", retry_case(), 100)
    summary = text.split("Critical path", 1)[1].splitlines()
    # the failed first attempt (1 s, to a dead server) dominates
    assert "edge" in summary[1]
    assert "GET /api/orders/{id}/items" in summary[1]


def test_parallel_call_off_the_critical_path_is_shaded() -> None:
    trace = retry_case()
    rows = span_lines(rendered("gantt", trace, 100), trace)
    users = rows[span_id("users.c")]
    assert OFF_PATH in users
    assert not ON_PATH_GLYPHS & set(users)


# --- markers --------------------------------------------------------------------------------


def test_gantt_marks_errors_retries_guesses_coarse_timing_and_clock_offsets() -> None:
    trace = retry_case()
    rows = span_lines(rendered("gantt", trace, 100), trace)
    assert "502 ✗" in rows[span_id("up1")]
    assert "attempt 1" in rows[span_id("up1")]
    assert "attempt 2" in rows[span_id("up2")]
    assert "≈" in rows[span_id("edge")]
    assert "clock +150 ms" in rows[span_id("api")]
    assert "└?users-1" in rows[span_id("users.s")]


@pytest.mark.parametrize(
    ("service", "host", "shown"),
    [
        ("api", "api-2", "api-2"),  # the host already names the service
        ("api", "api", "api"),
        ("api", "10.0.0.5", "api@10.0.0.5"),
        ("api", "api-gateway-1", "api@api-gateway-1"),  # not "api" plus an instance number
    ],
)
def test_gantt_rows_name_service_and_host_once(service: str, host: str, shown: str) -> None:
    trace = make_trace("who", [S("a", None, service, host, "SERVER", "GET /", 0, 10)])
    row = span_lines(rendered("gantt", trace, 100), trace)[span_id("a")]
    assert row.startswith(shown + " ")


def test_gantt_flags_a_span_that_outlives_its_caller() -> None:
    trace = timeout_case()
    rows = span_lines(rendered("gantt", trace, 100), trace)
    assert "overran 15.0 s" in rows[span_id("api")]
    assert "504 ✗" in rows[span_id("edge")]


def test_flow_uses_the_server_child_as_callee_and_the_peer_when_there_is_none() -> None:
    text = rendered("flow", retry_case(), 160)
    header = text.split("\n\n")[1]
    assert header.index("10.0.1.11:8080") < header.index("api") < header.index("mesh")
    assert "inventory" in header
    assert "users" in header


def test_flow_marks_retries_errors_and_parallel_calls() -> None:
    text = rendered("flow", retry_case(), 100)
    assert "attempt 1" in text
    assert "↻ attempt 2" in text
    assert "502 ✗" in text
    assert "║" in text
    assert "parallel" in text


def test_flow_shows_a_reply_that_came_after_the_caller_gave_up() -> None:
    text = rendered("flow", timeout_case(), 100)
    assert "504 ✗" in text
    assert "15.0 s late" in text


def chain_case(n: int) -> RequestTrace:
    """client → svc0 → svc1 → … → svc{n-1}, each waiting for the next."""
    spans = [
        S(f"s{i}", f"s{i - 1}" if i else None, f"svc{i}", f"svc{i}-1", "SERVER", f"GET /hop/{i}",
          i, 100 * (n - i))
        for i in range(n)
    ]  # fmt: skip
    return make_trace("chain", spans)


def test_flow_falls_back_to_an_arrow_list_when_participants_do_not_fit(golden: Golden) -> None:
    text = rendered("flow", chain_case(11), 80)
    assert "svc0 → svc1" in text
    golden("trace_flow_chain_w80.txt", text)


def test_flow_draws_a_diagram_for_six_participants_at_80_columns() -> None:
    text = rendered("flow", chain_case(5), 80)  # client + 5 services
    assert "svc0 → svc1" not in text
    assert "►" in text


# --- hostile text ---------------------------------------------------------------------------


def colour_output(renderer: str, trace: RequestTrace, **kw: Any) -> str:
    out = io.StringIO()
    console = Console(
        file=out, width=100, force_terminal=True, color_system="truecolor", highlight=False
    )
    if renderer == "gantt":
        render_gantt(console, trace, **kw)
    else:
        render_flow(console, trace)
    return out.getvalue()


@pytest.mark.parametrize("renderer", list(RENDERERS))
def test_log_text_is_shown_escaped_and_never_acts_on_the_terminal(renderer: str) -> None:
    trace = hostile_case()
    plain = rendered(renderer, trace, 100, show_lines=True)
    for raw in (ANSI, OSC8, "\r", BIDI, "\x07", "\x00"):
        assert raw not in plain
    assert "\\x1B[31m" in plain
    assert "\\u202E" in plain
    assert MARKUP in plain  # shown as text, not eaten as markup
    coloured = colour_output(renderer, trace, show_lines=True)
    without_styles = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert "\x1b" not in without_styles  # only rich's own colours: no links, no data escapes
    assert "\r" not in coloured
    assert BIDI not in coloured


def test_log_lines_are_escaped_too() -> None:
    text = rendered("gantt", hostile_case(), 100, show_lines=True)
    assert "[link=http://x]y[/link]" in text
    assert "\\x07\\x00[bold]x[/bold]" in text
