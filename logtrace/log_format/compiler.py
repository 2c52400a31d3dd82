"""Compile a parsed log_format into line regexes (``convert.py`` types their groups).

Each format gets two anchored regexes over a whole line:

* ``strict``: exact value shapes and separators that never appear inside a value
  (``[^"]*`` inside quotes, ``[^ ]*`` before a space, ``, `` lists only). It is built to
  be *one-pass* (at every byte there is one way forward), which lets the regex engine
  capture groups without backtracking: about twice as fast on typical lines.
* ``lenient``: lazy text and full upstream lists (``, `` and `` : ``). Lines that fail
  ``strict`` (a space in ``$remote_user``, a garbage request line, a redirect in the
  upstream list) are tried again with it. A space is still allowed only where nginx can
  write one: in text (``$remote_user``, ``$http_*``), never in a token (``$remote_addr``).

A line that matches neither is rejected; parse.py counts it and explains why. Only the
groups a caller asks for are capturing (projection), so ``analyze`` does not pay for
user agents it never shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from logtrace.log_format.grammar import Escape, Literal, LogFormat, VarRef
from logtrace.log_format.variables import (
    LIST_ITEM_PATTERNS,
    LIST_SHAPES,
    STRICT_PATTERNS,
    Shape,
    Variable,
    lookup,
)

MATCHED = "_matched"  # an empty group that is "" when a regex matched and null otherwise

# Request-line parts captured directly by the strict regex (no second pass needed).
REQUEST_PARTS = ("method", "path", "query", "protocol")
# Columns several variables may give ($request, $request_uri, $uri, $document_uri ...):
# on each line the first variable in the format that holds a value gives it.
PER_LINE = frozenset({"method", "target", "path", "query", "protocol"})

_META = set("\\.+*?()|[]{}^$")


def regex_escape(text: str) -> str:
    """Escape regex metacharacters in a way both Python ``re`` and Rust ``regex`` accept."""
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def _class_escape(ch: str) -> str:
    return "\\" + ch if ch in "\\]^-[" else ch


@dataclass(frozen=True)
class Field:
    """One variable occurrence in a format, with the regex group that captures it."""

    index: int
    var: Variable
    stop: str | None  # first character of the literal that follows, None at end of line

    @property
    def group(self) -> str:
        return f"f{self.index}"


@dataclass(frozen=True)
class CompiledFormat:
    """A log_format ready to parse lines: regexes plus conversions to typed columns."""

    format: LogFormat
    fields: tuple[Field, ...]

    @property
    def name(self) -> str:
        return self.format.name or "custom"

    @property
    def escape(self) -> Escape:
        return self.format.escape

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Every LINES column this format can produce, in format order."""
        out: list[str] = []
        for f in self.fields:
            for col in _columns_of(f.var):
                if col not in out:
                    out.append(col)
        return tuple(out)

    def fields_for(self, needed: frozenset[str] | None) -> tuple[Field, ...]:
        """The fields whose columns are needed (all when ``needed`` is None; ``ANY_ID``
        among them asks for every variable that may hold a request id)."""
        chosen: dict[str, Field] = {}
        any_id = needed is not None and ANY_ID in needed
        for f in self.fields:
            cols = _columns_of(f.var)
            wanted = needed is None or bool(set(cols) & needed)
            if not wanted and not (any_id and is_id_column(f.var.column)):
                continue
            # The first occurrence of a column wins; time columns prefer the most precise.
            # Every variable that may hold the path is kept: the choice is made per line
            # (convert.py), since a 414 logs an empty $request_uri but a $request.
            key = f"{f.var.column}#{f.index}" if f.var.column in PER_LINE else f.var.column
            if key in chosen and key == "time":
                if _TIME_RANK[f.var.shape] < _TIME_RANK[chosen[key].var.shape]:
                    chosen[key] = f
                continue
            chosen.setdefault(key, f)
        return tuple(sorted(chosen.values(), key=lambda f: f.index))

    def strict_regex(self, needed: frozenset[str] | None = None) -> str | None:
        """The fast one-pass regex capturing the needed fields, or None (escape=none)."""
        return _strict_regex(self, needed)

    def lenient_regex(self, needed: frozenset[str] | None = None) -> str:
        """The fallback regex capturing the needed fields."""
        return _lenient_regex(self, needed)

    @property
    def time_precision_s(self) -> float | None:
        """Resolution of the line's timestamp: 0.001 with $msec, 1.0 with $time_local."""
        shapes = {f.var.shape for f in self.fields}
        if Shape.EPOCH in shapes:
            return 0.001
        if shapes & {Shape.TIME_LOCAL, Shape.TIME_ISO8601}:
            return 1.0
        return None

    def has_column(self, column: str) -> bool:
        return column in self.columns


# Asked for among the needed columns: every variable whose name says it holds a request id.
ANY_ID = "*request-id*"
_ID_NAME = re.compile(
    r"(?:^|_)(?:x_)?(?:request_?id|req_?id|rid|correlation_?id|trace_?id|traceparent)$"
)


def is_id_column(column: str) -> bool:
    """Whether a variable's name says it carries a request id: ``$request_id``,
    ``$http_x_request_id``, ``$http_x_correlation_id``, ``$http_traceparent``,
    ``$otel_trace_id``, a ``map`` result such as ``$req_id`` ..."""
    return _ID_NAME.search(column) is not None


_TIME_RANK = {Shape.EPOCH: 0, Shape.TIME_ISO8601: 1, Shape.TIME_LOCAL: 2}


def _columns_of(var: Variable) -> tuple[str, ...]:
    if var.shape is Shape.REQUEST:
        return ("request", "method", "target", "path", "query", "protocol")
    if var.name == "request_uri":
        return ("target", "path", "query")
    return (var.column,)


def compile_format(fmt: LogFormat) -> CompiledFormat:
    """Compile a parsed LogFormat; the result is cheap to reuse for any number of lines."""
    fields: list[Field] = []
    items = fmt.items
    for i, item in enumerate(items):
        if not isinstance(item, VarRef):
            continue
        nxt = items[i + 1] if i + 1 < len(items) else None
        stop = nxt.text[0] if isinstance(nxt, Literal) else None
        if isinstance(nxt, VarRef):
            stop = "\0"  # adjacent variable: no separator to stop at
        fields.append(Field(index=len(fields), var=lookup(item.name), stop=stop))
    return CompiledFormat(format=fmt, fields=tuple(fields))


# --- regex construction --------------------------------------------------------------------


def _text_chars(escape: Escape, stop: str | None, *, strict: bool, no_space: bool) -> str:
    """A character class (or alternation) for one character of an escaped text value."""
    excluded = {'"'}
    if escape is Escape.JSON:
        excluded.add("\\")
    if strict and stop and stop != "\0":
        excluded.add(stop)
    if no_space:
        excluded.add(" ")
    cls = "[^" + "".join(_class_escape(c) for c in sorted(excluded)) + "]"
    if escape is Escape.JSON:
        return f"(?:{cls}|\\\\.)"
    return cls


def _value_pattern(field: Field, escape: Escape, *, strict: bool) -> str:
    var, shape, stop = field.var, field.var.shape, field.stop
    if escape is Escape.NONE:
        # Nothing is escaped: a value can hold anything, even the format's own quotes.
        if shape in STRICT_PATTERNS and shape is not Shape.REQUEST_ID:
            return f"(?:{STRICT_PATTERNS[shape]})?"
        return ".*?"
    empty_ok = escape is not Escape.DEFAULT and var.escaped  # json: not found → ""
    dash_ok = escape is Escape.DEFAULT and var.escaped  # default: not found → "-"

    def optional(pattern: str) -> str:
        if dash_ok:
            return f"(?:-|{pattern})"
        if empty_ok:
            return f"(?:{pattern})?"
        return pattern

    if shape in STRICT_PATTERNS:
        pattern = (
            STRICT_PATTERNS[shape] if strict else _LENIENT_TYPED.get(shape, STRICT_PATTERNS[shape])
        )
        return optional(pattern)
    if shape in LIST_SHAPES:
        if shape is Shape.LIST_TOKEN:
            item = (
                "(?:"
                + _text_chars(escape, stop, strict=True, no_space=True).replace("[^", "[^,", 1)
                + "+)"
            )
        else:
            item = LIST_ITEM_PATTERNS[shape]
        sep = ", " if strict else "(?:, | : )"
        pattern = f"{item}(?:{sep}{item})*"
        return f"(?:{pattern})?" if empty_ok else pattern
    # Only text may hold a space ($remote_user, $http_*): an address, host or scheme never
    # does, in either pass, or "vhost:80 10.0.0.1 - - [...]" would be a combined line.
    chars = _text_chars(escape, stop, strict=strict, no_space=shape is Shape.TOKEN)
    if stop is None:
        return f"{chars}*"
    return f"{chars}*" if strict else f"{chars}*?"


_LENIENT_TYPED: dict[Shape, str] = {
    Shape.INT: r"-?[0-9]+",
    Shape.SECONDS: r"[0-9]+(?:\.[0-9]+)?",
    Shape.EPOCH: r"[0-9]+(?:\.[0-9]+)?",
    Shape.TIME_LOCAL: r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}",
    Shape.TIME_ISO8601: (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})"
    ),
}


def _request_strict(field: Field, escape: Escape, capture: bool) -> str:
    """The request line split into method, path, query and protocol in one pass."""
    g = field.group
    bad = '"\\\\' if escape is Escape.JSON else '"'
    stop = field.stop if field.stop and field.stop not in '" \0' else ""
    stop_cls = _class_escape(stop) if stop else ""

    def cap(name: str, pattern: str) -> str:
        return f"(?P<{g}_{name}>{pattern})" if capture else f"(?:{pattern})"

    return (
        cap("method", "[A-Z]+")
        + " "
        + cap("path", f"[^ ?{bad}{stop_cls}]*")
        + f"(?:\\?{cap('query', f'[^ {bad}{stop_cls}]*')})?"
        + " "
        + cap("protocol", "HTTP/[0-9.]+")
    )


def _build(cf: CompiledFormat, needed: frozenset[str] | None, *, strict: bool) -> str:
    wanted = {f.index for f in cf.fields_for(needed)}
    parts = [f"^(?P<{MATCHED}>)"]
    fields = iter(cf.fields)
    for item in cf.format.items:
        if isinstance(item, Literal):
            parts.append(regex_escape(item.text))
            continue
        field = next(fields)
        capture = field.index in wanted
        if strict and field.var.shape is Shape.REQUEST:
            inner = _request_strict(field, cf.escape, capture)
            if capture and needed is not None and "request" not in needed:
                parts.append(f"(?:{inner})")
            elif capture:
                parts.append(f"(?P<{field.group}>{inner})")
            else:
                parts.append(f"(?:{inner})")
            continue
        pattern = _value_pattern(field, cf.escape, strict=strict)
        parts.append(f"(?P<{field.group}>{pattern})" if capture else f"(?:{pattern})")
    parts.append("$")
    return "".join(parts)


@lru_cache(maxsize=256)
def _strict_regex(cf: CompiledFormat, needed: frozenset[str] | None) -> str | None:
    if cf.escape is Escape.NONE:
        return None
    return _build(cf, needed, strict=True)


@lru_cache(maxsize=256)
def _lenient_regex(cf: CompiledFormat, needed: frozenset[str] | None) -> str:
    return _build(cf, needed, strict=False)
