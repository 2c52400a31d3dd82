"""Does the service a call names (``target=users-svc``, ``call users-svc ...``) fit a span?

Names are compared by their words: lower-cased, cut at anything not a letter or digit,
without the words every deployment adds (``svc``, ``service``, ``api``, ``http``,
``internal``, ``local``, numbers ...). ``users-svc`` fits the service ``users`` and the
host ``users-1``; ``127.0.0.1:8081`` names nothing and fits nothing (it is no evidence
either way).
"""

from __future__ import annotations

import re

import polars as pl

_WORD = re.compile(r"[a-z0-9]+")
_NOISE = frozenset(
    {
        "svc",
        "srv",
        "service",
        "services",
        "server",
        "api",
        "app",
        "http",
        "https",
        "grpc",
        "internal",
        "local",
        "localhost",
        "cluster",
        "default",
        "com",
        "net",
        "org",
        "io",
        "www",
        "prod",
        "production",
        "staging",
        "v1",
        "v2",
        "v3",
    }
)


def words(name: str | None) -> frozenset[str]:
    """The words of a service or host name that can tell it apart."""
    if not name:
        return frozenset()
    found = _WORD.findall(name.lower())
    return frozenset(w for w in found if w not in _NOISE and not w.isdigit() and len(w) >= 2)


def fits(peer: str | None, *names: str | None) -> bool | None:
    """True when the peer shares a word with one of the names, False when it shares none,
    None when the peer (or every name) has no telling word."""
    wanted = words(peer)
    others = [words(n) for n in names]
    if not wanted or not any(others):
        return None
    return any(wanted & w for w in others)


def fit_table(frame: pl.DataFrame, peer: str, *names: str) -> pl.DataFrame:
    """The distinct (peer, names...) combinations of ``frame`` with ``_fits`` (``fits`` of
    each), to join back on those columns: computed once per combination, not per row."""
    columns = [peer, *names]
    combos = frame.select(columns).unique()
    values = [fits(row[0], *row[1:]) for row in combos.iter_rows()]
    return combos.with_columns(pl.Series("_fits", values, dtype=pl.Boolean))
