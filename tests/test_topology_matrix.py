"""logtrace's traces meet issue 11's thresholds on every deployment of the topology matrix.

Each variant (scripts/topology/variants.py) runs once per session with real nginx, a small
seeded request mix and its planted skews; scripts/topology/score.py scores logtrace on
the run's logs directory, as a user would point it there, against the ground truth.
One test per variant and threshold, so a failure names both and the measured value. The
whole matrix (with the `--nginx-conf` case too) is printed at the end of the session
(conftest.py's `scored` fixture and terminal summary).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from topology.report import THRESHOLDS, check
from topology.score import Score
from topology.variants import VARIANTS

pytestmark = [pytest.mark.nginx, pytest.mark.slow]


@pytest.mark.parametrize("threshold", list(THRESHOLDS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_meets_threshold(
    scored: Callable[[str], Score], variant: str, threshold: str
) -> None:
    failed = check(scored(variant), [threshold])
    assert not failed, failed[0]
