"""Settings of the notifications service (``TRELLIS_*`` environment variables)."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import parseaddr

from pydantic import Field, SecretStr, field_validator, model_validator

from trellis_common.settings import ServiceSettings

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


class NotificationsSettings(ServiceSettings):
    smtp_host: str = Field("localhost", description="SMTP relay host")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP relay port (587 submission, 465 TLS, 25 relay)")
    smtp_username: str | None = Field(None, description="Log in when set")
    smtp_password: SecretStr | None = Field(None, description="Password for smtp_username (never logged)")
    smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (submission port 587)")
    smtp_use_tls: bool = Field(False, description="Implicit TLS from the first byte (port 465)")
    smtp_timeout_s: float = Field(30.0, gt=0, description="Timeout of each SMTP command, connecting included")
    mail_from: str = Field(
        "Trellis <notifications@trellis.example>", description="From header and envelope sender: 'Name <address>'"
    )
    mail_domain: str = Field("trellis.example", description="Right-hand side of every Message-ID we generate")
    send_batch_size: int = Field(50, gt=0, description="Emails claimed and sent over one SMTP connection")
    max_attempts: int = Field(8, ge=1, description="Attempts before a delivery that keeps failing is given up")
    send_retry_base_s: float = Field(30.0, gt=0, description="First retry delay; doubles with every attempt")
    send_retry_max_s: float = Field(600.0, gt=0, description="Cap of the retry delay")
    send_lease_s: float = Field(
        60.0, gt=0, description="A claimed email still unconfirmed after this long is taken to be lost in a crash"
    )
    sender_poll_interval_s: float = Field(1.0, gt=0, description="How often the sender looks for due emails")

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

    @model_validator(mode="after")
    def _one_tls_mode(self) -> NotificationsSettings:
        if self.smtp_starttls and self.smtp_use_tls:
            raise ValueError("smtp_starttls and smtp_use_tls exclude each other: choose one")
        return self

    @property
    def sender_address(self) -> Address:
        name, address = parseaddr(self.mail_from)
        return Address(display_name=name, addr_spec=address)
