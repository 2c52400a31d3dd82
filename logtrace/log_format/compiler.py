"""Compile a parsed log_format into line regexes and polars conversion expressions.

Each format gets two anchored regexes over a whole line:

* ``strict``: exact value shapes and separators that never appear inside a value
  (``[^"]*`` inside quotes, ``[^ ]*`` before a space, ``, `` lists only). It is built to
  be *one-pass* (at every byte there is one way forward), which lets the regex engine
  capture groups without backtracking: about twice as fast on typical lines.
* ``lenient``: lazy text and full upstream lists (``, `` and `` : ``). Lines that fail
  ``strict`` (a space in ``$remote_user``, a garbage request line, a redirect in the
  upstream list) are tried again with it.

A line that matches neither is rejected; parse.py counts it and explains why. Only the
groups a caller asks for are capturing (projection), so ``analyze`` does not pay for
user agents it never shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import polars as pl

from logtrace.log_format import decode
from logtrace.log_format.grammar import Escape, Literal, LogFormat, VarRef
from logtrace.log_format.variables import (
    LIST_ITEM_PATTERNS,
    LIST_SHAPES,
    STRICT_PATTERNS,
    Shape,
    Variable,
    lookup,
)
from logtrace.schema import EARLIEST, LATEST, MAX_SECONDS

MATCHED = "_matched"  # an empty group that is "" when a regex matched and null otherwise

# Request-line parts captured directly by the strict regex (no second pass needed).
REQUEST_PARTS = ("method", "path", "query", "protocol")

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
        """The fields whose columns are needed (all when ``needed`` is None)."""
        chosen: dict[str, Field] = {}
        for f in self.fields:
            cols = _columns_of(f.var)
            if needed is not None and not (set(cols) & needed):
                continue
            # The first occurrence of a column wins; time columns prefer the most precise.
            key = f.var.column
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
    chars = _text_chars(escape, stop, strict=strict, no_space=strict and shape is Shape.TOKEN)
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


# --- conversion to typed columns -------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """How one captured group becomes LINES columns, and how to spot an invalid value."""

    column: str
    expr: pl.Expr  # typed value
    invalid: pl.Expr | None  # true where the raw text was present but not convertible
    label: str  # for rejection reasons: "$status"


def _not_found(raw: pl.Expr, field: Field, escape: Escape) -> pl.Expr:
    """True where nginx wrote "not found" ("-" by default, "" under json/none)."""
    if not field.var.escaped:
        return pl.lit(value=False)
    return raw == ("-" if escape is Escape.DEFAULT else "")


def conversions(
    cf: CompiledFormat, needed: frozenset[str] | None, *, strict: bool
) -> list[Conversion]:
    """Expressions turning the captured groups of one regex into typed LINES columns."""
    out: list[Conversion] = []
    for field in cf.fields_for(needed):
        for conv in _convert(field, cf.escape, needed, strict=strict):
            # "$request ... $request_method": the first variable giving a column wins.
            if all(conv.column != done.column for done in out):
                out.append(conv)
    return out


def _convert(
    field: Field, escape: Escape, needed: frozenset[str] | None, *, strict: bool
) -> list[Conversion]:
    var, shape = field.var, field.var.shape
    raw = pl.col(field.group)
    label = f"${var.name}"
    missing = _not_found(raw, field, escape)
    if shape is Shape.REQUEST:
        return _convert_request(field, escape, needed, strict=strict)
    if shape in (Shape.TEXT, Shape.TOKEN, Shape.PIPE, Shape.REQUEST_ID):
        value = decode.decode_text(raw, escape) if var.escaped else raw
        if var.name == "request_uri":
            return _target_columns(value, missing, needed)
        expr = pl.when(missing).then(None).otherwise(value)
        return [Conversion(var.column, expr.alias(var.column), None, label)]
    if shape in LIST_SHAPES:
        expr = decode.split_list(raw, shape, var.dtype)
        expr = pl.when(missing | (raw == "-")).then(None).otherwise(expr)
        return [Conversion(var.column, expr.alias(var.column), None, label)]
    typed = _typed(raw, shape)
    expr = pl.when(missing).then(None).otherwise(typed).alias(var.column)
    invalid = raw.is_not_null() & ~missing & (raw != "") & typed.is_null()
    return [Conversion(var.column, expr, invalid, label)]


def _typed(raw: pl.Expr, shape: Shape) -> pl.Expr:
    """The typed value; null where the text is no value of the shape, or out of range
    (schema.EARLIEST, LATEST, MAX_SECONDS): such a line is rejected."""
    if shape is Shape.INT:
        return raw.cast(pl.Int64, strict=False)
    if shape is Shape.SECONDS:
        seconds = raw.cast(pl.Float64, strict=False)
        return pl.when(seconds < MAX_SECONDS).then(seconds)
    if shape is Shape.STATUS:
        return raw.cast(pl.UInt16, strict=False)
    if shape is Shape.EPOCH:
        epoch = raw.cast(pl.Float64, strict=False)
        epoch = pl.when(epoch.is_between(EARLIEST.timestamp(), LATEST.timestamp())).then(epoch)
        micros = (epoch * 1_000_000).round(0).cast(pl.Int64)
        return micros.cast(pl.Datetime("us", "UTC"))
    if shape is Shape.TIME_LOCAL:
        time = raw.str.strptime(pl.Datetime("us", "UTC"), "%d/%b/%Y:%H:%M:%S %z", strict=False)
    elif shape is Shape.TIME_ISO8601:
        time = raw.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    else:
        raise AssertionError(f"no typed conversion for {shape}")
    return pl.when(time.is_between(EARLIEST, LATEST, closed="left")).then(time)


def _convert_request(
    field: Field, escape: Escape, needed: frozenset[str] | None, *, strict: bool
) -> list[Conversion]:
    g = field.group
    out: list[Conversion] = []

    def want(column: str) -> bool:
        return needed is None or column in needed

    if strict:
        method = pl.col(f"{g}_method")
        raw_path = decode.decode_text(pl.col(f"{g}_path"), escape)
        query = decode.decode_text(pl.col(f"{g}_query"), escape)
        protocol = pl.col(f"{g}_protocol")
        target = (
            pl.when(query.is_null())
            .then(raw_path)
            .otherwise(pl.concat_str([raw_path, query], separator="?"))
        )
        path = decode.origin_path(raw_path)
        if want("request"):
            request = decode.decode_text(pl.col(g), escape)
            out.append(Conversion("request", request.alias("request"), None, "$request"))
    else:
        request = decode.decode_text(pl.col(g), escape)
        missing = _not_found(pl.col(g), field, escape)
        request = pl.when(missing).then(None).otherwise(request)
        parts = decode.split_request(request)
        method, target, protocol = parts["method"], parts["target"], parts["protocol"]
        path, query = decode.split_target(target)
        if want("request"):
            out.append(Conversion("request", request.alias("request"), None, "$request"))
    for name, expr in (
        ("method", method),
        ("target", target),
        ("path", path),
        ("query", query),
        ("protocol", protocol),
    ):
        if want(name):
            out.append(Conversion(name, expr.alias(name), None, "$request"))
    return out


def _target_columns(
    target: pl.Expr, missing: pl.Expr, needed: frozenset[str] | None
) -> list[Conversion]:
    target = pl.when(missing).then(None).otherwise(target)
    path, query = decode.split_target(target)
    out = []
    for name, expr in (("target", target), ("path", path), ("query", query)):
        if needed is None or name in needed:
            out.append(Conversion(name, expr.alias(name), None, "$request_uri"))
    return out
