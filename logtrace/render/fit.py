"""Report tables that fit a terminal's width without cutting a number or an id.

A column has a role that says how it may give way when the table is too wide:

- ``number`` and ``id`` cells are never cut or wrapped (a count, a duration, a request id
  to paste into ``logtrace trace``); only their header may wrap at its spaces;
- ``text`` cells wrap at their spaces, down to the column's ``min_width``;
- a ``flex`` cell (a route, a path, a file) stays on one line; one that is too long first
  loses the folders every cell of its column starts with (``…/edge-1.access.log``), then
  its middle (``/api/dash…llel/{id}``), down to the column's ``min_width``, widest column
  first.

When the table is still too wide, columns with a ``drop`` rank are left out, rank 1 first,
and the rest are laid out again. A table that cannot fit even then is printed at its
narrowest and the terminal wraps it. On a pipe or in a file (:func:`fits_width` false)
nothing gives way: every table is printed whole at its natural width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from logtrace.render.console import fits_width

Role = Literal["number", "id", "text", "flex"]
Cell = str | Text
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    """One column: its header, how it gives way (``role``), and when it is dropped."""

    name: str
    role: Role = "number"
    min_width: int = 12  # text and flex columns: the narrowest they become
    drop: int = 0  # 1 is dropped first, then 2, ...; 0: never dropped

    @property
    def justify(self) -> Literal["left", "right"]:
        return "right" if self.role == "number" else "left"


def middle(text: str, width: int) -> str:
    """``text`` in ``width`` cells, its middle replaced by ``…`` when it is longer."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head, tail = _middle_cut(text, width)
    return text[:head] + ELLIPSIS + text[len(text) - tail :]


def _middle_cut(text: str, width: int) -> tuple[int, int]:
    """How many characters to keep at the start and at the end, around an ellipsis: half
    and half, or the whole last path segment (a file's name) when it leaves a few
    characters of the start."""
    room = width - 1
    slash = text.rfind("/", 1)
    last = cell_len(text[slash:]) if slash > 0 else 0
    want_tail = last if room // 2 < last <= room - 4 else room // 2
    tail = used = 0
    while tail < len(text) and used + cell_len(text[-1 - tail]) <= want_tail:
        used += cell_len(text[-1 - tail])
        tail += 1
    head = 0
    while head < len(text) - tail and used + cell_len(text[head]) <= room:
        used += cell_len(text[head])
        head += 1
    return head, tail


def shared_folder(texts: Sequence[str]) -> str:
    """The folders (up to a ``/``) that every one of ``texts`` starts with, when they
    are paths (no space: ``GET /`` is not a folder)."""
    if not texts:
        return ""
    low, high = min(texts), max(texts)  # what these two share, all of them share
    n = 0
    while n < min(len(low), len(high)) and low[n] == high[n]:
        n += 1
    shared = low[: low.rfind("/", 0, n) + 1]
    return "" if any(ch.isspace() for ch in shared) else shared  # "GET /": not a folder


def _shorten(cell: Cell, width: int, shared: str) -> Cell:
    """A flex cell in ``width`` cells: without the shared folders, then cut in the middle."""
    plain = _plain(cell)
    if cell_len(plain) <= width:
        return cell
    if len(shared) > 2 and plain.startswith(shared):
        rest = cell[len(shared) - 1 :] if isinstance(cell, Text) else plain[len(shared) - 1 :]
        cell = Text(ELLIPSIS) + rest if isinstance(rest, Text) else ELLIPSIS + rest
        if cell_len(_plain(cell)) <= width:
            return cell
    if isinstance(cell, str):
        return middle(cell, width)
    head, tail = _middle_cut(cell.plain, width)
    out = cell[:head]
    out.append(ELLIPSIS)
    out.append_text(cell[len(cell.plain) - tail :])
    return out


def _plain(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell.plain


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def overhead(columns: int) -> int:
    """Cells a report table spends besides its columns: edges, dividers and padding
    (``SIMPLE_HEAD`` with one cell of padding either side, none at the edges)."""
    return 3 * columns - 1 if columns else 0


class FitTable:
    """A titled report table that fits the width it is printed at (see the module)."""

    def __init__(self, title: str, columns: Sequence[Column]) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[Cell]] = []

    def add_row(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def natural(self, i: int) -> int:
        """Column ``i``'s width with nothing given way."""
        cells = [cell_len(_plain(row[i])) for row in self.rows]
        return max([cell_len(self.columns[i].name), *cells])

    def narrowest(self, i: int) -> int:
        """Column ``i``'s width once it has given all it can."""
        col = self.columns[i]
        header = _longest_word(col.name)
        if col.role in ("number", "id"):
            return max([header, *(cell_len(_plain(row[i])) for row in self.rows)])
        if col.role == "flex":  # one line, header included
            header = cell_len(col.name)
        return min(self.natural(i), max(col.min_width, header))

    def layout(self, width: int | None) -> dict[int, int]:
        """The columns shown and their widths: all of them at their natural widths when
        ``width`` is None, else what fits ``width`` (see the module)."""
        shown = list(range(len(self.columns)))
        if width is None:
            return {i: self.natural(i) for i in shown}
        for rank in sorted({c.drop for c in self.columns if c.drop}):
            if sum(self.narrowest(i) for i in shown) + overhead(len(shown)) <= width:
                break
            shown = [i for i in shown if self.columns[i].drop != rank]
        return self._give_way(shown, width - overhead(len(shown)))

    def _give_way(self, shown: list[int], room: int) -> dict[int, int]:
        """The columns' widths in ``room``: text wraps first, then headers wrap when that
        is enough to keep every cell whole; else flex cells lose their middles (widest
        first) and only then do headers wrap."""
        widths = {i: self.natural(i) for i in shown}
        floors = {i: self.narrowest(i) for i in shown}
        roles = {i: self.columns[i].role for i in shown}
        text = [i for i in shown if roles[i] == "text"]
        headers = [i for i in shown if roles[i] in ("number", "id")]
        flex = [i for i in shown if roles[i] == "flex"]
        lossless = sum(widths[i] for i in flex) + sum(floors[i] for i in shown if i not in flex)
        order = [text, headers] if lossless <= room else [text, flex, headers]
        for group in order:
            excess = sum(widths.values()) - room
            _shrink(widths, {i: floors[i] for i in group}, excess)
        return widths

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        fit = fits_width(console)
        widths = self.layout(options.max_width if fit else None)
        table = Table(
            title=self.title,
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        shared = {
            i: shared_folder([_plain(row[i]) for row in self.rows])
            for i in widths
            if self.columns[i].role == "flex"
        }
        rows = [
            [_shorten(row[i], w, shared[i]) if i in shared else row[i] for i, w in widths.items()]
            for row in self.rows
        ]
        if fit:
            self._give_back(widths, rows)
        for i, w in widths.items():
            col = self.columns[i]
            table.add_column(
                col.name,
                justify=col.justify,
                width=w,
                no_wrap=col.role == "flex",
                overflow="fold",
            )
        for cells in rows:
            table.add_row(*cells)
        total = sum(widths.values()) + overhead(len(widths))
        # whole on a pipe: wider than the console if it must (printed with crop=False)
        yield from console.render(table, options.update(width=max(total, 1)))

    def _give_back(self, widths: dict[int, int], rows: list[list[Cell]]) -> None:
        """Cells a flex column no longer needs once shortened (its shared folders gone)
        go back to the text and header columns that wrapped, the narrowest first."""
        spare = 0
        for k, i in enumerate(widths):
            if self.columns[i].role == "flex":
                cells = (cell_len(_plain(row[k])) for row in rows)
                used = max([cell_len(self.columns[i].name), *cells])
                spare += widths[i] - used
                widths[i] = used
        natural = {i: self.natural(i) for i in widths if self.columns[i].role != "flex"}
        while spare > 0:
            short = [i for i in natural if widths[i] < natural[i]]
            if not short:
                return
            narrowest = min(short, key=lambda i: widths[i])
            widths[narrowest] += 1
            spare -= 1

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widths = self.layout(options.max_width if fits_width(console) else None)
        total = sum(widths.values()) + overhead(len(widths))
        return Measurement(total, total)


def _shrink(widths: dict[int, int], floors: dict[int, int], excess: int) -> None:
    """Take ``excess`` cells from the columns in ``floors``, a cell at a time from the
    widest one still above its floor."""
    while excess > 0:
        above = [i for i in floors if widths[i] > floors[i]]
        if not above:
            return
        widest = max(above, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
