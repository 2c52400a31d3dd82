"""A log_format guessed from the lines themselves, for an nginx log in a format of its own.

Custom formats are mostly a known beginning (``combined`` or ``main``) and variables added
after it, often as ``key=value`` (``rt=$request_time uct="$upstream_connect_time"``, the
example in nginx's own documentation), or JSON (``escape=json``) with keys of the admin's
choosing. When no preset and no nginx.conf format matches a file, its first lines are cut
into fields and each field is named by what it holds and what its key says:

* ``[26/Nov/2026:08:00:51 +0000]`` is ``$time_local``; ``2026-11-26T08:00:51+00:00``
  ``$time_iso8601``; ``1796294415.250`` ``$msec``;
* ``"GET /path HTTP/1.1"`` is ``$request``; the quoted fields after it ``$http_referer``
  and ``$http_user_agent``, as in ``combined``; a 3-digit number after the request is
  ``$status``, the number after it ``$body_bytes_sent``;
* a key names its variable: ``rt``/``request_time`` → ``$request_time``, ``urt`` →
  ``$upstream_response_time``, ``uct``/``uht``, ``ua``/``upstream`` → ``$upstream_addr``
  (an address list), ``us`` → ``$upstream_status``, ``rid``/``xrid``/``cid``/``trace_id``
  → a request id (``$request_id``, ``$http_x_request_id``, ``$http_x_correlation_id`` ...);
* without a key: seconds with three decimals are ``$request_time`` then
  ``$upstream_response_time``, 32 hex digits ``$request_id``, ``host:port`` lists
  ``$upstream_addr``; anything else is kept as a field of its own name.

The guess is compiled like any format and used only when it matches nearly all the first
lines; the report says the format was inferred and shows it, so it can be given with
``--log-format`` (or read from nginx.conf) instead.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

from logtrace.errors import FormatError
from logtrace.log_format.grammar import Escape, LogFormat, parse_body

MIN_LINES = 3
# What an application's own log lines do not have: nginx's request line, its time format,
# its millisecond epoch, its request and upstream timings.
_NGINX_STRONG = frozenset(
    {"request", "time_local", "msec", "upstream_addr", "upstream_status", "upstream_response_time"}
)
_NGINX_ONLY = _NGINX_STRONG | {"request_time"}

_TIME_LOCAL = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z)$")
_MSEC = re.compile(r"^\d{10}\.\d{3}$")
_REQUEST = re.compile(r"^[A-Z]{3,10} \S+(?: HTTP/\d(?:\.\d)?)?$")
_SECONDS = re.compile(r"^\d+\.\d{3}$")
_SECONDS_LIST = re.compile(r"^(?:\d+\.\d{3}|-)(?:(?:, | : )(?:\d+\.\d{3}|-))*$")
_STATUS = re.compile(r"^[1-5]\d\d$")
_STATUS_LIST = re.compile(r"^(?:\d{3}|-)(?:(?:, | : )(?:\d{3}|-))*$")
_INT = re.compile(r"^\d+$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_UUID = re.compile(r"^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_ADDR = re.compile(r"^(?:[\w.:\[\]-]+:\d+|unix:\S+)$")
_ADDR_LIST = re.compile(r"^(?:[\w.:\[\]-]+:\d+|unix:\S+|-)(?:(?:, | : )(?:[\w.:\[\]-]+:\d+|-))*$")
_IP = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)$")
_IP_ONE = r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+|unknown)"
_IP_LIST = re.compile(rf"^{_IP_ONE}(?:, {_IP_ONE})+$")  # X-Forwarded-For: client, proxies
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d+)?$")
_HOST_PORT = re.compile(r"^[^:]+:\d+$")

# key (lower case, without separators) → variable, and the shape its value must have
_KEYS: dict[str, tuple[str, re.Pattern[str] | None]] = {
    "ua2": ("http_user_agent", None),  # "ua" holding no addresses: a user agent
    "rt": ("request_time", _SECONDS),
    "requesttime": ("request_time", _SECONDS),
    "reqtime": ("request_time", _SECONDS),
    "urt": ("upstream_response_time", _SECONDS_LIST),
    "upstreamresponsetime": ("upstream_response_time", _SECONDS_LIST),
    "upstreamtime": ("upstream_response_time", _SECONDS_LIST),
    "ut": ("upstream_response_time", _SECONDS_LIST),
    "uct": ("upstream_connect_time", _SECONDS_LIST),
    "upstreamconnecttime": ("upstream_connect_time", _SECONDS_LIST),
    "uht": ("upstream_header_time", _SECONDS_LIST),
    "upstreamheadertime": ("upstream_header_time", _SECONDS_LIST),
    "ua": ("upstream_addr", _ADDR_LIST),
    "upstream": ("upstream_addr", _ADDR_LIST),
    "upstreamaddr": ("upstream_addr", _ADDR_LIST),
    "us": ("upstream_status", _STATUS_LIST),
    "upstreamstatus": ("upstream_status", _STATUS_LIST),
    "msec": ("msec", _MSEC),
    "ts": ("msec", _MSEC),
    "timestamp": ("msec", _MSEC),
    "time": ("time_iso8601", _ISO),
    "timelocal": ("time_local", _TIME_LOCAL),
    "timeiso8601": ("time_iso8601", _ISO),
    "status": ("status", _STATUS),
    "request": ("request", _REQUEST),
    "method": ("request_method", None),
    "requestmethod": ("request_method", None),
    "uri": ("uri", None),
    "path": ("uri", None),
    "requesturi": ("request_uri", None),
    "host": ("host", None),
    "remoteaddr": ("remote_addr", None),
    "ip": ("remote_addr", None),
    "bytes": ("body_bytes_sent", _INT),
    "bodybytessent": ("body_bytes_sent", _INT),
    "bytessent": ("bytes_sent", _INT),
    "referer": ("http_referer", None),
    "referrer": ("http_referer", None),
    "useragent": ("http_user_agent", None),
    "agent": ("http_user_agent", None),
    "rid": ("request_id", None),
    "reqid": ("request_id", None),
    "requestid": ("request_id", None),
    "id": ("request_id", None),
    "xrid": ("http_x_request_id", None),
    "xrequestid": ("http_x_request_id", None),
    "xreqid": ("http_x_request_id", None),
    "inxrequestid": ("http_x_request_id", None),
    "cid": ("http_x_correlation_id", None),
    "correlationid": ("http_x_correlation_id", None),
    "xcorrelationid": ("http_x_correlation_id", None),
    "traceid": ("trace_id", None),
    "traceparent": ("http_traceparent", _TRACEPARENT),
    "intraceparent": ("http_traceparent", _TRACEPARENT),
}


@dataclass(frozen=True)
class Inferred:
    """A guessed format and how many sample lines it was guessed from."""

    format: LogFormat
    lines: int


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _variable(key: str | None, values: list[str], taken: set[str]) -> str:
    """The variable a field holds, from its key and the values seen in it."""
    if key is not None:
        for alias in (_key(key), _key(key) + "2"):
            known = _KEYS.get(alias)
            if known is None or known[0] in taken:
                continue
            name, shape = known
            if shape is None or all(shape.match(v) or v in ("-", "") for v in values):
                return name
    else:  # a key nobody knows names its field; only a field without one is told by shape
        by_shape = _by_shape(values, taken)
        if by_shape is not None:
            return by_shape
    base = re.sub(r"\W", "_", key or "field").strip("_").lower() or "field"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _by_shape(values: list[str], taken: set[str]) -> str | None:
    """A variable told by its values alone, or None."""
    real = [v for v in values if v not in ("-", "")]
    if not real:
        return None
    shapes: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
        (_MSEC, ("msec",)),
        (_SECONDS, ("request_time", "upstream_response_time")),
        (_SECONDS_LIST, ("upstream_response_time",)),
        (_HEX32, ("request_id", "http_x_request_id")),
        (_UUID, ("request_id", "http_x_request_id")),
        (_TRACEPARENT, ("http_traceparent",)),
        (_ADDR_LIST, ("upstream_addr",)),
        (_ISO, ("time_iso8601",)),
    )
    for pattern, names in shapes:
        if all(pattern.match(v) for v in real):
            free = [n for n in names if n not in taken]
            if free:
                return free[0]
    return None


# --- text lines --------------------------------------------------------------------------------

_FIELD = re.compile(
    r'(?P<key>[A-Za-z_][\w.-]*=)?(?:"(?P<q>(?:[^"\\]|\\.)*)"|\[(?P<b>[^\]]*)\]|(?P<w>[^\s"\[]+))'
)


_Row = list[tuple[str | None, str, str, str]]  # (key, value, quote, separator) per field


def _fields(line: str) -> _Row | None:
    """(key, value, quote, separator before) for each field; lists joined (``0.1, 0.2``)."""
    out: list[tuple[str | None, str, str, str]] = []
    pos = 0
    while pos < len(line):
        sep_end = pos
        while sep_end < len(line) and line[sep_end] == " ":
            sep_end += 1
        m = _FIELD.match(line, sep_end)
        if m is None:
            return None
        key = m["key"][:-1] if m["key"] else None
        if m["q"] is not None:
            value, quote = m["q"], '"'
        elif m["b"] is not None:
            value, quote = m["b"], "["
        else:
            value, quote = m["w"], ""
        separator = line[pos:sep_end]
        # "0.001, 0.002" and "a : b": one list, as nginx writes upstream values
        if (
            out
            and key is None
            and quote == ""
            and out[-1][2] == ""
            and (out[-1][1].endswith(",") or value == ":" or out[-1][1].endswith(" :"))
        ):
            k, v, q, s = out[-1]
            out[-1] = (k, f"{v}{separator}{value}", q, s)
        else:
            out.append((key, value, quote, separator))
        pos = m.end()
    return out


def _text_format(lines: list[str]) -> str | None:
    parsed = [f for f in (_fields(line) for line in lines) if f]
    if len(parsed) < MIN_LINES:
        return None
    shape = Counter(tuple((k, q, s) for k, _, q, s in f) for f in parsed).most_common(1)[0][0]
    rows = [f for f in parsed if tuple((k, q, s) for k, _, q, s in f) == shape]
    if len(rows) < MIN_LINES:
        return None
    taken: set[str] = set()
    parts: list[str] = []
    after_request = 0
    addr = _address_at(shape, rows)
    for i, (key, quote, separator) in enumerate(shape):
        values = [row[i][1] for row in rows]
        if addr == 1 and i == 0:  # a vhost before the address (lnav's and GoAccess's)
            ported = all(_HOST_PORT.match(v) for v in values)
            taken |= {"host", "server_port"} if ported else {"host"}
            parts += [separator, "$host:$server_port" if ported else "$host"]
            continue
        name = _text_variable(i - max(addr, 0), key, quote, values, taken, after_request)
        if name == "request" or after_request:
            after_request += 1
        parts.append(separator)
        if name is None:  # a constant ("-" after the address in combined)
            parts.append(_quoted(values[0], quote))
            continue
        taken.add(name)
        body = f"${name}"
        parts.append(f"{key}=" if key else "")
        parts.append(_quoted(body, quote))
    return "".join(parts)


def _address_at(shape: tuple[tuple[str | None, str, str], ...], rows: list[_Row]) -> int:
    """Where the client's address is: 0 as in combined, 1 after a vhost (``localhost:80
    192.168.0.1 - - [...]``), -1 when neither."""
    bare = [i for i, (key, quote, _) in enumerate(shape[:2]) if key is None and quote == ""]
    if bare[:1] != [0]:
        return -1
    first = [row[0][1] for row in rows]
    if all(_IP.match(v) or _IP_LIST.match(v) for v in first):
        return 0
    vhost = bare[1:] == [1] and all(_HOST.match(v) for v in first)
    return 1 if vhost and all(_IP.match(row[1][1]) for row in rows) else -1


def _quoted(body: str, quote: str) -> str:
    return {'"': f'"{body}"', "[": f"[{body}]"}.get(quote, body)


def _text_variable(  # noqa: PLR0917 (one field's facts)
    i: int, key: str | None, quote: str, values: list[str], taken: set[str], after: int
) -> str | None:
    real = [v for v in values if v not in ("-", "")]
    if key is None:
        if quote == "[" and all(_TIME_LOCAL.match(v) for v in values):
            return "time_local"
        if quote == '"' and real and all(_REQUEST.match(v) for v in real):
            return "request"
        if i == 0 and quote == "" and all(_IP.match(v) for v in values):
            return "remote_addr"
        if i == 0 and quote == "" and all(_IP_LIST.match(v) for v in values):
            return "http_x_forwarded_for"
        if set(values) == {"-"} and i == 1:
            return None
        if quote == "" and after == 1 and all(_STATUS.match(v) for v in values):
            return "status"
        if quote == "" and after == 2 and all(_INT.match(v) for v in values):
            return "body_bytes_sent"
        if quote == '"' and after >= 2 and "http_user_agent" not in taken:
            return "http_referer" if "http_referer" not in taken else "http_user_agent"
        if i == 2 and taken & {"remote_addr", "http_x_forwarded_for"} and "time_local" not in taken:
            return "remote_user"
    return _variable(key, values, taken)


# --- JSON lines (escape=json) -------------------------------------------------------------------

_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\s]+)')


def _json_format(lines: list[str]) -> str | None:
    rows: list[list[tuple[str, str]]] = []
    texts: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not (stripped.startswith("{") and stripped.endswith("}")):
            continue
        try:
            value = json.loads(stripped)
        except ValueError:
            continue
        if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
            continue  # nested values: an application's log, not nginx's
        members = [(m[1], m[3]) for m in _MEMBER.finditer(stripped)]
        if [_member_name(k) for k, _ in members] == list(value):
            rows.append(members)
            texts.append(stripped)
    if len(rows) < MIN_LINES:
        return None
    keys = Counter(tuple(k for k, _ in r) for r in rows).most_common(1)[0][0]
    same = [i for i, r in enumerate(rows) if tuple(k for k, _ in r) == keys]
    template = texts[same[0]]
    rows = [rows[i] for i in same]
    taken: set[str] = set()
    out, pos = [], 0
    for i, m in enumerate(_MEMBER.finditer(template)):
        values = [_unquoted(r[i][1]) for r in rows]
        name = _variable(_member_name(m[1]), values, taken)
        taken.add(name)
        out.append(template[pos : m.start(3)])
        out.append(f'"${name}"' if m[3].startswith('"') else f"${name}")
        pos = m.end(3)
    out.append(template[pos:])
    return "".join(out)


def _member_name(raw: str) -> str:
    """A member's name (the text between its quotes) decoded; only an escape needs the
    decoder (the line was read as JSON already, so the name is valid)."""
    return json.loads(f'"{raw}"') if "\\" in raw else raw


def _unquoted(raw: str) -> str:
    """A member's value as nginx wrote it (a string's content, a number's digits)."""
    if raw.startswith('"') and "\\" not in raw:
        return raw[1:-1]  # nothing to decode (a control character would fail the same)
    if raw.startswith('"'):
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw[1:-1]
    return raw


def infer_format(lines: list[str]) -> Inferred | None:
    """The format nearly all ``lines`` (the first lines of a file) are in, or None.

    Only a guess that says something about requests counts: it has a status and the
    request (or its path), and a time or a duration.
    """
    sample = [line for line in lines if line.strip()][:200]
    if len(sample) < MIN_LINES:
        return None
    is_json = sum(line.lstrip().startswith("{") for line in sample) > len(sample) / 2
    text = _json_format(sample) if is_json else _text_format(sample)
    if text is None:
        return None
    names = set(re.findall(r"\$(\w+)", text))
    if "status" not in names or not names & {"request", "uri", "request_uri"}:
        return None
    if not names & {"time_local", "time_iso8601", "msec", "request_time"}:
        return None
    if not names & (_NGINX_STRONG if is_json else _NGINX_ONLY):
        return None  # an app's JSON or logfmt access lines are the app's
    try:
        fmt = parse_body(text, Escape.JSON if is_json else Escape.DEFAULT, "inferred")
    except FormatError:  # a guess that is no format is no guess
        return None
    return Inferred(fmt, len(sample))
