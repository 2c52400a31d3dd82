"""Which span logtrace built for which truth element, and which parent each span must have.

Spans are told apart only by what the logs show: the host, the kind, the path as logged
at that hop (a proxy's path can differ from its caller's and its callee's), and order
(spans of one host, kind and path in line order are matched to the truth's elements in
the order they started; such elements never overlap). A request's expected tree is:

    edge SERVER (the root)
      edge CLIENT attempt, one per upstream try (when the edge's format logs them)
        api SERVER (under the last attempt)
          app CLIENT (a call, in the caller's log)
            proxy SERVER, then proxy CLIENT attempt (when there is a proxy)
              callee SERVER, and below it the callee's own calls, the same way
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Span = dict[str, Any]
Record = dict[str, Any]
MISSING = -1  # the expected parent exists in the truth but logtrace made no span for it


def norm_path(path: str | None) -> str | None:
    """A path as compared: no scheme and host, no query."""
    if not path:
        return None
    if "://" in path:
        rest = path.split("://", 1)[1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path.split("?", 1)[0]


FINE_S = 0.001  # timestamps this precise order a host's spans by their start


class SpanIndex:
    """One request's spans by (host, kind, path), taken one by one in the order the truth's
    calls began: by their logged start where every span of the group has a precise one
    (a line is written at the end: an identical call's callee that logged its end late
    comes after the next one's line), else in line order (whole-second times cannot
    order spans within a second)."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self._groups: dict[tuple[str, str, str | None], list[Span]] = defaultdict(list)
        for span in spans:
            self._groups[(span["host"], span["kind"], norm_path(span["path"]))].append(span)
        for group in self._groups.values():
            group.sort(key=lambda s: (s["source"], s["line_no"], s["attempt"] or 0))
            if all(_precise(s) for s in group):
                group.sort(key=lambda s: s["raw_start"])  # stable: line order breaks ties
        self._taken: Counter[tuple[str, str, str | None]] = Counter()

    def take(self, host: str | None, kind: str, path: str | None) -> Span | None:
        """The next unmatched span of a host, kind and path, or None.

        A span whose path logtrace did not extract is matched by host, kind and order:
        a missing path is a parsing gap, not a wrong parent.
        """
        if host is None:
            return None
        for key in ((host, kind, norm_path(path)), (host, kind, None)):
            group = self._groups.get(key, [])
            if self._taken[key] < len(group):
                self._taken[key] += 1
                return group[self._taken[key] - 1]
        return None


@dataclass
class CallMatch:
    """One call of the truth and the spans found for each of its hops."""

    call: Record
    client: Span | None
    chain: list[tuple[Span | None, Span | None]]  # (span, the parent it must have)

    @property
    def right(self) -> bool:
        """Every hop found, each under the expected span."""
        return all(
            span is not None and parent is not None and span["parent_sid"] == parent["sid"]
            for span, parent in self.chain
        )


@dataclass
class Expected:
    """A request's spans matched to its truth."""

    edge: Span | None = None
    want: dict[int, int | None] = field(default_factory=dict)  # sid -> expected parent sid
    missing: int = 0  # truth elements without a span
    calls: list[CallMatch] = field(default_factory=list)
    served: list[bool] = field(default_factory=list)  # per served request: a SERVER span found

    def expect(self, span: Span | None, parent: Span | None) -> None:
        """Note that `span` (if found) must hang under `parent` (if found)."""
        if span is None:
            self.missing += 1
            return
        self.want[span["sid"]] = parent["sid"] if parent is not None else MISSING


def _precise(span: Span) -> bool:
    precision = span.get("precision_s")
    return span.get("raw_start") is not None and precision is not None and precision <= FINE_S


@dataclass(frozen=True)
class Hops:
    """What the topology says about its nginx hosts."""

    logs_upstream: frozenset[str]  # nginx hosts whose lines show their upstream attempts


def _flatten(
    calls: list[Record], parent: int | None, after: float = float("-inf")
) -> list[tuple[Record, int | None, float]]:
    """Every call with its parent call's id and the time to order it by: its start, but
    never before its parent's (the truth's times come from the clocks of different
    processes, and a busy machine can put a call's start a few ms before its caller's)."""
    found: list[tuple[Record, int | None, float]] = []
    for call in calls:
        at = max(call["start"], after)
        found.append((call, parent, at))
        found += _flatten(call["calls"], id(call), at)
    return found


def expect(request: Record, spans: list[Span], hops: Hops) -> Expected:
    """The expected parent of every span of one request."""
    idx = SpanIndex(spans)
    out = Expected()
    edge_host, path = request["edge"], request["target"]
    out.edge = idx.take(edge_host, "SERVER", path)
    if out.edge is None:
        out.missing += 1
    else:
        out.want[out.edge["sid"]] = None
    upstream = out.edge
    if edge_host in hops.logs_upstream:
        for _ in request["edge_attempts"]:
            attempt = idx.take(edge_host, "CLIENT", path)
            out.expect(attempt, out.edge)
            upstream = attempt
    server = request["server"]
    if server is None:
        return out
    api = idx.take(server["host"], "SERVER", server.get("target", path))
    out.expect(api, upstream)
    out.served.append(api is not None)
    callees: dict[int, Span | None] = {}
    for call, parent, _ in sorted(_flatten(request["calls"], None), key=lambda c: c[2]):
        caller = api if parent is None else callees[parent]
        client = idx.take(call["caller_host"], "CLIENT", call["caller_path"])
        chain: list[tuple[Span | None, Span | None]] = [(client, caller)]
        above = client
        if call["proxy"]:
            proxied = idx.take(call["proxy"], "SERVER", call["proxy_path"])
            chain.append((proxied, above))
            above = proxied
            if call["proxy"] in hops.logs_upstream:
                attempt = idx.take(call["proxy"], "CLIENT", call["proxy_path"])
                chain.append((attempt, above))
                above = attempt
        callee = idx.take(call["callee_host"], "SERVER", call["callee_path"])
        chain.append((callee, above))
        callees[id(call)] = callee
        out.served.append(callee is not None)
        for span, must in chain:
            out.expect(span, must)
        out.calls.append(CallMatch(call, client, chain))
    return out


def root_is_edge(found: Expected, spans: list[Span]) -> bool:
    """The trace has one root, and it is the edge request."""
    roots = [s for s in spans if s["parent_sid"] is None]
    return found.edge is not None and len(roots) == 1 and roots[0]["sid"] == found.edge["sid"]


def tree_is_right(found: Expected, spans: list[Span]) -> bool:
    """Every truth element has a span, every span is one, and every parent is the expected one."""
    if found.missing or len(spans) != len(found.want):
        return False
    return all(found.want.get(s["sid"], MISSING) == s["parent_sid"] for s in spans)
