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


@dataclass(frozen=True)
class AccessLog:
    """An ``access_log PATH [FORMAT ...]`` directive; the format defaults to combined."""

    path: str
    format_name: str
    file: str
    line: int


@dataclass
class NginxConfig:
    """The log formats and access logs an nginx configuration defines."""

    path: str
    formats: dict[str, LogFormat] = field(default_factory=dict)
    access_logs: list[AccessLog] = field(default_factory=list)

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


def _directives(path: str, prefix: str, depth: int = 0) -> Iterator[Directive]:
    """Every directive in ``path`` and the files it includes, with its block context."""
    if depth > _MAX_INCLUDE_DEPTH:
        raise FormatError(f"{path}: include nesting is too deep", "is there an include loop?")
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}", "check the --nginx-conf path") from None
    context: list[str] = []
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
            if context:
                context.pop()
            continue
        if not words:
            continue
        name, args = words[0].text, tuple(w.text for w in words[1:])
        if tok.text == "{":
            context.append(name)
        elif name == "include" and args:
            yield from _included(args[0], prefix, depth)
        else:
            yield Directive(name, args, path, words[0].line, tuple(context))
        words = []


def _included(pattern: str, prefix: str, depth: int) -> Iterator[Directive]:
    full = pattern if os.path.isabs(pattern) else os.path.join(prefix, pattern)
    for match in sorted(glob.glob(full)) if glob.has_magic(full) else [full]:
        yield from _directives(match, prefix, depth + 1)


def read_nginx_conf(path: str) -> NginxConfig:
    """The log formats and access logs of an nginx configuration file (and its includes)."""
    if not os.path.isfile(path):
        raise InputError(
            f"{path}: no such file", "give the path of nginx.conf, e.g. /etc/nginx/nginx.conf"
        )
    prefix = os.path.dirname(os.path.abspath(path))
    config = NginxConfig(path=path, formats={"combined": parse_body(COMBINED, name="combined")})
    for d in _directives(path, prefix):
        if d.name == "log_format":
            _add_format(config, d)
        elif d.name == "access_log" and d.args and d.args[0] != "off":
            if d.args[0].startswith("syslog:"):
                continue
            fmt = d.args[1] if len(d.args) > 1 else "combined"
            config.access_logs.append(AccessLog(d.args[0], fmt, d.file, d.line))
    return config


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
