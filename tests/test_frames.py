"""Running values within groups: what the window expressions they replace would give."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_series_equal

from logtrace.frames import max_before

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _random_frame(seed: int, rows: int = 3000) -> pl.DataFrame:
    rng = random.Random(seed)
    frame = pl.DataFrame(
        {
            "caller": [rng.randrange(300) for _ in range(rows)],
            "callee": [rng.choice(["a", "b", None]) for _ in range(rows)],
            "start": [T0 + timedelta(microseconds=rng.randrange(10**6)) for _ in range(rows)],
            "end": [T0 + timedelta(microseconds=rng.randrange(2 * 10**6)) for _ in range(rows)],
        }
    )
    # Windows order ties arbitrarily: one start per group keeps the reference exact.
    return frame.unique(["caller", "callee", "start"], maintain_order=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_max_before_is_the_running_max_of_earlier_rows_in_each_group(seed: int) -> None:
    frame = _random_frame(seed)
    keys = ["caller", "callee"]
    reference = frame.select(
        pl.col("end").cum_max().shift(1).over(keys, order_by="start").alias("end_before")
    ).to_series()
    assert_series_equal(max_before(frame, keys, "start", "end"), reference)


@pytest.mark.parametrize("seed", [4, 5])
def test_descending_gives_the_largest_value_among_later_rows(seed: int) -> None:
    frame = _random_frame(seed).with_row_index("_row")
    keys = ["caller", "callee"]
    reference = (
        frame.sort("start", descending=True)
        .with_columns(pl.col("end").cum_max().shift(1).over(keys).alias("end_before"))
        .sort("_row")
        .get_column("end_before")
    )
    got = max_before(frame, keys, "start", "end", descending=True)
    assert_series_equal(got, reference)


def test_nulls_never_raise_the_running_max_and_a_group_starts_empty() -> None:
    frame = pl.DataFrame(
        {
            "g": [1, 1, 1, 1, 2, 2],
            "order": [0, 1, 2, 3, 0, 1],
            "value": [5, None, 3, 7, None, 1],
        }
    )
    got = max_before(frame, ["g"], "order", "value").to_list()
    assert got == [None, 5, 5, 5, None, None]


def test_rows_come_back_in_the_frames_order() -> None:
    frame = pl.DataFrame({"g": ["x", "y", "x", "y"], "order": [3, 2, 1, 0], "value": [1, 2, 3, 4]})
    assert max_before(frame, ["g"], "order", "value").to_list() == [3, 4, None, None]


@pytest.mark.parametrize(
    "values",
    [pl.Series("value", [], pl.Int64), pl.Series("value", [None, None], pl.Int64)],
    ids=["empty", "all-null"],
)
def test_no_values_gives_nulls_of_the_value_dtype(values: pl.Series) -> None:
    frame = pl.DataFrame(
        {"g": [1] * values.len(), "order": list(range(values.len()))}
    ).with_columns(values)
    got = max_before(frame, ["g"], "order", "value")
    assert got.dtype == pl.Int64
    assert got.null_count() == values.len()
