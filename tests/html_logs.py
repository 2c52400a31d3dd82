"""Logs the HTML report tests read: one with hostile text in every field a page shows."""

from __future__ import annotations

from pathlib import Path

# The nginx "trace" preset: combined plus $request_time $upstream_response_time $request_id.
HOSTILE_REQUESTS = [
    # (path, referer, user agent, request id, request time)
    ("/a/<script>alert(1)</script>", "javascript:alert(5)", "curl/8", "a" * 31 + "1", "2.500"),
    # a raw quote in the path: the line is rejected, and shown as a rejected sample
    (
        '/b/"><img src=x onerror=alert(2)>',
        "javascript:alert(3)",
        "</script><b>ua</b>",
        "a" * 31 + "2",
        "2.400",
    ),
    # as nginx writes it (\x22): parsed
    ("/e/\\x22><img src=x onerror=alert(6)>", "-", "ok", "a" * 31 + "5", "2.100"),
    (
        "/c/\u202egnp.exe",
        "https://evil.example/</script>",
        "\u2028\u2029ua",
        "a" * 31 + "3",
        "2.300",
    ),
    ("/d/&lt;&amp;\x1b[31mred<svg/onload=alert(4)>", "-", "<!--", "a" * 31 + "4", "2.200"),
]
HOSTILE_MARKERS = ("<img", "<svg/onload", "<b>ua", "<!--", "\u202e", "\u2028", "\x1b")
"""Text of the hostile log that must never be found raw in the page."""


def nginx_line(
    second: int, path: str, status: int, *, referer: str, agent: str, rid: str, rt: str
) -> str:
    return (
        f'10.0.0.1 - - [26/Nov/2026:12:00:{second:02d} +0000] "GET {path} HTTP/1.1" {status} 12 '
        f'"{referer}" "{agent}" {rt} {rt} {rid}'
    )


def write_hostile_log(folder: Path) -> Path:
    """Four hostile requests (the slowest) among 20 ordinary ones; returns the log's path."""
    lines = [
        nginx_line(
            i,
            f"/api/items/{i}",
            200 if i % 5 else 500,
            referer="-",
            agent="ok",
            rid=f"{i:032x}",
            rt="0.010",
        )
        for i in range(20)
    ]
    for i, (path, referer, agent, rid, rt) in enumerate(HOSTILE_REQUESTS):
        lines.append(nginx_line(30 + i, path, 200, referer=referer, agent=agent, rid=rid, rt=rt))
    log = folder / "hostile.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return log
