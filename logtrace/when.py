"""Times as people type them (``--since``, ``--until``, ``--split-at``), and the zone the
reports show times in (``--tz``).

A time is one of:

* relative to now, the wall clock (as journalctl and lnav read them): ``-15m``, ``-2h``,
  ``-1d``, ``-30s``, ``-1h30m``, ``15m ago``, ``2 hours ago``, ``now``;
* a time of day, today as the logs show their times: ``10:03``, ``10:03:30``;
  ``today`` and ``yesterday`` (their midnight), ``yesterday 18:00``;
* a date and time: ISO 8601 (``2019-01-22 03:57``, ``2019-01-22T03:57:00+03:30``, ``...Z``)
  or nginx's ``22/Jan/2019:03:57:00 +0330``.

A time with a zone, or relative to now, is an instant (a UTC ``datetime``). One without a
zone is read in the UTC offset the logs write once it is known (``Filters.for_logs``): a
date and time as a naive ``datetime``, a time of day as a :class:`DayTime`, whose day is
today in that offset (``10:03`` at 01:00 UTC is yesterday's 10:03 in logs written at
-03:30, where it is still yesterday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logtrace.errors import UsageError
from logtrace.offsets import format_offset

FORMS = (
    "-15m, -2h, -1d, '15m ago', now (before now); 10:03, 10:03:30, today, yesterday, "
    "'yesterday 18:00' (as the logs show their times); 2026-11-26 08:00, "
    "2026-11-26T08:00:00-03:30, 26/Nov/2026:08:00:00 -0330"
)

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_AMOUNT = r"(\d+)\s*([a-z]+)"
_RELATIVE = re.compile(rf"-\s*((?:{_AMOUNT}\s*)+)|((?:{_AMOUNT}\s*)+)\s+ago")
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?"
_DAY_TIME = re.compile(rf"(?:(today|yesterday)\s*)?(?:{_CLOCK})?")
_TIME_FORMATS = ("%d/%b/%Y:%H:%M:%S %z", "%d/%b/%Y:%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class DayTime:
    """A time of day ``days_ago`` days before today, as the logs show their times: which
    day is today depends on the offset it is read in (:meth:`at`)."""

    clock: time
    days_ago: int
    now: datetime  # the instant "today" is taken at (aware)

    def day(self, offset: timedelta | None) -> date:
        """The day it falls on, read in ``offset`` (UTC when None)."""
        tz = timezone(offset) if offset is not None else UTC
        return self.now.astimezone(tz).date() - timedelta(days=self.days_ago)

    def at(self, offset: timedelta | None) -> datetime:
        """The instant, in UTC, read in ``offset`` (UTC when None)."""
        tz = timezone(offset) if offset is not None else UTC
        return datetime.combine(self.day(offset), self.clock, tzinfo=tz).astimezone(UTC)


Moment = datetime | DayTime  # a datetime without a zone is read as DayTime is


def in_utc(moment: Moment) -> datetime:
    """An instant: a time without a zone read in UTC (what filters do when no offset is
    known)."""
    if isinstance(moment, DayTime):
        return moment.at(None)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_when(value: str, option: str, now: datetime) -> Moment:
    """``value`` as :data:`FORMS` lists; ``now`` (aware) is what relative times count back
    from and the day ``today`` is. A UsageError for anything else."""
    text = value.strip()
    lowered = text.lower()
    if lowered == "now":
        return now.astimezone(UTC)
    if m := _RELATIVE.fullmatch(lowered):
        return now.astimezone(UTC) - _amount(m.group(1) or m.group(4), option, value)
    if lowered and (m := _DAY_TIME.fullmatch(lowered)):
        word, hours, minutes, seconds, fraction = m.groups()
        if int(hours or 0) > 23 or int(minutes or 0) > 59 or int(seconds or 0) > 59:
            raise _not_a_time(option, value)
        clock = time(
            int(hours or 0),
            int(minutes or 0),
            int(seconds or 0),
            int((fraction or "0").ljust(6, "0")),
        )
        return DayTime(clock, 1 if word == "yesterday" else 0, now)
    parsed = _absolute(text)
    if parsed is None:
        raise _not_a_time(option, value)
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC)


def _amount(text: str, option: str, value: str) -> timedelta:
    seconds = 0
    for count, unit in re.findall(_AMOUNT, text):
        if unit not in _UNITS:
            raise UsageError(
                f"{option} {value!r}: {unit!r} is not a unit of time",
                "use s, m, h, d or w (-30s, -15m, -2h, -1d, -1w, -1h30m, '15m ago')",
            )
        seconds += int(count) * _UNITS[unit]
    return timedelta(seconds=seconds)


def _absolute(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def _not_a_time(option: str, value: str) -> UsageError:
    return UsageError(f"{option} {value!r} is not a time", f"use one of: {FORMS}")


@dataclass(frozen=True)
class Zone:
    """The zone reports show times in: UTC, a fixed offset, an IANA zone, or the
    machine's own (``tz`` None); ``why`` it was chosen, for the report."""

    name: str  # as the report writes it after a time: UTC, +03:30, Europe/Berlin
    tz: tzinfo | None
    why: str = ""

    def show(self, t: datetime) -> datetime:
        """``t`` (aware) as a clock in this zone shows it."""
        return t.astimezone(self.tz) if self.tz is not None else t.astimezone()

    def offset_s(self, at: datetime | None = None) -> int:
        """Its UTC offset in seconds at ``at`` (now when None; an IANA zone's changes
        with daylight saving time)."""
        moment = at or datetime.now(UTC)
        offset = self.show(moment).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def said(self) -> str:
        """``times in +03:30 (the offset the logs write)``: which zone, and why."""
        return f"times in {self.name}" + (f" ({self.why})" if self.why else "")


UTC_ZONE = Zone("UTC", UTC)


def offset_zone(offset: timedelta | None, why: str) -> Zone:
    """The zone of a fixed UTC offset (UTC when None or zero)."""
    if not offset:
        return Zone("UTC", UTC, why)
    return Zone(format_offset(offset), timezone(offset), why)


_OFFSET = re.compile(r"([+-])(\d{1,2}):?(\d{2})?")


def app_timezone(value: str, option: str = "--timezone") -> str:
    """The zone app times written without one are read in, as ``applog.times`` takes it:
    ``UTC``, an IANA name, or a fixed offset written ``+05:30`` (``local``: this
    machine's offset now). A value that is none of these is a usage error."""
    zone = parse_zone(value, option)
    if zone.tz is None:  # local
        return offset_zone(datetime.now().astimezone().utcoffset(), option).name
    return zone.name


def parse_zone(value: str, option: str = "--tz") -> Zone:
    """``UTC``, ``local`` (this machine's zone), an IANA name (``Europe/Berlin``) or an
    offset (``+05:30``, ``-0330``, ``+2``)."""
    text = value.strip()
    why = option
    if text.upper() in {"UTC", "Z", "GMT"}:
        return Zone("UTC", UTC, why)
    if text.lower() == "local":
        return Zone(datetime.now().astimezone().tzname() or "local", None, why)
    if m := _OFFSET.fullmatch(text):
        sign, hours, minutes = m.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset < timedelta(hours=24):
            return offset_zone(-offset if sign == "-" else offset, why)
    elif "/" in text or text.isalpha():
        try:
            return Zone(text, ZoneInfo(text), why)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise UsageError(
        f"{option} {value!r} is not a time zone",
        "use UTC, local, an IANA zone name such as Europe/Berlin or America/St_Johns, "
        "or an offset such as +05:30",
    )
