"""Settings of the matchmaking service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field

from trellis_common.settings import ServiceSettings
from trellis_matchmaking.domain.periods import SeatPeriod


class MatchmakingSettings(ServiceSettings):
    service_name: str = "matchmaking"
    seat_period: SeatPeriod = Field(
        SeatPeriod.QUARTER, description="What an offer's seats are counted per: month, quarter, half_year or year"
    )
    options_per_gap: int = Field(3, ge=1, le=10, description="Options listed per gap: its proposal and alternatives")
    pool_min_members: int = Field(
        2, ge=2, le=100, description="Members of a cluster in one group offer for the same gap that make a pool"
    )
    partner_import_max_rows: int = Field(5000, gt=0, description="Rows a partner CSV import may have")
    partner_import_max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="Size a partner CSV import may have")


def matchmaking_settings(settings: ServiceSettings) -> MatchmakingSettings:
    """The runtime's settings as matchmaking settings (a host may have built it with the common class)."""
    if isinstance(settings, MatchmakingSettings):
        return settings
    return MatchmakingSettings(**settings.model_dump())
