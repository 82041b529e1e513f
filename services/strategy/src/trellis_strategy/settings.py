"""Settings of the strategy service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from trellis_common.settings import ServiceSettings
from trellis_strategy.domain.cadence import ReviewCadence, time_zone


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
        "Cluster strategy", min_length=1, max_length=200, description="Title of a schedule created for a new cluster"
    )
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

    @field_validator("default_cadence")
    @classmethod
    def known_cadence(cls, value: str) -> str:
        return ReviewCadence.parse(value).text

    @field_validator("default_timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        time_zone(value)
        return value


def strategy_settings(settings: ServiceSettings) -> StrategySettings:
    """The runtime's settings as strategy settings (a host may have built it with the common class)."""
    if isinstance(settings, StrategySettings):
        return settings
    return StrategySettings(**settings.model_dump())
