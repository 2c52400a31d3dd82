"""When each hop saw a request, in integer epoch microseconds.

nginx writes the access log line at request END, and `$time_local` has whole seconds,
so the edge span as a reader reconstructs it is [end - $request_time, end] with `end`
the logged second. Every app span is placed inside that reconstructed span, on the
resolution its own log format prints (microseconds, milliseconds, 0.1 ms durations),
so that times read back from the logs nest exactly:

    edge ⊇ api ⊇ users call ⊇ users
    edge ⊇ api ⊇ inventory call ⊇ mesh nginx ($msec, ms) ⊇ inventory (ms stamps)
"""

from __future__ import annotations

import polars as pl

from loggen.rng import Rng

SECOND = 1_000_000
MILLI = 1_000


def _floor(x: pl.Expr, step: int) -> pl.Expr:
    return (x // step) * step


def _share(x: pl.Expr, u: pl.Expr, low: float, width: float) -> pl.Expr:
    """floor(x * (low + width * u)) as an integer."""
    return (x.cast(pl.Float64) * (low + width * u)).floor().cast(pl.Int64)


def place(frame: pl.DataFrame, rng: Rng) -> pl.DataFrame:
    """Add edge, api, downstream-call, mesh and service span bounds to a requests frame."""
    rt = pl.col("request_time_ms") * MILLI
    frame = frame.with_columns(
        (pl.col("start_us") + rt).alias("end_true_us"),
        _floor(pl.col("start_us") + rt, SECOND).alias("edge_end_us"),
    ).with_columns((pl.col("edge_end_us") - rt).alias("edge_start_us"))

    # The api span sits inside the upstream window (the last attempt), with a little
    # network time on either side; durations are printed to 0.1 ms.
    upstream = pl.col("attempt_last_ms") * MILLI
    window_start = pl.col("edge_start_us") + (rt - upstream) // 2
    api_dur = _floor(upstream * 97 // 100, 100)
    frame = frame.with_columns(
        pl.when(pl.col("app_logged"))
        .then(window_start + (upstream - api_dur) // 2)
        .alias("api_start_us"),
        pl.when(pl.col("app_logged")).then(api_dur).alias("api_dur_us"),
    )
    api_start, api_dur = pl.col("api_start_us"), pl.col("api_dur_us")

    users_call_start = api_start + _share(api_dur, rng.uniform("ucall/s"), 0.04, 0.06)
    users_call_dur = _floor(_share(api_dur, rng.uniform("ucall/d"), 0.2, 0.2), 100)
    inv_call_start = api_start + _share(api_dur, rng.uniform("icall/s"), 0.5, 0.08)
    inv_call_dur = _floor(_share(api_dur, rng.uniform("icall/d"), 0.2, 0.15), 100)
    frame = frame.with_columns(
        pl.when(pl.col("calls_users")).then(users_call_start).alias("users_call_start_us"),
        pl.when(pl.col("calls_users")).then(users_call_dur).alias("users_call_dur_us"),
        pl.when(pl.col("calls_inventory")).then(inv_call_start).alias("inv_call_start_us"),
        pl.when(pl.col("calls_inventory")).then(inv_call_dur).alias("inv_call_dur_us"),
    )

    # users: free-text log, end stamp in µs, elapsed in 0.1 ms.
    call_start, call_dur = pl.col("users_call_start_us"), pl.col("users_call_dur_us")
    users_dur = _floor(call_dur * 9 // 10, 100)
    frame = frame.with_columns(
        (call_start + (call_dur - users_dur) // 2 + users_dur).alias("users_end_us"),
        users_dur.alias("users_dur_us"),
    )

    # mesh nginx: $msec (ms) at its end, $request_time in ms; inventory inside it,
    # stamped to the millisecond by Python logging, duration in 0.1 ms.
    call_start = pl.col("inv_call_start_us")
    mesh_end = _floor(call_start + pl.col("inv_call_dur_us"), MILLI)
    mesh_ms = (mesh_end - call_start) // MILLI
    frame = frame.with_columns(mesh_end.alias("mesh_end_us"), mesh_ms.alias("mesh_ms"))
    # A call too short to span a millisecond boundary cannot be logged consistently; drop it.
    frame = frame.with_columns(
        (pl.col("calls_inventory") & (pl.col("mesh_end_us") >= call_start)).alias("calls_inventory")
    )
    mesh_start = pl.col("mesh_end_us") - pl.col("mesh_ms") * MILLI
    inv_end = pl.col("mesh_end_us") - pl.when(pl.col("mesh_ms") >= 2).then(MILLI).otherwise(0)
    inv_dur = _floor((inv_end - mesh_start) * 9 // 10, 100)
    return frame.with_columns(
        inv_end.alias("inventory_end_us"),
        inv_dur.alias("inventory_dur_us"),
        ((inv_dur + MILLI - 1) // MILLI).alias("mesh_upstream_ms"),
    )
