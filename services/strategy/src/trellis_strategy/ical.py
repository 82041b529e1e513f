"""A cluster's coming strategy reviews as an iCalendar (RFC 5545) feed that calendars can subscribe to.

Each review date is one event whose UID is derived from the strategy and the date, so a calendar that refreshes
the feed updates the event in place instead of adding a copy. Times are local to the strategy's time zone
(``DTSTART;TZID=…``) with a ``VTIMEZONE`` for each zone, covering the dates listed; a feed with no review still
carries the default zone, since RFC 5545 wants at least one component. Dates after the next one are provisional
for strategies anchored to their last review (they move when a review is recorded), and the event says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

_NAMESPACE = uuid.UUID("0b8a4a4e-3f0f-4f7e-9d43-6c1bb2a1e5d2")
PRODID = "-//Trellis//Strategy reviews//EN"


@dataclass(frozen=True)
class FeedReview:
    strategy_id: str
    strategy_title: str
    strategy_type: str
    due_at: datetime
    timezone: str  # IANA name
    provisional: bool
    details: Sequence[str]  # lines of the event description (phase, KPIs, open actions, …)


def event_uid(strategy_id: str, due_at: datetime) -> str:
    moment = due_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{uuid.uuid5(_NAMESPACE, f'{strategy_id}:{moment}')}@trellis-strategy-reviews"


def review_calendar(
    cluster_id: str, reviews: Sequence[FeedReview], *, now: datetime, duration: timedelta, default_timezone: str
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Strategy reviews – cluster {cluster_id}")
    # Subscribed calendars poll; an hour keeps a moved review date fresh without hammering the service.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    zones = sorted({review.timezone for review in reviews} or {default_timezone})
    last = max((review.due_at for review in reviews), default=now) + duration + timedelta(days=1)
    for zone in zones:
        # Only the span listed: a full history would weigh more than the events themselves.
        calendar.add_component(Timezone.from_tzid(zone, first_date=now.date(), last_date=last.date()))
    for review in sorted(reviews, key=lambda r: (r.due_at, r.strategy_title)):
        event = Event()
        event.add("uid", event_uid(review.strategy_id, review.due_at))
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", review.due_at.astimezone(ZoneInfo(review.timezone)))
        event.add("duration", duration)
        event.add("summary", f"Strategy review: {review.strategy_title}")
        lines = [f"Review of the {review.strategy_type.replace('_', ' ')} “{review.strategy_title}”.", *review.details]
        if review.provisional:
            lines.append("Provisional: the date moves when the previous review is recorded.")
        event.add("description", "\n".join(lines))
        event.add("status", "TENTATIVE" if review.provisional else "CONFIRMED")
        event.add("transp", "OPAQUE")
        event.add("categories", ["Strategy review"])
        calendar.add_component(event)
    return bytes(calendar.to_ical())
