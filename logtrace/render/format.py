"""Number and time formatting shared by every renderer."""

from __future__ import annotations

import math
from datetime import datetime

from logtrace.when import Zone


def duration(seconds: float | None) -> str:
    """A duration for people: ``0 ms``, ``35 ms``, ``1.20 s``, ``3m05s``."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 0.0095:
        ms = round(seconds * 1000, 6)  # 0.007 s is 7.000000000000001 ms before rounding
        return f"{ms:.1f} ms" if ms % 1 else f"{ms:.0f} ms"
    if seconds < 10:
        return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 120:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def share(part: float, whole: float) -> str:
    if not whole:
        return "-"
    return f"{100 * part / whole:.1f}%"


def shares(parts: list[float], whole: float) -> list[str]:
    """Shares of the parts of a whole, in tenths of a percent that add up to 100.0%
    (largest remainders get the tenths that rounding down left over)."""
    if not whole:
        return ["-"] * len(parts)
    exact = [1000 * p / whole for p in parts]
    tenths = [math.floor(e) for e in exact]
    left = round(sum(exact)) - sum(tenths)
    order = sorted(range(len(parts)), key=lambda i: tenths[i] - exact[i])
    for i in order[: max(left, 0)]:
        tenths[i] += 1
    return [f"{t / 10:.1f}%" for t in tenths]


def timestamp(
    value: datetime | None, *, date: bool = True, precision_s: float | None = None
) -> str:
    """A time for people, to the precision its log has: milliseconds when it has a fraction
    of a second.

    With ``precision_s`` of a second or more (``$time_local``, ``$time_iso8601``), a time as
    logged is a whole second and is printed as such; one with a fraction was computed by
    logtrace (a start: the logged end minus ``$request_time``; a whole-second line placed
    inside its second by the precise spans around it), so it is shown as the second it falls
    in (cut, as nginx writes ``$time_local``) and marked approximate: ``≈12:37:13``.
    """
    if value is None:
        return "-"
    fmt = "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S"
    if precision_s is not None and precision_s >= 1:
        if not value.microsecond:
            return value.strftime(fmt)
        return "≈" + value.strftime(fmt)
    text = value.strftime(fmt)
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text


def in_zone(value: datetime | None, zone: Zone) -> datetime | None:
    """An aware time as the clocks of ``zone`` show it (None stays None)."""
    return None if value is None else zone.show(value)


def zone_note(zone: Zone) -> str:
    """Which zone times are shown in, and why: ``Times in -03:30: the offset the logs
    write (--tz to choose).``, ``Times in Europe/Berlin (--tz).``"""
    if zone.why == "--tz":
        return f"Times in {zone.name} (--tz)."
    why = f": {zone.why}" if zone.why else ""
    return f"Times in {zone.name}{why} (--tz to choose)."


def size(n: float | None) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB``, ``20.0 MiB``, ``3.1 GiB``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
