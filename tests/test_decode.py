"""log_format/decode.py: nginx's escapes turned back into what the client sent."""

from __future__ import annotations

import pytest

from logtrace.log_format.decode import unescape_json, unescape_nginx


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        (r"/caf\xC3\xA9", "/café"),  # UTF-8, escaped byte by byte
        (r"/caf\xFF\xFE/stock", r"/caf\xFF\xFE/stock"),  # not UTF-8: shown as logged
        (r"/a\xC3", r"/a\xC3"),  # a character cut short
        (r"\x22q\x22 \x5Cx41", '"q" \\x41'),  # an escaped backslash stays literal text
        (r"\x16\x03\x01\x00\xF8\x01", "\x16\x03\x01\x00\\xF8\x01"),  # a TLS probe
    ],
)
def test_nginx_escapes_decode_and_bytes_that_are_not_utf8_stay_escaped(
    logged: str, expected: str
) -> None:
    assert unescape_nginx(logged) == expected


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        (r"caf\u00e9 \"q\"", 'café "q"'),
        (r"caf\xFF", r"caf\xFF"),  # a raw byte that is not UTF-8 (lines.py wrote \xFF)
        (r"\xC3\xA9", "é"),  # raw UTF-8 bytes split by lines.py's escaping: joined again
    ],
)
def test_json_escapes_decode_and_bytes_that_are_not_utf8_stay_escaped(
    logged: str, expected: str
) -> None:
    assert unescape_json(logged) == expected
