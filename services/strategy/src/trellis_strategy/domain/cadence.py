"""When is a cluster's strategy review next due? Pure cadence maths, no I/O.

The default, quarterly reviews with an evaluation at least every six months, follows the guide's Hamburg
Aviation example (the guide itself advises updating a strategy as often as needed); a cluster may choose
six-monthly reviews or give its own RFC 5545 RRULE. Review dates are computed on the local wall clock of the
cluster's IANA time zone (a 10:00 review stays at 10:00 across daylight-saving changes) and returned in UTC,
to whole seconds.

Month ends: RFC 5545 ignores dates a month does not have, so ``FREQ=MONTHLY;INTERVAL=3`` started on 31 January
silently skips April and June (dateutil follows the RFC). When the day of month comes from the anchor (the
rule names no day of its own), we clamp it to the month's last day instead: 31 Jan → 30 Apr → 31 Jul → 31 Oct.
A rule that names its days (``BYMONTHDAY``, ``BYDAY``, …) is honoured exactly as written.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import rrulestr

MAX_RRULE_LENGTH = 255


class InvalidCadence(ValueError):
    """The cadence cannot be used for reviews; the message says why, in words a cluster manager can act on."""


class NoReviewDate(InvalidCadence):
    """The rule yields no date after the given time for this anchor (e.g. INTERVAL never meets BYDAY)."""


class InvalidTimeZone(ValueError):
    """Not an IANA time zone name."""


class CadenceKind(StrEnum):
    QUARTERLY = "quarterly"
    SIX_MONTHLY = "six_monthly"
    RRULE = "rrule"


# The named cadences are ordinary rules whose day of month comes from the anchor (and is clamped).
_NAMED_RULES = {
    CadenceKind.QUARTERLY: {"FREQ": "MONTHLY", "INTERVAL": "3"},
    CadenceKind.SIX_MONTHLY: {"FREQ": "MONTHLY", "INTERVAL": "6"},
}


@dataclass(frozen=True)
class ReviewCadence:
    """How often a strategy is reviewed: quarterly, six-monthly, or an RFC 5545 RRULE (``rrule`` set)."""

    kind: CadenceKind
    rrule: str | None = None

    def __post_init__(self) -> None:
        if self.kind is CadenceKind.RRULE:
            if self.rrule is None:
                raise InvalidCadence("an RRULE cadence needs its rule")
            # Keep only the normalised form, so equal rules compare equal and store the same way.
            object.__setattr__(self, "rrule", _render(_parse_rrule(self.rrule)))
        elif self.rrule is not None:
            raise InvalidCadence(f"a {self.kind.value} cadence takes no RRULE")

    @classmethod
    def quarterly(cls) -> ReviewCadence:
        return cls(CadenceKind.QUARTERLY)

    @classmethod
    def six_monthly(cls) -> ReviewCadence:
        return cls(CadenceKind.SIX_MONTHLY)

    @classmethod
    def from_rrule(cls, rule: str) -> ReviewCadence:
        return cls(CadenceKind.RRULE, rule)

    @classmethod
    def parse(cls, text: str) -> ReviewCadence:
        """Read the stored form: ``quarterly``, ``six_monthly`` or an RRULE (``RRULE:`` prefix optional)."""
        value = text.strip()
        if value.lower() in (CadenceKind.QUARTERLY.value, CadenceKind.SIX_MONTHLY.value):
            return cls(CadenceKind(value.lower()))
        if "=" not in value:
            raise InvalidCadence(
                f"unknown cadence {text!r}: use 'quarterly', 'six_monthly' or an RFC 5545 RRULE "
                "such as 'FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO'"
            )
        return cls.from_rrule(value)

    @property
    def text(self) -> str:
        """The stored form, read back by :meth:`parse`."""
        return f"RRULE:{self.rrule}" if self.kind is CadenceKind.RRULE else self.kind.value

    @property
    def parts(self) -> dict[str, str]:
        if self.kind is CadenceKind.RRULE:
            assert self.rrule is not None
            return _parse_rrule(self.rrule)
        return dict(_NAMED_RULES[self.kind])


def time_zone(key: str) -> ZoneInfo:
    """The IANA zone named ``key``; anything else (including file paths) is refused."""
    if key not in _known_zones():
        raise InvalidTimeZone(f"unknown IANA time zone {key!r}; use a name such as 'Europe/Brussels'")
    return ZoneInfo(key)


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def next_due(cadence: ReviewCadence, anchor: datetime, after: datetime, tz: str) -> datetime:
    """The first review date strictly after ``after`` of the series that starts at ``anchor``, in UTC.

    The series is computed on the wall clock of ``tz``: the anchor's local time of day is kept, and a local
    time that does not exist on a given day (spring-forward gap) is read with the offset before the gap, as
    RFC 5545 does. Raises :class:`NoReviewDate` if the rule has no later date at all.
    """
    _require_aware(anchor, "anchor")
    _require_aware(after, "after")
    zone = time_zone(tz)
    start = anchor.astimezone(zone).replace(tzinfo=None, microsecond=0)
    rule = _rule(cadence, start)
    # Occurrences are local times; no zone is more than a day away from UTC, so starting the walk two days
    # before ``after`` (in local time) cannot miss the first occurrence after it.
    after_local = after.astimezone(zone).replace(tzinfo=None)
    search_from = after_local - timedelta(days=2) if after_local - start > timedelta(days=2) else start
    for local in rule.xafter(search_from, inc=True):
        due: datetime = local.replace(tzinfo=zone).astimezone(UTC)
        if due > after:
            return due
    raise NoReviewDate(
        f"the cadence {cadence.text!r} has no review date after {after.isoformat()} for a series starting "
        f"{start.isoformat()} ({tz})"
    )


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _rule(cadence: ReviewCadence, start: datetime) -> Any:
    parts = cadence.parts
    if start.day > 28 and _day_comes_from_anchor(parts):
        # First of {anchor's day, last day}: the anchor's day where the month has it, else the month's end.
        parts["BYMONTHDAY"] = f"{start.day},-1"
        parts["BYSETPOS"] = "1"
        if parts["FREQ"] == "YEARLY":
            parts.setdefault("BYMONTH", str(start.month))
    return rrulestr(_render(parts), dtstart=start)


def _day_comes_from_anchor(parts: dict[str, str]) -> bool:
    if any(name in parts for name in ("BYMONTHDAY", "BYDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS")):
        return False
    if parts["FREQ"] == "MONTHLY":
        return True
    # One BYSETPOS per year can clamp one month only; several months keep RFC semantics.
    return parts["FREQ"] == "YEARLY" and "," not in parts.get("BYMONTH", "")


# --- RRULE validation -------------------------------------------------------------------------------------

_RRULE_SHAPE = re.compile(r"[A-Z0-9=;,+\-]+")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")
_TOO_FREQUENT = ("HOURLY", "MINUTELY", "SECONDLY")
# name: (lowest, highest, zero allowed, several values allowed)
_INTEGER_PARTS: dict[str, tuple[int, int, bool, bool]] = {
    "INTERVAL": (1, 1000, False, False),
    # One time of day per date: a review happens at most once a day.
    "BYSECOND": (0, 59, True, False),
    "BYMINUTE": (0, 59, True, False),
    "BYHOUR": (0, 23, True, False),
    "BYMONTHDAY": (-31, 31, False, True),
    "BYYEARDAY": (-366, 366, False, True),
    "BYWEEKNO": (-53, 53, False, True),
    "BYMONTH": (1, 12, False, True),
    "BYSETPOS": (-366, 366, False, True),
}
_ALLOWED = ("FREQ", "BYDAY", "WKST", *_INTEGER_PARTS)
_DAYS_IN_MONTH = {month: 29 if month == 2 else calendar.monthrange(2001, month)[1] for month in range(1, 13)}


def _parse_rrule(text: str) -> dict[str, str]:
    """Check an RRULE against RFC 5545 and our limits; return its parts, in order, upper-cased."""
    body = text.strip().upper()
    body = body.removeprefix("RRULE:")
    if not body:
        raise InvalidCadence("the RRULE is empty")
    if len(body) > MAX_RRULE_LENGTH:
        raise InvalidCadence(f"the RRULE is longer than {MAX_RRULE_LENGTH} characters")
    if not _RRULE_SHAPE.fullmatch(body):
        raise InvalidCadence(
            "an RRULE is one line of NAME=VALUE parts separated by ';', e.g. 'FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO' "
            "(no DTSTART, no spaces)"
        )
    parts: dict[str, str] = {}
    for chunk in filter(None, body.split(";")):
        name, sep, value = chunk.partition("=")
        if not sep or not value or "=" in value:
            raise InvalidCadence(f"RRULE part {chunk!r} is not NAME=VALUE")
        if name in ("COUNT", "UNTIL"):
            raise InvalidCadence(f"{name} is not allowed: a review cadence repeats until it is changed")
        if name not in _ALLOWED:
            raise InvalidCadence(f"unsupported RRULE part {name!r}; allowed: {', '.join(_ALLOWED)}")
        if name in parts:
            raise InvalidCadence(f"RRULE part {name} is given twice")
        parts[name] = value
    _check_parts(parts)
    try:
        rrulestr(_render(parts), dtstart=datetime(2001, 1, 1))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidCadence(f"not a valid RFC 5545 RRULE: {exc}") from exc
    return parts


def _check_parts(parts: dict[str, str]) -> None:
    freq = parts.get("FREQ")
    if freq is None:
        raise InvalidCadence("the RRULE needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY)")
    if freq in _TOO_FREQUENT:
        raise InvalidCadence(f"FREQ={freq} is too frequent for strategy reviews; use DAILY, WEEKLY, MONTHLY or YEARLY")
    if freq not in _FREQUENCIES:
        raise InvalidCadence(f"unknown FREQ {freq!r}; use DAILY, WEEKLY, MONTHLY or YEARLY")
    numbers = {name: _integers(name, parts[name]) for name in _INTEGER_PARTS if name in parts}
    if "WKST" in parts and parts["WKST"] not in _WEEKDAYS:
        raise InvalidCadence(f"WKST must be one of {', '.join(_WEEKDAYS)}")
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], freq, has_weekno="BYWEEKNO" in parts)
    # RFC 5545 §3.3.10 limits which parts go with which frequency.
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise InvalidCadence("BYWEEKNO can only be used with FREQ=YEARLY")
    if "BYYEARDAY" in parts and freq != "YEARLY":
        raise InvalidCadence("BYYEARDAY can only be used with FREQ=YEARLY")
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise InvalidCadence("BYMONTHDAY cannot be used with FREQ=WEEKLY")
    if "BYSETPOS" in parts and not any(n.startswith("BY") and n != "BYSETPOS" for n in parts):
        raise InvalidCadence("BYSETPOS needs another BY… part to select from")
    if "BYMONTHDAY" in parts:
        months = numbers.get("BYMONTH") or list(range(1, 13))
        if not any(abs(day) <= _DAYS_IN_MONTH[month] for day in numbers["BYMONTHDAY"] for month in months):
            raise InvalidCadence("no month in BYMONTH has any of the days in BYMONTHDAY: the rule never occurs")


def _integers(name: str, value: str) -> list[int]:
    lowest, highest, zero_ok, several_ok = _INTEGER_PARTS[name]
    items = value.split(",")
    if len(items) > 1 and not several_ok:
        raise InvalidCadence(f"{name} takes a single value (a review happens at most once a day)")
    numbers: list[int] = []
    for item in items:
        if not re.fullmatch(r"[+-]?\d{1,4}", item):
            raise InvalidCadence(f"{name} must be a whole number{' list' if several_ok else ''}, not {value!r}")
        number = int(item)
        if not lowest <= number <= highest or (number == 0 and not zero_ok):
            raise InvalidCadence(f"{name}={number} is out of range ({lowest}..{highest}{'' if zero_ok else ', not 0'})")
        numbers.append(number)
    return numbers


def _check_byday(value: str, freq: str, *, has_weekno: bool) -> None:
    for item in value.split(","):
        match = _BYDAY.fullmatch(item)
        if match is None:
            raise InvalidCadence(f"BYDAY entry {item!r} is not a weekday such as MO, 1MO or -1FR")
        if match.group(1) is None:
            continue
        ordinal = int(match.group(1))
        if freq not in ("MONTHLY", "YEARLY") or has_weekno:
            raise InvalidCadence(f"BYDAY={item}: a numbered weekday needs FREQ=MONTHLY or YEARLY without BYWEEKNO")
        limit = 5 if freq == "MONTHLY" else 53
        if ordinal == 0 or abs(ordinal) > limit:
            raise InvalidCadence(f"BYDAY={item}: the number must be 1..{limit} or -{limit}..-1")


def _render(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={value}" for name, value in parts.items())


def review_dates(cadence: ReviewCadence, anchor: datetime, first: datetime, tz: str, count: int) -> list[datetime]:
    """``first`` (a review date of the series) and the ``count - 1`` dates that follow it, in UTC."""
    dates = [first]
    while len(dates) < count:
        dates.append(next_due(cadence, anchor, dates[-1], tz))
    return dates[:count]
