"""Time logtrace and its baselines on the same generated files, in one run.

    python benchmarks/run.py                 # 1M edge lines (+ app logs), 5 runs each
    python benchmarks/run.py --big           # 10M lines; --lines 40000000 for 40M
    python benchmarks/run.py --only analyze,baseline_re --runs 3
    python benchmarks/run.py --rss-big       # logtrace analyze on ~40M lines / ~10 GB
    python benchmarks/run.py --only "join chatty" --chatty-lines 5000000

Every command is in COMMANDS below; edit it when the CLI changes. Runs are interleaved
(round k runs every command once) so machine noise hits all of them alike, and each
ratio is between medians measured in the same run. Writes results/latest.{md,json}.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness import datasets, formats, report
from harness.checks import CHECKS, Verdict
from harness.measure import Sample, run_once


@dataclass(frozen=True)
class Plan:
    """How to time: rounds, warm-ups and the time limit of one run."""

    runs: int
    warmup: int
    timeout_s: float


@dataclass(frozen=True)
class Bench:
    """One timed command.

    `argv` is split like a shell line, then each token is filled in: {logtrace} (the
    CLI), {python}, {bench} (this folder), {data} (the data set's folder, with its
    nginx.conf), {edge}, {edge_gz}, {edge_rotated} (edge.log cut into 10 rotated files),
    {edge_rotated_gz} (the same, edge.log.2 and older gzipped), {edge_100} (edge.log cut
    into 100 files), {edge_compose} (edge.log's lines as `docker compose logs` of 20
    containers),
    {files} (every log of the data set, edge first),
    {work} (a scratch folder), {goaccess_format}, {lnav_sql}, {request_id} (the id of the
    edge line in the middle of the file), {edge_combined} and {edge_json} (edge.log's lines
    in `combined` and in {json_format}, an escape=json format; harness/formats.py).
    """

    name: str
    argv: str
    # What lines/s counts: "edge", "all" (every file), a file's name ("api-1.log") or "" (none).
    lines: str = "edge"
    stdin: str | None = None  # a file piped in through `cat`, e.g. "{edge}"
    baseline: bool = False  # other commands are compared with it
    needs: str | None = None  # an executable that must be installed, else skipped
    check: str | None = None  # a key of harness.checks.CHECKS
    paths: str = "catalogue"  # else an edge-only data set with these paths (generate.py)
    deployment: str = "edge"  # "chatty": the chatty data set (--chatty-lines in all files)
    exit_code: int = 0  # the exit status of a successful run (8: a --fail-if rule broken)
    versus: str | None = None  # another command: print this one's median over its median


# mesh-1.log (in {files}) is written in the `mesh` log_format, not `trace`; both are
# declared in {data}/nginx.conf, which the join is given with --nginx-conf.
# fmt: off
COMMANDS: tuple[Bench, ...] = (
    Bench("analyze",        "{logtrace} analyze {edge} --preset trace"),
    Bench("analyze combined", "{logtrace} analyze {edge_combined} --preset combined"),
    Bench("analyze json",   "{logtrace} analyze {edge_json} --log-format {json_format}"),
    Bench("analyze stdin",  "{logtrace} analyze - --preset trace", stdin="{edge}"),
    Bench("analyze .gz",    "{logtrace} analyze {edge_gz} --preset trace"),
    # The same lines as 10 rotated files (edge.log, edge.log.1, ...) of 1-2 chunks each.
    Bench("analyze rotated", "{logtrace} analyze {edge_rotated} --preset trace",
          versus="analyze"),
    # ... as 100 files of ~2.5 MB (a folder of hourly logs): the cost of each file.
    Bench("analyze 100 files", "{logtrace} analyze {edge_100} --preset trace",
          versus="analyze"),
    # ... with all but the two newest gzipped (logrotate's compress and delaycompress).
    Bench("analyze rotated .gz", "{logtrace} analyze {edge_rotated_gz} --preset trace",
          versus="analyze .gz"),
    # ... as `docker compose logs` of 20 replicas of the proxy: one file, a log per container.
    Bench("analyze compose", "{logtrace} analyze {edge_compose} --preset trace",
          versus="analyze"),
    Bench("join 6 files",   "{logtrace} export spans --format csv --out {work}/spans.csv"
                            " --nginx-conf {data}/nginx.conf {files}", lines="all"),
    # The same join with the JSON app log piped in: a pipe's length is not known, so the
    # join works a part at a time whatever it holds (it held every span in memory before).
    Bench("join stdin",     "{logtrace} export spans --format csv --out {work}/spans-stdin.csv"
                            " --nginx-conf {data}/nginx.conf --source api-1=- {files_but_api_1}",
          lines="all", stdin="{data}/api-1.log", versus="join 6 files"),
    # The chatty deployment (generate.py --deployment chatty): ~17 lines a request over 7
    # files, an internal proxy, N+1 loops; {data} and {files} are that data set's.
    Bench("join chatty",    "{logtrace} export spans --format csv --out {work}/spans-chatty.csv"
                            " --nginx-conf {data}/nginx.conf {files}", lines="all",
          deployment="chatty"),
    # The main job on the same files: every host's logs joined and reported (timelines,
    # per-service self time, slow paths, insights), a part of the requests at a time.
    Bench("analyze 6 files", "{logtrace} analyze --nginx-conf {data}/nginx.conf {files}",
          lines="all"),
    Bench("analyze chatty", "{logtrace} analyze --nginx-conf {data}/nginx.conf {files}",
          lines="all", deployment="chatty"),
    Bench("export csv",     "{logtrace} analyze {edge} --preset trace"
                            " --export-csv {work}/routes.csv --top 100"),
    Bench("analyze --json", "{logtrace} analyze {edge} --preset trace --json",
          check="logtrace_json"),
    Bench("analyze 1M distinct paths", "{logtrace} analyze {edge} --preset trace",
          paths="distinct"),
    Bench("analyze 50 distinct paths", "{logtrace} analyze {edge} --preset trace",
          paths="few"),
    Bench("trace ID",       "{logtrace} trace {request_id} --nginx-conf {data}/nginx.conf"
                            " {files}", lines="all"),
    # The app logs alone, one shape each (the files' lines, not the edge's, count).
    Bench("app json",       "{logtrace} analyze {data}/api-1.log", lines="api-1.log"),
    Bench("app logfmt",     "{logtrace} analyze {data}/api-2.log", lines="api-2.log"),
    Bench("app python",     "{logtrace} analyze {data}/inventory-1.log", lines="inventory-1.log"),
    Bench("app text",       "{logtrace} analyze {data}/users-1.log", lines="users-1.log"),
    # The same files through the parse stage alone (parse_only.py: no timelines, no report).
    Bench("parse json",     "{python} {bench}/parse_only.py {data}/api-1.log", lines="api-1.log"),
    Bench("parse logfmt",   "{python} {bench}/parse_only.py {data}/api-2.log", lines="api-2.log"),
    Bench("parse python",   "{python} {bench}/parse_only.py {data}/inventory-1.log",
          lines="inventory-1.log"),
    Bench("parse text",     "{python} {bench}/parse_only.py {data}/users-1.log",
          lines="users-1.log"),
    Bench("analyze --every", "{logtrace} analyze {edge} --preset trace --every auto"
                             " --fail-if p99>10s"),
    Bench("analyze --by status", "{logtrace} analyze {edge} --preset trace --by status",
          versus="analyze"),
    # Client addresses: about 120k distinct values in the 1M lines.
    Bench("analyze --by ip", "{logtrace} analyze {edge} --preset trace --by ip",
          versus="analyze"),
    # What time buckets, breakdowns and the gate add to a plain analyze (target: < 1.15x);
    # the rule is broken on this data (p99 is about 973 ms), so the run exits with 8.
    Bench("analyze --every --by --fail-if",
          "{logtrace} analyze {edge} --preset trace --every auto --by status --by ip"
          " --fail-if p99>800ms", exit_code=8, versus="analyze"),
    # The HTML report of the edge log: its size is printed on stderr (target: < 3 MB).
    Bench("report html",    "{logtrace} report {edge} --preset trace -o {work}/report.html",
          versus="analyze"),
    # The stack's floor (floor.py): polars' own readers on the same files, and a per-route
    # report that reads with them and checks nothing. Not logtrace: what any exact parse
    # on this stack starts from.
    Bench("floor import",   "{python} {bench}/floor.py import", lines=""),
    Bench("floor read-lines", "{python} {bench}/floor.py read-lines {edge}"),
    Bench("floor read-csv", "{python} {bench}/floor.py read-csv {edge}"),
    Bench("floor sketch",   "{python} {bench}/floor.py sketch {edge}", versus="analyze"),
    Bench("floor read-ndjson", "{python} {bench}/floor.py read-ndjson {edge_json}"),
    Bench("floor sketch-json", "{python} {bench}/floor.py sketch-json {edge_json}",
          versus="analyze json"),
    Bench("floor read-ndjson app", "{python} {bench}/floor.py read-ndjson {data}/api-1.log",
          lines="api-1.log", versus="parse json"),
    Bench("--help",         "{logtrace} --help", lines=""),
    Bench("--version",      "{logtrace} --version", lines=""),
    Bench("baseline_re",    "{python} {bench}/baseline_re.py {edge} --json",
          baseline=True, check="baseline_re"),
    Bench("goaccess",       "goaccess {edge} --log-format={goaccess_format}"
                            " --date-format=%d/%b/%Y --time-format=%T"
                            " --no-global-config --no-progress -o {work}/goaccess.json",
          baseline=True, needs="goaccess", check="goaccess"),
    Bench("lnav",           "lnav -n -c {lnav_sql} {edge}",
          baseline=True, needs="lnav", check="lnav"),
)
# fmt: on

# goaccess reads the trace format with this; %T is $request_time in seconds, and the
# trailing %^ skips $upstream_response_time and $request_id.
GOACCESS_FORMAT = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T %^'

# lnav parses the file with its built-in access_log format; the three trailing fields
# land in log_body. Route = method + path with digit segments → {id}, UUID segments →
# {uuid}, hex runs ≥ 16 → {hex}; nearest-rank percentiles via window functions. The
# `|| ''` copies work around lnav 0.11.1's regexp_replace reading past its argument.
_ROUTE = (
    "cs_method || ' ' || regexp_replace(regexp_replace(regexp_replace(cs_uri_stem || '',"
    " '/[0-9]+(?=/|$)', '/{id}') || '', '/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    "[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=/|$)', '/{uuid}') || '', '[0-9a-fA-F]{16,}', '{hex}')"
)
_RT = "CAST(substr(log_body, 1, instr(log_body, ' ') - 1) AS REAL)"
_PCT = ", ".join(
    f"max(CASE WHEN rn = (n * {p} + 99) / 100 THEN rt END) AS p{p}" for p in (50, 90, 95, 99)
)
LNAV_SQL = (
    f";WITH t AS (SELECT {_ROUTE} AS route, {_RT} AS rt FROM access_log"
    " WHERE sc_status IS NOT NULL),"
    " k AS (SELECT route, rt, row_number() OVER (PARTITION BY route ORDER BY rt) AS rn,"
    " count(*) OVER (PARTITION BY route) AS n FROM t"
    " UNION ALL SELECT '(all)', rt, row_number() OVER (ORDER BY rt),"
    " count(*) OVER () FROM t)"
    f" SELECT route, n, {_PCT}, max(rt) AS max FROM k GROUP BY route"
    " UNION ALL SELECT '(unparsed)', count(*), NULL, NULL, NULL, NULL, NULL"
    " FROM access_log WHERE sc_status IS NULL"
    " ORDER BY 2 DESC, 1"
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


def logtrace_argv() -> list[str]:
    """The installed CLI if the venv has it, else `python -m logtrace`."""
    script = REPO / ".venv" / "bin" / "logtrace"
    return [str(script)] if script.exists() else [sys.executable, "-m", "logtrace"]


# How report.py shows the long or temporary values (listed once under the table).
DISPLAY_VALUES = {
    "work": "$WORK",
    "goaccess_format": "$GOACCESS_FORMAT",
    "lnav_sql": "$LNAV_SQL",
    "json_format": "$JSON_FORMAT",
}


# The edge log as rotated files, and how a command shows them: shell globs that expand to
# the same files in the same order.
_ROTATED: dict[str, tuple[Callable[[datasets.DataSet], list[Path]], str]] = {
    "{edge_rotated}": (lambda d: d.rotated(), "edge.log edge.log.[1-9]"),
    "{edge_100}": (lambda d: d.rotated(100), "edge.log edge.log.[1-9] edge.log.[1-9][0-9]"),
    "{edge_rotated_gz}": (lambda d: d.rotated_gz(), "edge.log edge.log.1 edge.log.[2-9].gz"),
    "{edge_compose}": (lambda d: d.compose(), "edge.compose20.log"),
}


def expand(
    bench: Bench, data: datasets.DataSet, work: Path, shown: dict[str, str] | None = None
) -> list[str]:
    """The argv of `bench` on `data` (`shown` overrides values, for display)."""
    lists = {
        "{logtrace}": logtrace_argv(),
        "{python}": [sys.executable],
        "{files}": [str(f) for f in data.files],
        # every file but the JSON app log, which "join stdin" pipes in
        "{files_but_api_1}": [str(f) for f in data.files if f.name != "api-1.log"],
    }
    for token, (make, globs) in _ROTATED.items():
        if token in bench.argv:  # made on first use; shown as the shell globs of them
            files = make(data)
            names = [f.name for f in files] if shown is None else globs.split()
            lists[token] = [str(files[0].parent / name) for name in names]
    values = {
        "bench": str(REPO / "benchmarks"),
        "data": str(data.dir),
        "edge": str(data.edge),
        "edge_gz": str(data.edge_gz),
        "request_id": data.middle_request_id() if "{request_id}" in bench.argv else "",
        "edge_combined": str(data.edge.with_name("edge.combined.log")),
        "edge_json": str(data.edge.with_name("edge.json.log")),
        "json_format": formats.JSON_FORMAT,
        "work": str(work),
        "goaccess_format": GOACCESS_FORMAT,
        "lnav_sql": LNAV_SQL,
        **(shown or {}),
    }
    argv: list[str] = []
    for token in shlex.split(bench.argv):
        if token in lists:
            argv += lists[token]
        else:
            argv.append(token.format(**values))
    return argv


def child_env() -> dict[str, str]:
    """Plain, uncoloured, English-locale output for every command."""
    env = dict(os.environ)
    env.update(NO_COLOR="1", COLUMNS="120", LC_ALL="C.UTF-8", LANG="C.UTF-8", TERM="dumb")
    return env


def line_count(bench: Bench, data: datasets.DataSet) -> int | None:
    """The lines that `bench` reads, for lines/s."""
    return {"edge": data.edge_lines, "all": data.total_lines, **data.lines_by_file}.get(bench.lines)


def data_set_of(bench: Bench) -> str:
    """The key of the data set `bench` runs on: its `paths` kind, or its deployment."""
    return bench.paths if bench.deployment == "edge" else bench.deployment


def variants(
    benches: list[Bench], lines: int, seed: int, chatty_lines: int
) -> dict[str, datasets.DataSet]:
    """The data sets the benches use, each made on first use: `lines` edge lines with app
    logs for the catalogue's paths, an edge-only set of as many lines for another `paths`
    kind, the chatty deployment of `chatty_lines` lines in all files."""
    out: dict[str, datasets.DataSet] = {}
    for key in sorted({data_set_of(b) for b in benches}):
        if key == "catalogue":
            out[key] = datasets.ensure(lines, seed)
        elif key == "chatty":
            out[key] = datasets.ensure(chatty_lines, seed, with_gz=False, deployment=key)
        else:
            out[key] = datasets.ensure(lines, seed, edge_only=True, with_gz=False, paths=key)
    return out


def measure_all(
    benches: list[Bench], sets: dict[str, datasets.DataSet], work: Path, plan: Plan
) -> list[report.Result]:
    """Warm-up runs (a command that fails is not timed), then interleaved timed rounds;
    `sets` holds the data set of each bench (`data_set_of`)."""
    env = child_env()
    results: dict[str, report.Result] = {}
    live: list[Bench] = []
    for bench in benches:
        data = sets[data_set_of(bench)]
        shown = expand(bench, data, work, DISPLAY_VALUES)
        stdin = bench.stdin.format(edge=data.edge, data=data.dir) if bench.stdin else None
        result = report.Result(bench.name, shown, stdin, line_count(bench, data), bench.baseline)
        results[bench.name] = result
        if bench.needs and shutil.which(bench.needs) is None:
            result.skip(f"{bench.needs} is not installed")
            continue
        if "{edge_gz}" in bench.argv and data.edge_gz is None:
            result.skip("no .gz copy of the edge log")
            continue
        live.append(bench)
        for _ in range(plan.warmup):
            warm = _once(bench, data, work, env, plan.timeout_s)
            print(f"  warm-up {bench.name}: {_brief(warm)}", file=sys.stderr, flush=True)
            if not warm.ok:
                result.fail(warm)
                live.remove(bench)
                break
    runs = plan.runs
    for round_no in range(runs):
        order = live[round_no % len(live) :] + live[: round_no % len(live)] if live else []
        for bench in order:
            result = results[bench.name]
            sample = _once(bench, sets[data_set_of(bench)], work, env, plan.timeout_s)
            print(f"  run {round_no + 1}/{runs} {bench.name}: {_brief(sample)}", file=sys.stderr)
            result.add(sample)
            if not sample.ok:
                result.fail(sample)
                live.remove(bench)
    for bench in [b for b in live if b.check]:
        out = work / (_slug(bench.name) + ".out")
        edge_lines = sets[data_set_of(bench)].edge_lines
        try:
            verdict = CHECKS[bench.check or ""](out, work, edge_lines)
        except (OSError, ValueError, KeyError) as exc:
            verdict = Verdict(None, edge_lines, f"could not read its output: {exc}")
        results[bench.name].verdict = verdict
    return list(results.values())


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_") or "cmd"


def _once(
    bench: Bench, data: datasets.DataSet, work: Path, env: dict[str, str], timeout_s: float
) -> Sample:
    """One measured run of `bench`; its stdout lands in the work folder for the checks."""
    stdin = Path(bench.stdin.format(edge=data.edge, data=data.dir)) if bench.stdin else None
    out = work / (_slug(bench.name) + ".out")
    argv = expand(bench, data, work)
    sample = run_once(
        argv, stdin_file=stdin, stdout_file=out, cwd=REPO, env=env, timeout_s=timeout_s
    )
    if bench.exit_code and sample.exit_code == bench.exit_code:
        return replace(sample, exit_code=0)  # the exit it is meant to end with
    return sample


def relative(results: list[report.Result]) -> list[str]:
    """For each command with a `versus`: its median over the other's, from the same run."""
    by_name = {r.name: r for r in results}
    lines = []
    for bench in COMMANDS:
        mine, other = by_name.get(bench.name), by_name.get(bench.versus or "")
        if mine is None or other is None or not mine.median_s or not other.median_s:
            continue
        lines.append(
            f"{bench.name}: {mine.median_s / other.median_s:.2f}x the time of {other.name} "
            f"({mine.median_s:.2f} s / {other.median_s:.2f} s, medians)"
        )
    return lines


def _brief(sample: Sample) -> str:
    if sample.ok:
        return f"{sample.wall_s:.2f} s, {sample.max_rss_kib / 1024:.0f} MiB"
    why = "timeout" if sample.timed_out else f"exit {sample.exit_code}"
    return f"FAILED ({why}: {sample.stderr_tail[:120]})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=None, help="edge lines (default 1,000,000)")
    p.add_argument("--big", action="store_true", help="10,000,000 edge lines")
    p.add_argument(
        "--chatty-lines",
        type=int,
        default=5_000_000,
        help="lines in all files of the chatty data set (join chatty; default 5,000,000)",
    )
    p.add_argument("--rss-big", action="store_true", help="logtrace analyze on ~40M lines")
    p.add_argument("--runs", type=int, default=None, help="timed runs each (default 5; rss 1)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 1; rss 0)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", default="", help="comma-separated command names")
    p.add_argument("--skip", default="", help="comma-separated command names")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    p.add_argument("--out", type=Path, default=None, help="results file stem")
    p.add_argument("--list", action="store_true", help="print the commands and exit")
    return p.parse_args(argv)


def select(only: str, skip: str) -> list[Bench]:
    """COMMANDS filtered by --only / --skip."""
    wanted = {s.strip() for s in only.split(",") if s.strip()}
    unwanted = {s.strip() for s in skip.split(",") if s.strip()}
    unknown = (wanted | unwanted) - {b.name for b in COMMANDS}
    if unknown:
        raise SystemExit(f"unknown command name(s): {', '.join(sorted(unknown))}")
    return [b for b in COMMANDS if (not wanted or b.name in wanted) and b.name not in unwanted]


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    if args.list:
        for bench in COMMANDS:
            print(f"{bench.name:16} {bench.argv}")
        return 0
    if args.rss_big:
        lines = args.lines or 40_000_000
        sets = {"catalogue": datasets.ensure(lines, args.seed, edge_only=True, with_gz=False)}
        benches = [b for b in COMMANDS if b.name == "analyze"]
        plan = Plan(args.runs or 1, 0 if args.warmup is None else args.warmup, args.timeout)
        stem = args.out or RESULTS / "rss_big"
    else:
        lines = args.lines or (10_000_000 if args.big else 1_000_000)
        benches = select(args.only, args.skip)
        sets = variants(benches, lines, args.seed, args.chatty_lines)
        plan = Plan(args.runs or 5, 1 if args.warmup is None else args.warmup, args.timeout)
        stem = args.out or RESULTS / "latest"
    if not sets:
        sets = {"catalogue": datasets.ensure(lines, args.seed)}
    # The report describes the main set, or the one set the chosen commands run on.
    data = sets.get("catalogue", next(iter(sets.values())))
    if any("{edge_combined}" in b.argv or "{edge_json}" in b.argv for b in benches):
        formats.derived(data.edge)
    for each in sets.values():
        print(
            f"data: {each.dir} ({each.edge_lines:,} edge lines, {each.total_lines:,} in all)",
            file=sys.stderr,
        )
    # bytecode written first, as pip does when it installs a package: where
    # PYTHONDONTWRITEBYTECODE is set, every run would compile every module again
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "logtrace", quiet=1)
    load_before = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="logtrace-bench-") as tmp:
        results = measure_all(benches, sets, Path(tmp), plan)
    variables = {
        "GOACCESS_FORMAT": GOACCESS_FORMAT,
        "LNAV_SQL": LNAV_SQL,
        "JSON_FORMAT": formats.JSON_FORMAT,
    }
    machine = report.machine(logtrace_argv(), child_env())
    machine["load_average_before"] = load_before  # other work on the machine skews all
    more = tuple(each for each in sets.values() if each is not data)
    doc = report.Document(results, data, plan.runs, plan.warmup, machine, variables, more)
    print(doc.table())
    ratios = relative(results)
    for line in ratios:
        print(line)
    stem.parent.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"\n- {line}" for line in ratios)
    stem.with_suffix(".md").write_text(
        doc.markdown() + (f"\n## Relative\n{extra}\n" if extra else "")
    )
    stem.with_suffix(".json").write_text(json.dumps(doc.as_json(), indent=2) + "\n")
    print(f"wrote {stem.with_suffix('.md')} and {stem.with_suffix('.json')}", file=sys.stderr)
    failed = [r.name for r in results if r.status == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)} (see the table)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
