"""Settings of the surveys service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator, model_validator

from trellis_common.settings import REQUIRED_OUTSIDE_DEV, ServiceSettings

DEV_LINK_SECRET = "dev-only-survey-link-secret"  # noqa: S105 - refused outside dev mode, see below


class SurveysSettings(ServiceSettings):
    service_name: str = "surveys"
    public_base_url: str = Field(
        "http://localhost:8000",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Base URL members reach the answering form at; invitation links start with it",
    )
    survey_link_secret: SecretStr = Field(
        SecretStr(DEV_LINK_SECRET),
        description="Key that signs survey links and form tokens; must be set (32+ characters) outside dev",
        json_schema_extra=REQUIRED_OUTSIDE_DEV,
    )
    reminder_after: timedelta = Field(
        timedelta(days=7),
        description="Remind a contact who has not answered this long after the invitation or the last reminder "
        "(seconds or ISO 8601, P7D)",
    )
    max_reminders: int = Field(2, ge=0, le=10, description="Reminders per invitation at most (a campaign may lower it)")
    campaign_days: int = Field(28, ge=1, le=366, description="Default time until a campaign closes")
    reminder_batch_size: int = Field(200, gt=0, description="Due reminders handled per scheduler transaction")
    import_max_rows: int = Field(5000, ge=1, description="Rows a member-list CSV may have")
    import_max_bytes: int = Field(5_000_000, ge=1024, description="Size a member-list CSV may have")

    @field_validator("reminder_after", mode="before")
    @classmethod
    def seconds_or_iso_duration(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("public_base_url")
    @classmethod
    def no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def real_secret_outside_dev(self) -> SurveysSettings:
        # A known key would let anyone forge invitation links and answer in a member's name.
        secret = self.survey_link_secret.get_secret_value()
        if self.environment != "dev" and (secret == DEV_LINK_SECRET or len(secret) < 32):
            raise ValueError("TRELLIS_SURVEY_LINK_SECRET must be set to a random value of 32+ characters outside dev")
        return self
