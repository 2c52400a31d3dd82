"""Broken and hostile input through the real CLI (a subprocess): a documented exit code,
one ``logtrace: error:`` line and a ``hint:`` (or a warning and partial results), and
never a traceback. docs/bad-input.md lists the same cases; keep the two in step.
"""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

import logtrace.sources as sources_module
from logtrace.errors import ExitStatus
from logtrace.log_format.presets import PRESETS
from logtrace.sources import ReadReport, Source, iter_frames

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "sample_logs" / "edge-1.access.log"
COMBINED = ROOT / "sample_logs" / "combined" / "edge-1.combined.log"
API = ROOT / "sample_logs" / "api-1.log"
GOOD = EDGE.read_bytes().splitlines(keepends=True)[:200]  # `trace` preset lines
RID = "ab" * 16


def run_cli(
    *args: str,
    cwd: Path,
    stdin: bytes | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "logtrace", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
        preexec_fn=preexec_fn,
    )


def text(done: subprocess.CompletedProcess[bytes]) -> tuple[str, str]:
    return done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.name


def gz_cut(data: bytes, keep: float) -> bytes:
    packed = gzip.compress(data)
    return packed[: int(len(packed) * keep)]


def gz_flipped(data: bytes) -> bytes:
    packed = bytearray(gzip.compress(data))
    for i in range(len(packed) // 2, len(packed) // 2 + 40):
        packed[i] ^= 0xA5
    return bytes(packed)


def noise(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def app_lines(n: int, rid: str | None) -> bytes:
    out = []
    for i in range(n):
        entry = {
            "time": f"2026-11-26T12:37:{13 + i // 1000:02d}.{i % 1000:03d}+00:00",
            "level": "INFO",
            "msg": "request finished",
            "method": "GET",
            "path": "/api/x",
            "status": 200,
            "duration_ms": 3,
        }
        if rid is not None:
            entry["request_id"] = rid
        out.append(json.dumps(entry))
    return ("\n".join(out) + "\n").encode()


def edge_lines(n: int, rid: str) -> bytes:
    line = (
        '10.0.0.1 - - [26/Nov/2026:12:37:13 +0000] "GET /api/x HTTP/1.1" 200 5 "-" "ua" '
        f"0.005 0.004 {rid}\n"
    )
    return line.encode() * n


@dataclass(frozen=True)
class Case:
    """A bad input: files to write, the command, and what logtrace must answer."""

    name: str
    files: dict[str, bytes | None]  # None: a directory
    args: tuple[str, ...]
    status: ExitStatus
    stderr: tuple[str, ...] = ()  # fragments, in this order
    stdout: tuple[str, ...] = ()
    stdin: bytes | None = None
    check: Callable[[str], None] | None = field(default=None, compare=False)


def _counts(out: str) -> None:
    """Every source of a --json report: lines_total = parsed + rejected."""
    doc = json.loads(out)
    for s in doc["sources"]:
        assert s["lines_total"] == s["lines_parsed"] + s["lines_rejected"], s


def _damaged(word: str) -> Callable[[str], None]:
    def check(out: str) -> None:
        (source,) = json.loads(out)["sources"]
        # The damage sits in the middle or later: the lines before it are all reported.
        assert source["lines_parsed"] >= 80, source
        assert any(word in w for w in source["warnings"]), source["warnings"]
        _counts(out)

    return check


GOOD_LOG = b"".join(GOOD)
COMBINED_LINES = COMBINED.read_bytes().splitlines(keepends=True)
API_LINES = API.read_bytes().splitlines(keepends=True)
MIXED = b"".join(GOOD[:40] + COMBINED_LINES[:40] + API_LINES[:20])  # 40/100 are `trace`
TIMING = [f"{s.line}\n".encode() for s in PRESETS["timing"].samples[:4]]  # $msec lines
JSON_FORMAT = """escape=json '{"r":"$request","m":"$request_method","u":"$request_uri"}'"""
HALF_CUT = b"".join(line[: len(line) // 2] + b"\n" for line in GOOD[:20])


def _pretty(records: list[dict[str, object]], indent: str, colon: str) -> bytes:
    """JSON objects printed over many lines each, as journalctl's json-pretty (a tab, " : ")
    or jq (two spaces, ": ", objects within objects) print them."""
    return (
        "\n".join(json.dumps(r, indent=indent, separators=(",", colon)) for r in records) + "\n"
    ).encode()


PRETTY_JOURNAL = _pretty(
    [
        {
            "__CURSOR": f"s=9c9d885cb52742a4a09127b61d4df93e;i={i + 1:x};"
            "b=0f4f6b5cb1a54f2c9d7c2b9a1e0c3d4e;m=f4240;t=661e5daf29551;x=b49250edffa8c7ea",
            "__REALTIME_TIMESTAMP": f"17964897090000{i:02d}",
            "_HOSTNAME": "web-1",
            "SYSLOG_IDENTIFIER": "nginx",
            "MESSAGE": GOOD_LOG.decode().splitlines()[0],
        }
        for i in range(20)
    ],
    "\t",
    " : ",
)
PRETTY_APP = _pretty(
    [
        {
            "time": f"2026-11-26T12:00:{i:02d}.5Z",
            "msg": "request finished",
            "request_id": f"r{i}",
            "http": {"method": "GET", "path": f"/items/{i}", "status": 200},
            "duration_ms": 12.5,
        }
        for i in range(20)
    ],
    "  ",
    ": ",
)

CASES = [
    Case(
        "missing-file",
        {},
        ("analyze", "nope.log"),
        ExitStatus.NO_INPUT,
        ("nope.log: no such file or directory", "hint: check the path"),
    ),
    Case(
        "empty-file",
        {"empty.log": b""},
        ("analyze", "empty.log"),
        ExitStatus.NO_INPUT,
        ("empty.log: empty, not a single line", "hint: nothing to analyse"),
    ),
    Case(
        "empty-stdin",
        {},
        ("analyze", "-"),
        ExitStatus.NO_INPUT,
        ("<stdin>: empty",),
        stdin=b"",
    ),
    Case("dev-null", {}, ("analyze", "/dev/null"), ExitStatus.NO_INPUT, ("/dev/null: empty",)),
    Case(
        "empty-file-among-good-ones",
        {"empty.log": b"", "good.log": GOOD_LOG},
        ("analyze", "empty.log", "good.log"),
        ExitStatus.OK,
        stdout=("warning: empty.log: empty, not a single line", "Requests: 200"),
    ),
    Case(
        "only-blank-lines",
        {"blank.log": b"\n  \n\t\n\r\n"},
        ("analyze", "blank.log"),
        ExitStatus.NO_MATCH,
        ("no known log format matches the 4 lines (line 1: blank line)",),
    ),
    Case(
        "directory-among-files",
        {"good.log": GOOD_LOG, "more/web-2.log": GOOD_LOG, "more/notes.txt": b"x"},
        ("analyze", "good.log", "more", "--json"),
        ExitStatus.OK,
        stdout=('"path": "more/web-2.log"',),
        check=_counts,
    ),
    Case(
        "directory-without-logs",
        {"good.log": GOOD_LOG, "empty-dir": None},
        ("analyze", "good.log", "empty-dir"),
        ExitStatus.NO_INPUT,
        ("empty-dir: directory has no log files", "hint: a directory contributes its"),
    ),
    Case(
        "symlink-loop",
        {},
        ("analyze", "loop.log"),
        ExitStatus.NO_INPUT,
        ("loop.log: no such file or directory",),
    ),
    Case(
        "truncated-gz",
        {"old.log.gz": gz_cut(GOOD_LOG, 0.6)},
        ("analyze", "old.log.gz", "--json"),
        ExitStatus.PARTIAL,
        ("warning: some input was damaged; the results cover what could be read",),
        check=_damaged("gzip file is truncated; kept every line before"),
    ),
    Case(
        "damaged-gz",
        {"old.log.gz": gz_flipped(GOOD_LOG)},
        ("analyze", "old.log.gz", "--json"),
        ExitStatus.PARTIAL,
        ("warning: some input was damaged",),
        check=_damaged("gzip data is damaged"),
    ),
    Case(
        "gz-cut-in-its-header",
        {"old.log.gz": gzip.compress(GOOD_LOG)[:12]},
        ("analyze", "old.log.gz"),
        ExitStatus.NO_INPUT,
        ("old.log.gz: gzip file is truncated", "hint: not a single line could be read"),
    ),
    Case(
        "gz-name-but-plain-text",
        {"old.log.gz": GOOD_LOG},
        ("analyze", "old.log.gz"),
        ExitStatus.OK,
        stdout=("warning: old.log.gz: not gzip-compressed; read as plain text",),
    ),
    Case(
        "gz-name-but-binary",
        {"old.log.gz": noise(5000)},
        ("analyze", "old.log.gz"),
        ExitStatus.NO_MATCH,
        ("no known log format matches the", "hint: give the format"),
    ),
    Case(
        "gzip-of-binary",
        {"old.log.gz": gzip.compress(noise(20000))},
        ("analyze", "old.log.gz"),
        ExitStatus.NO_MATCH,
        ("no known log format matches the",),
    ),
    Case(
        "binary-file-with-nul-bytes",
        {"core.log": noise(50000) + b"\x00" * 100},
        ("analyze", "core.log"),
        ExitStatus.NO_MATCH,
        ("no known log format matches the",),
    ),
    Case(
        "binary-on-stdin",
        {},
        ("analyze", "-"),
        ExitStatus.NO_MATCH,
        ("no known log format matches the",),
        stdin=noise(30000),
    ),
    Case(
        "crlf-line-ends",
        {"crlf.log": GOOD_LOG.replace(b"\n", b"\r\n")},
        ("analyze", "crlf.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_parsed": 200', '"lines_rejected": 0'),
    ),
    Case(
        "utf8-bom-crlf-gz",
        {"bom.log.gz": gzip.compress(b"\xef\xbb\xbf" + GOOD_LOG.replace(b"\n", b"\r\n"))},
        ("analyze", "bom.log.gz", "--json"),
        ExitStatus.OK,
        stdout=('"lines_parsed": 200', '"lines_rejected": 0'),
    ),
    Case(
        "utf16-with-bom",
        {"win.log": GOOD_LOG.decode().encode("utf-16")},
        ("analyze", "win.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_parsed": 200', "win.log: UTF-16 text, read as such"),
    ),
    Case(
        "latin1-and-nul-bytes-in-values",
        {
            "bytes.log": GOOD_LOG.replace(b'"curl/7.88.1"', b'"curl\xe9\xff\x00/7"').replace(
                b"Firefox/128.0", b"Firefox\x00\x01\x7f"
            )
        },
        ("analyze", "bytes.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_rejected": 0',),
    ),
    Case(
        "megabyte-line",
        {"big.log": b"".join(GOOD[:10]) + b"x" * 1_000_000 + b"\n" + b"".join(GOOD[10:20])},
        ("analyze", "big.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_total": 21', '"lines_rejected": 1', '"column": 1000000'),
        check=_counts,
    ),
    Case(
        "lines-cut-in-half",
        {"cut.log": b"".join(GOOD[:30]) + HALF_CUT},
        ("analyze", "cut.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_parsed": 30', '"lines_rejected": 20'),
    ),
    Case(
        "every-line-cut-in-half",
        {"cut.log": HALF_CUT},
        ("analyze", "cut.log", "--preset", "trace"),
        ExitStatus.NO_MATCH,
        ("matched none of the 20 lines; line 1 stops matching at column", "  ", "^", "hint: "),
    ),
    Case(
        "last-line-without-newline",
        {"tail.log": GOOD_LOG.rstrip(b"\n")[:-30]},
        ("analyze", "tail.log", "--json"),
        ExitStatus.OK,
        # just written: the first half of a line being written, held
        stdout=('"lines_parsed": 199', '"lines_rejected": 0', "line 200 has no end yet"),
    ),
    Case(
        "last-line-without-newline-of-an-old-file",
        {"tail.log": GOOD_LOG.rstrip(b"\n")[:-30]},
        ("analyze", "tail.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_parsed": 199', '"lines_rejected": 1'),
    ),
    Case(
        "mixed-formats-in-one-file",
        {"mixed.log": MIXED},
        ("analyze", "mixed.log"),
        ExitStatus.OK,
        stdout=("no format matches most lines (mixed formats?): 'trace' matches 40 of the first",),
    ),
    Case(
        "absurd-numbers-and-dates",
        {
            "edge.log": b"".join(GOOD[:5])
            + GOOD[5].replace(b" 0.0", b" 99999999999999999999.0", 1)
            + GOOD[6].replace(b"26/Nov/2026", b"01/Jan/0001")
            + GOOD[7].replace(b"26/Nov/2026", b"31/Dec/9999")
        },
        ("analyze", "edge.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_parsed": 5', '"lines_rejected": 3', "not a valid value"),
        check=_counts,
    ),
    Case(
        "absurd-msec",
        {"timing.log": b"".join(TIMING[:3]) + TIMING[3].replace(b"msec=17", b"msec=171717171")},
        ("analyze", "timing.log", "--preset", "timing", "--json"),
        ExitStatus.OK,
        stdout=('"lines_rejected": 1', '"$msec: not a valid value": 1'),
    ),
    Case(
        "app-log-absurd-times-and-durations",
        {
            "api-1.log": app_lines(3, RID)
            + b'{"time": "0001-01-01T00:00:00Z", "msg": "request finished", "path": "/x"}\n'
            + b'{"time": "2026-11-26T12:37:13Z", "msg": "request finished", "method": "GET",'
            b' "path": "/x", "status": 200, "duration_ms": 1e30, "request_id": "x"}\n',
            "edge-1.log": edge_lines(3, RID),
        },
        ("analyze", "edge-1.log", "api-1.log", "--json"),
        ExitStatus.OK,
        stdout=('"lines_parsed": 4', '"timestamp in no known format": 1'),
        check=_counts,
    ),
    Case(
        "json-format-with-request-and-its-parts",
        {"json.log": b'{"r":"GET /a?x=1 HTTP/1.1","m":"GET","u":"/a?x=1"}\n'},
        ("analyze", "json.log", "--json", "--log-format", JSON_FORMAT),
        ExitStatus.OK,
        stdout=('"lines_parsed": 1', '"route": "/a"'),
    ),
    Case(
        "wrong-preset",
        {"edge.log": GOOD_LOG},
        ("analyze", "edge.log", "--preset", "combined"),
        ExitStatus.NO_MATCH,
        (
            "the format 'combined' matched none of the 200 lines; line 1 stops matching at column",
            "expected end of line",
            "^",
            "hint: try --preset trace (matches 200 of the first 200 lines)",
        ),
    ),
    Case(
        "wrong-preset-for-most-lines",
        {"mixed.log": b"".join(GOOD[:10] + COMBINED_LINES[:60])},
        ("analyze", "mixed.log", "--preset", "trace"),
        ExitStatus.OK,
        stdout=("mixed.log: only 10 of the first", "match the format 'trace'", "--preset combined"),
    ),
    Case(
        "bad-log-format",
        {"edge.log": GOOD_LOG},
        ("analyze", "edge.log", "--log-format", '$remote_addr "${request'),
        ExitStatus.BAD_FORMAT,
        ('the closing bracket in "request" variable is missing', "^", "hint: "),
    ),
    Case(
        "nginx-conf-that-is-not-one",
        {"edge.log": GOOD_LOG, "nginx.conf": b"}\x00\xff{ log_format 'x"},
        ("analyze", "edge.log", "--nginx-conf", "nginx.conf"),
        ExitStatus.BAD_FORMAT,
        ("nginx.conf:1: unterminated '-quoted string", "hint: nginx -t -c FILE"),
    ),
    Case(
        "filters-that-leave-no-line",
        {"edge.log": b"".join(GOOD[:20])},
        ("analyze", "edge.log", "--status", "599", "--since", "2030-01-01"),
        ExitStatus.OK,
        stdout=("Requests: 0", "matched none of the 20 requests"),
    ),
    Case(
        "route-regex-the-engine-rejects",
        {"edge.log": GOOD_LOG},
        ("analyze", "edge.log", "--route", "^/api/(?!health)"),
        ExitStatus.USAGE,
        ("--route '^/api/(?!health)' is not a valid regex: look-around", "hint: "),
    ),
    Case(
        "request-id-on-2000-lines",
        {"edge-1.log": edge_lines(2000, RID), "api-1.log": app_lines(2000, RID)},
        ("analyze", "edge-1.log", "api-1.log"),
        ExitStatus.OK,
        stdout=("4,000 span(s) here belong to 1 request id(s) with more than 1,000", "reused"),
    ),
    Case(
        "trace-of-a-reused-request-id",
        {"edge-1.log": edge_lines(2000, RID), "api-1.log": app_lines(2000, RID)},
        ("trace", RID[:8], "edge-1.log", "api-1.log", "--no-flow"),
        ExitStatus.OK,
        stdout=("note: this request id is on 6,000 spans", "showing the first 1,000"),
    ),
    Case(
        "request-ids-missing-or-dash",
        {"edge-1.log": edge_lines(50, RID), "api-1.log": app_lines(30, "-") + app_lines(20, None)},
        ("analyze", "edge-1.log", "api-1.log"),
        ExitStatus.OK,
        stdout=("api-1.log: 50 of 50 requests and calls have no request id",),
    ),
    Case(
        "unknown-request-id",
        {"edge-1.log": edge_lines(5, RID)},
        ("trace", "\x1b[31mnope\x1b[0m", "edge-1.log"),
        ExitStatus.NOT_FOUND,
        ("request id '\\x1b[31mnope\\x1b[0m' is not in these logs",),
    ),
    Case(
        "a-source-nothing-matches-among-good-ones",
        {"good.log": GOOD_LOG, "web-2.log": b"<13>Nov 26 12:37:13 web-2 kernel: eth0 up\n" * 50},
        ("analyze", "good.log", "web-2.log", "--json"),
        ExitStatus.PARTIAL,
        ("warning: some input",),
        stdout=("web-2.log: not one of its 50 lines could be read",),
    ),
    Case(
        "journal-printed-as-json-pretty",
        {"journal.json": PRETTY_JOURNAL},
        ("analyze", "journal.json"),
        ExitStatus.OK,
        stdout=(
            "journal.json: JSON objects printed over many lines each",
            "read as 20, an object a line",
        ),
    ),
    Case(
        "an-app-log-through-jq-among-good-ones",
        {"good.log": GOOD_LOG, "api-1.json": PRETTY_APP},
        ("analyze", "good.log", "api-1.json"),
        ExitStatus.OK,
        stdout=("api-1.json: JSON objects printed over many lines each",),
    ),
    Case(
        "json-printed-over-many-lines-after-a-line-of-text",
        {"journal.json": b"-- exported from web-1 --\n" + PRETTY_JOURNAL},
        ("analyze", "journal.json"),
        ExitStatus.NO_MATCH,
        (
            "journal.json: JSON objects printed over many lines each",
            "hint: print one object a line: `journalctl -o json`, `jq -c .`",
        ),
    ),
    Case(
        "app-log-without-timestamps",
        {"api-1.log": b'{"msg": "hello", "request_id": "x"}\n' * 5},
        ("analyze", "api-1.log"),
        ExitStatus.NO_MATCH,
        ("none of the 5 lines could be read (line 1: no timestamp)",),
    ),
    Case(
        "empty-request-id",
        {"good.log": GOOD_LOG},
        ("trace", " ", "good.log"),
        ExitStatus.USAGE,
        ("the request id is empty", "hint: give a request id, or its first characters"),
    ),
    Case(
        "timezone-that-is-no-zone",
        {"good.log": GOOD_LOG},
        ("analyze", "good.log", "--timezone", "Mars/Base"),
        ExitStatus.USAGE,
        ("--timezone 'Mars/Base' is not a time zone", "hint: use UTC, local, an IANA zone"),
    ),
]


def _materialise(case: Case, tmp_path: Path) -> None:
    for name, data in case.files.items():
        path = tmp_path / name
        if data is None:
            path.mkdir(parents=True)
        else:
            write(path, data)
    if case.name == "last-line-without-newline-of-an-old-file":
        os.utime(tmp_path / "tail.log", (time.time() - 3600, time.time() - 3600))
    if case.name == "symlink-loop":
        (tmp_path / "loop.log").symlink_to(tmp_path / "loop2.log")
        (tmp_path / "loop2.log").symlink_to(tmp_path / "loop.log")


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[bytes]]:
    """Every case run once, a few at a time: each run is mostly interpreter start-up."""

    def run(case: Case) -> tuple[str, subprocess.CompletedProcess[bytes]]:
        tmp = tmp_path_factory.mktemp(case.name)
        _materialise(case, tmp)
        return case.name, run_cli(*case.args, cwd=tmp, stdin=case.stdin)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_a_documented_exit_code_and_no_traceback(
    case: Case, outcomes: dict[str, subprocess.CompletedProcess[bytes]]
) -> None:
    done = outcomes[case.name]
    out, err = text(done)
    assert "Traceback" not in err + out
    assert done.returncode == case.status, err
    if case.status not in (ExitStatus.OK, ExitStatus.PARTIAL):
        lines = err.splitlines()
        assert lines[0].startswith("logtrace: error: "), err
        assert lines[-1].startswith("hint: "), err
        assert out == ""
    position = 0
    for fragment in case.stderr:
        found = err.find(fragment, position)
        assert found >= 0, f"{fragment!r} not in (the rest of) stderr:\n{err}"
        position = found + len(fragment)
    for fragment in case.stdout:
        assert fragment in " ".join(out.split()) or fragment in out, f"{fragment!r}:\n{out}"
    if case.check is not None:
        case.check(out)


def _drop_root_powers() -> None:  # pragma: no cover - runs in the child
    """Root reads any file: take away the two capabilities that let it (bounding set,
    before exec), so that a mode-000 file is as unreadable to it as to anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file_among_the_inputs_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "good.log", GOOD_LOG)
    locked = tmp_path / "locked.log"
    write(locked, GOOD_LOG)
    locked.chmod(0)
    # chmod 000 does not stop root; a root without CAP_DAC_OVERRIDE is stopped.
    drop = _drop_root_powers if os.geteuid() == 0 else None
    try:
        done = run_cli("analyze", "good.log", "locked.log", cwd=tmp_path, preexec_fn=drop)
    except subprocess.SubprocessError as exc:  # no CAP_SETPCAP (a locked-down container)
        pytest.skip(f"cannot drop root's file capabilities here: {exc}")
    _, err = text(done)
    assert "Traceback" not in err
    assert done.returncode == ExitStatus.NO_INPUT, err
    assert err.splitlines() == [
        "logtrace: error: locked.log: permission denied",
        "hint: check the file's permissions",
    ]


def test_unreadable_file_found_in_a_directory_is_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    write(logs / "good.log", GOOD_LOG)
    locked = logs / "locked.log"
    write(locked, GOOD_LOG)
    locked.chmod(0)
    drop = _drop_root_powers if os.geteuid() == 0 else None
    try:
        done = run_cli("analyze", "logs", "--json", cwd=tmp_path, preexec_fn=drop)
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot drop root's file capabilities here: {exc}")
    out, err = text(done)
    assert "Traceback" not in err
    assert done.returncode == ExitStatus.PARTIAL, err
    doc = json.loads(out)
    by_path = {s["path"]: s for s in doc["sources"]}
    good = by_path[os.path.join("logs", "good.log")]
    assert good["lines_parsed"] == good["lines_total"] > 0
    skipped = by_path[os.path.join("logs", "locked.log")]
    assert skipped["lines_total"] == 0
    assert "Permission denied: could not be read; skipped" in " ".join(skipped["warnings"])


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_device_that_fails_to_read_is_reported() -> None:
    # Reading /proc/self/mem at offset 0 fails with EIO, like a dying disk.
    done = run_cli("analyze", "/proc/self/mem", cwd=ROOT)
    _, err = text(done)
    assert "Traceback" not in err
    assert done.returncode == ExitStatus.NO_INPUT
    assert "reading failed after 0 bytes (Input/output error)" in err


def test_a_file_growing_while_read_counts_every_line(tmp_path: Path) -> None:
    log = tmp_path / "growing.log"
    log.write_bytes(GOOD_LOG * 200)  # 40,000 lines: reading takes a while
    stop = threading.Event()

    def append() -> None:
        with log.open("ab", buffering=0) as f:
            while not stop.is_set():
                for line in GOOD[:50]:
                    f.write(line[:40])  # half a line now, the rest a moment later
                    f.write(line[40:])
                time.sleep(0.001)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        done = run_cli("analyze", "growing.log", "--json", cwd=tmp_path)
    finally:
        stop.set()
        writer.join()
    out, err = text(done)
    assert "Traceback" not in err
    assert done.returncode == ExitStatus.OK, err
    (source,) = json.loads(out)["sources"]
    assert source["lines_total"] >= 40_000
    assert source["lines_total"] == source["lines_parsed"] + source["lines_rejected"]
    assert source["lines_rejected"] <= 1  # at most the line being written at the end


def test_a_binary_line_is_cut_so_memory_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources_module, "MAX_LINE_BYTES", 100_000)
    path = tmp_path / "core.log"
    path.write_bytes(GOOD_LOG + noise(1_000_000).replace(b"\n", b"") + b"\n" + GOOD[0])
    report = ReadReport()
    frames = list(iter_frames(Source(str(path), "h", "s"), report, chunk_bytes=50_000))
    lines = [line for frame in frames for line in frame.get_column("line").to_list()]
    assert len(lines) == 202  # the good lines, the cut one, the line after it
    assert lines[-1] == GOOD[0].decode().rstrip("\n")
    assert max(len(line or "") for line in lines) <= 4 * 100_000  # \xHH for each bad byte
    assert report.warnings == [
        f"{path}: a line longer than 100,000 bytes (binary data?) was cut there; the rest of "
        "it was skipped"
    ]


def test_one_request_id_on_200k_lines_is_handled_in_linear_time(tmp_path: Path) -> None:
    """A client that sends the same X-Request-ID on every request: 200,000 lines of one
    id. Joining them pairwise would take 4e10 rows; they are set aside, and said so."""
    from logtrace.analysis.slow_paths import slow_paths
    from logtrace.analysis.trace import trace
    from logtrace.sources import resolve_sources
    from logtrace.timelines.assemble import MAX_TRACE_SPANS
    from logtrace.timelines.load import TimelineOptions, load

    other = "cd" * 16
    write(tmp_path / "edge-1.log", edge_lines(200_000, RID) + edge_lines(3, other))
    write(tmp_path / "api-1.log", app_lines(3_000, RID) + app_lines(3, other))
    started = time.perf_counter()
    loaded = load(resolve_sources([str(tmp_path)]), TimelineOptions())
    paths, _ = slow_paths(loaded.timelines.spans)
    shown = trace(loaded, RID)
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"{elapsed:.1f} s"  # about 3 s; the pairwise join never ends
    assert loaded.timelines.oversized == {RID: 403_000}
    assert [p.request_id for p in paths] == [other]  # the reused id has no critical path
    assert shown.spans.height == MAX_TRACE_SPANS
    assert any("403,000 spans" in note for note in shown.notes)
    warned = [w for s in loaded.ingest.sources for w in s.warnings if "reused by clients" in w]
    assert len(warned) == 2  # one per source
    # The other id is still joined: its app spans under the nginx attempts that called them.
    normal = loaded.timelines.spans.filter(pl.col("request_id") == other)
    assert normal.height == 9  # 3 nginx lines, 3 upstream attempts, 3 app spans
    app = normal.filter(pl.col("origin") == "app")
    assert not app.get_column("parent_guessed").any()


UNREAD = b"<13>Nov 26 12:37:13 web-2 kernel: eth0 up\n" * 50


def test_a_source_nothing_was_read_from_heads_the_report_and_exits_7(tmp_path: Path) -> None:
    """Among sources that were read, one none of whose lines was: the report says so
    before anything else (not after its tables) and the result is partial."""
    write(tmp_path / "good.log", GOOD_LOG)
    write(tmp_path / "web-2.log", UNREAD)
    done = run_cli("analyze", "good.log", "web-2.log", cwd=tmp_path)
    out, err = text(done)
    assert done.returncode == ExitStatus.PARTIAL, err
    head = out.lstrip().splitlines()[0]
    assert head.startswith("warning: web-2.log: not one of its 50 lines could be read"), out
    assert out.count("not one of its 50 lines") == 1
    assert err.startswith("warning: "), err


def test_traces_exported_without_a_source_s_hop_exit_7(tmp_path: Path) -> None:
    write(tmp_path / "edge-1.log", edge_lines(5, RID))
    write(tmp_path / "api-1.log", UNREAD)
    done = run_cli(
        "export",
        "traces",
        "edge-1.log",
        "api-1.log",
        "--to",
        "otlp-json",
        "-o",
        "t.json",
        cwd=tmp_path,
    )
    _, err = text(done)
    assert done.returncode == ExitStatus.PARTIAL, err
    assert (tmp_path / "t.json").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize(
    "args",
    [
        ("export", "spans", "--format", "csv", "--out", "/dev/full"),
        ("analyze", "--export-csv", "/dev/full"),
        ("report", "-o", "/dev/full"),
        ("analyze", "--json", "--out-stdout"),
    ],
    ids=["export", "export-csv", "report", "stdout"],
)
def test_a_disk_that_fills_up_while_writing_is_a_clear_error(args: tuple[str, ...]) -> None:
    """Writing to a full disk (``/dev/full`` answers every write with ENOSPC): one line,
    exit 3, whether polars, Python or the final flush of stdout meets it."""
    if args[-1] == "--out-stdout":  # the report itself goes to a full disk
        with open("/dev/full", "wb") as full:
            done = subprocess.run(
                [sys.executable, "-m", "logtrace", *args[:-1], str(EDGE)],
                stdout=full,
                stderr=subprocess.PIPE,
                timeout=120,
                check=False,
                cwd=ROOT,
            )
    else:
        done = run_cli(*args, str(EDGE), cwd=ROOT)
    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    assert done.returncode == ExitStatus.NO_INPUT, err
    assert err.splitlines()[0].startswith("logtrace: error: writing failed: "), err
    assert "No space left on device" in err
    assert err.splitlines()[1].startswith("hint: free some space"), err


@pytest.mark.parametrize(
    ("error", "disk"),
    [
        (OSError(28, "No space left on device"), True),
        (OSError("No space left on device (os error 28)"), True),  # as polars raises it
        (OSError(5, "Input/output error"), True),
        (FileNotFoundError(2, "No such file or directory"), False),  # a bug, not the disk
        (OSError("something else"), False),
    ],
)
def test_only_a_failing_disk_is_reported_as_writing_failed(error: OSError, disk: bool) -> None:
    from logtrace.cli.app import _disk_failure

    assert _disk_failure(error) is disk
