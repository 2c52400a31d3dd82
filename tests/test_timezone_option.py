"""``--timezone``: the zone of app times written without one. Any zone ``--tz`` takes:
UTC, an IANA name, an offset of whole hours or not (``+05:30``, ``-0330``), ``local``;
anything else is a usage error, said in one line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logtrace.cli import app
from logtrace.errors import ExitStatus

SAMPLE = Path(__file__).resolve().parent.parent / "sample_logs"
LOG = str(SAMPLE / "inventory-1.log")  # Python logging: times without a zone
runner = CliRunner()


def _start(*args: str) -> datetime:
    result = runner.invoke(app, ["analyze", LOG, "--json", *args])
    assert result.exit_code == 0, result.output
    return datetime.fromisoformat(json.loads(result.stdout)["time_range"]["start"])


@pytest.mark.parametrize(
    ("zone", "offset"),
    [
        ("+05:30", timedelta(hours=5, minutes=30)),
        ("-0330", timedelta(hours=-3, minutes=-30)),
        ("+05:45", timedelta(hours=5, minutes=45)),
        ("-3", timedelta(hours=-3)),
        ("Asia/Kolkata", timedelta(hours=5, minutes=30)),
        ("America/St_Johns", timedelta(hours=-3, minutes=-30)),  # in November
        ("UTC", timedelta(0)),
    ],
)
def test_times_without_a_zone_are_read_in_the_zone_given(zone: str, offset: timedelta) -> None:
    assert _start() - _start("--timezone", zone) == offset


@pytest.mark.parametrize("zone", ["Mars/Base", "+25:00", "soon"])
def test_a_zone_that_is_none_is_a_usage_error(zone: str) -> None:
    result = runner.invoke(app, ["analyze", LOG, "--timezone", zone])
    assert result.exit_code == int(ExitStatus.USAGE)
    assert f"--timezone {zone!r} is not a time zone" in result.stderr
    assert "Traceback" not in result.output
