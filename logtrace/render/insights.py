"""``logtrace insights``: one block per finding, readable on an 80-column terminal.

Each block ends with ``logtrace trace`` commands for its example requests, whole (full
id, the run's inputs and options) so that they run as printed: the terminal wraps a long
one, nothing cuts it.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from logtrace.analysis.insights import Insights
from logtrace.render import format as fmt
from logtrace.render.commands import TraceArgs, trace_command
from logtrace.render.console import safe_str

NAMES = {
    "n_plus_one": "N+1 calls",
    "sequential": "sequential calls",
    "repeated": "repeated calls",
    "retry": "retries",
    "abandoned": "abandoned work",
    "slow_client": "slow client",
    "swallowed_error": "swallowed error",
}


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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
            f"({insights.requests:,} requests, {fmt.duration(insights.total_s)} in all)",
        )
    )
    width = console.width
    route_width = max(16, width - 58)
    header = (
        f"{'#':>2}  {'pattern':<16} {'route':<{route_width}} {'reqs':>6} {'share':>6} "
        f"{'p50 save':>9} {'total save':>10}"
    )
    console.print(Text(header, style="bold"))
    for i, row in enumerate(summary.head(limit).iter_rows(named=True), start=1):
        name = NAMES.get(row["pattern"], row["pattern"])
        line = (
            f"{i:>2}  {name:<16} {_short(safe_str(row['route']), route_width):<{route_width}} "
            f"{row['requests']:>6,} {100 * row['share']:>5.1f}% "
            f"{fmt.duration(row['saving_p50_s']):>9} {fmt.duration(row['saving_total_s']):>10}"
        )
        console.print(Text(line))
        detail = f"{safe_str(row['detail'])} → {row['advice'] or ''}"
        console.print(Text("    " + _short(detail, width - 4), style="dim"))
        for example in row["examples"]:
            # already quoted and escaped: printed whole, wrapped by the terminal if long
            command = trace_command(example, trace_args)
            console.print(Text("    " + command, style="dim"), soft_wrap=True)
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
        for row in hot.head(5).iter_rows(named=True):
            target = _short(
                safe_str(f"{row['method']} {row['target']} on {row['callee']}"), width - 36
            )
            console.print(
                Text(
                    f"    {target:<{width - 36}} {row['requests']:>6,} requests "
                    f"{fmt.duration(row['total_s']):>9}"
                )
            )
