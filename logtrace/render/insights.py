"""``logtrace insights``: one block per finding, readable on an 80-column terminal.

Each block ends with ``logtrace trace`` commands for its example requests, whole (full
id, the run's inputs and options) so that they run as printed: the terminal wraps a long
one, nothing cuts it. On a terminal a route or target longer than its column loses its
middle; the numbers and the finding's detail are never cut (the detail wraps). On a pipe
nothing is cut: the route column is as wide as the longest route.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from logtrace.analysis.insights import Insights
from logtrace.plural import noun, plural
from logtrace.render import format as fmt
from logtrace.render.commands import TraceArgs, trace_command
from logtrace.render.console import fits_width, safe_str
from logtrace.render.fit import middle
from logtrace.render.spans import print_wrapped

NAMES = {
    "n_plus_one": "N+1 calls",
    "sequential": "sequential calls",
    "repeated": "repeated calls",
    "retry": "retries",
    "abandoned": "abandoned work",
    "slow_client": "slow client",
    "swallowed_error": "swallowed error",
}


def render_insights(
    console: Console, insights: Insights, *, limit: int = 20, trace_args: TraceArgs | None = None
) -> None:
    """The ranked findings: what, where, how often, what fixing it would save, and a
    ``logtrace trace`` command (with ``trace_args``) for each example request."""
    trace_args = trace_args or TraceArgs()
    summary = insights.summary
    if summary.is_empty():
        console.print(Text("No known slow pattern found in these traces.", style="bold"))
        return
    console.print(
        Text.assemble(
            ("What to fix, by the time it would save ", "bold"),
            f"({plural(insights.requests, 'request')}, {fmt.duration(insights.total_s)} in all)",
        )
    )
    width = console.width
    fit = fits_width(console)
    routes = [safe_str(r) for r in summary.head(limit).get_column("route")]
    route_width = max(16, width - 58)
    if not fit:
        route_width = max(route_width, *(cell_len(r) for r in routes))
    header = (
        f"{'#':>2}  {'pattern':<16} {'route':<{route_width}} {'reqs':>6} {'share':>6} "
        f"{'p50 save':>9} {'total save':>10}"
    )
    console.print(Text(header, style="bold"))
    for i, row in enumerate(summary.head(limit).iter_rows(named=True), start=1):
        name = NAMES.get(row["pattern"], row["pattern"])
        route = _pad(middle(routes[i - 1], route_width), route_width)
        line = (
            f"{i:>2}  {name:<16} {route} "
            f"{row['requests']:>6,} {100 * row['share']:>5.1f}% "
            f"{fmt.duration(row['saving_p50_s']):>9} {fmt.duration(row['saving_total_s']):>10}"
        )
        console.print(Text(line), soft_wrap=not fit)
        detail = f"{safe_str(row['detail'])} → {row['advice'] or ''}"
        print_wrapped(console, Text(detail, style="dim"), "    ")
        for example in row["examples"]:
            # already quoted and escaped: printed whole, wrapped by the terminal if long
            command = trace_command(example, trace_args)
            console.print(Text("    " + command, style="dim"), soft_wrap=True)
    if "-" in trace_args.files and summary.height:  # the commands read standard input
        console.print(
            Text("(- is standard input: pipe the same logs in again to run these)", style="dim")
        )
    if summary.height > limit:
        console.print(
            Text(
                f"… and {summary.height - limit} more "
                "(`logtrace insights --json` lists them all, with every request id)",
                style="dim",
            )
        )
    hot = insights.hot_targets
    if hot.height:
        console.print(
            Text("Hot targets (the same GET in many requests: cache candidates)", style="bold")
        )
        rows = list(hot.head(5).iter_rows(named=True))
        targets = [safe_str(f"{r['method']} {r['target']} on {r['callee']}") for r in rows]
        room = width - 36
        if not fit:
            room = max(room, *(cell_len(t) for t in targets))
        for row, target in zip(rows, targets, strict=True):
            console.print(
                Text(
                    f"    {_pad(middle(target, room), room)} {row['requests']:>6,} "
                    f"{noun(row['requests'], 'request'):<8} "
                    f"{fmt.duration(row['total_s']):>9}"
                ),
                soft_wrap=not fit,
            )


def _pad(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` cells (wide characters count twice)."""
    return text + " " * max(width - cell_len(text), 0)
