"""The pyparsing grammar for nginx ``log_format``: what a user pastes becomes a LogFormat.

Accepted input, all of which appear in the wild:

* a bare format string, exactly as nginx writes lines:
  ``$remote_addr - $remote_user [$time_local] "$request" ...``
* the arguments of the directive: ``escape=json '{"t":"$msec",' '"s":$status}'``,
  quoted parts concatenated with nginx's config unescaping (``\\"`` ``\\t`` ...);
* the whole directive copied from nginx.conf: ``log_format trace '...' '...';``

pyparsing runs once per format, never per log line; compiler.py turns the result into
regexes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from enum import Enum

import pyparsing as pp

from logtrace.errors import FormatError
from logtrace.log_format import variables


class Escape(Enum):
    """nginx's ``escape=`` parameter of log_format."""

    DEFAULT = "default"  # \xHH for ", \, control and high bytes; "-" when not found
    JSON = "json"  # JSON string escapes; raw high bytes; "" when not found
    NONE = "none"  # nothing escaped; "" when not found


@dataclass(frozen=True)
class Literal:
    """Text copied verbatim into every line; never escaped by nginx."""

    text: str


@dataclass(frozen=True)
class VarRef:
    """A ``$name`` or ``${name}`` reference, with its column in the format text."""

    name: str
    column: int = field(compare=False)


Item = Literal | VarRef


@dataclass(frozen=True)
class LogFormat:
    """A parsed log_format: the format text after nginx's unescaping, and its items."""

    text: str
    items: tuple[Item, ...]
    escape: Escape = Escape.DEFAULT
    name: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the variables in order of appearance (repeats kept)."""
        return tuple(item.name for item in self.items if isinstance(item, VarRef))

    def directive(self) -> str:
        """The format as an nginx ``log_format`` directive, for messages and docs."""
        escape = "" if self.escape is Escape.DEFAULT else f"escape={self.escape.value} "
        quoted = self.text.replace("\\", "\\\\").replace("'", "\\'")
        return f"log_format {self.name or 'custom'} {escape}'{quoted}';"


# --- the config-token layer: quoted parts and nginx's unescaping -------------------------

_CONFIG_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}
_CONFIG_ESCAPE_RE = re.compile(r"\\(.)", re.S)


def unescape_config_token(token: str) -> str:
    """Apply nginx's ``ngx_conf_read_token`` escapes; any other ``\\c`` stays as is."""
    return _CONFIG_ESCAPE_RE.sub(lambda m: _CONFIG_ESCAPES.get(m.group(1), m.group(0)), token)


@dataclass(frozen=True)
class _QuotedPart:
    """A quoted config token; ``body`` is the text between the quotes, still escaped."""

    body: str


def _quoted(quote: str) -> pp.ParserElement:
    body = rf"(?:[^{quote}\\]|\\[\s\S])*"
    element = pp.Regex(rf"{quote}(?P<body>{body}){quote}(?=[\s;{{)]|$)")
    element.set_parse_action(lambda t: _QuotedPart(str(t[0])[1:-1]))
    return element.set_name(f"{quote}-quoted string")


_SQ = _quoted("'")
_DQ = _quoted('"')
_BARE = pp.Regex(r"[^\s;'\"{}]+").set_name("unquoted word")
_TOKEN = (_SQ | _DQ | _BARE).set_name("format string")
_ESCAPE = pp.Regex(r"escape=(?P<value>[^\s;'\"]*)").set_name("escape=")
_NAME = (_SQ | _DQ | _BARE).set_name("format name")
_DIRECTIVE_ARGS = (
    pp.Opt(_ESCAPE)("escape")
    + pp.Group(pp.OneOrMore(_TOKEN))("parts")
    + pp.Opt(pp.Suppress(";"))
    + pp.StringEnd()
)
_DIRECTIVE = pp.Keyword("log_format") + _NAME("name") + _DIRECTIVE_ARGS


def _token_text(tok: _QuotedPart | str) -> str:
    """The unescaped text of one config token (quoted or bare)."""
    if isinstance(tok, _QuotedPart):
        return unescape_config_token(tok.body)
    return unescape_config_token(tok)


# --- the format body: $var, ${var}, literal text -------------------------------------------

_VAR_NAME = pp.Word(pp.alphanums + "_").set_name("variable name")
_BRACED = pp.Suppress("${") - _VAR_NAME - pp.Suppress(pp.Literal("}").set_name("'}'"))
_PLAIN = pp.Suppress("$") - _VAR_NAME
_VAR = pp.Group(pp.Located(_BRACED | _PLAIN)).set_name("variable")
_LITERAL = pp.Regex(r"[^$]+").set_name("literal text")
_BODY = pp.ZeroOrMore(_VAR | _LITERAL) + pp.StringEnd()
_BODY.leave_whitespace()
_VAR.leave_whitespace()
_LITERAL.leave_whitespace()
_BRACED.leave_whitespace()
_PLAIN.leave_whitespace()


def parse_body(text: str, escape: Escape = Escape.DEFAULT, name: str | None = None) -> LogFormat:
    """Parse a format string (already unescaped) into literal and variable items."""
    try:
        tokens = _BODY.parse_string(text, parse_all=True)
    except pp.ParseBaseException as exc:
        raise _body_error(text, exc) from None
    items: list[Item] = []
    warnings: list[str] = []
    for tok in tokens:
        if isinstance(tok, str):
            if items and isinstance(items[-1], Literal):
                items[-1] = Literal(items[-1].text + tok)
            else:
                items.append(Literal(tok))
            continue
        start, var_tokens, _end = tok
        var_name = str(var_tokens[0])
        items.append(VarRef(var_name, start))
        if not variables.is_known(var_name):
            hint = variables.suggest(var_name)
            guess = f" (did you mean ${hint}?)" if hint else ""
            warnings.append(f"unknown variable ${var_name}{guess}: parsed as text")
    if not any(isinstance(item, VarRef) for item in items):
        raise FormatError(
            "the log_format has no $variables",
            "paste the format string itself, e.g. '$remote_addr - [$time_local] \"$request\"'",
        )
    warnings.extend(_adjacent_text_warnings(items))
    return LogFormat(
        text=text, items=tuple(items), escape=escape, name=name, warnings=tuple(warnings)
    )


def _body_error(text: str, exc: pp.ParseBaseException) -> FormatError:
    col = exc.loc
    dollar = text.rfind("$", 0, col + 1)
    if text.startswith("${", dollar) and dollar >= 0:
        name_match = re.match(r"\$\{([A-Za-z0-9_]*)", text[dollar:])
        var_name = name_match.group(1) if name_match else ""
        return FormatError(
            f'the closing bracket in "{var_name}" variable is missing',
            "only letters, digits and _ are allowed inside ${...}",
            source_text=text,
            column=dollar + 2 + len(var_name),
        )
    return FormatError(
        "'$' is not followed by a variable name",
        "a variable is $name or ${name}; nginx has no escape for a literal '$'",
        source_text=text,
        column=dollar if dollar >= 0 else col,
    )


def _adjacent_text_warnings(items: list[Item]) -> list[str]:
    """Two free-text variables with nothing between them cannot be split reliably."""
    out = []
    for left, right in itertools.pairwise(items):
        if isinstance(left, VarRef) and isinstance(right, VarRef):
            shapes = (variables.lookup(left.name).shape, variables.lookup(right.name).shape)
            if all(s in (variables.Shape.TEXT, variables.Shape.TOKEN) for s in shapes):
                out.append(
                    f"${left.name}${right.name}: two text variables with no literal between "
                    "them; the split between them is a guess"
                )
    return out


# --- entry point ---------------------------------------------------------------------------


def parse_log_format(text: str, name: str | None = None) -> LogFormat:
    """Parse what a user gives as a log_format (bare string, directive arguments or directive)."""
    stripped = text.strip()
    if not stripped:
        raise FormatError("the log_format is empty", "give the format string, or use --preset")
    if stripped.startswith("log_format") and re.match(r"log_format\s", stripped):
        try:
            directive = _DIRECTIVE.parse_string(stripped, parse_all=True)
        except pp.ParseBaseException as exc:
            raise FormatError(
                f"cannot read the log_format directive: {exc.msg}",
                "check the quotes; each quoted part must end before a space or ';'",
                source_text=stripped,
                column=exc.loc,
            ) from None
        return _from_directive_args(directive, name or _token_text(directive["name"]))
    if stripped[0] in "'\"" or stripped.startswith("escape="):
        parsed: pp.ParseResults | None
        try:
            parsed = _DIRECTIVE_ARGS.parse_string(stripped, parse_all=True)
        except pp.ParseBaseException:
            parsed = None
        # Config arguments only when every part is quoted or the text ends with ';' as in
        # nginx.conf; otherwise it is a bare format that starts with a quote, such as
        # '"$request" $status' (as config arguments that would be "$request$status").
        if parsed is not None and (
            stripped.endswith(";") or all(isinstance(p, _QuotedPart) for p in parsed["parts"])
        ):
            return _from_directive_args(parsed, name)
        if stripped.startswith("escape="):
            mode, _, rest = stripped.partition(" ")
            return parse_body(rest.strip(), _escape_mode(mode.removeprefix("escape=")), name)
    return parse_body(text, Escape.DEFAULT, name)


def _escape_mode(value: str) -> Escape:
    try:
        return Escape(value)
    except ValueError:
        raise FormatError(
            f'unknown log format escaping "{value}"',
            "use escape=default, escape=json or escape=none",
        ) from None


def _from_directive_args(parsed: pp.ParseResults, name: str | None) -> LogFormat:
    escape = Escape.DEFAULT
    value = parsed.get("escape")  # type: ignore[no-untyped-call]
    if value:
        raw = value if isinstance(value, str) else str(value[0])
        escape = _escape_mode(raw.removeprefix("escape="))
    body = "".join(_token_text(part) for part in parsed["parts"])
    return parse_body(body, escape, name)
