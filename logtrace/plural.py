"""Counted nouns in messages: ``1 request``, ``2 requests``, never ``1 requests``."""

from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` and the noun that agrees with it, ``n`` with thousands separators
    (``nouns``: an irregular plural, ``plural(2, "entry", "entries")``)."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


def noun(n: int, singular: str, nouns: str | None = None) -> str:
    """The noun alone, agreeing with ``n`` (``these 3 lines`` / ``this line``)."""
    return singular if n == 1 else nouns or singular + "s"
