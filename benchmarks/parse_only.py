"""Read logs as `logtrace analyze` reads them, and stop there: the parse stage alone.

    python benchmarks/parse_only.py FILE... [--json]

Every source goes through `logtrace.ingest.iter_lines` (detection, chunks parsed in
worker threads, entries, rejects), and the parsed chunks are dropped: no timelines, no
analysis. Prints lines read, parsed and rejected, so that the time of a whole `analyze`
can be split into parsing and the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# This checkout's logtrace, not whichever one the interpreter has installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logtrace.ingest import IngestReport, iter_lines
from logtrace.resolve import FormatOptions, FormatResolver
from logtrace.sources import resolve_sources


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = p.parse_args(argv)
    report = IngestReport()
    resolver = FormatResolver.from_options(FormatOptions())
    entries = 0
    for chunk in iter_lines(resolve_sources(args.files), resolver, report):
        entries += chunk.frame.height
    counts = {
        "lines": report.lines_total,
        "parsed": report.lines_parsed,
        "rejected": sum(s.lines_rejected for s in report.sources),
        "entries": entries,
    }
    if args.json:
        print(json.dumps(counts))
    else:
        print(", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
