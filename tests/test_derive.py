"""What analyze asks of LINES: the filters and the columns derived (analysis/derive.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from logtrace.analysis.derive import Filters
from logtrace.errors import ExitStatus, UsageError

ROUTES = pl.DataFrame({"route": ["/api/orders/{id}", "/api/orders/{id}/items", "/api/order", None]})


def _kept(filters: Filters) -> list[str | None]:
    keep = filters.expr(ROUTES.columns)
    assert keep is not None
    return ROUTES.filter(keep).get_column("route").to_list()


def test_a_route_template_as_the_report_shows_it_is_that_route_exactly() -> None:
    assert _kept(Filters(route="/api/orders/{id}")) == ["/api/orders/{id}"]


def test_any_other_route_is_a_regex() -> None:
    assert _kept(Filters(route="^/api/order")) == [
        "/api/orders/{id}",
        "/api/orders/{id}/items",
        "/api/order",
    ]
    assert _kept(Filters(route=r"/items$")) == ["/api/orders/{id}/items"]


@pytest.mark.parametrize(("option", "field"), [("--route", "route"), ("--path", "path")])
def test_a_regex_the_engine_rejects_is_a_usage_error(option: str, field: str) -> None:
    with pytest.raises(UsageError, match=rf"{option} '\(\?=x\)' is not a valid regex") as err:
        Filters(**{field: "(?=x)"})  # type: ignore[arg-type]
    assert err.value.exit_status == ExitStatus.USAGE


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 2), datetime(2026, 1, 1)),
    ],
)
def test_since_must_come_before_until(since: datetime, until: datetime) -> None:
    with pytest.raises(UsageError, match=r"--since .* is not before --until") as err:
        Filters(since=since, until=until)
    assert err.value.exit_status == ExitStatus.USAGE


def test_times_without_a_zone_are_read_in_the_offset_given() -> None:
    from datetime import timedelta

    filters = Filters(since=datetime(2019, 1, 22, 3, 57), until=datetime(2019, 1, 22, 5, 0))
    read = filters.in_offset(timedelta(hours=3, minutes=30), "the logs' offset")
    assert read.since == datetime(2019, 1, 22, 0, 27, tzinfo=UTC)
    assert read.until == datetime(2019, 1, 22, 1, 30, tzinfo=UTC)
    assert read.zone == "+03:30 (the logs' offset)"
    as_utc = filters.in_offset(None, "the logs write none")
    assert as_utc.since == datetime(2019, 1, 22, 3, 57, tzinfo=UTC)
    assert as_utc.zone == "UTC (the logs write none)"


def test_times_with_a_zone_are_left_as_given() -> None:
    from datetime import timedelta

    at = datetime(2019, 1, 22, 3, 57, tzinfo=UTC)
    read = Filters(since=at).in_offset(timedelta(hours=2), "x")
    assert (read.since, read.zone) == (at, None)


def test_since_and_until_in_different_zones_are_compared_once_read() -> None:
    from datetime import timedelta

    filters = Filters(
        since=datetime(2019, 1, 22, 3, 0), until=datetime(2019, 1, 22, 1, 0, tzinfo=UTC)
    )
    with pytest.raises(UsageError, match="is not before --until"):
        filters.in_offset(None, "x")
    assert filters.in_offset(timedelta(hours=3), "x").since == datetime(
        2019, 1, 22, 0, 0, tzinfo=UTC
    )
