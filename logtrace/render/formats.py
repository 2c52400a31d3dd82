"""``logtrace formats``: the known log formats, their variables and regexes."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from logtrace.log_format.compiler import CompiledFormat
from logtrace.render.console import safe


def render_formats(
    console: Console, entries: Sequence[tuple[str, str, CompiledFormat]], *, show_regex: bool
) -> None:
    """One block per format: name, where it comes from, the format string."""
    table = Table(box=box.SIMPLE_HEAD, show_lines=True, pad_edge=False)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("format")
    for name, description, cf in entries:
        cell = Text.assemble(safe(description, "dim"), "\n", safe(cf.format.directive()))
        if show_regex:
            cell.append("\nstrict:  ", style="dim")
            cell.append_text(safe(cf.strict_regex() or "(none: escape=none)"))
            cell.append("\nlenient: ", style="dim")
            cell.append_text(safe(cf.lenient_regex()))
        table.add_row(safe(name), cell)
    console.print(table)
