"""Start the logtrace test topology, drive traffic with planted patterns, keep logs + truth.

Usage: python scripts/topology/run.py --out DIR [--variant NAME] [--requests N] [--seed S]
           [--skew HOST=SECONDS ... | --no-skew] [--edge-format trace|timing]
           [--concurrency C] [--timeout-s T]
       python scripts/topology/run.py --list-variants
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NoReturn

if __package__ in (None, ""):
    # Run as a file: make the `topology` package (this directory) importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from topology.harness import RunConfig, run
from topology.layout import EDGE_FORMATS
from topology.nginx_conf import conf_path
from topology.procs import HarnessError
from topology.scenarios import SCENARIOS
from topology.variants import VARIANTS

PROG = "topology"
MAX_SKEW_S = 3600.0

EPILOG = f"""\
variants (--list-variants describes each): {", ".join(VARIANTS)}.
Every host listens on 127.0.0.1 on a port picked at run time.

--skew shifts the timestamps one app host WRITES by SECONDS (its clock is off);
the ground truth keeps the true clock. nginx hosts cannot be skewed: nginx reads
the system clock and has no setting to offset it. Without --skew (or --no-skew)
each variant plants its own skews.

output: DIR/logs/<host>.log and DIR/logs/<host>.access.log (a rotated edge log as
<host>.access.log.1.gz), DIR/ground_truth.jsonl, DIR/topology.json,
DIR/extra/ (app configs, the edge in `combined` where written), DIR/nginx/<host>/
(config, error.log), DIR/truth/ (the apps' side channels).

scenarios: {", ".join(s.name for s in SCENARIOS)}
"""


def _skew(text: str) -> tuple[str, float]:
    host, sep, seconds = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected HOST=SECONDS, got {text!r}")
    try:
        value = float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"SECONDS must be a number, got {seconds!r}") from None
    if not abs(value) <= MAX_SKEW_S:
        raise argparse.ArgumentTypeError(f"skew must be within ±{MAX_SKEW_S:g}s")
    return host, value


def _check_skews(variant: str, skews: dict[str, float]) -> str | None:
    """Why these skews cannot be planted in the variant, or None."""
    chosen = VARIANTS[variant]
    apps = [h.name for h in chosen.app_hosts]
    for host in skews:
        if host in chosen.nginx_hosts:
            return f"{host} runs nginx, which takes its clock from the system and cannot be skewed"
        if host not in apps:
            return f"unknown host {host!r} in {variant}; skewable: {', '.join(apps)}"
    return None


def list_variants() -> str:
    """One paragraph per variant: its name, what it is, its hosts and planted skews."""
    lines = []
    for variant in VARIANTS.values():
        hosts = ", ".join(f"{h.name} ({h.shape})" for s in variant.services for h in s.hosts)
        skews = ", ".join(f"{h}={s:+.3f}" for h, s in variant.skews) or "none"
        nginx = ", ".join(variant.nginx_hosts)
        lines.append(f"{variant.name}: {variant.summary}\n  nginx: {nginx}; apps: {hosts}")
        lines.append(f"  id: {variant.propagation}; planted skews: {skews}")
    return "\n".join(lines)


def _positive(kind: type[int] | type[float], upper: float) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not 0 < value <= upper:
            raise argparse.ArgumentTypeError(f"must be in (0, {upper:g}], got {text}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_args(argv: list[str]) -> tuple[RunConfig, bool]:
    """The run configuration, and whether to print tracebacks."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Start a real nginx + Python service topology on 127.0.0.1, drive traffic with "
            "planted performance patterns, stop everything, and leave the logs and the "
            "ground truth in DIR."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="output directory (must be empty or absent)"
    )
    parser.add_argument(
        "--variant",
        choices=list(VARIANTS),
        default="preserve",
        help="the deployment to start (default preserve)",
    )
    parser.add_argument(
        "--list-variants", action="store_true", help="describe every variant and exit"
    )
    parser.add_argument(
        "--requests",
        type=_positive(int, 100_000),
        default=300,
        metavar="N",
        help="client requests to send (default 300)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, metavar="S", help="seed for the request plan (default 1)"
    )
    parser.add_argument(
        "--skew",
        type=_skew,
        action="extend",
        nargs="+",
        default=[],
        metavar="HOST=SECONDS",
        help="plant clock skews on app hosts instead of the variant's, e.g. api-2=0.150",
    )
    parser.add_argument("--no-skew", action="store_true", help="plant no clock skew at all")
    parser.add_argument(
        "--edge-format",
        choices=sorted(EDGE_FORMATS),
        help="every edge's access log format (default: the variant's)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive(int, 64),
        default=8,
        metavar="C",
        help="client threads (default 8)",
    )
    parser.add_argument(
        "--timeout-s",
        type=_positive(float, 86_400),
        default=600.0,
        metavar="T",
        help="overall deadline in seconds (default 600)",
    )
    parser.add_argument(
        "--traceback", action="store_true", help="print the traceback of an unexpected error"
    )
    args = parser.parse_args(argv)
    if args.list_variants:
        print(list_variants())
        parser.exit(0)
    if args.out is None:
        parser.error("the following arguments are required: --out")
    skews = dict(args.skew)
    if len(skews) != len(args.skew):
        parser.error("--skew names the same host twice")
    if args.no_skew and skews:
        parser.error("--skew and --no-skew contradict each other")
    if problem := _check_skews(args.variant, skews):
        parser.error(problem)
    config = RunConfig(
        out=args.out,
        variant=args.variant,
        requests=args.requests,
        seed=args.seed,
        skews={} if args.no_skew else (skews or None),
        edge_format=args.edge_format,
        concurrency=args.concurrency,
        timeout_s=args.timeout_s,
    )
    return config, args.traceback


def _check_out(out: Path) -> None:
    conf_path(out.resolve())  # refuse a path nginx.conf cannot hold before creating anything
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HarnessError(f"--out {out} exists and is not an empty directory")
    out.mkdir(parents=True, exist_ok=True)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turned into an exception so the `finally` blocks stop every child process.
    raise HarnessError(f"interrupted by signal {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    """Run once; 0 on success, 1 on a harness error, 2 on an unexpected one."""
    config, show_traceback = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _check_out(config.out)
        result = run(config)
    except HarnessError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted; every started process was stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        if show_traceback:
            traceback.print_exc()
        else:
            hint = "rerun with --traceback for details"
            print(
                f"{PROG}: error: unexpected {type(exc).__name__}: {exc} ({hint})", file=sys.stderr
            )
        return 2
    counts: dict[str, int] = {}
    for record in result.truth:
        counts[record["scenario"]] = counts.get(record["scenario"], 0) + 1
    mix = ", ".join(f"{name}={n}" for name, n in sorted(counts.items()))
    took = f"{result.elapsed_s:.1f}s"
    print(
        f"{len(result.truth)} requests in {took} ({config.variant}, nginx {result.nginx_version})"
        f" -> {config.out}"
    )
    print(f"scenarios: {mix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
