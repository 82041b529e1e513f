"""Dates on member pages read as local time in the member's language, never as UTC ISO strings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trellis_surveys.answering_texts import local_time


@pytest.mark.parametrize(
    ("moment", "timezone", "language", "expected"),
    [
        (datetime(2027, 1, 31, 16, 0, tzinfo=UTC), "Europe/Brussels", "en", "31 January 2027, 17:00 CET"),
        (datetime(2027, 1, 31, 16, 0, tzinfo=UTC), "Europe/Vienna", "de", "31. Januar 2027, 17:00 Uhr CET"),
        (datetime(2027, 2, 1, 8, 30, tzinfo=UTC), "Europe/Paris", "fr", "1er février 2027 à 09:30 CET"),
        (datetime(2027, 7, 1, 10, 0, tzinfo=UTC), "Europe/Brussels", "en", "1 July 2027, 12:00 CEST"),
        (datetime(2027, 3, 5, 23, 30, tzinfo=UTC), "Europe/Helsinki", "de", "6. März 2027, 01:30 Uhr EET"),
        (datetime(2027, 3, 5, 12, 0, tzinfo=UTC), "Europe/Lisbon", "it", "5 March 2027, 12:00 WET"),
    ],
)
def test_local_time(moment: datetime, timezone: str, language: str, expected: str) -> None:
    shown = local_time(moment, timezone, language)
    assert shown.replace("\u00a0", " ") == expected
    assert "\u00a0" in shown.split(",")[0].split(" à ")[0], "day and month stay on one line"
