"""plural.py: counted nouns agree with their counts."""

from __future__ import annotations

import pytest

from logtrace.plural import noun, plural


@pytest.mark.parametrize(
    ("n", "args", "expected"),
    [
        (0, ("request",), "0 requests"),
        (1, ("request",), "1 request"),
        (2, ("request",), "2 requests"),
        (12345, ("span",), "12,345 spans"),
        (1, ("retry", "retries"), "1 retry"),
        (3, ("retry", "retries"), "3 retries"),
    ],
)
def test_plural(n: int, args: tuple[str, ...], expected: str) -> None:
    assert plural(n, *args) == expected


def test_noun_alone() -> None:
    assert [noun(n, "attempt") for n in (0, 1, 2)] == ["attempts", "attempt", "attempts"]
