"""The critical path of a trace: the stretches of spans the request actually waited on.

Jaeger UI's algorithm (jaeger-ui ``TracePage/CriticalPath``), restated:

1. Children lying wholly outside their parent are dropped (with their subtrees); the
   others are clamped into the parent's interval.
2. Walk backwards from the root's end. At a span, take its last-finishing child (ending
   strictly before the current bound, if there is one): the stretch from that child's
   end to the bound is the span's own time on the path; continue inside the child. A span
   with no such child is on the path from its start to the bound, and the walk returns to
   its parent with the bound moved to this span's start, which picks the sibling that
   finished before this one started.

Gaps between children count as the parent's own (self) time. :func:`critical_path` walks
one trace in Python (the traces a user looks at, the slowest N);
:func:`critical_shares` walks every trace at once with polars (a table of all requests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter

import polars as pl

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Section:
    """A stretch of one span on the critical path."""

    span_id: str
    start: datetime
    end: datetime

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class _Node:
    span_id: str
    start: datetime
    end: datetime
    parent: _Node | None = None
    children: list[_Node] | None = None


def _build(spans: list[tuple[str, str | None, datetime, datetime]], root_id: str) -> _Node | None:
    by_parent: dict[str | None, list[tuple[str, str | None, datetime, datetime]]] = {}
    for span in spans:
        by_parent.setdefault(span[1], []).append(span)
    root_row = next((s for s in spans if s[0] == root_id), None)
    if root_row is None:
        return None
    root = _Node(root_id, root_row[2], root_row[3])
    stack = [root]
    seen = {root_id}
    while stack:
        node = stack.pop()
        node.children = []
        for sid, _parent, start, end in by_parent.get(node.span_id, []):
            if sid in seen:
                continue  # a cycle in bad input; never loop
            seen.add(sid)
            if start >= node.end or end <= node.start:
                continue  # wholly outside its parent: not on the parent's path
            child = _Node(sid, max(start, node.start), min(end, node.end), parent=node)
            node.children.append(child)
            stack.append(child)
    return root


def critical_path(
    spans: list[tuple[str, str | None, datetime, datetime]], root_id: str
) -> list[Section]:
    """Sections (latest first) of the critical path below ``root_id``.

    ``spans`` are ``(span_id, parent_span_id, start, end)`` tuples of one trace.
    """
    root = _build(spans, root_id)
    if root is None:
        return []
    sections: list[Section] = []
    node: _Node | None = root
    bound: datetime | None = None
    steps = 0
    limit = 4 * len(spans) + 4  # each span is entered and left a bounded number of times
    while node is not None and steps < limit:
        steps += 1
        upper = bound if bound is not None else node.end
        candidates = [c for c in node.children or [] if bound is None or c.end < bound]
        if candidates:
            last = max(candidates, key=lambda c: c.end)
            if last.end < upper:
                sections.append(Section(node.span_id, last.end, upper))
            # Children already walked must not be taken again from this parent.
            node.children = [c for c in node.children or [] if c is not last]
            node, bound = last, None
            continue
        if node.start < upper:
            sections.append(Section(node.span_id, node.start, upper))
        parent = node.parent
        bound = node.start
        node = parent
        if node is not None:
            # Siblings that ended after this one started overlap it: not on the path.
            node.children = [c for c in node.children or [] if c.end <= bound]
    return sections


def critical_share(sections: list[Section]) -> dict[str, float]:
    """Seconds each span spends on the critical path."""
    out: dict[str, float] = {}
    for s in sections:
        out[s.span_id] = out.get(s.span_id, 0.0) + s.duration_s
    return out


# --- every trace at once --------------------------------------------------------------------

_SECTIONS = {
    "request_id": pl.String,
    "span_id": pl.String,
    "critical_us": pl.Int64,
    "first": pl.Int64,
}
LOCKSTEP_STEPS = 256
"""Walk steps taken for all traces together; traces still walking after that (thousands
of spans) finish one by one with :func:`critical_path`."""


def _tree(spans: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """Spans reachable from their trace's root, clamped into their parent (step 1).

    ``spans``: request_id, span_id, parent_span_id, start_us, end_us, _row (input order).
    """
    level = spans.join(roots, on=["request_id", "span_id"], how="semi").select(
        "request_id",
        "span_id",
        pl.lit(None, pl.String).alias("parent"),
        "start_us",
        "end_us",
        "_row",
    )
    found = [level]
    placed = level.select("request_id", "span_id")
    children = spans.filter(pl.col("parent_span_id").is_not_null())
    while not level.is_empty():
        step = (
            children.join(
                level.select(
                    "request_id",
                    pl.col("span_id").alias("parent_span_id"),
                    pl.col("start_us").alias("p_start"),
                    pl.col("end_us").alias("p_end"),
                ),
                on=["request_id", "parent_span_id"],
            )
            .join(placed, on=["request_id", "span_id"], how="anti")  # bad input: no loops
            .filter((pl.col("start_us") < pl.col("p_end")) & (pl.col("end_us") > pl.col("p_start")))
            .select(
                "request_id",
                "span_id",
                pl.col("parent_span_id").alias("parent"),
                pl.max_horizontal("start_us", "p_start").alias("start_us"),
                pl.min_horizontal("end_us", "p_end").alias("end_us"),
                "_row",
            )
        )
        level = step
        found.append(level)
        placed = pl.concat([placed, level.select("request_id", "span_id")])
    return pl.concat(found)


def _one_by_one(spans: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """:func:`critical_path` per trace, in the shape :func:`critical_shares` sums."""
    root_of = dict(roots.select("request_id", "span_id").iter_rows())
    rows: list[tuple[str, str, int, int]] = []
    ordered = spans.sort("request_id", "_row")
    for rid, group in groupby(ordered.iter_rows(named=True), key=itemgetter("request_id")):
        tuples = [
            (r["span_id"], r["parent_span_id"], _at(r["start_us"]), _at(r["end_us"])) for r in group
        ]
        for i, sec in enumerate(critical_path(tuples, root_of[rid])):
            rows.append((rid, sec.span_id, (sec.end - sec.start) // _US, i))
    return pl.DataFrame(
        rows,
        schema=_SECTIONS,
        orient="row",
    )


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def critical_shares(spans: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """Seconds each span spends on its trace's critical path, for every trace at once.

    ``spans``: request_id, span_id, parent_span_id, start, end (span ids unique within a
    request); ``roots``: request_id, span_id. Returns request_id, span_id, critical_s and
    ``first`` (the order in which the walk first reached the span, latest first), the same
    as :func:`critical_path` then :func:`critical_share` per trace. All traces walk
    together, one vectorised step at a time.
    """
    spans = (
        spans.select(
            "request_id",
            "span_id",
            "parent_span_id",
            pl.col("start").dt.epoch("us").alias("start_us"),
            pl.col("end").dt.epoch("us").alias("end_us"),
        )
        .with_row_index("_row")
        .unique(["request_id", "span_id"], keep="first", maintain_order=True)
    )
    tree = _tree(spans, roots.select("request_id", "span_id"))
    nodes = tree.select(
        "request_id",
        pl.col("span_id").alias("node"),
        pl.col("parent").alias("up"),
        pl.col("start_us").alias("n_start"),
        pl.col("end_us").alias("n_end"),
    )
    kids = tree.filter(pl.col("parent").is_not_null()).select(
        "request_id",
        pl.col("parent").alias("node"),
        pl.col("span_id").alias("kid"),
        pl.col("end_us").alias("k_end"),
        "_row",
    )
    state = roots.select(
        "request_id", pl.col("span_id").alias("node"), pl.lit(None, pl.Int64).alias("bound")
    ).join(nodes, on=["request_id", "node"], how="semi")
    sections: list[pl.DataFrame] = []
    step = 0
    while not state.is_empty() and step < LOCKSTEP_STEPS:
        here = state.join(nodes, on=["request_id", "node"], how="left")
        upper = pl.coalesce("bound", "n_end")
        last = (
            here.join(kids, on=["request_id", "node"])
            .filter(pl.col("bound").is_null() | (pl.col("k_end") < pl.col("bound")))
            .sort("k_end", "_row", descending=[True, False])
            .unique(["request_id"], keep="first")
        )
        down = last.filter(pl.col("k_end") < upper).select(
            "request_id", "node", (upper - pl.col("k_end")).alias("critical_us")
        )
        back = here.join(last, on="request_id", how="anti")
        up = back.filter(pl.col("n_start") < upper).select(
            "request_id", "node", (upper - pl.col("n_start")).alias("critical_us")
        )
        sections.append(pl.concat([down, up]).with_columns(pl.lit(step, pl.Int64).alias("first")))
        state = pl.concat(
            [
                last.select(
                    "request_id", pl.col("kid").alias("node"), pl.lit(None, pl.Int64).alias("bound")
                ),
                back.filter(pl.col("up").is_not_null()).select(
                    "request_id", pl.col("up").alias("node"), pl.col("n_start").alias("bound")
                ),
            ]
        )
        step += 1
    found = (
        pl.concat(sections).rename({"node": "span_id"})
        if sections
        else pl.DataFrame(schema=_SECTIONS)
    )
    if not state.is_empty():  # the few traces too big to finish together: one by one
        big = state.select("request_id").unique()
        found = pl.concat(
            [
                found.join(big, on="request_id", how="anti").select(list(_SECTIONS)),
                _one_by_one(spans.join(big, on="request_id", how="semi"), roots),
            ]
        )
    return (
        found.group_by("request_id", "span_id")
        .agg(pl.col("critical_us").sum(), pl.col("first").min())
        .select("request_id", "span_id", (pl.col("critical_us") / 1e6).alias("critical_s"), "first")
    )
