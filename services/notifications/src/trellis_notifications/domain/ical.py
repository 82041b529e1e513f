"""The iCalendar (RFC 5545) attachment of a strategy review reminder."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import icalendar

from trellis_common.events import ReviewDue

ICS_FILENAME = "strategy-review.ics"
ICS_CONTENT_TYPE = "text/calendar"


def review_event_uid(review: ReviewDue, domain: str) -> str:
    """Every reminder of one review (14 days ahead, the day before, on the day) updates the same entry."""
    digest = hashlib.sha256(f"{review.strategy_id}|{review.due_date.isoformat()}".encode()).hexdigest()[:32]
    return f"review-{digest}@{domain}"


def review_calendar(review: ReviewDue, *, summary: str, description: str, domain: str) -> bytes:
    """An all-day event on the due date; deterministic, so a resent email carries the same bytes."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Trellis//Strategy review reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", review_event_uid(review, domain))
    event.add("dtstamp", review.fired_at)
    event.add("dtstart", review.due_date)
    event.add("dtend", review.due_date + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")  # a deadline, not a meeting: it does not block the calendar
    event.add("sequence", 0)
    calendar.add_component(event)
    return bytes(calendar.to_ical())
