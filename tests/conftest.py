"""Shared fixtures: the genuine nginx corpus, golden files, helpers to parse text."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "nginx-edge-cases"
GOLDEN = Path(__file__).parent / "golden"


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


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def golden(update_golden: bool):  # type: ignore[no-untyped-def]
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


def lines_of(text: str) -> pl.DataFrame:
    """A frame of line_no/line from text, exactly as sources.py builds it."""
    from logtrace.lines import Chunk, lines_frame

    return lines_frame(Chunk(text.encode("utf-8"), 1))


ROOT = Path(__file__).resolve().parent.parent
PLANTED_SKEW = ("api-2", 0.150)


def nginx_available() -> bool:
    import os
    import shutil

    return shutil.which("nginx") is not None or os.access("/usr/sbin/nginx", os.X_OK)


@pytest.fixture(scope="session")
def topology_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of the test topology (nginx + services on 127.0.0.1), shared by tests.

    300 client requests with every planted pattern, a planted clock skew on one host;
    returns the output directory (logs/, ground_truth.jsonl, nginx/ configs).
    """
    import subprocess
    import sys

    if not nginx_available():
        pytest.skip("nginx is not installed (.ci/run installs nginx-light)")
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
