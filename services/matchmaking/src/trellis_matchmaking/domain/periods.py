"""Seat periods: an offer's seats are counted per period (a quarter by default, the guide's review rhythm)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


class SeatPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"


def period_key(moment: datetime, period: SeatPeriod) -> str:
    """The period a moment falls in, as a sortable key: 2026-03, 2026-Q1, 2026-H1 or 2026 (in UTC)."""
    day = moment.astimezone(UTC)
    if period is SeatPeriod.MONTH:
        return f"{day.year}-{day.month:02d}"
    if period is SeatPeriod.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if period is SeatPeriod.HALF_YEAR:
        return f"{day.year}-H{(day.month - 1) // 6 + 1}"
    return str(day.year)
