"""logfmt, Python ``logging`` and free-text entries → RAW fields.

All three carry ``key=value`` pairs (logfmt nothing else; the others somewhere in their
text), so each field is one targeted regex over the line: a key of its role after the
start of the line or a separator, then the value, bare or double-quoted (with ``\\"`` and
``\\\\`` escapes). The leftmost pair of the role wins. Text and Python logging lines also
have a header (timestamp, level, logger) and a message: the rest of the line.

The keys a chunk uses are learnt from a sample of it (``keys.sample_of``) and the regexes
name only those: polars' cost for a capture grows with the work the regex does, and a
role whose keys the chunk never uses costs nothing. A request id under a key the sample
missed is still found (``keys.fill_missing_ids``).

Why not one pass over all the pairs of a line (``str.extract_all`` of every pair, explode,
key → role, the first pair per line and role, pivot)? Measured on a 93k-line chunk of the
benchmark's logfmt file on one core (polars 2.1), the pass alone costs what the ten
targeted regexes cost together (~0.3 s), before the check that it found the pairs they
would (no pair inside a quoted value or an unquoted one, no empty value) and the values'
unquoting. Polars pays a price per row and per match whatever the pattern, and the
exploded pairs are ten times the rows.

A logfmt logger writes the same keys in the same order for each kind of event, so most of
a chunk's lines follow one of a few *shapes* (key sequences), learnt from its sample. A
shape is one regex over the whole line with a capture per role, which reads its lines in
one pass: on that chunk the fields took 182 ms instead of 255 ms (one core). A shape is
read apart only where its pass pays (``_SHAPE_PAYS``): a log of many key orders is read
as before. A shape reads a line the way the targeted regexes do
(``tests/test_applog_fast.py`` compares them), and leaves them any line where they could
find a pair inside a value.
"""

from __future__ import annotations

import re

import polars as pl

from logtrace.applog.keys import RAW, alternation, fill_missing_ids, keys_of, sample_of
from logtrace.applog.shapes import (
    PYTHON_HEADER,
    TEXT_HEADER,
    TEXT_HEADERS,
    TIME_HEADER,
    AppFormat,
    header_field,
)

_BOUNDARY = r"(?:^|[ \t\[(,;{])"
_KEY = r"[\w.@-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_WORD = r'[^ \t",;()\[\]{}]+'  # ids, levels, names: stop at punctuation around them
_TOKEN = r'[^ \t"]+'  # times, URLs, bare messages: commas and brackets are part of them
_BARE_BY_ROLE = {"time": _TOKEN, "url": _TOKEN, "message": _TOKEN}
_ROLES = (
    "time",
    "level",
    "message",
    "request_id",
    "method",
    "url",
    "target",
    "status",
    "peer",
    "caller",
    "service",
    "host",
    "duration",
)
# A quoted value with something like a pair inside (msg="retry status=500"): the line
# is read again with regexes that cannot find a pair inside quotes. A loose test (a
# false alarm only costs time), true on few lines of a real log.
_PAIR_IN_QUOTES = r'="(?:[^"\\]|\\.)*?[ \t\[(,;{][\w.@-]+='
# A logger name that names no service.
_ANONYMOUS_LOGGERS = ["root", "__main__"]


def keyvalue_fields(
    starts: pl.DataFrame, fmt: AppFormat, id_fields: tuple[str, ...]
) -> pl.DataFrame:
    """RAW fields of logfmt, Python logging or text entries (``line_no``/``line``)."""
    line = pl.col("line")
    present = _keys_in(starts)
    keys = {role: keys_of(role, present, id_fields) for role in _ROLES}
    # Text lines begin with any of the header forms; logfmt and Python logging lines fall
    # back to "[time] LEVEL" only (the other forms would cost time on every line for nothing).
    forms = TEXT_HEADERS if fmt is AppFormat.TEXT else TEXT_HEADERS[-1:]
    header = TEXT_HEADER if fmt is AppFormat.TEXT else TIME_HEADER
    python = fmt is AppFormat.PYTHON_LOGGING
    first = (
        line.str.extract_groups(PYTHON_HEADER).alias("_py")
        if python
        else line.str.extract_groups(header).alias("_text")
    )
    templated: list[pl.DataFrame] = []
    rest = starts
    if fmt is AppFormat.LOGFMT and starts.height >= _SHAPES_FROM:
        templated, rest = _by_templates(starts, keys)
    # Lazy, so that polars computes an expression used twice (a struct's fields) once.
    found = (
        rest.lazy()
        .with_columns(*(_pair(role, keys[role]).alias(role) for role in _ROLES), first)
        .collect()
    )
    if python:
        # The fallback header only where logging's own did not match: where it did, it
        # gives the time, level, logger and head, which the fallback's would only follow.
        others = found.filter(pl.col("_py").struct.field("head").is_null())
        found = found.join(
            others.select("line_no", line.str.extract_groups(header).alias("_text")),
            on="line_no",
            how="left",
            maintain_order="left",
        )
    tricky = rest.filter(line.str.contains(_PAIR_IN_QUOTES).fill_null(False))
    if tricky.height:
        again = tricky.lazy().select(
            "line_no", *(_pair(role, keys[role], skip_quoted=True).alias(role) for role in _ROLES)
        )
        found = found.update(again.collect(), on="line_no", include_nulls=True)
    if templated:
        found = pl.concat([*templated, found], how="diagonal").sort("line_no")
    values = {role: _value(found, role) for role in _ROLES}

    text = pl.col("_text").struct
    head_time, head_level = header_field(text, forms, "time"), header_field(text, forms, "level")
    head = header_field(text, forms, "head")
    logger = header_field(text, forms, "logger").str.strip_chars()
    logger = pl.when(logger != "").then(logger)
    if fmt is AppFormat.PYTHON_LOGGING:
        py = pl.col("_py").struct
        head_time = pl.coalesce(py.field("time"), head_time)
        head_level = pl.coalesce(py.field("level"), py.field("level2"), head_level)
        head = pl.coalesce(py.field("head"), head)
        logger = pl.coalesce(py.field("logger"), py.field("logger2"), logger)
    # A logger names the service by its first part (``inventory.db`` → inventory), unless
    # it is a JVM class (``com.example.orders.OrderController``: no service in that).
    logger = pl.when(~logger.str.contains(r"^(?:com|org|net|io|java|javax)\.")).then(
        logger.str.extract(r"^([^.]+)")
    )
    logger = pl.when(~logger.is_in(_ANONYMOUS_LOGGERS)).then(logger)
    if fmt is AppFormat.LOGFMT:
        time = pl.coalesce(values["time"], head_time)
        level = pl.coalesce(values["level"], head_level)
        message = values["message"]
    else:
        time = pl.coalesce(head_time, values["time"])
        level = pl.coalesce(head_level, values["level"])
        after_head = line.str.slice(head.str.len_chars()).str.strip_chars_start()
        message = (
            pl.when(head.is_not_null())
            .then(after_head)
            .otherwise(pl.coalesce(values["message"], line))
        )
    duration_key = (
        pl.col("duration").str.extract(rf"^({alternation(keys['duration'])})=", 1)
        if keys["duration"]
        else pl.lit(None, pl.String)
    )
    raw = found.lazy().select(
        "line_no",
        time.alias("time_raw"),
        level.alias("level"),
        message.alias("message"),
        values["request_id"].alias("request_id"),
        values["method"].alias("method"),
        values["url"].alias("url"),
        values["target"].alias("target"),
        values["status"].alias("status"),
        duration_key.alias("duration_key"),
        values["duration"].alias("duration_raw"),
        values["peer"].alias("peer"),
        pl.coalesce(values["caller"], header_field(text, forms, "caller")).alias("caller"),
        values["service"].alias("service"),
        logger.alias("logger"),
        values["host"].alias("host"),
        pl.lit(None, pl.String).alias("reason"),
    )
    return fill_missing_ids(raw.cast(pl.Schema(RAW)).collect(), starts, id_fields)


def _by_templates(
    starts: pl.DataFrame, keys: dict[str, list[str]]
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """The role columns (as ``_pair`` gives them) of the lines that follow one of the
    chunk's commonest key sequences, and the lines that follow none.

    A logger writes the same keys in the same order for each kind of event
    (``ts level msg req_id method path status took``), so a chunk's lines take a few
    shapes. Each shape is one regex over the whole line, a capture per role: one pass
    where the targeted regexes make one per role. A line is read by a shape only if it is
    nothing but its pairs, one space apart, and no bare value has an ``=`` after a mark a
    pair may follow (``url=/a;status=5``): the targeted regexes would find a pair there,
    so such a line is left to them. Pairs inside quoted values they do not find
    (``_PAIR_IN_QUOTES``), nor does a shape.
    """
    role_of: dict[str, list[str]] = {}
    for role in _ROLES:
        for key in keys[role]:
            role_of.setdefault(key, []).append(role)
    done: list[pl.DataFrame] = []
    rest = starts
    for shape in _shapes(starts):
        template = _template(shape, role_of)
        if template is None:
            continue
        pattern, columns = template
        rest = rest.with_columns(pl.col("line").str.extract_groups(pattern).alias("_shape"))
        matched = pl.col("_shape").struct.field("r0").is_not_null()
        done.append(
            rest.lazy()
            .filter(matched)
            .select("line_no", *(column.alias(role) for role, column in columns.items()))
            .collect()
        )
        rest = rest.filter(~matched).drop("_shape")
        if rest.is_empty():
            break
    return done, rest


# A shape's pass costs ~2 ms whatever the lines (measured); on fewer lines than this the
# targeted regexes cost less than the passes they would save.
_SHAPES_FROM = 4096
_MOST_SHAPES = 8
# A shape's pass over a line it does not read costs about a quarter of what it saves on a
# line it reads (0.37 µs against 2.08 - 0.65 µs for the targeted regexes less the shape's
# capture; one core, a chunk of the benchmark's logfmt log): a shape is worth its pass if
# it reads at least a quarter of the lines the shapes before it left.
_SHAPE_PAYS = 4
_SHAPE_SAMPLE = 2048  # lines the shapes are learnt on (~2 ms; the keys' sample ~14 ms)
_SHAPE_VALUE = rf"=(?:{_QUOTED}|{_TOKEN})"
# A bare value of a shape: no ``=`` after a character a pair may follow (``/a;b=c``), so
# that a shape never reads a line whose pairs the targeted regexes would find inside a
# value; such a line is theirs. Each regex reads a value one way only (an ambiguous one
# doubles the capture's cost).
_LONE_TOKEN = r'(?:[^ \t",;(\[{]+(?:[,;(\[{][^ \t"=]*)?|[,;(\[{][^ \t"=]*)'
_WORD_TAIL = r'(?:[,;()\[\]{}][^ \t"=]*)?'


def _shapes(starts: pl.DataFrame) -> list[list[str]]:
    """The key sequences the chunk's sample lines are made of that are worth a pass,
    commonest first (``_SHAPE_PAYS``)."""
    # lines spread over the chunk: the shares a pass is judged on, not every key
    sample = starts.gather_every(max(1, starts.height // _SHAPE_SAMPLE))
    shapes = (
        sample.select(pl.col("line").str.replace_all(_SHAPE_VALUE, "=").alias("shape"))
        .filter(pl.col("shape").str.contains(rf"^{_KEY}=(?: {_KEY}=)*$"))
        .group_by("shape")
        .len()
        .sort("len", "shape", descending=[True, False])
        .head(_MOST_SHAPES)
    )
    chosen, left = [], sample.height
    for shape, lines in shapes.iter_rows():
        if lines < 2 or _SHAPE_PAYS * lines < left:
            break
        chosen.append(shape.removesuffix("=").split("= "))
        left -= lines
    return chosen


def _template(
    shape: list[str], role_of: dict[str, list[str]]
) -> tuple[str, dict[str, pl.Expr]] | None:
    """A regex for a line of these keys, a group ``rN`` for the first key of each role,
    and each role's column from the groups (``_shape``'s fields); None if no key has a
    role or one key's roles would read its bare value apart."""
    fields = pl.col("_shape").struct
    parts: list[str] = []
    columns: dict[str, pl.Expr] = {}
    groups = 0
    for key in shape:
        roles = [role for role in role_of.get(key, []) if role not in columns]
        bare = {_BARE_BY_ROLE.get(role, _WORD) for role in roles}
        if len(bare) > 1:
            return None
        if not roles:
            parts.append(rf"{re.escape(key)}=(?:{_QUOTED}|{_LONE_TOKEN})")
            continue
        group = f"r{groups}"
        groups += 1
        if bare.pop() == _TOKEN:
            value = rf"(?P<{group}>{_QUOTED}|{_LONE_TOKEN})"
        else:  # a word, then what it stopped at and the rest of the value
            value = rf"(?P<{group}>{_QUOTED}|{_WORD}){_WORD_TAIL}"
        parts.append(rf"{re.escape(key)}={value}")
        for role in roles:
            captured = fields.field(group)
            columns[role] = (
                pl.concat_str(pl.lit(f"{key}="), captured) if role == "duration" else captured
            )
    if not columns:
        return None
    for role in _ROLES:
        columns.setdefault(role, pl.lit(None, pl.String))
    return "^" + " ".join(parts) + "$", columns


def _keys_in(starts: pl.DataFrame) -> list[str]:
    """The keys of the ``key=`` pairs on the chunk's sample lines."""
    found = sample_of(starts).select(
        pl.col("line")
        .str.extract_all(rf"{_BOUNDARY}{_KEY}=")
        .explode()
        .drop_nulls()
        .unique(maintain_order=True)
    )
    return [k.lstrip(" \t[(,;{").removesuffix("=") for k in found.to_series().to_list()]


def _pair(role: str, keys: list[str], *, skip_quoted: bool = False) -> pl.Expr:
    """The leftmost pair of the role: its value as logged (quotes and all); for a
    duration, ``key=value`` (the key carries the unit).

    ``skip_quoted`` steps over quoted values from the start of the line, so that no pair
    is found inside one; slower, as polars then captures from the start of the line.
    """
    if not keys:
        return pl.lit(None, pl.String)
    bare = _BARE_BY_ROLE.get(role, _WORD)
    key = alternation(keys)
    before = rf"^(?:[^\"]|{_QUOTED})*?{_BOUNDARY}" if skip_quoted else _BOUNDARY
    if role == "duration":
        return pl.col("line").str.extract(rf"{before}({key}=(?:{_QUOTED}|{bare}))", 1)
    return pl.col("line").str.extract(rf"{before}{key}=({_QUOTED}|{bare})", 1)


def _value(found: pl.DataFrame, role: str) -> pl.Expr:
    r"""The text of a role's values: quotes removed, ``\"``/``\\`` undone; "-" and ""
    are no value. Each step only where the chunk needs it: most chunks quote nothing but
    their messages."""
    value = pl.col(role)
    column = found[role]
    if role == "duration" and column.is_not_null().any():
        value = value.str.replace(r"^[^=]*=", "")
        column = found.select(value).to_series()
    if column.str.starts_with('"').any():
        inner = value.str.slice(1, value.str.len_chars() - 2).str.replace_all(r'\\(["\\])', "$1")
        value = pl.when(value.str.starts_with('"')).then(inner).otherwise(value)
    if role != "message" and column.is_in(['""', "-"]).any():
        value = pl.when(~value.is_in(["", "-"])).then(value)
    return value
