"""Dates as people read them in the languages we ship: the month in words, the day first, never ISO 8601."""

from __future__ import annotations

from datetime import UTC, date, datetime

NBSP = "\u00a0"  # between a day and its month: never split across lines on a narrow screen

MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni",
        "Juli", "August", "September", "Oktober", "November", "Dezember",
    ),
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
}  # fmt: skip


def long_date(value: date, language: str) -> str:
    """``6 December 2026``, ``6. Dezember 2026``, ``1er décembre 2026``; English for a language not shipped. A
    datetime counts by its UTC day (convert it to a local time first to count by a local one)."""
    if isinstance(value, datetime):
        value = (value.astimezone(UTC) if value.tzinfo else value).date()
    month = MONTHS.get(language, MONTHS["en"])[value.month - 1]
    if language == "de":
        return f"{value.day}.{NBSP}{month} {value.year}"
    if language == "fr":  # "1er décembre", "2 décembre"
        first = "er" if value.day == 1 else ""
        return f"{value.day}{first}{NBSP}{month} {value.year}"
    return f"{value.day}{NBSP}{month} {value.year}"
