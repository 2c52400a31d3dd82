"""Turning nginx-escaped text back into what the client sent, column at a time.

nginx escapes ``"``, ``\\``, control bytes and every byte >= 0x7F as ``\\xHH`` (default),
or writes JSON string escapes (``escape=json``). Almost no value needs decoding, so the
Python work runs only on the few values that contain a backslash; everything else stays
a zero-copy polars column.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

import polars as pl

from logtrace.log_format.grammar import Escape
from logtrace.log_format.variables import Shape
from logtrace.schema import MAX_SECONDS

HEX_ERRORS = "logtrace-hex"  # a codec error handler: bytes that are not UTF-8 as \xHH text


def _hex_escape_errors(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start : exc.end]
    return "".join(f"\\x{b:02X}" for b in bad), exc.end


codecs.register_error(HEX_ERRORS, _hex_escape_errors)

_HEX_ESCAPE = re.compile(rb"\\x([0-9A-Fa-f]{2})")
# scheme://authority and the "/" after it (or the end), or nothing at all: "/" instead
_ABSOLUTE_FORM = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?]*(?:/|$)|$)"


def unescape_nginx(value: str) -> str:
    r"""Decode nginx's ``\xHH`` escapes; bytes that are not UTF-8 stay ``\xHH`` text (as
    everywhere logtrace meets them), so ``caf\xFF`` reads as it was logged, not as ``caf�``.

    The log line itself keeps the exact bytes; this is the readable value.
    """
    raw = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), value.encode("utf-8"))
    return raw.decode("utf-8", errors=HEX_ERRORS)


_JSON_ESCAPE = re.compile(r'\\(["\\/bfnrt]|u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2})')
_JSON_SIMPLE = {
    '"': b'"',
    "\\": b"\\",
    "/": b"/",
    "b": b"\b",
    "f": b"\f",
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
}


def unescape_json(value: str) -> str:
    r"""Decode a JSON string body as nginx's ``escape=json`` writes it.

    nginx copies bytes >= 0x7F raw, so a value may be invalid UTF-8; sources.py turns
    such bytes into ``\xHH`` text, which this decodes back (scanning left to right, so an
    escaped backslash followed by "x41" stays literal text).
    """
    out = bytearray()
    pos = 0
    for m in _JSON_ESCAPE.finditer(value):
        out += value[pos : m.start()].encode("utf-8")
        esc = m.group(1)
        if esc[0] == "u":
            out += chr(int(esc[1:], 16)).encode("utf-8", errors="replace")
        elif esc[0] == "x":
            out.append(int(esc[1:], 16))
        else:
            out += _JSON_SIMPLE[esc]
        pos = m.end()
    out += value[pos:].encode("utf-8")
    return out.decode("utf-8", errors=HEX_ERRORS)


def _map_subset(series: pl.Series, needle: str, fn: Callable[[str], str]) -> pl.Series:
    """Apply ``fn`` to the values containing ``needle``; leave the rest untouched."""
    mask = series.str.contains(needle, literal=True)
    if not mask.any():
        return series
    idx = mask.arg_true()
    decoded = [fn(v) for v in series.gather(idx).to_list()]
    return series.scatter(idx, pl.Series(decoded, dtype=pl.String))


def _decode_default(series: pl.Series) -> pl.Series:
    return _map_subset(series, "\\x", unescape_nginx)


def _decode_json(series: pl.Series) -> pl.Series:
    return _map_subset(series, "\\", unescape_json)


def decode_text(raw: pl.Expr, escape: Escape) -> pl.Expr:
    r"""An expression decoding an escaped text column.

    With ``escape=none`` nothing was escaped, but bytes that were not UTF-8 still reach us
    as ``\xHH`` (see sources.py) and are decoded like nginx's own escapes.
    """
    if escape is Escape.JSON:
        return raw.map_batches(_decode_json, return_dtype=pl.String)
    return raw.map_batches(_decode_default, return_dtype=pl.String)


def split_list(raw: pl.Expr, shape: Shape, dtype: pl.DataType) -> pl.Expr:
    """An upstream list ("a, b : c") as a flat list of typed attempts; "-" items are null.

    Groups after an internal redirect (" : ") are flattened in order; count the
    redirects with :func:`upstream_redirects` when they matter.
    """
    items = raw.str.replace_all(" : ", ", ", literal=True).str.split(", ")
    inner = dtype.inner if isinstance(dtype, pl.List) else pl.String()
    element = pl.element()
    if shape is Shape.LIST_TOKEN:
        return items.list.eval(pl.when(element == "-").then(None).otherwise(element))
    if shape is Shape.LIST_SECONDS:  # an absurd time is no time (see schema.MAX_SECONDS)
        seconds = element.cast(inner, strict=False)
        return items.list.eval(pl.when(seconds < MAX_SECONDS).then(seconds))
    return items.list.eval(element.cast(inner, strict=False))


def upstream_redirects(raw: pl.Expr) -> pl.Expr:
    """How many internal redirects (" : " separators) an upstream variable shows."""
    return raw.str.count_matches(" : ", literal=True)


def split_request(request: pl.Expr) -> dict[str, pl.Expr]:
    """Method, target and protocol of a raw request line; all null when it is garbage.

    The method is the first word and the protocol the last, so targets with spaces
    (logged with a 400) and HTTP/0.9 lines without a protocol still split.
    """
    parts = request.str.extract_groups(
        r"(?s)^(?P<method>[A-Za-z_-]+) (?P<target>.*?)(?: (?P<protocol>HTTP/[0-9.]+))?$"
    )
    return {
        "method": parts.struct.field("method"),
        "target": parts.struct.field("target"),
        "protocol": parts.struct.field("protocol"),
    }


def origin_path(path: pl.Expr) -> pl.Expr:
    """The path of an absolute-form target (``http://host/p`` → ``/p``, ``http://host`` →
    ``/``) and ``/`` for an empty one; others unchanged. ``path`` holds no ``?``: the
    query is split off first.

    One regex replace: a ``when``/``otherwise`` would build both branches for every line.
    """
    return path.str.replace(_ABSOLUTE_FORM, "/")


def split_target(target: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Path and query of a request target; absolute-form targets lose scheme and host."""
    halves = target.str.splitn("?", 2)
    return origin_path(halves.struct.field("field_0")), halves.struct.field("field_1")
