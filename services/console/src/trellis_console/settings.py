"""``TRELLIS_CONSOLE_*`` settings: where the services' APIs are, how the session cookie is signed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trellis_common.settings import REQUIRED_OUTSIDE_DEV, PublicBaseUrl, require_secret

SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications")


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRELLIS_CONSOLE_", env_file=".env", extra="ignore")

    environment: Literal["dev", "test", "prod"] = "dev"
    surveys_url: PublicBaseUrl = Field("http://127.0.0.1:8000/surveys", description="Base URL of the surveys API")
    skills_url: PublicBaseUrl = Field("http://127.0.0.1:8000/skills", description="Base URL of the skills API")
    matchmaking_url: PublicBaseUrl = Field(
        "http://127.0.0.1:8000/matchmaking", description="Base URL of the matchmaking API"
    )
    strategy_url: PublicBaseUrl = Field("http://127.0.0.1:8000/strategy", description="Base URL of the strategy API")
    notifications_url: PublicBaseUrl = Field(
        "http://127.0.0.1:8000/notifications", description="Base URL of the notifications API"
    )
    strategy_public_url: PublicBaseUrl | None = Field(
        None, description="The strategy API as browsers reach it (calendar feed links); default: strategy_url"
    )
    session_secret: SecretStr | None = Field(
        None,
        description="Signs the session cookie and the forms' CSRF tokens; 32+ characters, required outside dev",
        json_schema_extra=REQUIRED_OUTSIDE_DEV,
    )
    session_max_age_s: int = Field(8 * 3600, ge=60, description="A session ends after this long at the latest")
    cookie_secure: bool | None = Field(
        None, description="Send the session cookie over HTTPS only; default: yes outside environment=dev"
    )
    oidc_issuer: str | None = Field(
        None,
        description="The organisation's OpenID Connect issuer URL; set, people sign in there (code flow with PKCE) "
        "and the demo sign-in is off",
    )
    oidc_client_id: str = Field("trellis-console", description="The console's client id at the OIDC provider")
    oidc_client_secret: SecretStr | None = Field(
        None, description="For a confidential client (client_secret_basic); unset, the console is a public client"
    )
    oidc_scopes: str = Field("openid profile email", description="Scopes asked for at sign-in ('openid' is needed)")
    oidc_name_claim: str = Field("name", description="ID token claim with the person's display name")
    roles_claim: str = Field(
        "roles", description="Where the access token carries roles, as TRELLIS_AUTH_ROLES_CLAIM on the services"
    )
    clusters_claim: str = Field(
        "clusters", description="Where the access token carries cluster ids, as TRELLIS_AUTH_CLUSTERS_CLAIM"
    )
    public_url: PublicBaseUrl | None = Field(
        None,
        description="The console as browsers reach it, e.g. https://trellis.example.org (the sign-in's redirect URI "
        "is <public_url>/auth/callback); default: taken from each request",
    )
    local_issuer_keys: str | None = Field(
        None,
        description="A local token issuer's key directory (`trellis up`): with no OIDC issuer, the sign-in page "
        "offers this machine's platform admin; refused with environment=prod",
    )
    default_language: Literal["en", "de", "fr"] = "en"
    http_host: str = "0.0.0.0"  # noqa: S104 - containers must listen on all interfaces
    http_port: int = 8000
    http_timeout_s: float = Field(10.0, gt=0, description="How long a page waits for a service")

    @model_validator(mode="after")
    def no_local_sign_in_in_prod(self) -> ConsoleSettings:
        if self.local_issuer_keys and self.environment == "prod":
            raise ValueError("TRELLIS_CONSOLE_LOCAL_ISSUER_KEYS is for one machine: refused with environment=prod")
        return self

    @model_validator(mode="after")
    def secret_outside_dev(self) -> ConsoleSettings:
        require_secret(self.session_secret, "TRELLIS_CONSOLE_SESSION_SECRET", self.environment, "session cookies")
        return self

    @property
    def secure_cookie(self) -> bool:
        return self.environment != "dev" if self.cookie_secure is None else self.cookie_secure

    def service_url(self, service: str) -> str:
        url: str = getattr(self, f"{service}_url")
        return url
