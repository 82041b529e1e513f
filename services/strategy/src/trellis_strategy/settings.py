"""Settings of the strategy service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from trellis_common.settings import ServiceSettings
from trellis_strategy.domain.cadence import ReviewCadence, time_zone
from trellis_strategy.domain.reminders import AnchorMode, ReminderPolicy


class StrategySettings(ServiceSettings):
    service_name: str = "strategy"
    default_cadence: str = Field(
        "quarterly",
        description="Cadence of a schedule created for a new cluster: quarterly, six_monthly or an RFC 5545 RRULE",
    )
    default_timezone: str = Field(
        "Europe/Brussels", description="IANA time zone of a new cluster's schedule until the cluster's own is known"
    )
    default_strategy_title: str = Field(
        "Cluster strategy",
        min_length=1,
        max_length=200,
        description="Title of the overall strategy created for a new cluster",
    )
    # NoDecode: the environment says "14,1", not JSON.
    default_lead_days: Annotated[list[int], NoDecode] = Field(
        [14, 1], description="Days before a review date that a new schedule sends an upcoming reminder (e.g. 14,1)"
    )
    default_escalate_after_days: int | None = Field(
        14, description="Days after a missed review date that a new schedule escalates to the board (empty: never)"
    )
    default_anchor_mode: AnchorMode = Field(
        AnchorMode.CALENDAR,
        description="A new schedule's next date after a review: calendar (the series) or review_date (from the review)",
    )
    kpi_on_track_tolerance: float = Field(
        0.1, ge=0, le=1, description="How far (share of the way to target) a KPI may trail a straight line, on track"
    )
    agenda_top_gaps: int = Field(5, ge=0, le=50, description="Skills with the most new gaps listed on a reminder")
    calendar_reviews: int = Field(4, ge=1, le=52, description="Coming reviews per strategy in the calendar feed")
    calendar_event_minutes: int = Field(60, ge=5, le=24 * 60, description="Length of a review in the calendar feed")
    late_after: timedelta = Field(
        timedelta(hours=1),
        description="A reminder fired more than this after its due time is marked late (seconds or ISO 8601, PT1H)",
    )
    agenda_max_actions: int = Field(20, ge=0, le=200, description="Open proposed actions listed on a reminder")
    review_batch_size: int = Field(100, gt=0, description="Due schedules handled per scheduler transaction")

    @field_validator("late_after", mode="before")
    @classmethod
    def seconds_or_iso_duration(cls, value: object) -> object:
        # Environment variables are strings; "900" means seconds, as it does for the other *_s settings.
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("default_lead_days", mode="before")
    @classmethod
    def comma_separated_days(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.strip().strip("[]").split(",") if part.strip()]
        return value

    @field_validator("default_escalate_after_days", mode="before")
    @classmethod
    def empty_means_never(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def usable_reminder_policy(self) -> StrategySettings:
        self.reminder_policy()  # raises with the reason
        return self

    def reminder_policy(self) -> ReminderPolicy:
        return ReminderPolicy(tuple(self.default_lead_days), self.default_escalate_after_days)

    @field_validator("default_cadence")
    @classmethod
    def known_cadence(cls, value: str) -> str:
        return ReviewCadence.parse(value).text

    @field_validator("default_timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        time_zone(value)
        return value
