"""How each hop rewrites paths, learnt from the logs: ``/users-svc/profile/1`` → ``/profile/1``.

A proxy that routes by a path prefix usually strips it (``location /users-svc/ {
proxy_pass http://users/; }``), adds one, or replaces it (``rewrite ^/v1/(.*)$ /$1
break;``). The caller then logs one path and the callee another; what stays is the end
of the path. So for every CLIENT span of a source A and every SERVER span of another
source B in the same request, the longest common tail of their paths (whole segments)
splits them into ``prefix_c + tail`` and ``prefix_s + tail``: the pair is explained by
the mapping "A's ``prefix_c`` becomes B's ``prefix_s``". A mapping that explains pairs in
several requests, and in most of the requests where its two prefixes meet, is a rule of
the deployment; one seen once, or in a few of many, is a coincidence.

Identity (the same path on both sides) is never learnt: it is always allowed. Mappings
given by nginx.conf (``location`` + ``proxy_pass`` with a URI, ``rewrite ... break``)
join the learnt ones (``configured``).

The mappings are learnt on a sample of requests (every request when there are few), so
the cost does not grow with the input beyond the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtrace.timelines import band

SAMPLE_REQUESTS = 20_000
MIN_SUPPORT = 3  # requests a mapping must explain (fewer when the sample is smaller)
MIN_SHARE = 0.5  # of the requests where its two prefixes meet, those a mapping must explain
MAX_PER_SOURCE = 32
ONE_WAY_SHARE = 0.5  # mappings kept per caller source, best supported first
_MAX_SPANS = 200  # requests with more spans are left out of learning (cost is quadratic)
_SEED = 0x7061746873  # "paths"
_SLACK_US = 1500  # durations are logged to the millisecond: a callee may seem this much longer
LATE_END_SHARE = 1.5  # a callee of the very path the call named may seem this much longer

MAPPINGS: dict[str, pl.DataType] = {
    "source_c": pl.String(),  # the caller's source (whose CLIENT spans carry prefix_c)
    "source": pl.String(),  # the callee's source
    "prefix_c": pl.String(),  # "" or "/seg/..." : replaced by ...
    "prefix": pl.String(),  # ... this prefix on the callee's side
    "support": pl.UInt32(),  # requests whose spans the mapping explains (null: configured)
    "configured": pl.String(),  # the nginx.conf line that says so, or null when learnt
}


@dataclass(frozen=True)
class PathMappings:
    """The path rewrites between sources, with the requests that support each."""

    frame: pl.DataFrame  # MAPPINGS

    @classmethod
    def empty(cls) -> PathMappings:
        return cls(pl.DataFrame(schema=MAPPINGS))

    def describe(self) -> list[str]:
        """One line per mapping: ``mesh → users: /users-svc/… → /… (812 requests)``."""
        rows = self.frame.sort("support", descending=True, nulls_last=False).iter_rows()
        return [
            f"{a} → {b or 'its upstreams'}: {pc or ''}/… → {p or ''}/… "
            + (f"({conf})" if conf else f"({n:,} requests)")
            for a, b, pc, p, n, conf in rows
        ]

    def plus(self, other: PathMappings) -> PathMappings:
        """Both sets of mappings (a learnt one equal to a configured one is kept once)."""
        if other.frame.is_empty():
            return self
        both = pl.concat([other.frame, self.frame])
        return PathMappings(
            both.unique(
                ["source_c", "source", "prefix_c", "prefix"], keep="first", maintain_order=True
            )
        )

    @classmethod
    def configured_by(cls, rows: list[tuple[str, str, str, str]]) -> PathMappings:
        """Mappings from nginx.conf: (caller source, prefix, replacement, where said)."""
        frame = pl.DataFrame(
            {
                "source_c": [r[0] for r in rows],
                "source": [None] * len(rows),
                "prefix_c": [r[1] for r in rows],
                "prefix": [r[2] for r in rows],
                "support": [None] * len(rows),
                "configured": [r[3] for r in rows],
            },
            schema=MAPPINGS,
        )
        return cls(frame)


def _tails(side: pl.DataFrame) -> pl.DataFrame:
    """Each span's path cut at every segment boundary: (prefix, tail) rows."""
    segments = pl.col("path").str.split("/")
    return (
        side.with_columns(pl.int_ranges(1, segments.list.len()).alias("_k"))
        .explode("_k")
        .filter(pl.col("_k").is_not_null())
        .with_columns(
            segments.list.slice(0, pl.col("_k")).list.join("/").alias("prefix"),
            (pl.lit("/") + segments.list.slice(pl.col("_k")).list.join("/")).alias("tail"),
        )
        .drop("_k", "path")
    )


def _sample(spans: pl.DataFrame) -> pl.DataFrame:
    """The spans of at most ``SAMPLE_REQUESTS`` requests of moderate size."""
    sizes = spans.group_by("request_id").len()
    sizes = sizes.filter(pl.col("len") <= _MAX_SPANS)
    if sizes.height > SAMPLE_REQUESTS:
        every = sizes.height // SAMPLE_REQUESTS + 1
        sizes = sizes.filter(pl.col("request_id").hash(_SEED) % every == 0)
    return spans.join(sizes.select("request_id"), on="request_id", how="semi")


def learn(spans: pl.DataFrame) -> PathMappings:
    """Mappings between each pair of sources from the requests both take part in.

    A pair of spans counts for the mapping that explains it only when the callee could
    have been called by the caller (it took no longer) and no other candidate caller of
    that callee waited less beyond it: a real hop adds little to its callee's time, while
    a span that merely shares the end of a path (``GET /api/orders/7`` at the edge and
    ``GET /items/7`` behind the proxy) waited for much more. Same-path candidates (no
    mapping) compete too. A client span calls one server span: the only caller a server
    span can have, naming its very path, calls no other (:func:`_forced`); else the one it
    waited least beyond, and as a candidate for any other it gives way to those that have
    no better callee. ``spans`` has request_id, source, kind, path, raw_start, raw_end.
    """
    usable = spans.filter(
        pl.col("path").str.starts_with("/").fill_null(value=False)
        & pl.col("request_id").is_not_null()
    ).select(
        "request_id",
        "source",
        "kind",
        "path",
        (pl.col("raw_end") - pl.col("raw_start")).dt.total_microseconds().alias("dur"),
    )
    if usable.get_column("source").n_unique() < 2:  # a mapping is between two sources
        return PathMappings.empty()
    # a loop's first spans only, before the requests' sizes are told: a request of nothing
    # but loops (hundreds of identical calls) is then of moderate size and still teaches
    usable = _sample(band.first_of_each(usable, ["request_id", "source", "kind", "path"]))
    clients = usable.filter(pl.col("kind") == "CLIENT").drop("kind")
    servers = usable.filter(pl.col("kind") == "SERVER").drop("kind")
    if clients.is_empty() or servers.is_empty():
        return PathMappings.empty()
    c = _tails(clients.with_row_index("_c")).rename(
        {"source": "source_c", "prefix": "prefix_c", "dur": "dur_c"}
    )
    s = _tails(servers.with_row_index("_s"))
    # A callee takes no longer than its call, give or take the durations' precision; but
    # one called by its very path may log its end late (work after its response, a busy
    # machine's logger): the app's span of 11.5 ms behind the edge's attempt of 9 ms is
    # still the attempt's callee, whose place nothing else should take. Up to half again
    # as long as the call: not behind an attempt that failed at once (0 ms).
    longest = pl.col("dur_c") + _SLACK_US
    late = pl.col("dur_c") * LATE_END_SHARE + _SLACK_US
    joined = c.join(s, on=["request_id", "tail"], how="inner").filter(
        (pl.col("source") != pl.col("source_c"))
        & (
            (pl.col("dur") <= longest)
            | ((pl.col("prefix_c") == pl.col("prefix")) & (pl.col("dur") <= late))
        )
    )
    if joined.is_empty():
        return PathMappings.empty()
    # The longest common tail of a pair is its explanation (shortest prefixes).
    best = (
        joined.with_columns(pl.col("tail").str.len_bytes().alias("_len"))
        .sort("_len", descending=True)
        .unique(["_c", "_s"], keep="first")
    )
    same = pl.col("prefix_c") == pl.col("prefix")
    # A client span calls one server span: the one it waited least beyond. A pair whose
    # client span waited less beyond another server span is its caller's caller (edge →
    # app → service, the app doing little besides its call: the edge's attempt and the
    # app's call last about as long), so it gives way to a pair whose client span has
    # no better callee.
    waited = (pl.col("dur_c") - pl.col("dur")).abs()
    winners = (
        _forced(best)
        .with_columns(waited.alias("_waited"))
        .with_columns((pl.col("_waited") == pl.col("_waited").min().over("_c")).alias("_own"))
        # then the caller's source, prefixes and row break ties (two identical logs: a
        # log read twice), so that the same input always learns the same support
        .sort(
            ["_s", "_own", "_waited", same, "_len", "source_c", "prefix_c", "prefix", "_c"],
            descending=[False, True, False, True, True, False, False, False, False],
        )
        .unique("_s", keep="first")
    )
    requests = usable.get_column("request_id").n_unique()
    floor = max(1, min(MIN_SUPPORT, requests // 10))
    rule = ["source_c", "source", "prefix_c", "prefix"]
    # A rule of the deployment explains most of the requests where its two prefixes meet
    # (0.85-1.0 of them in the topology harness's rewriting proxies, even on a busy
    # machine); a coincidence of durations few (0.02-0.31: the edge's /api/orders/7 and
    # the mesh's /inventory/items/7 behind the app that called it).
    met = best.filter(~same).group_by(rule).agg(pl.col("request_id").n_unique().alias("_met"))
    found = (
        winners.filter(~same)
        .group_by(rule)
        .agg(pl.col("request_id").n_unique().cast(pl.UInt32).alias("support"))
        .filter(pl.col("support") >= floor)
        .join(met, on=rule)
        .filter(pl.col("support") >= MIN_SHARE * pl.col("_met"))
        .join(_one_way(winners), on=["source_c", "source"], how="semi")
        .sort(
            ["support", "source_c", "source", "prefix_c", "prefix"], descending=[True] + [False] * 4
        )
    )
    kept = found.filter(pl.int_range(pl.len()).over("source_c") < MAX_PER_SOURCE)
    kept = kept.with_columns(pl.lit(None, pl.String).alias("configured"))
    return PathMappings(kept.select(list(MAPPINGS)).cast(pl.Schema(MAPPINGS)))


def _forced(pairs: pl.DataFrame) -> pl.DataFrame:
    """The pairs without those a client span cannot be part of: a server span whose one
    candidate caller names its very path is that client's (when the client is no other
    such server's only one), and the client then calls no other (a server span whose one
    candidate needs a rewrite may be called by nobody in the logs: an edge's request
    whose path ends like that of a call its app made). Waits alone cannot tell the
    caller's caller from the caller when they differ by less than the durations'
    precision: the edge's attempt that "waited" 0.40 ms beyond the inventory's span,
    against the app's call of the inventory's very path 0.44 ms beyond it, is the app's
    caller (the app's span has no other), so the inventory's is the call."""
    single = pairs.filter((pl.len().over("_s") == 1) & (pl.col("prefix_c") == pl.col("prefix")))
    taken = single.filter(pl.len().over("_c") == 1).select("_c", "_s")
    if taken.is_empty():
        return pairs
    others = pairs.join(taken, on="_c", how="semi").join(taken, on=["_c", "_s"], how="anti")
    return pairs.join(others.select("_c", "_s"), on=["_c", "_s"], how="anti")


def _one_way(winners: pl.DataFrame) -> pl.DataFrame:
    """(caller source, callee source) links that are not mostly the echo of the opposite
    direction: calls between two sources flow one way (an edge calls the app; a path the
    app calls that ends like the one it serves is a coincidence of ids). A link at least
    half as strong as its reverse stays (one nginx both in front of the apps and between
    them is called both ways)."""
    links = winners.group_by("source_c", "source").agg(pl.col("request_id").n_unique().alias("n"))
    reverse = links.rename({"source_c": "source", "source": "source_c", "n": "_back"})
    return (
        links.join(reverse, on=["source_c", "source"], how="left")
        .filter(pl.col("_back").is_null() | (pl.col("n") >= ONE_WAY_SHARE * pl.col("_back")))
        .select("source_c", "source")
    )


def mapped_paths(callers: pl.DataFrame, mappings: PathMappings) -> pl.DataFrame:
    """The path each caller span would have at each callee source its mappings reach.

    ``callers`` has ``source`` and ``path`` (plus whatever else); the result has one row
    per (span, applicable mapping) with ``path`` rewritten, ``to_source`` the callee's
    source, ``support``, ``via`` (the callee's prefix: a proxy route often names the
    service it leads to) and ``via_c`` (the caller's prefix that was replaced: the
    prefix a proxy strips often names the service behind it).
    """
    table = mappings.frame.select("source_c", "source", "prefix_c", "prefix", "support")
    table = table.rename({"source_c": "source", "source": "to_source"})
    if table.is_empty() or callers.is_empty():
        return callers.clear().with_columns(
            pl.lit(None, pl.String).alias("to_source"),
            pl.lit(None, pl.UInt32).alias("support"),
            pl.lit(None, pl.String).alias("via"),
            pl.lit(None, pl.String).alias("via_c"),
        )
    rest = pl.col("path").str.slice(pl.col("prefix_c").str.len_chars())
    applies = pl.col("path").str.starts_with(pl.col("prefix_c")) & rest.str.starts_with("/")
    # Matched on the source and path alone; the callers' other columns are gathered for
    # the rows that apply only (a source has many mappings, most of them not a span's).
    found = (
        callers.select("source", "path")
        .with_row_index("_m")
        .join(table, on="source", how="inner")
        .filter(applies)
        .select(
            "_m",
            (pl.col("prefix") + rest).alias("path"),
            "to_source",
            "support",
            pl.col("prefix").alias("via"),
            pl.col("prefix_c").alias("via_c"),
        )
    )
    return callers.drop("path")[found.get_column("_m")].with_columns(found.drop("_m"))
