"""Findings: what every detector returns, and the thresholds they share."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

FINDING = {
    "request_id": pl.String(),
    "pattern": pl.String(),
    "saving_s": pl.Float64(),
    "detail": pl.String(),
}


@dataclass(frozen=True)
class InsightOptions:
    """Thresholds of the detectors (documented with each detector)."""

    min_calls: int = 5  # N+1: this many calls to one service and route
    min_repeats: int = 2  # repeated: the same GET this many times in one request
    min_hot_requests: int = 20  # hot targets: called by at least this many requests
    slow_client_share: float = 0.5  # slow clients: nginx-side time at least this share...
    slow_client_min_s: float = 0.1  # ...and at least this long
    top_examples: int = 3


def finding_frame(
    frame: pl.DataFrame, pattern: str, *, saving: pl.Expr, detail: pl.Expr
) -> pl.DataFrame:
    """One finding per row of ``frame`` (which has ``request_id``), in the FINDING shape."""
    if frame.is_empty():
        return pl.DataFrame(schema=FINDING)
    return frame.select(
        "request_id",
        pl.lit(pattern).alias("pattern"),
        saving.cast(pl.Float64).clip(lower_bound=0.0).alias("saving_s"),
        detail.cast(pl.String).alias("detail"),
    )
