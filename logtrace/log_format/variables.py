"""What logtrace knows about nginx variables: value shape, polars dtype, unit, column.

The facts come from nginx's source (``ngx_http_log_module.c``, ``ngx_http_variables.c``,
``ngx_http_upstream.c``); see the README's format section. A variable that is not listed
here is still accepted and parsed as text, like nginx's own ``map``/``set`` variables.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum

import polars as pl


class Shape(Enum):
    """The shape of a logged value; decides its regex and how it is converted."""

    TEXT = "text"  # anything; escaped by nginx; "-" when not found
    TOKEN = "token"  # text that never contains a space (addresses, hosts, schemes)
    INT = "int"
    SECONDS = "seconds"  # "%T.%03M": whole seconds and milliseconds
    EPOCH = "epoch"  # $msec: unix seconds with milliseconds
    TIME_LOCAL = "time_local"  # 26/Nov/2026:08:00:51 -0330
    TIME_ISO8601 = "time_iso8601"  # 2026-11-26T08:00:51-03:30
    STATUS = "status"  # three digits; 000 and 009 exist
    REQUEST_ID = "request_id"  # 32 lowercase hex digits
    PIPE = "pipe"  # "p" or "."
    REQUEST = "request"  # the raw request line: METHOD TARGET PROTOCOL, or garbage
    LIST_TOKEN = "list_token"  # upstream lists: ", " between attempts, " : " between groups
    LIST_STATUS = "list_status"
    LIST_SECONDS = "list_seconds"
    LIST_INT = "list_int"


LIST_SHAPES = frozenset({Shape.LIST_TOKEN, Shape.LIST_STATUS, Shape.LIST_SECONDS, Shape.LIST_INT})
TIME_SHAPES = frozenset({Shape.EPOCH, Shape.TIME_LOCAL, Shape.TIME_ISO8601})

# One regex per shape for the strict (fast, one-pass) line regex. Text-like shapes get
# their pattern from the surrounding literals instead; see compiler.py.
_LIST_SEP_STRICT = ", "
STRICT_PATTERNS: dict[Shape, str] = {
    Shape.INT: r"[0-9]+",
    Shape.SECONDS: r"[0-9]+\.[0-9]{3}",
    Shape.EPOCH: r"[0-9]+\.[0-9]{3}",
    Shape.TIME_LOCAL: r"[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}",
    Shape.TIME_ISO8601: (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}"
    ),
    Shape.STATUS: r"[0-9]{3}",
    Shape.REQUEST_ID: r"[0-9a-f]{32}",
    Shape.PIPE: r"[p.]",
}
LIST_ITEM_PATTERNS: dict[Shape, str] = {
    Shape.LIST_STATUS: r"(?:[0-9]{3}|-)",
    Shape.LIST_SECONDS: r"(?:[0-9]+\.[0-9]{3}|-)",
    Shape.LIST_INT: r"(?:[0-9]+|-)",
}

# nginx's nine "log ops" are written by the log module itself: never escaped, never "-".
LOG_OPS = frozenset(
    {
        "pipe",
        "time_local",
        "time_iso8601",
        "msec",
        "request_time",
        "status",
        "bytes_sent",
        "body_bytes_sent",
        "request_length",
    }
)


@dataclass(frozen=True)
class Variable:
    """One nginx variable as logtrace parses it."""

    name: str
    shape: Shape
    column: str  # the LINES column it lands in (units in the name)
    unit: str | None = None
    doc: str = ""

    @property
    def escaped(self) -> bool:
        """Whether nginx escapes this value (and may write "-" for not found)."""
        return self.name not in LOG_OPS

    @property
    def is_list(self) -> bool:
        return self.shape in LIST_SHAPES

    @property
    def dtype(self) -> pl.DataType:
        """The polars dtype of the parsed column."""
        return _DTYPES[self.shape]


_DTYPES: dict[Shape, pl.DataType] = {
    Shape.TEXT: pl.String(),
    Shape.TOKEN: pl.String(),
    Shape.INT: pl.Int64(),
    Shape.SECONDS: pl.Float64(),
    Shape.EPOCH: pl.Datetime("us", "UTC"),
    Shape.TIME_LOCAL: pl.Datetime("us", "UTC"),
    Shape.TIME_ISO8601: pl.Datetime("us", "UTC"),
    Shape.STATUS: pl.UInt16(),
    Shape.REQUEST_ID: pl.String(),
    Shape.PIPE: pl.String(),
    Shape.REQUEST: pl.String(),
    Shape.LIST_TOKEN: pl.List(pl.String()),
    Shape.LIST_STATUS: pl.List(pl.UInt16()),
    Shape.LIST_SECONDS: pl.List(pl.Float64()),
    Shape.LIST_INT: pl.List(pl.Int64()),
}


def _v(
    name: str, shape: Shape, column: str | None = None, unit: str | None = None, doc: str = ""
) -> Variable:
    return Variable(name=name, shape=shape, column=column or name, unit=unit, doc=doc)


_KNOWN: tuple[Variable, ...] = (
    _v("remote_addr", Shape.TOKEN, doc="client address"),
    _v("realip_remote_addr", Shape.TOKEN),
    _v("binary_remote_addr", Shape.TEXT),
    _v("remote_port", Shape.INT),
    _v("remote_user", Shape.TEXT, doc="Basic-auth user; may contain spaces"),
    _v("time_local", Shape.TIME_LOCAL, "time", doc="log-write (request END) time, 1 s precision"),
    _v(
        "time_iso8601",
        Shape.TIME_ISO8601,
        "time",
        doc="log-write (request END) time, 1 s precision",
    ),
    _v("msec", Shape.EPOCH, "time", doc="log-write (request END) time, 1 ms precision"),
    _v("request_time", Shape.SECONDS, "request_time_s", "s", "first byte read to log write"),
    _v("request", Shape.REQUEST, doc="raw request line"),
    _v("request_method", Shape.TOKEN, "method"),
    _v("request_uri", Shape.TEXT, "target"),
    _v("uri", Shape.TEXT, "path", doc="path after internal rewrites, decoded, no query"),
    _v("document_uri", Shape.TEXT, "path"),
    _v("args", Shape.TEXT),
    _v("query_string", Shape.TEXT),
    _v("is_args", Shape.TEXT),
    _v("scheme", Shape.TOKEN),
    _v("server_protocol", Shape.TOKEN, "protocol"),
    _v("host", Shape.TOKEN),
    _v("hostname", Shape.TOKEN),
    _v("server_name", Shape.TOKEN),
    _v("server_addr", Shape.TOKEN),
    _v("server_port", Shape.INT),
    _v("status", Shape.STATUS, doc="response status; 000 if unset, 009 for HTTP/0.9"),
    _v("body_bytes_sent", Shape.INT, unit="bytes"),
    _v("bytes_sent", Shape.INT, unit="bytes"),
    _v("request_length", Shape.INT, unit="bytes"),
    _v("content_length", Shape.TEXT),
    _v("content_type", Shape.TEXT),
    _v("request_id", Shape.REQUEST_ID, doc="16 random bytes as 32 lowercase hex digits"),
    _v("connection", Shape.INT),
    _v("connection_requests", Shape.INT),
    _v("pipe", Shape.PIPE),
    _v("pid", Shape.INT),
    _v("nginx_version", Shape.TOKEN),
    _v("request_completion", Shape.TEXT),
    _v("gzip_ratio", Shape.TEXT),
    _v("ssl_protocol", Shape.TOKEN),
    _v("ssl_cipher", Shape.TOKEN),
    _v("ssl_session_reused", Shape.TOKEN),
    _v("ssl_server_name", Shape.TOKEN),
    _v("proxy_add_x_forwarded_for", Shape.TEXT),
    _v("upstream_addr", Shape.LIST_TOKEN, doc="one address per attempt"),
    _v("upstream_status", Shape.LIST_STATUS),
    _v("upstream_response_time", Shape.LIST_SECONDS, "upstream_response_time_s", "s"),
    _v("upstream_connect_time", Shape.LIST_SECONDS, "upstream_connect_time_s", "s"),
    _v("upstream_header_time", Shape.LIST_SECONDS, "upstream_header_time_s", "s"),
    _v("upstream_queue_time", Shape.LIST_SECONDS, "upstream_queue_time_s", "s"),
    _v("upstream_response_length", Shape.LIST_INT, unit="bytes"),
    _v("upstream_bytes_received", Shape.LIST_INT, unit="bytes"),
    _v("upstream_bytes_sent", Shape.LIST_INT, unit="bytes"),
    _v("upstream_cache_status", Shape.TEXT),
    _v("upstream_last_server_name", Shape.TEXT),
    # ingress-nginx's own variables, common enough to know by name.
    _v("req_id", Shape.TEXT, "request_id", doc="ingress-nginx request id"),
    _v("proxy_upstream_name", Shape.TEXT),
    _v("proxy_alternative_upstream_name", Shape.TEXT),
)

KNOWN_VARIABLES: dict[str, Variable] = {v.name: v for v in _KNOWN}

# Families of variables nginx creates on demand from a prefix; all are escaped text.
_PREFIXES = (
    "http_",
    "sent_http_",
    "sent_trailer_",
    "cookie_",
    "arg_",
    "upstream_http_",
    "upstream_cookie_",
    "upstream_trailer_",
)


def lookup(name: str) -> Variable:
    """The Variable for ``name``; unknown names are text (nginx's map/set variables)."""
    known = KNOWN_VARIABLES.get(name)
    if known is not None:
        return known
    return Variable(name=name, shape=Shape.TEXT, column=name)


def is_known(name: str) -> bool:
    """Whether nginx itself defines ``name`` (or a prefix family such as ``http_*``)."""
    return name in KNOWN_VARIABLES or name.startswith(_PREFIXES)


def suggest(name: str) -> str | None:
    """The nearest known variable name, for "did you mean" hints."""
    matches = difflib.get_close_matches(name, list(KNOWN_VARIABLES), n=1, cutoff=0.75)
    return matches[0] if matches else None
