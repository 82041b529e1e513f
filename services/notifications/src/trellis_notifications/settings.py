"""Settings of the notifications service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from trellis_common.settings import REQUIRED_OUTSIDE_DEV, PublicBaseUrl, ServiceSettings, require_secret

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
# Used only when environment=dev and no secret is set, so a newcomer's embedded run works out of the box.
_DEV_UNSUBSCRIBE_SECRET = "trellis-dev-only-unsubscribe-secret"  # noqa: S105 - refused outside dev


class NotificationsSettings(ServiceSettings):
    smtp_host: str = Field("localhost", description="SMTP relay host")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP relay port (587 submission, 465 TLS, 25 relay)")
    smtp_username: str | None = Field(None, description="Log in when set")
    smtp_password: SecretStr | None = Field(None, description="Password for smtp_username (never logged)")
    smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (submission port 587)")
    smtp_use_tls: bool = Field(False, description="Implicit TLS from the first byte (port 465)")
    smtp_timeout_s: float = Field(30.0, gt=0, description="Timeout of each SMTP command, connecting included")
    smtp_validate_certs: bool = Field(True, description="Verify the relay's TLS certificate (turn off only for tests)")
    smtp_rate_per_s: float = Field(
        10.0, ge=0, description="Messages per second per sender process (token bucket); 0 = no limit"
    )
    smtp_rate_burst: int = Field(10, ge=1, description="Messages that may go out at once before the rate applies")
    smtp_idle_close_s: float = Field(
        30.0, ge=0, description="Keep an idle SMTP connection open this long for reuse; 0 = close after each batch"
    )
    mail_from: str = Field(
        "Trellis <notifications@trellis.example>", description="From header and envelope sender: 'Name <address>'"
    )
    mail_domain: str = Field("trellis.example", description="Right-hand side of every Message-ID we generate")
    send_batch_size: int = Field(50, gt=0, description="Emails claimed and sent over one SMTP connection")
    send_confirm_every: int = Field(
        10,
        ge=1,
        le=1000,
        description="Emails whose outcomes are recorded in one transaction (and the most a crash can resend)",
    )
    smtp_connections: int = Field(
        2, ge=1, le=32, description="Senders per process, each with its own SMTP connection and batches"
    )
    max_attempts: int = Field(8, ge=1, description="Attempts before a delivery that keeps failing is given up")
    send_retry_base_s: float = Field(30.0, gt=0, description="First retry delay; doubles with every attempt")
    send_retry_max_s: float = Field(600.0, gt=0, description="Cap of the retry delay")
    send_lease_s: float = Field(
        60.0, gt=0, description="A claimed email still unconfirmed after this long is taken to be lost in a crash"
    )
    sender_poll_interval_s: float = Field(1.0, gt=0, description="How often the sender looks for due emails")
    public_base_url: PublicBaseUrl = Field(
        "http://localhost:8000",
        description="Public URL of this service's API for links in emails (one-click unsubscribe); https in production",
    )
    unsubscribe_secret: SecretStr | None = Field(
        None,
        description="Signs unsubscribe links (32+ characters); must be set outside environment=dev",
        json_schema_extra=REQUIRED_OUTSIDE_DEV,
    )
    unsubscribe_link_max_age_days: int = Field(
        365, ge=1, description="How long the unsubscribe link of an email keeps working"
    )
    digest_weekday: int = Field(0, ge=0, le=6, description="Day of the weekly match digest (0 = Monday)")
    digest_hour: int = Field(8, ge=0, le=23, description="Hour of the weekly match digest, in digest_timezone")
    digest_timezone: str = Field("Europe/Brussels", description="IANA time zone of the weekly digest hour")

    @field_validator("mail_from")
    @classmethod
    def _mail_from_is_one_address(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\0"):
            raise ValueError("must be a single line")
        _name, address = parseaddr(value)
        if "@" not in address:
            raise ValueError("must contain an address, e.g. 'Trellis <notifications@example.org>'")
        return value

    @field_validator("mail_domain")
    @classmethod
    def _mail_domain_is_a_host_name(cls, value: str) -> str:
        if not _DOMAIN.fullmatch(value):
            raise ValueError("must be a host name such as 'trellis.example.org'")
        return value

    @field_validator("digest_timezone")
    @classmethod
    def _digest_timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Vienna'") from exc
        return value

    @model_validator(mode="after")
    def _one_tls_mode(self) -> NotificationsSettings:
        if self.smtp_starttls and self.smtp_use_tls:
            raise ValueError("smtp_starttls and smtp_use_tls exclude each other: choose one")
        return self

    @model_validator(mode="after")
    def _unsubscribe_secret_outside_dev(self) -> NotificationsSettings:
        require_secret(self.unsubscribe_secret, "TRELLIS_UNSUBSCRIBE_SECRET", self.environment, "unsubscribe links")
        return self

    @property
    def signing_secret(self) -> str:
        if self.unsubscribe_secret is not None and self.unsubscribe_secret.get_secret_value():
            return self.unsubscribe_secret.get_secret_value()
        return _DEV_UNSUBSCRIBE_SECRET

    @property
    def unsubscribe_link_max_age(self) -> timedelta:
        return timedelta(days=self.unsubscribe_link_max_age_days)

    @property
    def digest_zone(self) -> ZoneInfo:
        return ZoneInfo(self.digest_timezone)

    @property
    def sender_address(self) -> Address:
        name, address = parseaddr(self.mail_from)
        return Address(display_name=name, addr_spec=address)
