"""Settings of the matchmaking service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, model_validator

from trellis_common.settings import REQUIRED_OUTSIDE_DEV, PublicBaseUrl, ServiceSettings, require_secret
from trellis_matchmaking.domain.periods import SeatPeriod

# Used only when environment=dev and no secret is set, so a newcomer's embedded run works out of the box.
_DEV_REPLY_LINK_SECRET = "trellis-dev-only-match-reply-secret"  # noqa: S105 - refused outside dev


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
    public_base_url: PublicBaseUrl = Field(
        "http://localhost:8000",
        description="Public URL of this service for links in emails (accept or decline a proposal); https in "
        "production, ending with http_root_path when a proxy adds one",
    )
    reply_link_secret: SecretStr | None = Field(
        None,
        description="Signs the accept/decline links of proposals (32+ characters); must be set outside dev",
        json_schema_extra=REQUIRED_OUTSIDE_DEV,
    )
    reply_link_max_age_days: int = Field(
        90, ge=1, le=730, description="How long a proposal's accept/decline link keeps working"
    )

    @model_validator(mode="after")
    def _reply_link_secret_outside_dev(self) -> MatchmakingSettings:
        require_secret(self.reply_link_secret, "TRELLIS_REPLY_LINK_SECRET", self.environment, "accept/decline links")
        return self

    @property
    def reply_signing_secret(self) -> str:
        if self.reply_link_secret is not None and self.reply_link_secret.get_secret_value():
            return self.reply_link_secret.get_secret_value()
        return _DEV_REPLY_LINK_SECRET

    @property
    def reply_link_max_age(self) -> timedelta:
        return timedelta(days=self.reply_link_max_age_days)
