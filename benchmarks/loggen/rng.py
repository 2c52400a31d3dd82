"""Counter-based random numbers as polars expressions.

Every random value is a pure function of (seed, stream name, row index), so output does
not depend on chunk size or thread scheduling, and the same seed always gives the same
bytes. The mixer is SplitMix64's finaliser, written with wrapping u64 arithmetic.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import polars as pl

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
U64 = pl.UInt64


def _mix_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int (used to derive per-stream keys)."""
    z = x & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _mix(z: pl.Expr) -> pl.Expr:
    """SplitMix64 finaliser on a u64 expression (polars integer arithmetic wraps)."""
    z = z ^ (z // (1 << 30))
    z = z * pl.lit(0xBF58476D1CE4E5B9, U64)
    z = z ^ (z // (1 << 27))
    z = z * pl.lit(0x94D049BB133111EB, U64)
    return z ^ (z // (1 << 31))


class Rng:
    """Named random streams over an index column; one stream per independent decision."""

    def __init__(self, seed: int, index: str = "i") -> None:
        self.seed = seed
        self.index = index

    def _key(self, stream: str) -> int:
        return _mix_int(_mix_int(self.seed * GOLDEN + 1) ^ zlib.crc32(stream.encode()))

    def u64(self, stream: str, index: pl.Expr | None = None) -> pl.Expr:
        """64 random bits per row."""
        idx = pl.col(self.index) if index is None else index
        x = idx.cast(U64) * pl.lit(GOLDEN, U64) + pl.lit(self._key(stream), U64)
        return _mix(x)

    def uniform(self, stream: str, index: pl.Expr | None = None) -> pl.Expr:
        """A float in [0, 1) per row (53 random bits)."""
        return (self.u64(stream, index) // (1 << 11)).cast(pl.Float64) * 2.0**-53

    def below(self, stream: str, n: int, index: pl.Expr | None = None) -> pl.Expr:
        """An integer in [0, n) per row."""
        return (self.u64(stream, index) % n).cast(pl.Int64)

    def normal(self, stream: str, index: pl.Expr | None = None) -> pl.Expr:
        """A standard normal per row (Box–Muller on two streams)."""
        u1 = 1.0 - self.uniform(stream + "/a", index)  # in (0, 1], so log() is finite
        u2 = self.uniform(stream + "/b", index)
        return (-2.0 * u1.log()).sqrt() * (2.0 * math.pi * u2).cos()

    def choice(
        self, stream: str, weights: Sequence[float], index: pl.Expr | None = None
    ) -> pl.Expr:
        """An index into `weights`, drawn with probability proportional to each weight."""
        return pick(self.uniform(stream, index), weights)


def pick(u: pl.Expr, weights: Sequence[float]) -> pl.Expr:
    """Map uniform [0, 1) values to indices of `weights` (inverse CDF)."""
    total = float(sum(weights))
    cum: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc / total)
    cum[-1] = 1.0
    idx = pl.lit(pl.Series(cum, dtype=pl.Float64)).search_sorted(u, side="right")
    return idx.clip(0, len(weights) - 1).cast(pl.Int64)


def zipf_weights(n: int, exponent: float = 1.07) -> list[float]:
    """Zipf-like popularity weights for ranks 1..n."""
    return [1.0 / (rank**exponent) for rank in range(1, n + 1)]


def log_uniform_int(u: pl.Expr, high: int) -> pl.Expr:
    """An integer in [1, high] with density ~1/x: small ids are much more common."""
    return (u * math.log(high)).exp().floor().cast(pl.Int64).clip(1, high)


def gather(values: Sequence[object], idx: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """Look up `values[idx]` per row."""
    return pl.lit(pl.Series(values, dtype=dtype)).gather(idx)
