"""``logtrace trace``'s lookup: a request id, or a unique prefix of any length."""

from __future__ import annotations

import polars as pl
import pytest

from logtrace.analysis.trace import match_request_id
from logtrace.errors import ExitStatus, NotFoundError

IDS = pl.Series(["166cbe01", "1a2b", "1a2c", "ffff", "1a2b"], dtype=pl.String)


@pytest.mark.parametrize(
    ("wanted", "found"),
    [("166cbe01", "166cbe01"), ("166c", "166cbe01"), ("16", "166cbe01"), ("f", "ffff")],
)
def test_an_id_or_a_unique_prefix_of_any_length_finds_the_request(wanted: str, found: str) -> None:
    assert match_request_id(IDS, wanted) == found


def test_a_whole_id_wins_over_the_longer_ids_it_starts() -> None:
    assert match_request_id(pl.Series(["ab", "abc"]), "ab") == "ab"


def test_an_ambiguous_prefix_is_not_found_and_names_a_few_matches() -> None:
    with pytest.raises(NotFoundError) as err:
        match_request_id(IDS, "1")
    assert err.value.exit_status == ExitStatus.NOT_FOUND
    assert "'1' is the start of 3 request ids" in err.value.message
    assert "1a2b" in (err.value.hint or "") and "1a2c" in (err.value.hint or "")


def test_an_absent_id_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="'0' is not in these logs"):
        match_request_id(IDS, "0")
