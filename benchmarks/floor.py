"""The floor of the stack: how fast polars alone reads and reduces a log, exactness aside.

    python benchmarks/floor.py import                 # start Python and import polars
    python benchmarks/floor.py read-lines FILE        # every line into one column
    python benchmarks/floor.py read-csv FILE          # every cell as text (space, '"')
    python benchmarks/floor.py read-ndjson FILE       # every member as text
    python benchmarks/floor.py sketch FILE            # a `trace` log's per-route percentiles
    python benchmarks/floor.py sketch-json FILE       # the same of run.py's JSON format

Each mode is one call of polars' own multi-threaded reader on the whole file, then (the
sketches) the least work a per-route report needs: the path cut from the request line,
$request_time typed, the distinct paths templated as baseline_re.py templates them, and
per route and overall the count, nearest-rank p50/p90/p95/p99 and the maximum
(baseline_re.py's report but its slowest requests). They check nothing and are not exact:
a line whose cells do not fall as planned (a space in $remote_user, a line that is no log)
is read wrong without a word, escapes stay escaped, every line counts. `logtrace analyze`
parses or rejects each line with a reason; these are what the stack's fastest parts cost
before any of that, timed by run.py from process start to exit beside `analyze` (the
`floor ...` rows).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

# The `trace` format's cells read by polars' CSV reader (a space-separated, double-quoted
# row): [$time_local] is two cells, "$request" one.
_REQUEST, _REQUEST_TIME = 5, 10
# run.py's escape=json format (harness/formats.py): the members the sketch reads.
_JSON_MEMBERS: dict[str, pl.DataType] = {"request": pl.String(), "request_time": pl.String()}
# baseline_re.py's routes: a segment of digits, a UUID or 16+ hex digits is {id}; of 20+
# letters, digits, "_" and "-" with a letter and a digit {token}; a hex hash in a name {hash}.
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID = rf"^(?:[0-9]+|{_UUID}|[0-9a-fA-F]{{16,}})$"
_TOKEN = r"^[A-Za-z0-9_-]{20,}$"
_HASH_IN_NAME = r"\.[0-9a-f]{8,}\."
_PERCENTS = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}


def read_lines(path: str) -> pl.DataFrame:
    """Every line as one text cell (a separator byte the file does not hold)."""
    return pl.read_csv(
        path,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        infer_schema=False,
        new_columns=["line"],
    )


def read_cells(path: str, columns: list[int] | None = None) -> pl.DataFrame:
    """Every cell (or ``columns``) as text; a row with more cells than the first is cut."""
    return pl.read_csv(
        path,
        has_header=False,
        separator=" ",
        quote_char='"',
        infer_schema=False,
        truncate_ragged_lines=True,
        columns=columns,
    )


def read_objects(path: str, schema: dict[str, pl.DataType] | None = None) -> pl.DataFrame:
    """Every object of a JSON-lines file, members as text (the first 1,000 lines name them)."""
    if schema is not None:
        return pl.read_ndjson(path, schema=schema)
    frame = pl.read_ndjson(path, infer_schema_length=1000)
    return frame.select(pl.all().cast(pl.String))


def route(path: pl.Expr) -> pl.Expr:
    """baseline_re.py's route of a path, one segment at a time."""
    segment = pl.element()
    token = (
        segment.str.contains(_TOKEN)
        & segment.str.contains("[0-9]")
        & segment.str.contains("[A-Za-z]")
    )
    templated = (
        pl.when(segment.str.contains(_ID))
        .then(pl.lit("{id}"))
        .when(token)
        .then(pl.lit("{token}"))
        .otherwise(segment.str.replace(_HASH_IN_NAME, ".{hash}."))
    )
    return path.str.split("/").list.eval(templated).list.join("/")


def nearest_rank(values: pl.Expr, percent: int) -> pl.Expr:
    """The smallest value with at least ceil(percent/100 * n) of the values at or below it."""
    rank = ((pl.len() * percent + 99) // 100).clip(lower_bound=1)
    return values.sort().get(rank - 1)


def per_route(requests: pl.LazyFrame) -> pl.DataFrame:
    """Count, nearest-rank percentiles and maximum of $request_time by route (the request
    line's path templated, as baseline_re.py does), and of every line (``(all)``), from
    the text of ``request`` and ``request_time``."""
    target = pl.col("request").str.split_exact(" ", 2).struct.field("field_1")
    lines = requests.select(
        target.str.splitn("?", 2).struct.field("field_0").alias("path"),
        pl.col("request_time").cast(pl.Float64, strict=False),
    )
    paths = lines.select(pl.col("path").unique()).collect().get_column("path")
    routes = pl.select(route(pl.lit(paths))).to_series()
    lines = lines.with_columns(pl.col("path").replace_strict(paths, routes).alias("route"))
    stats = (
        [pl.len().alias("requests")]
        + [
            nearest_rank(pl.col("request_time"), percent).alias(name)
            for name, percent in _PERCENTS.items()
        ]
        + [pl.col("request_time").max().alias("max")]
    )
    by_route = lines.group_by("route").agg(stats)
    overall = lines.select(pl.lit("(all)").alias("route"), *stats)
    both = pl.collect_all([by_route, overall])
    return pl.concat(both, how="vertical_relaxed").sort("requests", "route", descending=True)


def sketch(path: str) -> pl.DataFrame:
    """Per-route percentiles of a `trace` log, read by polars' CSV reader."""
    cells = read_cells(path, [_REQUEST, _REQUEST_TIME])
    cells.columns = ["request", "request_time"]  # in the order of the file
    return per_route(cells.lazy())


def sketch_json(path: str) -> pl.DataFrame:
    """Per-route percentiles of a log in run.py's JSON format, read by polars' NDJSON reader."""
    return per_route(read_objects(path, _JSON_MEMBERS).lazy())


_MODES = {
    "read-lines": read_lines,
    "read-csv": read_cells,
    "read-ndjson": read_objects,
    "sketch": sketch,
    "sketch-json": sketch_json,
}


def main_frame(mode: str, path: str | Path) -> pl.DataFrame:
    """What ``mode`` makes of the file at ``path``."""
    return _MODES[mode](str(path))


def main(argv: list[str] | None = None) -> int:
    """Entry point: prints the rows and columns of what the mode made."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["import", *_MODES])
    p.add_argument("file", nargs="?")
    args = p.parse_args(argv)
    if args.mode == "import":
        return 0
    if args.file is None:
        p.error(f"{args.mode} needs a FILE")
    frame = main_frame(args.mode, args.file)
    print(f"{args.mode}: {frame.height:,} rows, {frame.width} columns")
    if args.mode.startswith("sketch"):
        print(frame.head(5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
