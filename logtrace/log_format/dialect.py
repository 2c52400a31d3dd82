"""A log_format as a delimited-text dialect: which cells of a line hold which variable.

Under nginx's default escaping no variable value holds a ``"`` (it is written ``\\x22``),
so a line of ``combined``, ``main``, ``trace`` and most custom formats is a row of a
space-separated, double-quoted CSV: ``"$request"`` is one quoted cell, ``rt=$request_time``
an unquoted cell with literal text before its variable, ``[$time_local]`` two cells (the
time holds one space). polars' CSV reader splits such rows many times faster than a regex
with capture groups can.

A :class:`Dialect` says how: the cells in order, which variable each holds (with the
literal text around it inside the cell), and a capture-free *shape regex* a line must
match to be read as a row. The shape regex is the lenient line regex narrowed so that an
unquoted cell holds no space and no ``"``: a line that matches it splits into exactly the
planned cells, and each cell holds exactly what the lenient regex would have captured.
Other lines (a space in ``$remote_user``, an upstream list ``0.1, 0.2`` outside quotes,
garbage) go through the regexes as before.

A format gets no dialect (None) when its literals do not allow one: ``escape=none``
(values may hold anything), a literal ``"`` inside an unquoted cell, a quoted cell not
followed by a space, or two variables in one cell (``$uri$is_args$args``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from logtrace.log_format.compiler import (
    _LENIENT_TYPED,
    CompiledFormat,
    Field,
    _text_chars,
    _value_pattern,
    regex_escape,
)
from logtrace.log_format.grammar import Escape, Literal
from logtrace.log_format.variables import LIST_ITEM_PATTERNS, LIST_SHAPES, STRICT_PATTERNS, Shape

SEPARATOR = " "
QUOTE = '"'
_MARK = 0xE000  # a variable's place in the template: a private-use character


@dataclass(frozen=True)
class Cell:
    """One cell of the row: literal text, or one variable with literal text around it."""

    quoted: bool
    field: Field | None  # None: a cell of literal text only
    prefix: str  # literal text before the variable (inside the quotes), or the whole cell
    suffix: str  # literal text after the variable
    span: int = 1  # CSV cells it takes: 2 for an unquoted $time_local ("[26/Nov/...] -0330]")
    key: str | None = None  # JSON: the member's name


@dataclass(frozen=True)
class Dialect:
    """How a format's lines read as space-separated, double-quoted CSV rows, or (JSON)
    as objects: a cell is then one member, and ``quoted`` says its value is a string."""

    cells: tuple[Cell, ...]
    json_regex: str | None = None  # JSON: the shape regex, built from the format's items

    @property
    def is_json(self) -> bool:
        return self.json_regex is not None

    @property
    def kind(self) -> str:
        """ "csv" or "json"."""
        return "json" if self.is_json else "csv"

    @property
    def width(self) -> int:
        """CSV cells in a row."""
        return sum(c.span for c in self.cells)

    def positions(self) -> list[tuple[int, Cell]]:
        """Each planned cell with the index of its first CSV cell."""
        out: list[tuple[int, Cell]] = []
        at = 0
        for cell in self.cells:
            out.append((at, cell))
            at += cell.span
        return out

    def shape_regex(self, escape: Escape) -> str:
        """A capture-free regex over a whole line: matches only lines that split into the
        planned cells, each value of a shape the lenient line regex accepts."""
        if self.json_regex is not None:
            return self.json_regex
        return _shape_regex(self, escape)


def plan_dialect(cf: CompiledFormat) -> Dialect | None:
    """The CSV dialect of a compiled format, or None when its literals do not allow one."""
    return _plan(cf)


@lru_cache(maxsize=256)
def _plan(cf: CompiledFormat) -> Dialect | None:
    if cf.escape is Escape.JSON:
        return _plan_json(cf)
    if cf.escape is not Escape.DEFAULT:
        return None
    template = _template(cf)
    if template is None:
        return None
    cells: list[Cell] = []
    pos = 0
    while True:
        if template.startswith(QUOTE, pos):
            end = template.find(QUOTE, pos + 1)
            if end < 0:
                return None
            content, quoted, nxt = template[pos + 1 : end], True, end + 1
            if nxt < len(template) and template[nxt] != SEPARATOR:
                return None  # "$a"b: polars would not read that as one cell
        else:
            end = template.find(SEPARATOR, pos)
            nxt = len(template) if end < 0 else end
            content, quoted = template[pos:nxt], False
            if QUOTE in content:
                return None  # a quote inside an unquoted cell: not CSV
        cell = _cell(content, quoted, cf.fields)
        if cell is None:
            return None
        cells.append(cell)
        if nxt >= len(template):
            break
        pos = nxt + 1  # past the separator
    return Dialect(tuple(cells))


def _template(cf: CompiledFormat) -> str | None:
    """The format as text with each variable one private-use character (its mark)."""
    if not cf.fields:
        return None
    parts: list[str] = []
    fields = iter(cf.fields)
    for item in cf.format.items:
        if isinstance(item, Literal):
            if any(_MARK <= ord(ch) < _MARK + 0x1000 for ch in item.text):
                return None
            parts.append(item.text)
        else:
            parts.append(chr(_MARK + next(fields).index))
    template = "".join(parts)
    if "\n" in template or "\r" in template or "\\" in template:
        return None
    return template


def _plan_json(cf: CompiledFormat) -> Dialect | None:
    """An escape=json format that is one flat JSON object, each member's value a number
    (``$status``) or a string holding at most one variable (``"$request_id"``)."""
    template = _template(cf)
    if template is None or not template.startswith("{") or not template.endswith("}"):
        return None
    # Each variable as JSON text: inside a string as is; a bare one as a string of it.
    probe: list[str] = []
    bare: set[int] = set()
    inside = False
    for ch in template:
        if ch == QUOTE:
            inside = not inside
        if ord(ch) >= _MARK and not inside:
            bare.add(ord(ch) - _MARK)
            probe.append(f'"{ch}"')
        else:
            probe.append(ch)
    try:
        members = json.loads("".join(probe), object_pairs_hook=list)
    except ValueError:
        return None
    if not isinstance(members, list) or len({k for k, _ in members}) != len(members):
        return None
    cells: list[Cell] = []
    for key, value in members:
        if not isinstance(value, str):
            return None
        marks = [i for i, ch in enumerate(value) if ord(ch) >= _MARK]
        if len(marks) > 1:
            return None
        if not marks:
            cells.append(Cell(quoted=True, field=None, prefix=value, suffix="", key=key))
            continue
        at = marks[0]
        field = cf.fields[ord(value[at]) - _MARK]
        if field.index in bare and value != value[at]:
            return None
        if field.var.shape is Shape.REQUEST and value != value[at]:
            return None
        quoted = field.index not in bare
        cells.append(Cell(quoted, field, value[:at], value[at + 1 :], key=key))
    regex = _json_regex(cf, template, {c.field.index for c in cells if c.field and c.quoted})
    return None if regex is None else Dialect(tuple(cells), json_regex=regex)


def _json_regex(cf: CompiledFormat, template: str, quoted: set[int]) -> str | None:
    """The shape of a line of the JSON format, values of the lenient regex's shapes; a
    bare value (a number) never empty. parse_dialect.py also wants no backslash in the
    line, so that the JSON reader's values are the raw text the regexes capture."""
    out: list[str] = []
    for ch in template:
        if ord(ch) < _MARK:
            out.append(regex_escape(ch))
            continue
        field = cf.fields[ord(ch) - _MARK]
        shape = field.var.shape
        if field.index not in quoted:
            value = _LENIENT_TYPED.get(shape, STRICT_PATTERNS.get(shape))
            if value is None:
                return None
        elif shape is Shape.REQUEST:
            value = REQUEST_ROW
        elif shape in (Shape.TEXT, Shape.TOKEN):
            value = '[^ "]*' if shape is Shape.TOKEN else '[^"]*'
        else:
            value = _value_pattern(field, cf.escape, strict=False)
        out.append(f"(?:{value})")
    return "^" + "".join(out) + "$"


def _cell(content: str, quoted: bool, fields: tuple[Field, ...]) -> Cell | None:
    marks = [i for i, ch in enumerate(content) if ord(ch) >= _MARK]
    if not marks:
        return Cell(quoted, None, content, "")
    if len(marks) > 1:
        return None
    at = marks[0]
    field = fields[ord(content[at]) - _MARK]
    if field.var.shape is Shape.TIME_LOCAL and field.var.escaped:
        return None
    if field.var.shape is Shape.REQUEST and (not quoted or content != content[at]):
        return None  # the request line is read only as a cell of its own, "$request"
    span = 2 if field.var.shape is Shape.TIME_LOCAL and not quoted else 1
    return Cell(quoted, field, content[:at], content[at + 1 :], span)


def _unquoted_value(field: Field, escape: Escape) -> str:
    """The lenient pattern of a value in an unquoted cell, narrowed to hold no space."""
    shape = field.var.shape
    if shape in LIST_SHAPES:  # one attempt: ", " and " : " hold spaces
        if shape is Shape.LIST_TOKEN:  # as the lenient regex's item, stop byte and all
            chars = _text_chars(escape, field.stop, strict=True, no_space=True)
            return chars.replace("[^", "[^,", 1) + "+"
        return LIST_ITEM_PATTERNS[shape]
    if shape in (Shape.TEXT, Shape.TOKEN, Shape.REQUEST):
        return '[^" ]*'
    pattern = _value_pattern(field, escape, strict=False)
    assert " " not in pattern or shape is Shape.TIME_LOCAL, pattern
    return pattern


# The request lines the strict regex splits (an uppercase method, a target without spaces,
# a protocol), narrowed to a path without backslashes: an escape that decodes to "?"
# would split the target elsewhere in the lenient regex's conversion.
REQUEST_ROW = r'[A-Z]+ [^ ?"\\]*(?:\?[^ "]*)? HTTP/[0-9.]+'


def _quoted_value(field: Field, escape: Escape) -> str:
    if field.var.shape is Shape.REQUEST:
        return REQUEST_ROW
    if field.var.shape in (Shape.TEXT, Shape.TOKEN):
        return '[^ "]*' if field.var.shape is Shape.TOKEN else '[^"]*'
    return _value_pattern(field, escape, strict=False)


@lru_cache(maxsize=256)
def _shape_regex(dialect: Dialect, escape: Escape) -> str:
    out: list[str] = []
    for cell in dialect.cells:
        if cell.field is None:
            body = regex_escape(cell.prefix)
        else:
            value = (_quoted_value if cell.quoted else _unquoted_value)(cell.field, escape)
            body = regex_escape(cell.prefix) + f"(?:{value})" + regex_escape(cell.suffix)
        out.append(f'"{body}"' if cell.quoted else body)
    return "^" + " ".join(out) + "$"
