"""Read only what ``logtrace trace ID`` shows: the lines of the request asked for, and of
a bounded sample of other requests.

Building every trace of the input to print one costs time and memory in proportion to
the input. A trace needs its own lines, and the estimates made across requests: each
host's clock offset and how a hop rewrites paths. So each chunk of LINES is filtered
right after parsing to the lines whose id (any id column of an nginx line, a W3C
traceparent's trace id included) starts with the id or prefix asked for, plus the lines
of up to ``sample`` other requests: those whose ids have the smallest hashes (a bottom-k
sample, the same whatever the chunks, so the estimates are repeatable). Memory is then
bounded by the matching lines and the sample's; a prefix shared by several ids keeps
them all, so ``trace`` can still name them. Lines without any id belong to no trace and
are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtrace.log_format.compiler import is_id_column

SAMPLE_REQUESTS = 10_000  # ids of other requests read in full (clock offsets, path mappings)
# A W3C traceparent (``00-<trace id>-<parent id>-<flags>``): the trace id is the request
# id (as load.py reads it, which imports this module)
TRACEPARENT = r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$"
_SEED = 0x10C7  # hashes pick the sample: a fixed seed, the same sample on every run


@dataclass(frozen=True)
class RequestSelection:
    """Which requests to read in full: those whose id starts with ``prefix``, and up to
    ``sample`` others chosen by a hash of their ids."""

    prefix: str
    sample: int = SAMPLE_REQUESTS
    ids: tuple[str, ...] = ()  # whole ids also read in full (a report's slowest requests)


def _ids(frame: pl.DataFrame) -> list[pl.Expr]:
    """The request ids a line can be joined on: every id column, a traceparent's trace id
    in its place; empty ids are null."""
    columns = [c for c in frame.columns if c == "request_id" or is_id_column(c)]
    return [
        pl.coalesce(pl.col(c).str.extract(TRACEPARENT, 1), pl.col(c)).replace("", None).alias(c)
        for c in columns
        if frame.schema[c] == pl.String
    ]


class Selector:
    """Filters chunks of LINES as they are read (:meth:`keep`), then the lines kept
    (:meth:`final`) once the sample is known."""

    def __init__(self, selection: RequestSelection) -> None:
        self.prefix = selection.prefix
        self.ids = list(selection.ids)
        self.size = selection.sample
        self._smallest = pl.Series("hash", [], pl.UInt64)  # the sample's hashes so far
        self.sampled = False  # whether some request was left out of the sample

    def keep(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The lines of one chunk that may be in the selection: the matching ones and
        those under the sample's current bound (it only falls)."""
        ids = _ids(frame)
        if frame.is_empty() or not ids:
            return frame.clear()
        hashes = frame.select(pl.concat_list(_hash(i) for i in ids).alias("hash")).get_column(
            "hash"
        )
        seen = hashes.explode().drop_nulls()
        union = pl.concat([self._smallest, seen]).unique()
        if union.len() > self.size:
            self.sampled = True
            union = union.bottom_k(self.size)
        self._smallest = union
        return frame.filter(self._condition(ids))

    def final(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The lines kept, down to the final sample (its bound fell after they were kept)."""
        ids = _ids(frame)
        if frame.is_empty() or not ids:
            return frame
        return frame.filter(self._condition(ids))

    def _condition(self, ids: list[pl.Expr]) -> pl.Expr:
        match = pl.any_horizontal(
            (i.str.starts_with(self.prefix) | i.is_in(self.ids)).fill_null(value=False) for i in ids
        )
        if not self.sampled:
            return match | pl.any_horizontal(i.is_not_null() for i in ids)
        bound = self._smallest.max()
        if bound is None:  # a sample of none
            return match
        sampled = pl.any_horizontal((_hash(i) <= bound).fill_null(value=False) for i in ids)
        return match | sampled


def _hash(request_id: pl.Expr) -> pl.Expr:
    """A 64-bit hash of an id (null for none)."""
    return pl.when(request_id.is_not_null()).then(request_id.hash(seed=_SEED))
