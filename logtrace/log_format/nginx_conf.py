"""Read ``log_format`` and ``access_log`` directives from a real nginx.conf.

The tokenizer follows nginx's own ``ngx_conf_read_token`` (src/core/ngx_conf_file.c):
tokens split on whitespace, ``;``, ``{`` and ``}``; ``'`` and ``"`` quote; ``\\"``,
``\\'``, ``\\\\``, ``\\t``, ``\\r``, ``\\n`` are unescaped in every token and any other
``\\c`` is kept as is; ``#`` starts a comment only at the start of a token. ``include``
is followed (globs too), relative to the directory of the main file as nginx does.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from logtrace.errors import FormatError, InputError, NotFoundError
from logtrace.log_format.grammar import Escape, LogFormat, parse_body, unescape_config_token
from logtrace.log_format.presets import COMBINED

_MAX_INCLUDE_DEPTH = 16


@dataclass(frozen=True)
class Directive:
    """One directive: its name, unescaped arguments and where it was written."""

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    context: tuple[str, ...]  # enclosing block names, e.g. ("http", "server")
    blocks: tuple[tuple[str, ...], ...] = ()  # the enclosing blocks with their arguments


@dataclass(frozen=True)
class AccessLog:
    """An ``access_log PATH [FORMAT ...]`` directive; the format defaults to combined."""

    path: str
    format_name: str
    file: str
    line: int


@dataclass(frozen=True)
class PathRewrite:
    """A proxy hop's rewrite of the path: ``prefix`` becomes ``replacement`` upstream.

    From ``location /users-svc/ { proxy_pass http://users/; }`` (``/users-svc`` → ``""``)
    or ``rewrite ^/v1/(.*)$ /api/$1 break;`` (``/v1`` → ``/api``); ``access_logs`` are the
    files the server that holds it writes (its own ``access_log`` or the inherited ones).
    """

    prefix: str
    replacement: str
    access_logs: tuple[str, ...]
    file: str
    line: int


@dataclass
class NginxConfig:
    """The log formats, access logs and path rewrites an nginx configuration defines."""

    path: str
    formats: dict[str, LogFormat] = field(default_factory=dict)
    access_logs: list[AccessLog] = field(default_factory=list)
    rewrites: list[PathRewrite] = field(default_factory=list)

    def rewrites_for_log(self, log_path: str) -> list[PathRewrite]:
        """The rewrites of the servers that write a file with this name."""
        name = os.path.basename(log_path)
        return [
            r
            for r in self.rewrites
            if any(os.path.basename(p) in (name, _unrotated(name)) for p in r.access_logs)
        ]

    def format(self, name: str) -> LogFormat:
        """A format by name; like nginx's access_log, the lookup ignores case."""
        if name in self.formats:
            return self.formats[name]
        for key, fmt in self.formats.items():
            if key.lower() == name.lower():
                return fmt
        raise NotFoundError(
            f"{self.path}: no log_format named {name!r}",
            f"formats defined there: {', '.join(self.formats)}",
        )

    def format_for_log(self, log_path: str) -> LogFormat | None:
        """The format an ``access_log`` directive writes to a file with this name, if any."""
        name = os.path.basename(log_path)
        for candidate in (name, _unrotated(name)):
            for entry in self.access_logs:
                if os.path.basename(entry.path) == candidate:
                    try:
                        return self.format(entry.format_name)
                    except NotFoundError:
                        return None
        return None


def _unrotated(name: str) -> str:
    """``access.log.2.gz`` → ``access.log``: the name nginx itself writes to."""
    base = name.removesuffix(".gz")
    stem, dot, suffix = base.rpartition(".")
    return stem if dot and suffix.isdigit() else base


# --- tokenizer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str
    line: int
    quoted: bool = False


def _tokens(text: str, file: str) -> Iterator[_Token]:
    """nginx config tokens; ``;``, ``{`` and ``}`` come out as tokens of their own."""
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in ";{}":
            yield _Token(ch, line)
            i += 1
        elif ch in "'\"":
            start_line = line
            j = i + 1
            while j < n and text[j] != ch:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    line += 1
                j += 1
            if j >= n:
                raise FormatError(
                    f"{file}:{start_line}: unterminated {ch}-quoted string",
                    "nginx -t -c FILE points at the same place; is it an nginx.conf?",
                )
            if j + 1 < n and text[j + 1] not in " \t\r\n;{)":
                raise FormatError(
                    f'{file}:{line}: unexpected "{text[j + 1]}" after a quoted string',
                    "nginx -t -c FILE points at the same place; is it an nginx.conf?",
                )
            yield _Token(unescape_config_token(text[i + 1 : j]), start_line, quoted=True)
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t\r\n;'\"":
                if text[j] == "\\":
                    j += 1
                elif (text[j] == "{" and not (j > i and text[j - 1] == "$")) or (
                    text[j] == "}" and "${" not in text[i:j]
                ):
                    break
                j += 1
            yield _Token(unescape_config_token(text[i:j]), line)
            i = j


def _directives(
    path: str, prefix: str, depth: int = 0, outer: tuple[tuple[str, ...], ...] = ()
) -> Iterator[Directive]:
    """Every directive in ``path`` and the files it includes, with its block context."""
    if depth > _MAX_INCLUDE_DEPTH:
        raise FormatError(f"{path}: include nesting is too deep", "is there an include loop?")
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}", "check the --nginx-conf path") from None
    context: list[tuple[str, ...]] = list(outer)  # an included file is read in its context
    words: list[_Token] = []
    for tok in _tokens(text, path):
        if tok.quoted or tok.text not in ";{}":
            words.append(tok)
            continue
        if tok.text == "}":
            if words:
                raise FormatError(
                    f"{path}:{tok.line}: unexpected '}}' (missing ';'?)",
                    "nginx -t -c FILE points at the same place; is it an nginx.conf?",
                )
            if len(context) > len(outer):
                context.pop()
                yield Directive("}", (), path, tok.line, tuple(c[0] for c in context))
            continue
        if not words:
            continue
        name, args = words[0].text, tuple(w.text for w in words[1:])
        if tok.text == "{":
            context.append((name, *args))
            yield Directive("{", (name, *args), path, words[0].line, tuple(c[0] for c in context))
        elif name == "include" and args:
            yield from _included(args[0], prefix, depth, tuple(context))
        else:
            names = tuple(c[0] for c in context)
            yield Directive(name, args, path, words[0].line, names, tuple(context))
        words = []
    if words:  # as nginx -t: "unexpected end of file, expecting ";" or "}""
        raise FormatError(
            f"{path}:{text.count(chr(10)) + 1}: unexpected end of file (missing ';'?)",
            "nginx -t -c FILE points at the same place; is it an nginx.conf?",
        )


def _included(
    pattern: str, prefix: str, depth: int, context: tuple[tuple[str, ...], ...]
) -> Iterator[Directive]:
    full = pattern if os.path.isabs(pattern) else os.path.join(prefix, pattern)
    for match in sorted(glob.glob(full)) if glob.has_magic(full) else [full]:
        yield from _directives(match, prefix, depth + 1, context)


def read_nginx_conf(path: str) -> NginxConfig:
    """The log formats and access logs of an nginx configuration file (and its includes)."""
    if not os.path.isfile(path):
        raise InputError(
            f"{path}: no such file", "give the path of nginx.conf, e.g. /etc/nginx/nginx.conf"
        )
    prefix = os.path.dirname(os.path.abspath(path))
    config = NginxConfig(path=path, formats={"combined": parse_body(COMBINED, name="combined")})
    routing = _Routing()
    for d in _directives(path, prefix):
        if d.name in ("{", "}"):
            routing.block(d)
        elif d.name == "log_format":
            _add_format(config, d)
        elif d.name == "access_log" and d.args and d.args[0] != "off":
            routing.access_log(d)
            if d.args[0].startswith("syslog:"):
                continue
            fmt = d.args[1] if len(d.args) > 1 else "combined"
            config.access_logs.append(AccessLog(d.args[0], fmt, d.file, d.line))
        elif d.name in ("proxy_pass", "rewrite"):
            routing.rule(d)
    config.rewrites = routing.finish()
    return config


# --- routing: which path prefixes a server rewrites before proxying ----------------------------

_PREFIX_REGEX = re.compile(r"^\^(/[\w./-]*?)/?\((?:\.\*|\.\+)\)\$?$")
_PREFIX_REPLACEMENT = re.compile(r"^(/[\w./-]*?)/?\$1$")


class _Routing:
    """Collects each server's access logs and the path rewrites of its locations."""

    def __init__(self) -> None:
        self.http_logs: list[str] = []
        self.server_logs: list[str] | None = None
        self.pending: list[tuple[str, str, str, int]] = []  # this server's rewrites
        self.done: list[PathRewrite] = []
        self.servers: list[tuple[list[str] | None, list[tuple[str, str, str, int]]]] = []

    def block(self, d: Directive) -> None:
        if d.name == "{" and d.args[:1] == ("server",) and d.context[-2:-1] == ("http",):
            self.server_logs, self.pending = None, []
        elif d.name == "}" and d.context == ("http",) and self.pending is not None:
            self.servers.append((self.server_logs, self.pending))
            self.server_logs, self.pending = None, []

    def access_log(self, d: Directive) -> None:
        if "server" in d.context:
            self.server_logs = [*(self.server_logs or []), d.args[0]]
        elif d.context == ("http",):
            self.http_logs.append(d.args[0])

    def rule(self, d: Directive) -> None:
        if "server" not in d.context:
            return
        found = _proxy_pass(d) if d.name == "proxy_pass" else _rewrite(d)
        if found is not None:
            self.pending.append((*found, d.file, d.line))

    def finish(self) -> list[PathRewrite]:
        out = []
        for logs, rules in self.servers:
            files = tuple(logs if logs is not None else self.http_logs)
            for prefix, replacement, file, line in rules:
                if prefix != replacement:
                    out.append(PathRewrite(prefix, replacement, files, file, line))
        return out


def _location(d: Directive) -> str | None:
    """The prefix of the innermost ``location`` holding a directive (None for regexes)."""
    for block in reversed(d.blocks):
        if block[0] == "location":
            args = block[1:]
            if len(args) == 2 and args[0] in ("=", "^~"):
                return args[1]
            return args[0] if len(args) == 1 and not args[0].startswith(("~", "@")) else None
    return None


def _proxy_pass(d: Directive) -> tuple[str, str] | None:
    """``location /a/ { proxy_pass http://up/b/; }``: ``/a`` becomes ``/b`` upstream. Without
    a URI part (``proxy_pass http://up;``) nginx passes the path unchanged."""
    if not d.args or "$" in d.args[0]:
        return None
    found = re.match(r"^[a-z]+://[^/]+(/.*)?$", d.args[0])
    location = _location(d)
    if found is None or found[1] is None or location is None:
        return None
    return location.rstrip("/"), found[1].rstrip("/")


def _rewrite(d: Directive) -> tuple[str, str] | None:
    """``rewrite ^/a/(.*)$ /b/$1 [break|last];``: ``/a`` becomes ``/b`` (other rewrites are
    not prefix replacements and are left to the learnt mappings)."""
    if len(d.args) < 2 or (len(d.args) > 2 and d.args[2] in ("redirect", "permanent")):
        return None
    regex, replacement = _PREFIX_REGEX.match(d.args[0]), _PREFIX_REPLACEMENT.match(d.args[1])
    if regex is None or replacement is None:
        return None
    return regex[1].rstrip("/"), replacement[1].rstrip("/")


def _add_format(config: NginxConfig, d: Directive) -> None:
    if len(d.args) < 2:
        raise FormatError(
            f"{d.file}:{d.line}: log_format needs a name and a format string",
            "log_format NAME [escape=default|json|none] 'format string';",
        )
    name, rest = d.args[0], list(d.args[1:])
    escape = Escape.DEFAULT
    if rest[0].startswith("escape="):
        value = rest.pop(0).removeprefix("escape=")
        try:
            escape = Escape(value)
        except ValueError:
            raise FormatError(
                f'{d.file}:{d.line}: unknown log format escaping "{value}"',
                "use escape=default, escape=json or escape=none",
            ) from None
    if name in config.formats:
        if name == "combined":
            raise FormatError(
                f'{d.file}:{d.line}: duplicate "log_format" name "combined"',
                "nginx refuses this too: the predefined combined format cannot be redefined",
            )
        return  # nginx keeps the first definition
    try:
        config.formats[name] = parse_body("".join(rest), escape, name)
    except FormatError as exc:
        raise FormatError(
            f"{d.file}:{d.line}: log_format {name}: {exc.message}",
            exc.hint,
            source_text=exc.source_text,
            column=exc.column,
        ) from None
