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

Gaps between children count as the parent's own (self) time. Runs on one trace at a time,
in Python: it is used for the handful of traces a user looks at or the slowest N.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
