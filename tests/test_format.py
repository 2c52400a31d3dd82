"""render/format.py: numbers and times as people read them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from logtrace.render import format as fmt

T = datetime(2026, 11, 26, 12, 37, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "precision_s", "date", "expected"),
    [
        (T, None, True, "2026-11-26 12:37:12"),
        (T.replace(microsecond=635_000), None, True, "2026-11-26 12:37:12.635"),
        (T.replace(microsecond=635_000), 0.001, False, "12:37:12.635"),  # $msec
        (T, 1.0, False, "12:37:12"),  # $time_local, as logged
        # computed from a whole-second log (end − $request_time, or placed in its second)
        (T.replace(microsecond=635_000), 1.0, False, "≈12:37:12"),  # the second it is in
        (T.replace(microsecond=491_000), 1.0, True, "≈2026-11-26 12:37:12"),
        (None, 1.0, True, "-"),
    ],
)
def test_a_time_is_shown_to_the_precision_of_its_log(
    value: datetime | None, precision_s: float | None, date: bool, expected: str
) -> None:
    assert fmt.timestamp(value, date=date, precision_s=precision_s) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "-"),
        (0.0, "0 ms"),
        (0.007, "7 ms"),
        (0.0095, "10 ms"),
        (1.2, "1.20 s"),
        (185, "3m05s"),
    ],
)
def test_duration(seconds: float | None, expected: str) -> None:
    assert fmt.duration(seconds) == expected
