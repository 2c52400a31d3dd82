"""The topology's app log shapes write what the real logging libraries write.

Each library shape names a genuine sample (tests/fixtures/app-log-shapes, copied verbatim
from lines the library itself produced) and a pattern of the library's record frame;
both the sample and what the shape writes must match it, and durations must be in the
library's unit.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "scripts"))

from topology.applogs import Outgoing, Served  # noqa: E402
from topology.shapes import SHAPES, make_shape  # noqa: E402

SAMPLES = ROOT / "tests" / "fixtures" / "app-log-shapes"
LIBRARY_SHAPES = [name for name, spec in SHAPES.items() if spec.corpus]
RID = "0af7651916cd43dd8448eb211c80319c"
AT = 1796294424.25
DURATION_S = 0.0123456


def _events() -> tuple[list[Served], list[Outgoing]]:
    start = Served(RID, None, "GET", "/feed/42?limit=20", AT, remote="127.0.0.1:51234")
    end = replace(start, at=AT + 0.05, status=200, duration_s=DURATION_S, size=40)
    failed = replace(start, target="/feed/43", at=AT + 0.06, status=502, duration_s=0.02)
    url = "http://127.0.0.1:8080/users/42"
    call = Outgoing(RID, None, "users", "GET", url, "/users/42", "/users/42", AT + 0.01)
    done = replace(call, at=AT + 0.02, status=200, duration_s=DURATION_S)
    broken = replace(call, at=AT + 0.03, status=503, duration_s=0.005)
    return [start, end, failed], [call, done, broken]


def write_all(name: str, tmp_path: Path) -> list[str]:
    """Every event through one shape; the lines it wrote."""
    path = tmp_path / f"{name}.log"
    shape = make_shape(name, path=path, host="feed-1", service="feed", skew_s=0.0, id_key=None)
    (start, end, failed), (call, done, broken) = _events()
    shape.served_start(start)
    shape.call_start(call)
    shape.call_end(done)
    shape.call_start(broken)
    shape.call_end(broken)
    shape.served_end(end)
    shape.served_end(failed)
    shape.close()
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("name", LIBRARY_SHAPES)
def test_the_genuine_sample_matches_the_shapes_frame(name: str) -> None:
    spec = SHAPES[name]
    assert spec.corpus and spec.frame
    lines = (SAMPLES / spec.corpus).read_text(encoding="utf-8").splitlines()
    matched = [line for line in lines if re.match(spec.frame, line)]
    # Three requests, each with at least a served line and a call line.
    assert len(matched) >= 6, f"{spec.corpus}: only {len(matched)} lines match"


@pytest.mark.parametrize("name", LIBRARY_SHAPES)
def test_every_line_the_shape_writes_matches_the_frame(name: str, tmp_path: Path) -> None:
    spec = SHAPES[name]
    assert spec.frame
    lines = write_all(name, tmp_path)
    assert lines
    for line in lines:
        assert re.match(spec.frame, line), line


@pytest.mark.parametrize("name", list(SHAPES))
def test_every_shape_logs_the_served_request_and_the_call(name: str, tmp_path: Path) -> None:
    text = "\n".join(write_all(name, tmp_path))
    assert "/feed/42" in text
    assert RID in text.replace("-", "") or RID[16:] in text
    if name != "rails":  # Rails names the callee and the URL only on the call's first line
        assert "/users/42" in text


# shape -> (a pattern capturing the served request's duration as written, its unit in seconds)
DURATIONS: dict[str, tuple[str, float]] = {
    "structlog-json": (r'"duration_ms": ([\d.]+), "event": "request completed"', 1e-3),
    "structlog-console": (r"request handled +duration_ms=([\d.]+)", 1e-3),
    "gunicorn": (r'HTTP/1\.0" 200 40 "-" "-" (\d+) ', 1e-6),
    "slog-text": (r'msg="request completed".* duration=([\d.]+)ms', 1e-3),
    "slog-json": (r'"msg":"request completed".*"duration":(\d+)\}', 1e-9),
    "zap": (r'"latency":([\d.]+)\}', 1.0),
    "zerolog": (r'"status":200,"size":40,"duration":([\d.]+),', 1e-3),
    "logrus-text": (r"status=200 text_status=OK took=([\d.]+)ms", 1e-3),
    "pino": (r'"statusCode":200,"responseTime":(\d+),', 1e-3),
    "winston": (r'"durationMs":([\d.]+),"level":"info","message":"request completed"', 1e-3),
    "logback": (r"request completed .* status=200 duration_ms=([\d.]+)", 1e-3),
    "rails": (r"Completed 200 OK in (\d+)ms", 1e-3),
}


@pytest.mark.parametrize("name", LIBRARY_SHAPES)
def test_durations_are_in_the_librarys_unit(name: str, tmp_path: Path) -> None:
    pattern, unit = DURATIONS[name]
    found = re.search(pattern, "\n".join(write_all(name, tmp_path)))
    assert found, pattern
    assert float(found[1]) * unit == pytest.approx(DURATION_S, abs=1e-3)


def test_winston_sorts_its_keys(tmp_path: Path) -> None:
    for line in write_all("winston", tmp_path):
        keys = list(json.loads(line))
        assert keys == sorted(keys)


def test_structlog_console_pads_level_and_event_like_the_sample() -> None:
    sample = (SAMPLES / "python-structlog-console.log").read_text().splitlines()[0]
    assert sample.index("method=") == len("2026-12-03 10:40:01 [info     ] ") + 31


def test_a_skewed_host_writes_shifted_times(tmp_path: Path) -> None:
    path = tmp_path / "zap.log"
    shape = make_shape("zap", path=path, host="h-1", service="h", skew_s=0.25, id_key=None)
    shape.served_end(_events()[0][1])
    shape.close()
    ts = json.loads(path.read_text())["ts"]
    assert ts == pytest.approx(AT + 0.05 + 0.25, abs=1e-6)
