"""Request and response bodies of the strategy API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from trellis_strategy.domain.cadence import (
    MAX_RRULE_LENGTH,
    CadenceKind,
    InvalidCadence,
    InvalidTimeZone,
    ReviewCadence,
    time_zone,
)

ANCHOR_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
ANCHOR_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RRuleCadence(Body):
    rrule: str = Field(
        min_length=1,
        max_length=MAX_RRULE_LENGTH + len("RRULE:"),
        description="RFC 5545 RRULE, e.g. FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO (DAILY or coarser; no COUNT/UNTIL)",
        examples=["FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO"],
    )

    @field_validator("rrule")
    @classmethod
    def valid_rrule(cls, value: str) -> str:
        try:
            cadence = ReviewCadence.from_rrule(value)
        except InvalidCadence as exc:
            raise ValueError(str(exc)) from exc
        assert cadence.rrule is not None
        return cadence.rrule


def _cadence_shape(value: Any) -> str:
    return "named" if isinstance(value, str) else "rrule"


# A tagged union: a wrong value gets the one error of the shape it has, not one error per alternative.
CadenceBody = Annotated[
    Annotated[Literal["quarterly", "six_monthly"], Tag("named")] | Annotated[RRuleCadence, Tag("rrule")],
    Discriminator(_cadence_shape),
]


def cadence_body(cadence: ReviewCadence) -> CadenceBody:
    if cadence.kind is CadenceKind.QUARTERLY:
        return "quarterly"
    if cadence.kind is CadenceKind.SIX_MONTHLY:
        return "six_monthly"
    assert cadence.rrule is not None
    return RRuleCadence(rrule=cadence.rrule)


def to_cadence(body: CadenceBody) -> ReviewCadence:
    if isinstance(body, RRuleCadence):
        return ReviewCadence.from_rrule(body.rrule)
    return ReviewCadence(CadenceKind(body))


class ScheduleIn(Body):
    cadence: CadenceBody = Field(
        description="'quarterly', 'six_monthly' or {\"rrule\": \"<RFC 5545 RRULE>\"}",
        examples=["quarterly", {"rrule": "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO"}],
    )
    timezone: str | None = Field(
        None,
        max_length=64,
        description="IANA time zone the review dates are computed in; unchanged (or the default) if omitted",
    )
    strategy_title: str | None = Field(None, min_length=1, max_length=200)
    anchor_at: AwareDatetime | None = Field(
        None,
        description="Start of the series (its local time of day is the review time); unchanged (or now) if omitted",
    )

    @field_validator("anchor_at")
    @classmethod
    def plausible_anchor(cls, value: datetime | None) -> datetime | None:
        # Walking a series from the distant past costs time for nothing; no strategy predates 1970.
        if value is not None and not ANCHOR_EARLIEST <= value <= ANCHOR_LATEST:
            raise ValueError(f"anchor_at must lie between {ANCHOR_EARLIEST:%Y} and {ANCHOR_LATEST:%Y}")
        return value

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                time_zone(value)
            except InvalidTimeZone as exc:
                raise ValueError(str(exc)) from exc
        return value


class ScheduleOut(BaseModel):
    id: str
    cluster_id: str
    strategy_id: str
    strategy_title: str
    cadence: CadenceBody
    timezone: str
    anchor_at: datetime
    next_due_at: datetime = Field(description="Next review, UTC")
    next_due_local: datetime = Field(description="Next review on the cluster's wall clock")
    next_due_date: date = Field(description="Next review date in the cluster's time zone")
    last_fired_due_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ActionOut(BaseModel):
    id: int
    kind: str
    text: str
    source_event_id: str
    created_at: datetime
    updated_at: datetime
    reviewed_at: datetime | None


class ActionPage(BaseModel):
    cluster_id: str
    items: list[ActionOut]
    total: int
    limit: int
    offset: int
