"""nginx's error log (``error_log``): told apart from access and app logs, and summed up.

Its lines look like ``2026/11/26 08:00:30 [error] 8797#8797: *18 connect() failed (111:
Connection refused) while connecting to upstream, client: 127.0.0.1, server: localhost,
request: "GET /retry/0 HTTP/1.1", upstream: "http://127.0.0.1:18099/ok0", host: ...``.
They carry no request id (only the connection number, the client and the request line),
so they are no spans: a source of them is skipped, with what it holds (lines by level,
upstream errors) in a note, rather than read as an application's log.
"""

from __future__ import annotations

import polars as pl

LEVELS = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")
LINE = (
    r"^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \[(" + "|".join(LEVELS) + r")\] "
    r"[0-9]+#[0-9]+: "
)
KIND = "nginx-error"
FORMAT = "nginx error log"
REASON = "nginx error log line: skipped"
MIN_SHARE = 0.9  # of the first non-blank lines


def is_error_log(frame: pl.DataFrame, sample: int = 200) -> bool:
    """Whether nearly all of the first lines of a ``line_no``/``line`` frame are nginx
    error log lines."""
    head = frame.get_column("line").drop_nulls().head(sample)
    if head.is_empty():
        return False
    return int(head.str.contains(LINE).sum()) >= MIN_SHARE * head.len()


def tally(frame: pl.DataFrame) -> dict[str, int]:
    """Lines by level (``error``, ``warn`` ...) and ``upstream`` (errors and warnings about
    an upstream: refused, timed out, no live upstreams, closed early)."""
    lines = frame.get_column("line").drop_nulls()
    level = lines.str.extract(LINE, 1)
    upstream = lines.str.contains(r"upstream", literal=False) & level.is_in(
        ["warn", "error", "crit", "alert", "emerg"]
    )
    counts = {str(k): int(v) for k, v in level.drop_nulls().value_counts().iter_rows()}
    counts["upstream"] = int(upstream.sum())
    return counts


def note(path: str, lines: int, counts: dict[str, int]) -> str:
    """What a skipped error log held, for the report."""
    levels = ", ".join(f"{counts[lv]:,} [{lv}]" for lv in reversed(LEVELS) if counts.get(lv))
    upstream = counts.get("upstream", 0)
    return (
        f"{path}: an nginx error log, not an access log: its {lines:,} lines are skipped "
        f"({levels}; {upstream:,} about an upstream: refused, timed out, no live upstreams "
        "...). They carry no request id to tie them to a request"
    )
