"""Read only what ``logtrace trace ID`` shows: the lines of the request asked for, and of
a bounded sample of other requests.

Building every trace of the input to print one costs time and memory in proportion to
the input. A trace needs its own lines, and the estimates made across requests: each
host's clock offset and how a hop rewrites paths. So each chunk of LINES is filtered
right after parsing to the lines whose id (any id column of an nginx line, a W3C
traceparent's trace id included) starts with the id or prefix asked for, plus the lines
of up to ``sample`` other requests: those whose ids are the smallest (a bottom-k sample,
the same whatever the chunks, so the estimates are repeatable). Memory is then bounded
by the matching lines and the sample's; a prefix shared by several ids keeps them all,
so ``trace`` can still name them. Lines without any id belong to no trace and are dropped.

Smallest by what: random hex ids (nginx's ``$request_id``, trace ids, UUIDs) are their
own uniform hash, so the sample is of the smallest ids themselves. That lets most lines
go unparsed: once the sample's bound is known, a chunk's raw lines are first cut to
those holding the id asked for or a hex token that may sort under the bound
(:meth:`Selector.raw`, one vectorised regex), a superset of what the exact filter then
keeps. Ids of any other shape (sequential, names) are sampled by a hash, as parsed.
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
_HEX_ID = r"^[0-9a-fA-F]{8}"  # ids that start like random hex: sampled by their own value
_HEX_SHARE = 0.99  # of the ids first seen, to sample by value
_BOUND_CHARS = 3  # how much of the bound the raw prefilter spells out
_HEX = "0123456789abcdef"


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
        self.by_value: bool | None = None  # hex ids sampled by value; None: not seen yet
        self._smallest: pl.Series | None = None  # the sample's keys so far
        self.sampled = False  # whether some request was left out of the sample
        self._raw: pl.Expr | None = None  # the prefilter of raw lines for the bound
        if not self.size:  # a sample of none: only the lines of the ids asked for
            self.sampled, self._raw = True, pl.lit(value=False)

    def keep(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The lines of one chunk that may be in the selection: the matching ones and
        those under the sample's current bound (it only falls)."""
        ids = _ids(frame)
        if frame.is_empty() or not ids:
            return frame.clear()
        if not self.size:
            return frame.filter(self._condition(ids))
        if self.by_value is None:
            self.by_value = _hex_ids(frame, ids)
        keys = frame.select(pl.concat_list(self._key(i) for i in ids).alias("k")).get_column("k")
        seen = keys.explode().drop_nulls()
        if self.sampled and self._smallest is not None:  # keys over the bound stay out
            bound = self._smallest.max()
            seen = seen.filter(seen <= bound) if bound is not None else seen.clear()
        union = seen if self._smallest is None else pl.concat([self._smallest, seen])
        union = union.unique()
        if union.len() > self.size:
            self.sampled = True
            union = union.bottom_k(self.size)
            if self.by_value:  # a sample of none: no hex token is wanted
                self._raw = raw_condition(str(union.max())) if union.len() else pl.lit(value=False)
        self._smallest = union
        return frame.filter(self._condition(ids))

    def raw(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Raw lines (``line``) cut to those that may hold the id asked for or a sampled
        one: all of them until the sample's bound is known, or when ids are not hex."""
        if self._raw is None or lines.is_empty():
            return lines
        line = pl.col("line")
        wanted = line.str.contains(self.prefix, literal=True)
        if self.ids:
            # one regex of the ids, not contains_any: the regex engine looks for a few
            # literals at once with SIMD (5 against 72 ms a 16 MB chunk for 10 ids)
            wanted = wanted | line.str.contains("|".join(pl.escape_regex(i) for i in self.ids))
        return lines.filter(wanted | self._raw)

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
        if not self.size:
            return match
        if not self.sampled or self._smallest is None:
            return match | pl.any_horizontal(i.is_not_null() for i in ids)
        bound = self._smallest.max()
        if bound is None:  # a sample of none
            return match
        sampled = pl.any_horizontal((self._key(i) <= bound).fill_null(value=False) for i in ids)
        return match | sampled

    def _key(self, request_id: pl.Expr) -> pl.Expr:
        """What orders ids for the sample: a hex id's own value, else its hash."""
        return request_id.str.to_lowercase() if self.by_value else _hash(request_id)


def _hex_ids(frame: pl.DataFrame, ids: list[pl.Expr]) -> bool:
    """Whether the first ids seen look like random hex (then sampled by value)."""
    seen = frame.select(pl.concat_list(ids).alias("id")).get_column("id").explode().drop_nulls()
    share = seen.str.contains(_HEX_ID).mean() if seen.len() else None
    return isinstance(share, float) and share >= _HEX_SHARE


def raw_condition(bound: str) -> pl.Expr:
    """Raw lines holding a hex token (8 characters or more, not inside a word) whose
    start may sort at or under ``bound``: a superset of the lines of the sampled ids."""
    head = bound[:_BOUND_CHARS].lower()
    starts = [head]
    for i, char in enumerate(head):
        under = "".join(c for c in _HEX if c < char)
        if under:
            starts.append(head[:i] + f"[{under}]")
    pattern = "(?i)(?:^|[^0-9a-z])(?:" + "|".join(starts) + ")[0-9a-f]{5}"
    return pl.col("line").str.contains(pattern)


def _hash(request_id: pl.Expr) -> pl.Expr:
    """A 64-bit hash of an id (null for none)."""
    return pl.when(request_id.is_not_null()).then(request_id.hash(seed=_SEED))
