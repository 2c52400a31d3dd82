"""The edge log's lines in two more formats: nginx's `combined` and an `escape=json` one.

Both are converted from edge.log (the `trace` format), line for line, so every file has
the same requests and lines/s compares like with like. They sit next to edge.log and are
rebuilt when edge.log is newer. The JSON lines are written the way nginx's escape=json
writes them: `"` and `\\` escaped, control bytes as \\u00XX, other bytes raw, and a
variable that was not found ("-" in the trace line) as "".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

JSON_FORMAT = (
    "escape=json '{"
    '"time":"$time_iso8601","remote_addr":"$remote_addr","user":"$remote_user",'
    '"request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,'
    '"referer":"$http_referer","user_agent":"$http_user_agent",'
    '"request_time":$request_time,"upstream_response_time":"$upstream_response_time",'
    '"request_id":"$request_id"'
    "}'"
)

# The trace format: combined, then $request_time $upstream_response_time $request_id.
_TRACE = (
    r'^(?P<combined>(?P<addr>\S+) - (?P<user>.*?) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d+) (?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)") '
    r"(?P<rt>\S+) (?P<urt>.+) (?P<rid>\S+)$"
)
_HEX = re.compile(r"\\x([0-9A-F]{2})")


def _json_text(value: str) -> str:
    r"""An nginx-escaped (\xHH) value as escape=json writes it, without the quotes."""
    raw = _HEX.sub(lambda m: chr(int(m.group(1), 16)), value).encode("latin-1", "replace")
    text = raw.decode("utf-8", "replace")
    return json.dumps(text, ensure_ascii=False)[1:-1]


def derived(edge: Path) -> tuple[Path, Path]:
    """(edge.combined.log, edge.json.log), written unless they are newer than edge.log."""
    combined = edge.with_name("edge.combined.log")
    as_json = edge.with_name("edge.json.log")
    stamp = edge.stat().st_mtime
    if all(p.exists() and p.stat().st_mtime >= stamp for p in (combined, as_json)):
        return combined, as_json
    lines = pl.read_csv(
        edge, has_header=False, separator="\x1f", quote_char=None, schema={"line": pl.String}
    )
    parts = lines.select(pl.col("line").str.extract_groups(_TRACE).alias("p")).unnest("p")
    assert parts.get_column("combined").null_count() == 0, "edge.log is not in trace format"
    parts.select("combined").write_csv(combined, include_header=False, quote_style="never")

    def text(column: str) -> pl.Expr:
        value = pl.when(pl.col(column) == "-").then(pl.lit("")).otherwise(pl.col(column))
        escaped = value.map_elements(_json_text, return_dtype=pl.String)
        return pl.when(value.str.contains("\\", literal=True)).then(escaped).otherwise(value)

    time = pl.col("time").str.strptime(pl.Datetime("us", "UTC"), "%d/%b/%Y:%H:%M:%S %z")
    out = parts.select(
        pl.concat_str(
            pl.lit('{"time":"'),
            time.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            pl.lit('","remote_addr":"'),
            pl.col("addr"),
            pl.lit('","user":"'),
            text("user"),
            pl.lit('","request":"'),
            text("request"),
            pl.lit('","status":'),
            pl.col("status"),
            pl.lit(',"body_bytes_sent":'),
            pl.col("bytes"),
            pl.lit(',"referer":"'),
            text("referer"),
            pl.lit('","user_agent":"'),
            text("agent"),
            pl.lit('","request_time":'),
            pl.col("rt"),
            pl.lit(',"upstream_response_time":"'),
            text("urt"),
            pl.lit('","request_id":"'),
            pl.col("rid"),
            pl.lit('"}'),
        )
    )
    out.write_csv(as_json, include_header=False, quote_style="never")
    return combined, as_json
