"""How every Kafka client of Trellis connects: PLAINTEXT, TLS, or SASL (SCRAM) over TLS.

One place turns the ``TRELLIS_KAFKA_*`` security settings into aiokafka client options, so the services, the
topic command and the integrator commands all connect the same way (e.g. as a Strimzi ``KafkaUser`` with
SCRAM-SHA-512 over TLS).
"""

from __future__ import annotations

from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaSecurity(BaseSettings):
    """The security part of the Kafka settings; ServiceSettings includes it, the CLI commands read it alone."""

    model_config = SettingsConfigDict(env_prefix="TRELLIS_", env_file=".env", extra="ignore")

    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT only on a private network; SASL_SSL with SCRAM in production"
    )
    kafka_sasl_mechanism: SaslMechanism = Field("SCRAM-SHA-512", description="SASL mechanism (Strimzi: SCRAM-SHA-512)")
    kafka_sasl_username: str | None = Field(None, description="SASL user, e.g. the service's KafkaUser name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (a secret: file or env)")
    kafka_ssl_cafile: str | None = Field(
        None,
        description="CA bundle that signed the brokers' certificates (e.g. Strimzi's cluster CA); system CAs if unset",
    )

    @model_validator(mode="after")
    def sasl_needs_credentials(self) -> KafkaSecurity:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"kafka_security_protocol={self.kafka_security_protocol} needs TRELLIS_KAFKA_SASL_USERNAME and "
                "TRELLIS_KAFKA_SASL_PASSWORD"
            )
        return self

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        protocol = self.kafka_security_protocol
        options: dict[str, Any] = {"security_protocol": protocol}
        if protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(cafile=self.kafka_ssl_cafile)
        if protocol.startswith("SASL"):
            assert self.kafka_sasl_password is not None  # the validator saw to it
            options.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password.get_secret_value(),
            )
        return options
