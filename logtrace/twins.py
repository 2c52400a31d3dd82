"""Two access logs of one server (or a log and its copy): the same requests, counted once.

nginx can write each request to several ``access_log`` files (a ``trace`` log and a JSON
one, a global log and a per-server one). Read together they would double every request
and draw a hop between the twins. Two nginx sources are twins when nearly every line of
the smaller one has a line in the other with the same request id, status and
``$request_time``, and the same value of every other variable both log that a proxy in
front would see differently (client address, bytes sent, user agent, upstream lists,
the second it was written): two hops of one request (an edge and the proxy behind it)
differ in some of those. Two logs of one host whose formats share no request id (a
``combined`` log and its escape=json twin with ``$request_id``) are compared on every
variable both log, the status, path and second at least. The twin that tells less
(coarser timestamps, fewer columns) gives way: its lines that have a twin are dropped;
any others are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtrace.plural import noun, plural

TWIN_SHARE = 0.9  # of the smaller source's lines found in the other
_MIN_LINES = 10
_SEED = 0x7477696E73  # "twins"


@dataclass(frozen=True)
class Twins:
    """What was dropped: (kept source, dropped source, lines dropped)."""

    dropped: list[tuple[str, str, int]]

    def notes(self) -> list[str]:
        return [
            f"{gone}: {plural(n, 'line')} {'is' if n == 1 else 'are'} the same "
            f"{noun(n, 'request')} as in {kept} (the same request ids, "
            f"statuses and times; two access_log files of one server?): counted once, "
            f"from {kept}"
            for kept, gone, n in self.dropped
        ]


_BASIC = ("request_id", "status", "request_time_s")
# Equal in two logs of one server; some of them differ between two hops of one request.
_CONFIRM = (
    "path",
    "method",
    "remote_addr",
    "body_bytes_sent",
    "bytes_sent",
    "http_user_agent",
    "upstream_addr",
    "upstream_status",
    "upstream_response_time_s",
    "time",
)


# Two logs of one host in formats that share no request id (combined and a JSON twin)
# are told by these, at least: what was asked, what was answered, and the second.
_ACROSS_FORMATS = frozenset({"status", "path", "time"})


def _keys(nginx: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    parts = [
        pl.col(c).dt.truncate("1s") if c == "time" else pl.col(c)
        for c in columns
        if c in nginx.columns
    ]
    return nginx.select(
        "source",
        pl.struct(parts).hash(_SEED).alias("_k"),
        (
            pl.col("request_id").is_not_null() if "request_id" in nginx.columns else pl.lit(True)
        ).alias("_has_id"),
    ).with_row_index("_row")


def _detail(nginx: pl.DataFrame) -> pl.DataFrame:
    """Per source: how precise its times are and how many values a line carries."""
    filled = pl.sum_horizontal(pl.all().exclude("source", "line").is_not_null().cast(pl.UInt32))
    return nginx.group_by("source").agg(
        pl.col("time_precision_s").min().alias("precision")
        if "time_precision_s" in nginx.columns
        else pl.lit(1.0).alias("precision"),
        filled.mean().alias("filled"),
    )


def _confirmed(nginx: pl.DataFrame, a: str, b: str) -> bool:
    """Whether the lines of two sources agree on every variable both log (see above)."""
    pair = nginx.filter(pl.col("source").is_in([a, b]))
    both = [
        c
        for c in (*_BASIC, *_CONFIRM)
        if c in pair.columns
        and all(
            pair.filter(pl.col("source") == s).get_column(c).null_count()
            < pair.filter(pl.col("source") == s).height
            for s in (a, b)
        )
    ]
    keys = _keys(pair, both).filter("_has_id")
    left = keys.filter(pl.col("source") == a).select("_k").unique()
    right = keys.filter(pl.col("source") == b).select("_k").unique()
    shared = left.join(right, on="_k", how="semi").height
    return shared >= TWIN_SHARE * min(left.height, right.height)


def _basic(nginx: pl.DataFrame) -> list[str]:
    """The key columns: the request id and its outcome, or (a format without ids) the
    whole line, which two logs of one server in one format share."""
    if "request_id" in nginx.columns and nginx.get_column("request_id").null_count() < nginx.height:
        return list(_BASIC)
    return ["line"] if "line" in nginx.columns else []


def find_twins(nginx: pl.DataFrame) -> list[tuple[str, str]]:
    """(kept source, dropped source) for each pair of sources that log the same requests.

    ``nginx`` holds LINES of several sources (``source`` and the key columns; ``line`` is
    used when the format has no request id; ``host``, when given, lets two logs of one
    host in formats without a shared request id be compared on what both log).
    """
    return [(kept, gone) for kept, gone, _ in _find(nginx)]


def _logged(nginx: pl.DataFrame, source: str) -> set[str]:
    rows = nginx.filter(pl.col("source") == source)
    return {
        c for c in (*_BASIC, *_CONFIRM) if c in rows.columns and rows[c].null_count() < rows.height
    }


def _across_formats(
    nginx: pl.DataFrame, found: list[tuple[str, str, list[str]]]
) -> list[tuple[str, str, list[str]]]:
    """Twins among sources of one host that share no request id (``combined`` and an
    escape=json log with ``$request_id``): keyed on every variable both log."""
    if "host" not in nginx.columns:
        return []
    paired = {s for kept, gone, _ in found for s in (kept, gone)}
    hosts = nginx.group_by("host", "source").len().sort("source")
    out: list[tuple[str, str, list[str]]] = []
    for (_host,), group in hosts.group_by("host", maintain_order=True):
        sources = [s for s in group.get_column("source").to_list() if s not in paired]
        sizes = dict(group.select("source", "len").iter_rows())
        for i, a in enumerate(sources):
            for b in sources[i + 1 :]:
                cols = sorted(_logged(nginx, a) & _logged(nginx, b))
                if "request_id" in cols or not set(cols) >= _ACROSS_FORMATS:
                    continue  # ids in both were compared already
                if min(sizes[a], sizes[b]) < _MIN_LINES:
                    continue
                keys = _keys(nginx.filter(pl.col("source").is_in([a, b])), cols)
                left = keys.filter(pl.col("source") == a).select("_k").unique()
                right = keys.filter(pl.col("source") == b).select("_k").unique()
                shared = left.join(right, on="_k", how="semi").height
                if shared >= TWIN_SHARE * min(left.height, right.height):
                    out.append((a, b, cols))
    return out


def _find(nginx: pl.DataFrame) -> list[tuple[str, str, list[str]]]:
    """(kept source, dropped source, the columns their lines are matched on)."""
    basic = _basic(nginx)
    if nginx.is_empty() or not basic:
        return []
    found = _same_format(nginx, basic)
    found += _across_formats(nginx, found)
    detail = {s: (p, f) for s, p, f in _detail(nginx).iter_rows()}
    out = []
    for a, b, cols in found:
        # The finer clock wins, then the more values per line, then the name.
        better = min((a, b), key=lambda s: (detail[s][0], -detail[s][1], s))
        out.append((better, b if better == a else a, cols))
    return out


def _same_format(nginx: pl.DataFrame, basic: list[str]) -> list[tuple[str, str, list[str]]]:
    """Twins by request id, status and request time (or, without ids, the whole line)."""
    keys = _keys(nginx, basic).filter("_has_id") if basic != ["line"] else _keys(nginx, basic)
    sizes = dict(keys.group_by("source").len().iter_rows())
    if len(sizes) < 2:
        return []
    # Per pair, the lines of each source whose key the other has: lines, not distinct
    # keys, as a log with several lines per request (an internal proxy's hops) has many
    # lines to a key.
    distinct = keys.unique(["source", "_k"]).select(pl.col("source").alias("source_o"), "_k")
    found_in = {
        (a, b): n
        for a, b, n in keys.join(distinct, on="_k", how="inner")
        .filter(pl.col("source") != pl.col("source_o"))
        .group_by("source", "source_o")
        .len()
        .iter_rows()
    }
    found: list[tuple[str, str, list[str]]] = []
    for a, b in sorted(pair for pair in found_in if pair[0] < pair[1]):
        smaller = a if sizes[a] <= sizes[b] else b
        n = found_in.get((smaller, b if smaller == a else a), 0)
        if sizes[smaller] < _MIN_LINES or n < TWIN_SHARE * sizes[smaller]:
            continue
        if basic != ["line"] and not _confirmed(nginx, a, b):
            continue
        found.append((a, b, basic))
    return found


def twin_pairs(nginx: pl.DataFrame) -> list[tuple[str, str, list[str]]]:
    """(kept source, dropped source, the columns their lines are matched on)."""
    return _find(nginx)


def drop_twins(
    nginx: pl.DataFrame, pairs: list[tuple[str, str, list[str]]] | None = None
) -> tuple[pl.DataFrame, Twins]:
    """``nginx`` LINES without the second copy of each request logged twice (``pairs``:
    the :func:`twin_pairs` of every line, when known)."""
    drop = _find(nginx) if pairs is None else pairs
    if not drop:
        return nginx, Twins([])
    gone_rows: list[pl.Series] = []
    dropped: list[tuple[str, str, int]] = []
    for kept, gone, cols in drop:
        keys = _keys(nginx, cols)
        twin = keys.filter(pl.col("source") == gone).join(
            keys.filter(pl.col("source") == kept).select("_k").unique(), on="_k", how="semi"
        )
        gone_rows.append(twin.get_column("_row"))
        dropped.append((kept, gone, twin.height))
    rows = pl.concat(gone_rows).unique()
    kept_lines = nginx.with_row_index("_row").filter(~pl.col("_row").is_in(rows.implode()))
    return kept_lines.drop("_row"), Twins(dropped)
