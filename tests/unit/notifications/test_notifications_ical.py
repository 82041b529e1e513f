"""The .ics attachment of a review reminder, read back with the icalendar package."""

from __future__ import annotations

from datetime import UTC, date, datetime

import icalendar

from trellis_common.events import ReminderKind
from trellis_notifications.domain.ical import review_calendar, review_event_uid
from trellis_notifications.samples import SAMPLE_REVIEW


def calendar_of(raw: bytes) -> icalendar.Calendar:
    parsed = icalendar.Calendar.from_ical(raw)
    assert isinstance(parsed, icalendar.Calendar)
    return parsed


def test_the_review_is_an_all_day_event_on_the_due_date() -> None:
    raw = review_calendar(
        SAMPLE_REVIEW, summary="Strategy review: X; y, z", description="Agenda:\n- a", domain="t.example"
    )
    calendar = calendar_of(raw)
    assert str(calendar["method"]) == "PUBLISH" and str(calendar["version"]) == "2.0"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == date(2026, 3, 31)
    assert event.decoded("dtend") == date(2026, 4, 1)
    assert str(event["summary"]) == "Strategy review: X; y, z"  # escaped on the wire, the same read back
    assert str(event["description"]) == "Agenda:\n- a"
    assert event.decoded("dtstamp") == datetime(2026, 3, 17, 7, 0, tzinfo=UTC)
    assert str(event["uid"]).endswith("@t.example")
    assert b"\r\n" in raw


def test_every_reminder_of_one_review_updates_the_same_calendar_entry() -> None:
    due = SAMPLE_REVIEW.model_copy(update={"kind": ReminderKind.DUE, "reminder_id": "other", "lead_days": None})
    assert review_event_uid(SAMPLE_REVIEW, "t.example") == review_event_uid(due, "t.example")
    next_period = SAMPLE_REVIEW.model_copy(update={"due_date": date(2026, 6, 30)})
    assert review_event_uid(next_period, "t.example") != review_event_uid(SAMPLE_REVIEW, "t.example")


def test_the_attachment_is_the_same_bytes_every_time() -> None:
    first = review_calendar(SAMPLE_REVIEW, summary="s", description="d", domain="t.example")
    assert first == review_calendar(SAMPLE_REVIEW, summary="s", description="d", domain="t.example")
