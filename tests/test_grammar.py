"""The log_format grammar: what users paste becomes literals and variables, or a clear error."""

from __future__ import annotations

import pytest

from logtrace.errors import FormatError
from logtrace.log_format.grammar import (
    Escape,
    Literal,
    VarRef,
    parse_log_format,
    unescape_config_token,
)


def test_bare_format_string_is_split_into_literals_and_variables() -> None:
    fmt = parse_log_format('$remote_addr - [$time_local] "$request"')
    assert fmt.items == (
        VarRef("remote_addr", 0),
        Literal(" - ["),
        VarRef("time_local", 0),
        Literal('] "'),
        VarRef("request", 0),
        Literal('"'),
    )
    assert fmt.escape is Escape.DEFAULT


def test_braced_variable_is_glued_to_text() -> None:
    fmt = parse_log_format("bbs=${body_bytes_sent}B")
    assert fmt.variables == ("body_bytes_sent",)
    assert fmt.items[-1] == Literal("B")


def test_variable_names_are_greedy() -> None:
    fmt = parse_log_format("$request_time_ms")
    assert fmt.variables == ("request_time_ms",)
    assert any("did you mean $request_time" in w for w in fmt.warnings)


def test_whole_directive_with_several_quoted_parts_concatenates_without_separator() -> None:
    fmt = parse_log_format("log_format trace '$remote_addr '\n    \"$status\"\n    '${status}E';")
    assert fmt.name == "trace"
    assert fmt.text == "$remote_addr $status${status}E"


def test_directive_arguments_with_escape_json() -> None:
    fmt = parse_log_format("""escape=json '{"t":"$msec",' '"s":$status}'""")
    assert fmt.escape is Escape.JSON
    assert fmt.text == '{"t":"$msec","s":$status}'


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (r"A=\"x\"", 'A="x"'),
        (r"tab\there", "tab\there"),
        (r"back\\slash", "back\\slash"),
        (r"C=\x41", r"C=\x41"),  # unknown escapes stay as two characters, as in nginx
        (r"q\'s", "q's"),
    ],
)
def test_config_token_unescaping_follows_nginx(token: str, expected: str) -> None:
    assert unescape_config_token(token) == expected


def test_nginx_config_escapes_apply_inside_quoted_parts() -> None:
    fmt = parse_log_format(r"""log_format x 'A=\"$status\"\tB=\\ C=\x41 ';""")
    assert fmt.text == 'A="$status"\tB=\\ C=\\x41 '


def test_bare_format_starting_with_a_quote_is_not_read_as_config_arguments() -> None:
    fmt = parse_log_format('"$request" $status')
    assert fmt.text == '"$request" $status'


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("$ x", "'$' is not followed by a variable name", 0),
        ("ab ${status", 'the closing bracket in "status" variable is missing', 11),
        ("${status-x}", 'the closing bracket in "status" variable is missing', 8),
    ],
)
def test_errors_point_a_caret_at_the_column(text: str, message: str, column: int) -> None:
    with pytest.raises(FormatError) as err:
        parse_log_format(text)
    assert err.value.message == message
    assert err.value.column == column
    assert err.value.caret_lines()[1] == " " * column + "^"


def test_unknown_escape_mode_is_an_error() -> None:
    with pytest.raises(FormatError, match='unknown log format escaping "yaml"'):
        parse_log_format("escape=yaml '$status'")


def test_format_without_variables_is_an_error() -> None:
    with pytest.raises(FormatError, match="no \\$variables"):
        parse_log_format("just text")


def test_adjacent_text_variables_warn_that_the_split_is_a_guess() -> None:
    fmt = parse_log_format("$host$request_uri")
    assert any("no literal between" in w for w in fmt.warnings)
