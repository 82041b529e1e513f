"""Answers that describe the member, not a need: its international ambitions.

A choice question may say which field of the member context its answer fills (``member_context:
target_countries`` or ``target_sectors``). Its option values are then codes of that field, checked when the
template loads, and the member's choices travel on ``surveys.response.completed`` as
``member_context.<field>``, where matchmaking reads them (market and sector fit of internationalisation needs).
"""

from __future__ import annotations

import re
from enum import StrEnum


class ContextField(StrEnum):
    """The member-context fields a survey answer may fill (``trellis_common.events.MemberContext``)."""

    TARGET_COUNTRIES = "target_countries"
    TARGET_SECTORS = "target_sectors"


# The same shapes matchmaking accepts for an offer's target markets and sectors, so what one side names the
# other can compare.
_CODES: dict[ContextField, tuple[re.Pattern[str], str]] = {
    ContextField.TARGET_COUNTRIES: (re.compile(r"^[A-Z]{2}$"), "an ISO 3166-1 alpha-2 country code such as CZ"),
    ContextField.TARGET_SECTORS: (
        re.compile(r"^[A-U](\d{2}(\.\d{1,2})?)?$"),
        "a NACE Rev. 2 code: a section (C) or a division, group or class (C28, C28.4, C28.41)",
    ),
}


def code_problem(field: ContextField, value: str, label: str) -> str | None:
    """Why an option cannot feed ``field``: its value is not a code of the field, or its label is the bare code
    (members read names)."""
    pattern, wanted = _CODES[field]
    if not pattern.match(value):
        return f"option {value!r} must be {wanted}, as it feeds member_context.{field}"
    if label.strip().upper() == value:
        return f"option {value!r} must be labelled with a name, not its code"
    return None
