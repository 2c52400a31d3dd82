"""Shared fixtures: the genuine nginx corpus, golden files, helpers to parse text, topology runs,
the sample logs loaded once per session, and the console environment every test runs in."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

from logtrace.render.console import Environment, use_environment

if TYPE_CHECKING:
    from logtrace.analysis.analyze import Analysis
    from logtrace.timelines.load import Loaded

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "nginx-edge-cases"
GOLDEN = Path(__file__).parent / "golden"
SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs"
SAMPLE_CONF = SAMPLE / "nginx" / "mesh-1.conf"
# Set by .ci/run: a missing nginx fails the nginx tests instead of skipping them.
REQUIRE_NGINX = "LOGTRACE_REQUIRE_NGINX"
# Set by .ci/run: a missing chromium/chromedriver fails the browser tests instead of skipping.
REQUIRE_BROWSER = "LOGTRACE_REQUIRE_BROWSER"
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite golden files from current output"
    )
    parser.addoption("--fuzz-long", action="store_true", help="run the long fuzz campaign")


def pytest_configure(config: pytest.Config) -> None:
    """``--fuzz-long`` (``make fuzz``): hypothesis's "fuzz-long" profile, many more examples."""
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "fuzz-long",
        max_examples=4000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    if config.getoption("--fuzz-long"):
        settings.load_profile("fuzz-long")


@pytest.fixture(autouse=True)
def console_environment() -> Iterator[Environment]:
    """Every test runs in a known console environment (no COLUMNS, no NO_COLOR), whatever
    the shell running pytest has set; a test wanting another one passes it explicitly
    (``use_environment(Environment(columns=80))``, or ``env=`` to a subprocess)."""
    with use_environment(Environment()) as env:
        yield env


@pytest.fixture(scope="session")
def sample_loaded() -> Loaded:
    """``sample_logs/`` read into timelines once per session (with mesh-1.conf, as the
    README runs it). Frames are immutable: share, never modify."""
    from logtrace.resolve import FormatOptions
    from logtrace.sources import resolve_sources
    from logtrace.timelines.load import TimelineOptions, load

    formats = FormatOptions(nginx_confs=(str(SAMPLE_CONF),))
    return load(resolve_sources([str(SAMPLE)]), TimelineOptions(formats=formats))


@pytest.fixture(scope="session")
def sample_analysis() -> Analysis:
    """``logtrace analyze sample_logs/ --nginx-conf sample_logs/nginx/mesh-1.conf``'s
    result, made once per session."""
    from contextlib import chdir

    from logtrace.analysis.analyze import AnalyzeOptions, analyze
    from logtrace.resolve import FormatOptions
    from logtrace.sources import resolve_sources

    formats = FormatOptions(nginx_confs=("sample_logs/nginx/mesh-1.conf",))
    with chdir(ROOT):  # paths as the README gives them, the same on every machine
        return analyze(resolve_sources(["sample_logs/"]), AnalyzeOptions(formats=formats))


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


Golden = Callable[[str, str], None]


@pytest.fixture
def golden(update_golden: bool) -> Golden:
    """``golden(name, text)``: compare text with tests/golden/<name>, or rewrite it."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update_golden or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if not update_golden:
                pytest.fail(f"golden file {name} was missing and has been written; review it")
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"output differs from tests/golden/{name} (--update-golden)"

    return check


class PipedStdin:
    """sys.stdin as a pipe gives it: ``buffer.read(n)`` waits for ``n`` bytes or the end."""

    def __init__(self, data: bytes) -> None:
        self.buffer = self
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else min(len(self._data), self._at + size)
        out, self._at = self._data[self._at : end], end
        return out


def lines_of(text: str) -> pl.DataFrame:
    """A frame of line_no/line from text, exactly as sources.py builds it."""
    from logtrace.lines import Chunk, lines_frame

    return lines_frame(Chunk(text.encode("utf-8"), 1))


ROOT = Path(__file__).resolve().parent.parent
PLANTED_SKEW = ("api-2", 0.150)
sys.path.append(str(ROOT / "scripts"))  # the topology harness: `import topology`

# The small seeded matrix CI runs: every variant once per session. 300 requests (about
# 570 calls): a 99.5% threshold is then a rate, which a miss or two from a scheduling
# hiccup does not break, not a demand that nothing in 190 calls goes wrong.
MATRIX_REQUESTS = 300
MATRIX_SEED = 17
MATRIX_SCORES = pytest.StashKey[list[Any]]()


def shell_signals(*ignored: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn``: the child starts with SIGINT, SIGTERM and SIGHUP handled as a
    shell leaves them, whatever the test runner's own (a run under ``nohup`` ignores
    SIGHUP), except those ``ignored``."""

    def dispositions() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)

    return dispositions


def nginx_available() -> bool:
    import shutil

    return shutil.which("nginx") is not None or os.access("/usr/sbin/nginx", os.X_OK)


def need_nginx() -> None:
    """Skip the calling test without nginx; fail it when CI requires nginx (.ci/run sets
    LOGTRACE_REQUIRE_NGINX=1), so that a broken install cannot pass as a green run."""
    if nginx_available():
        return
    message = "nginx is not installed (.ci/run installs nginx-light)"
    if os.environ.get(REQUIRE_NGINX) == "1":
        pytest.fail(f"{message}, and {REQUIRE_NGINX}=1 requires it")
    pytest.skip(message)


def need_browser() -> None:
    """Skip the calling test without Debian's chromium and chromedriver (and selenium);
    fail it when CI requires them (.ci/run sets LOGTRACE_REQUIRE_BROWSER=1)."""
    import importlib.util

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium")
    if not missing:
        return
    message = f"{', '.join(missing)} missing (.ci/run installs chromium chromium-driver)"
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{message}, and {REQUIRE_BROWSER}=1 requires them")
    pytest.skip(message)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``nginx`` skip without nginx, or fail under LOGTRACE_REQUIRE_NGINX=1;
    tests marked ``browser`` likewise without chromium (LOGTRACE_REQUIRE_BROWSER=1)."""
    if item.get_closest_marker("nginx") is not None:
        need_nginx()
    if item.get_closest_marker("browser") is not None:
        need_browser()


@pytest.fixture(scope="session")
def topology_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of the test topology (nginx + services on 127.0.0.1), shared by tests.

    300 client requests with every planted pattern, a planted clock skew on one host;
    returns the output directory (logs/, ground_truth.jsonl, nginx/ configs).
    """
    import subprocess
    import sys

    need_nginx()
    out = tmp_path_factory.mktemp("topology") / "run"
    host, skew = PLANTED_SKEW
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "topology" / "run.py"),
            "--out",
            str(out),
            "--requests",
            "300",
            "--seed",
            "11",
            "--skew",
            f"{host}={skew}",
            "--timeout-s",
            "240",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"topology harness failed: {done.stderr.strip()[-2000:]}")
    return out


@pytest.fixture(scope="session")
def variant_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``variant_run(name)``: one real run of a topology variant, made once per session.

    MATRIX_REQUESTS client requests, seed MATRIX_SEED, the variant's own planted skews.
    """
    need_nginx()
    from topology.matrix import run_variant
    from topology.procs import HarnessError

    runs: dict[str, Path | str] = {}
    base = tmp_path_factory.mktemp("matrix")

    def get(name: str) -> Path:
        if name not in runs:
            try:
                runs[name] = run_variant(
                    name, base / name, requests=MATRIX_REQUESTS, seed=MATRIX_SEED, timeout_s=120
                )
            except HarnessError as exc:
                runs[name] = str(exc)
        found = runs[name]
        if isinstance(found, str):
            pytest.fail(found)
        return found

    return get


@pytest.fixture(scope="session")
def scored(variant_run: Callable[[str], Path], pytestconfig: pytest.Config) -> Callable[[str], Any]:
    """``scored(name)``: logtrace scored on the variant's run, logs directory alone.

    Both cases (alone and with every nginx.conf) are kept for the session's summary.
    """
    from topology.score import score_run

    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            scores = score_run(variant_run(name))
            pytestconfig.stash.setdefault(MATRIX_SCORES, []).extend(scores)
            cache[name] = next(s for s in scores if s.case == "plain")
        return cache[name]

    return get


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """The topology matrix measured in this session, whatever -s or -q say."""
    scores = config.stash.get(MATRIX_SCORES, [])
    if not scores:
        return
    from topology.report import table

    order = {name: i for i, name in enumerate(dict.fromkeys(s.variant for s in scores))}
    terminalreporter.section("topology matrix")
    for case, title in (("plain", "logs directory alone"), ("nginx-conf", "with --nginx-conf")):
        chosen = sorted((s for s in scores if s.case == case), key=lambda s: order[s.variant])
        if chosen:
            terminalreporter.write_line(table(chosen, title=title))
            terminalreporter.write_line("")


def disk_full_after(monkeypatch: pytest.MonkeyPatch, files: int) -> list[str]:
    """polars' Arrow IPC writer (spills) writing ``files`` empty files, then failing as a
    full disk does; the names it was asked to write, to look at after."""
    written: list[str] = []

    def full(self: pl.DataFrame, file: object, **_: object) -> None:
        written.append(str(file))
        if len(written) > files:
            raise OSError(28, "No space left on device")
        Path(str(file)).write_bytes(b"")

    monkeypatch.setattr(pl.DataFrame, "write_ipc", full)
    return written
