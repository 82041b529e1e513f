"""Settings of the ingress service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field, model_validator

from trellis_common.settings import REQUIRED_ALWAYS, ServiceSettings


class IngressSettings(ServiceSettings):
    service_name: str = "ingress"
    auth_issuer: str | None = Field(
        None,
        description="OIDC issuer whose bearer tokens the API accepts; the ingress never serves without one",
        json_schema_extra=REQUIRED_ALWAYS,
    )
    ingress_max_body_bytes: int = Field(
        256 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest event (request body) accepted, in bytes"
    )

    @model_validator(mode="after")
    def authentication_configured(self) -> IngressSettings:
        # Posting events is never anonymous: without an issuer every request would be refused anyway.
        if not self.auth_issuer:
            raise ValueError(
                "the ingress needs TRELLIS_AUTH_ISSUER (your OIDC issuer; for development "
                "`trellis auth keygen` prints the settings of a local one)"
            )
        return self
