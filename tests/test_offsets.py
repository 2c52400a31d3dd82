"""The UTC offset logs write their times in, read from their first lines (offsets.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from logtrace.offsets import log_offsets
from logtrace.sources import resolve_sources

NGINX = '1.2.3.4 - - [22/Jan/2019:03:56:14 {zone}] "GET / HTTP/1.1" 200 5 "-" "curl" 0.010 - ab\n'


def _log(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text * 3, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("line", "offset"),
    [
        (NGINX.format(zone="+0330"), timedelta(hours=3, minutes=30)),
        (NGINX.format(zone="-0800"), timedelta(hours=-8)),
        ('{"time": "2019-01-22T03:56:14.123+03:30", "msg": "x"}\n', timedelta(hours=3, minutes=30)),
        ("ts=2019-01-22T03:56:14.641140Z level=info msg=x\n", timedelta(0)),
        ("2019-01-22 03:56:14+0100 INFO x\n", timedelta(hours=1)),
    ],
)
def test_the_offset_a_log_writes_is_read_from_its_lines(
    tmp_path: Path, line: str, offset: timedelta
) -> None:
    found = log_offsets(resolve_sources([_log(tmp_path, "a.log", line)]))
    assert found.agreed == offset


@pytest.mark.parametrize(
    "line",
    [
        "2019-01-22 03:56:14,506 INFO inventory GET /x 200\n",  # Python logging: local time
        "[2019/01/22 03:56:14.499367] users served GET /x\n",
        '1.2.3.4 - - 1548129374.123 "GET / HTTP/1.1" 200\n',  # $msec
    ],
)
def test_a_log_without_offsets_has_no_say(tmp_path: Path, line: str) -> None:
    found = log_offsets(resolve_sources([_log(tmp_path, "a.log", line)]))
    assert (found.agreed, found.by_source) == (None, {})


def test_logs_that_agree_have_their_offset_and_those_that_differ_have_none(
    tmp_path: Path,
) -> None:
    edge = _log(tmp_path, "edge.log", NGINX.format(zone="+0330"))
    mesh = _log(tmp_path, "mesh.log", NGINX.format(zone="+0330"))
    app = _log(tmp_path, "app.log", "ts=2019-01-22T00:26:14Z msg=x\n")
    plain = _log(tmp_path, "plain.log", "2019-01-22 03:56:14,506 INFO x\n")
    assert log_offsets(resolve_sources([edge, mesh, plain])).agreed == timedelta(hours=3.5)
    found = log_offsets(resolve_sources([edge, mesh, app]))
    assert found.agreed is None
    assert found.by_source == {
        edge: timedelta(hours=3.5),
        mesh: timedelta(hours=3.5),
        app: timedelta(0),
    }
