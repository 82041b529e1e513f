"""Review cadence maths: examples for the rules, and properties checked against a calendar written here."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from dateutil.rrule import rrulestr
from hypothesis import example, given, settings
from hypothesis import strategies as st

from trellis_strategy.domain.cadence import (
    CadenceKind,
    InvalidCadence,
    InvalidTimeZone,
    NoReviewDate,
    ReviewCadence,
    next_due,
    review_dates,
    time_zone,
)

BRUSSELS = "Europe/Brussels"
QUARTERLY = ReviewCadence.quarterly()
SIX_MONTHLY = ReviewCadence.six_monthly()


def local(key: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(key))


def series(cadence: ReviewCadence, anchor: datetime, tz: str, count: int) -> list[datetime]:
    out: list[datetime] = []
    after = anchor
    for _ in range(count):
        after = next_due(cadence, anchor, after, tz)
        out.append(after)
    return out


def wall(moments: list[datetime], tz: str) -> list[str]:
    return [m.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %z") for m in moments]


# --- examples -----------------------------------------------------------------------------------------------


def test_quarterly_from_31_january_clamps_to_month_ends_and_keeps_the_wall_clock() -> None:
    anchor = local(BRUSSELS, 2025, 1, 31, 10, 0)
    assert wall(series(QUARTERLY, anchor, BRUSSELS, 5), BRUSSELS) == [
        "2025-04-30 10:00 +0200",
        "2025-07-31 10:00 +0200",
        "2025-10-31 10:00 +0100",
        "2026-01-31 10:00 +0100",
        "2026-04-30 10:00 +0200",
    ]


def test_results_are_utc() -> None:
    due = next_due(QUARTERLY, local(BRUSSELS, 2025, 1, 31, 10, 0), local(BRUSSELS, 2025, 1, 31, 10, 0), BRUSSELS)
    assert due.tzinfo is UTC
    assert due == datetime(2025, 4, 30, 8, 0, tzinfo=UTC)


def test_quarterly_from_30_november_uses_28_february_then_returns_to_the_30th() -> None:
    anchor = local(BRUSSELS, 2024, 11, 30, 9, 30)
    assert [d[:10] for d in wall(series(QUARTERLY, anchor, BRUSSELS, 4), BRUSSELS)] == [
        "2025-02-28",
        "2025-05-30",
        "2025-08-30",
        "2025-11-30",
    ]


def test_six_monthly_from_29_february() -> None:
    anchor = local(BRUSSELS, 2024, 2, 29, 14, 0)
    assert [d[:10] for d in wall(series(SIX_MONTHLY, anchor, BRUSSELS, 8), BRUSSELS)] == [
        "2024-08-29",
        "2025-02-28",
        "2025-08-29",
        "2026-02-28",
        "2026-08-29",
        "2027-02-28",
        "2027-08-29",
        "2028-02-29",
    ]


def test_a_plain_monthly_rrule_is_clamped_like_the_named_cadences() -> None:
    anchor = local(BRUSSELS, 2025, 1, 31, 10, 0)
    rule = ReviewCadence.from_rrule("FREQ=MONTHLY;INTERVAL=3")
    assert series(rule, anchor, BRUSSELS, 6) == series(QUARTERLY, anchor, BRUSSELS, 6)


def test_an_explicit_bymonthday_is_honoured_as_rfc_5545_says() -> None:
    anchor = local(BRUSSELS, 2025, 1, 31, 10, 0)
    rule = ReviewCadence.from_rrule("FREQ=MONTHLY;BYMONTHDAY=31")
    assert [d[:10] for d in wall(series(rule, anchor, BRUSSELS, 3), BRUSSELS)] == [
        "2025-03-31",
        "2025-05-31",
        "2025-07-31",
    ]


def test_first_monday_every_other_month() -> None:
    anchor = local(BRUSSELS, 2025, 1, 31, 10, 0)
    rule = ReviewCadence.from_rrule("FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO")
    assert wall(series(rule, anchor, BRUSSELS, 4), BRUSSELS) == [
        "2025-03-03 10:00 +0100",
        "2025-05-05 10:00 +0200",
        "2025-07-07 10:00 +0200",
        "2025-09-01 10:00 +0200",
    ]


def test_a_time_that_does_not_exist_locally_moves_past_the_gap() -> None:
    # 30 March 2025, 02:30 does not exist in Brussels (clocks jump from 02:00 to 03:00).
    anchor = local(BRUSSELS, 2025, 1, 30, 2, 30)
    rule = ReviewCadence.from_rrule("FREQ=MONTHLY")
    after_february = next_due(rule, anchor, local(BRUSSELS, 2025, 3, 1, 0, 0), BRUSSELS)
    assert after_february == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert wall([next_due(rule, anchor, after_february, BRUSSELS)], BRUSSELS) == ["2025-04-30 02:30 +0200"]


def test_after_a_long_gap_the_next_date_is_the_first_one_after_now() -> None:
    anchor = local(BRUSSELS, 2025, 1, 31, 10, 0)
    nine_months_later = local(BRUSSELS, 2025, 10, 31, 10, 0) + timedelta(seconds=1)
    assert wall([next_due(QUARTERLY, anchor, nine_months_later, BRUSSELS)], BRUSSELS) == ["2026-01-31 10:00 +0100"]


def test_an_anchor_in_the_future_is_itself_the_next_date() -> None:
    anchor = local(BRUSSELS, 2030, 5, 6, 10, 0)
    assert next_due(QUARTERLY, anchor, local(BRUSSELS, 2025, 1, 1, 0, 0), BRUSSELS) == anchor.astimezone(UTC)


def test_microseconds_are_dropped_and_the_anchor_itself_is_not_after_itself() -> None:
    anchor = datetime(2025, 1, 31, 9, 0, 0, 123456, tzinfo=UTC)
    assert next_due(QUARTERLY, anchor, anchor, "UTC") == datetime(2025, 4, 30, 9, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="anchor must be timezone-aware"):
        next_due(QUARTERLY, datetime(2025, 1, 1), datetime(2025, 1, 1, tzinfo=UTC), BRUSSELS)
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        next_due(QUARTERLY, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 1), BRUSSELS)


def test_a_rule_without_dates_for_this_anchor_is_reported() -> None:
    anchor = local(BRUSSELS, 2025, 1, 15, 10, 0)
    rule = ReviewCadence.from_rrule("FREQ=MONTHLY;INTERVAL=12;BYMONTH=6")  # only ever lands on January
    with pytest.raises(NoReviewDate, match="has no review date"):
        next_due(rule, anchor, anchor, BRUSSELS)


@pytest.mark.parametrize("key", ["Mars/Olympus_Mons", "", "../../etc/passwd", "europe/brussels", "/usr/share"])
def test_unknown_time_zones_are_refused(key: str) -> None:
    with pytest.raises(InvalidTimeZone, match="unknown IANA time zone"):
        time_zone(key)
    with pytest.raises(InvalidTimeZone):
        next_due(QUARTERLY, local(BRUSSELS, 2025, 1, 1, 0, 0), local(BRUSSELS, 2025, 1, 1, 0, 0), key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quarterly", ReviewCadence.quarterly()),
        (" Six_Monthly ", ReviewCadence.six_monthly()),
        ("freq=monthly;interval=2;byday=1mo", ReviewCadence(CadenceKind.RRULE, "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO")),
        (
            "RRULE:FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=1",
            ReviewCadence.from_rrule("FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=1"),
        ),
    ],
)
def test_parse_and_text_round_trip(text: str, expected: ReviewCadence) -> None:
    cadence = ReviewCadence.parse(text)
    assert cadence == expected
    assert ReviewCadence.parse(cadence.text) == cadence


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("", "empty"),
        ("RRULE:", "empty"),
        ("INTERVAL=2", "needs FREQ"),
        ("FREQ=HOURLY", "too frequent"),
        ("FREQ=MINUTELY;INTERVAL=30", "too frequent"),
        ("FREQ=FORTNIGHTLY", "unknown FREQ"),
        ("FREQ=MONTHLY;COUNT=4", "COUNT is not allowed"),
        ("FREQ=MONTHLY;UNTIL=20301231T000000Z", "UNTIL is not allowed"),
        ("FREQ=MONTHLY;FREQ=YEARLY", "given twice"),
        ("FREQ=MONTHLY;X-NAME=1", "unsupported RRULE part"),
        ("FREQ=MONTHLY;INTERVAL=0", "out of range"),
        ("FREQ=MONTHLY;INTERVAL=two", "whole number"),
        ("FREQ=DAILY;BYHOUR=9,17", "single value"),
        ("FREQ=DAILY;BYHOUR=24", "out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "out of range"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "out of range"),
        ("FREQ=YEARLY;BYMONTH=13", "out of range"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never occurs"),
        ("FREQ=YEARLY;BYMONTH=4,6;BYMONTHDAY=31", "never occurs"),
        ("FREQ=MONTHLY;BYDAY=6MO", "1..5"),
        ("FREQ=WEEKLY;BYDAY=1MO", "numbered weekday"),
        ("FREQ=MONTHLY;BYDAY=MONDAY", "not a weekday"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYWEEKNO=1", "only be used with FREQ=YEARLY"),
        ("FREQ=DAILY;BYYEARDAY=1", "only be used with FREQ=YEARLY"),
        ("FREQ=MONTHLY;BYSETPOS=1", "needs another BY"),
        ("FREQ=MONTHLY;WKST=XX", "WKST"),
        ("FREQ=MONTHLY\nDTSTART:20250101T000000", "one line"),
        ("FREQ=MONTHLY; INTERVAL=2", "one line"),
        ("FREQ=MONTHLY;INTERVAL", "NAME=VALUE"),
        ("FREQ=MONTHLY;" + "BYMONTH=1;" * 40, "longer than"),
    ],
)
def test_unusable_rrules_are_refused_with_a_reason(rule: str, message: str) -> None:
    with pytest.raises(InvalidCadence, match=message):
        ReviewCadence.from_rrule(rule)


def test_unknown_words_are_refused() -> None:
    with pytest.raises(InvalidCadence, match="unknown cadence 'monthly'"):
        ReviewCadence.parse("monthly")


def test_named_cadences_take_no_rule() -> None:
    with pytest.raises(InvalidCadence):
        ReviewCadence(CadenceKind.QUARTERLY, "FREQ=MONTHLY")
    with pytest.raises(InvalidCadence):
        ReviewCadence(CadenceKind.RRULE)


# --- properties --------------------------------------------------------------------------------------------

# Zones with daylight saving in either hemisphere, odd offsets, none at all; plus any zone we accept.
ZONES = st.one_of(
    st.sampled_from(
        [
            BRUSSELS,
            "Europe/Lisbon",
            "America/New_York",
            "America/St_Johns",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "Asia/Kolkata",
            "America/Sao_Paulo",
            "UTC",
        ]
    ),
    st.sampled_from(sorted(available_timezones())),
)


@st.composite
def local_wall_times(draw: st.DrawFn) -> datetime:
    """Naive local wall-clock times, often at a month's end where clamping matters."""
    year = draw(st.integers(2000, 2080))
    month = draw(st.integers(1, 12))
    day = min(draw(st.one_of(st.integers(1, 31), st.integers(28, 31))), calendar.monthrange(year, month)[1])
    return datetime(
        year, month, day, draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 59])), draw(st.integers(0, 59))
    )


def add_months_clamped(start: datetime, months: int) -> datetime:
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    return start.replace(year=year, month=month0 + 1, day=min(start.day, calendar.monthrange(year, month0 + 1)[1]))


def to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """How a local wall time is read: fold 0, i.e. a time in a gap takes the offset from before the gap."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def exists_locally(naive: datetime, zone: ZoneInfo) -> bool:
    return to_utc(naive, zone).astimezone(zone).replace(tzinfo=None) == naive


def anchor_and_series_start(key: str, wall_time: datetime) -> tuple[datetime, datetime, ZoneInfo]:
    zone = ZoneInfo(key)
    anchor = wall_time.replace(tzinfo=zone)
    # The series keeps the anchor's local time as the anchor instant shows it (a gap time reads forward).
    return anchor, anchor.astimezone(zone).replace(tzinfo=None), zone


@pytest.mark.parametrize(("cadence", "months"), [(QUARTERLY, 3), (SIX_MONTHLY, 6)])
@settings(max_examples=300, deadline=None)
@given(key=ZONES, wall_time=local_wall_times(), count=st.integers(1, 10))
def test_successive_dates_are_whole_months_apart_on_the_clamped_day(
    cadence: ReviewCadence, months: int, key: str, wall_time: datetime, count: int
) -> None:
    anchor, start, zone = anchor_and_series_start(key, wall_time)
    previous = anchor
    for k in range(1, count + 1):
        due = next_due(cadence, anchor, previous, key)
        assert due > previous
        expected = add_months_clamped(start, months * k)
        assert due == to_utc(expected, zone)
        if exists_locally(expected, zone):
            shown = due.astimezone(zone)
            month_steps = (shown.year - start.year) * 12 + shown.month - start.month
            assert month_steps == months * k
            assert shown.day == min(start.day, calendar.monthrange(shown.year, shown.month)[1])
            assert shown.time() == start.time()
        previous = due


@settings(max_examples=300, deadline=None)
@given(
    key=ZONES,
    wall_time=local_wall_times(),
    after=st.datetimes(datetime(1999, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    cadence_months=st.sampled_from([(QUARTERLY, 3), (SIX_MONTHLY, 6)]),
)
def test_the_result_is_the_first_date_of_the_series_strictly_after_after(
    key: str, wall_time: datetime, after: datetime, cadence_months: tuple[ReviewCadence, int]
) -> None:
    cadence, months = cadence_months
    anchor, start, zone = anchor_and_series_start(key, wall_time)
    due = next_due(cadence, anchor, after, key)
    assert due > after
    k = 0
    while (expected := to_utc(add_months_clamped(start, months * k), zone)) <= after:
        k += 1
    assert due == expected


def first_monday(year: int, month: int) -> int:
    return 1 + (calendar.MONDAY - calendar.weekday(year, month, 1)) % 7


@settings(max_examples=200, deadline=None)
@given(
    key=ZONES,
    wall_time=local_wall_times(),
    after=st.datetimes(datetime(1999, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)),
    count=st.integers(1, 6),
)
def test_an_rrule_is_honoured(key: str, wall_time: datetime, after: datetime, count: int) -> None:
    """FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO: the first Monday of every other month from the anchor's month."""
    rule = ReviewCadence.from_rrule("FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO")
    anchor, start, zone = anchor_and_series_start(key, wall_time)

    def occurrences() -> list[tuple[datetime, datetime]]:
        """(local wall time, UTC) of each first Monday, every other month, from the series start on."""
        out = []
        for j in range(0, 12 * 100, 2):
            month_start = add_months_clamped(start.replace(day=1), j)
            candidate = month_start.replace(day=first_monday(month_start.year, month_start.month))
            if candidate >= start:
                out.append((candidate, to_utc(candidate, zone)))
        return out

    expected = [pair for pair in occurrences() if pair[1] > after][:count]
    assert expected
    previous = after
    for wall_time_wanted, want in expected:
        due = next_due(rule, anchor, previous, key)
        assert due == want
        assert due > previous
        if exists_locally(wall_time_wanted, zone):
            shown = due.astimezone(zone)
            assert shown.weekday() == calendar.MONDAY and shown.day <= 7
            assert shown.time() == start.time()
            assert (shown.year * 12 + shown.month - start.year * 12 - start.month) % 2 == 0
        previous = due


@settings(max_examples=200, deadline=None)
@given(key=ZONES, wall_time=local_wall_times(), months=st.integers(1, 12), count=st.integers(1, 8))
def test_a_monthly_rrule_without_days_keeps_the_anchor_day_clamped(
    key: str, wall_time: datetime, months: int, count: int
) -> None:
    """FREQ=MONTHLY;INTERVAL=n behaves like the named cadences: whole months apart, month ends clamped."""
    rule = ReviewCadence.from_rrule(f"FREQ=MONTHLY;INTERVAL={months}")
    anchor, start, zone = anchor_and_series_start(key, wall_time)
    dates = review_dates(rule, anchor, next_due(rule, anchor, anchor, key), key, count)
    assert dates == [to_utc(add_months_clamped(start, months * k), zone) for k in range(1, count + 1)]


WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules_that_name_their_days(draw: st.DrawFn) -> str:
    """RRULEs whose days come from the rule itself: honoured exactly as RFC 5545 reads them."""
    interval = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["weekly", "monthly_byday", "monthly_bymonthday", "yearly"]))
    if kind == "weekly":
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        return f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={','.join(days)}"
    if kind == "monthly_byday":
        nth = draw(st.sampled_from([1, 2, 3, 4, -1]))
        return f"FREQ=MONTHLY;INTERVAL={interval};BYDAY={nth}{draw(st.sampled_from(WEEKDAYS))}"
    if kind == "monthly_bymonthday":
        return f"FREQ=MONTHLY;INTERVAL={interval};BYMONTHDAY={draw(st.sampled_from([1, 15, 28, -1]))}"
    months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
    return f"FREQ=YEARLY;BYMONTH={','.join(map(str, sorted(months)))};BYMONTHDAY={draw(st.integers(1, 28))}"


@settings(max_examples=200, deadline=None)
@given(
    key=ZONES,
    wall_time=local_wall_times(),
    rule_text=rules_that_name_their_days(),
    after=st.datetimes(datetime(1999, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)),
    count=st.integers(1, 5),
)
# St John's sprang forward at 00:01 on 1 April 2001: the anchor's 00:15 does not exist that day, so the review
# is read with the offset from before the gap (RFC 5545 §3.3.5) and shows 01:15; May is back at 00:15.
@example(
    key="America/St_Johns",
    wall_time=datetime(2000, 1, 1, 0, 15),
    rule_text="FREQ=MONTHLY;BYMONTHDAY=1",
    after=datetime(2001, 3, 15, tzinfo=UTC),
    count=2,
)
def test_an_rrule_naming_its_days_is_honoured_on_the_local_wall_clock(
    key: str, wall_time: datetime, rule_text: str, after: datetime, count: int
) -> None:
    """Oracle: RFC 5545 occurrences walked from the series start on local wall time, read at fold 0."""
    rule = ReviewCadence.from_rrule(rule_text)
    anchor, start, zone = anchor_and_series_start(key, wall_time)
    expected: list[tuple[datetime, datetime]] = []  # (the review's local date, its moment in UTC)
    for local_time in rrulestr(rule_text, dtstart=start):
        moment = to_utc(local_time, zone)
        if moment > after:
            expected.append((local_time, moment))
            if len(expected) == count:
                break
    got = review_dates(rule, anchor, next_due(rule, anchor, after, key), key, count)
    assert got == [moment for _, moment in expected]
    assert all(a < b for a, b in itertools.pairwise(got))
    for moment, (local_time, _) in zip(got, expected, strict=True):
        shown = moment.astimezone(zone).replace(tzinfo=None)
        anchor_time_that_day = datetime.combine(local_time.date(), start.time())
        if exists_locally(anchor_time_that_day, zone):
            assert shown == anchor_time_that_day  # the anchor's time of day, across DST changes
        else:
            # The anchor's time falls in a spring-forward gap that day: read with the offset from before the gap,
            # it moves forward by the gap's length (at most a skipped day), never back.
            assert anchor_time_that_day < shown <= anchor_time_that_day + timedelta(days=1)
            assert moment == to_utc(anchor_time_that_day, zone)
