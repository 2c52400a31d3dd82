"""What the join learns from all requests at once, to build any subset of them alone.

Most of the join looks at one request at a time; these are the exceptions, each a small
table or a few numbers (see ``docs/scale.md``). Learnt once (on every request, or on a
sample of them when the input is too large for memory) and then held fixed, they let
each partition of the requests be assembled on its own with the results it would have
had among all the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtrace.timelines.paths import PathMappings
from logtrace.timelines.skew import HostOffset


@dataclass(frozen=True)
class Facts:
    """The global quantities of :func:`assemble.assemble`."""

    mappings: PathMappings  # path rewrites per hop (learnt and configured)
    offsets: dict[str, HostOffset]  # NTP offsets per host, from every precise pair
    windows: tuple[dict[str, HostOffset], ...]  # whole-second hosts, per placement pass
    addresses: pl.DataFrame  # peer, _at: the source an upstream address leads to
    called: pl.Series  # sources most of whose SERVER spans have a caller (leftovers)
    links: pl.DataFrame  # source, source_c, _link: hops the pairs show (leftovers)
    inner: pl.DataFrame  # source, _inner: sources mostly called (parents: roots)
