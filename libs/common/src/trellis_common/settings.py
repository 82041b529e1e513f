"""Settings every service reads from ``TRELLIS_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic.config import JsonDict
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SecretsSettingsSource, SettingsConfigDict

from trellis_common.kafka_security import KafkaSecurity

MIN_SECRET_CHARS = 32
DEV_DATABASE_URL = "sqlite+aiosqlite:///./trellis.db"  # environment=dev only: elsewhere the URL must be given
# Marks a setting the settings reference lists as required (a test starts each service with exactly these).
REQUIRED_OUTSIDE_DEV: JsonDict = {"required": "outside dev"}
REQUIRED_ALWAYS: JsonDict = {"required": "always"}


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.netloc
        or parts.query
        or parts.fragment
        or not value.isascii()
        or any(ch.isspace() or ch in '<>"' for ch in value)
    ):
        raise ValueError("must be an http(s) URL without query or fragment, e.g. 'https://trellis.example.org/surveys'")
    return value.rstrip("/")


# Where people reach a service's pages from outside (links in emails start with it); no trailing slash.
PublicBaseUrl = Annotated[str, AfterValidator(_web_url)]


def require_secret(secret: SecretStr | None, variable: str, environment: str, signs: str) -> None:
    """A signing key is set, long enough, outside dev: a known or guessable key lets anyone forge links."""
    value = secret.get_secret_value() if secret is not None else ""
    if value and len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"{variable} must have at least {MIN_SECRET_CHARS} characters")
    if not value and environment != "dev":
        raise ValueError(f"{variable} must be set (32+ random characters) outside environment=dev: it signs {signs}")


ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class TrellisSources:
    """Where Trellis settings come from: arguments, TRELLIS_* variables, .env, then (TRELLIS_SECRETS_DIR) files."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return trellis_sources(settings_cls, init_settings, env_settings, dotenv_settings)


# aiokafka's own default (16 KiB) holds one of our larger events: see bus.kafka.
KAFKA_BATCH_BYTES = 512 * 1024


class ServiceSettings(TrellisSources, KafkaSecurity):
    """Configuration shared by all services; a service subclasses it to add its own fields."""

    model_config = SettingsConfigDict(env_prefix="TRELLIS_", env_file=".env", extra="ignore")

    service_name: str = Field("trellis", description="Name used in logs, metrics, consumer group and event source")
    environment: Literal["dev", "test", "prod"] = "dev"
    database_url: str = Field(
        DEV_DATABASE_URL,
        json_schema_extra=REQUIRED_OUTSIDE_DEV,
        description="SQLAlchemy async URL: postgresql+asyncpg://… (distributed) or sqlite+aiosqlite:///… (embedded); "
        "required outside environment=dev; `migrate` needs nothing else",
    )
    database_pool_size: int = 10
    bus: Literal["kafka", "memory"] = Field("kafka", description="kafka in production; memory only in embedded mode")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str | None = None
    kafka_session_timeout_ms: int = Field(
        10_000, ge=6_000, description="How soon a dead consumer's partitions move to a live one"
    )
    kafka_batch_bytes: int = Field(
        KAFKA_BATCH_BYTES,
        ge=16 * 1024,
        description="Largest batch of records the producer sends to one partition in one request; keep it under "
        "the topics' max.message.bytes (a larger single record still goes alone)",
    )
    topic_prefix: str = Field("", description="Prepended to every topic name, e.g. 'staging.'")
    event_source: str | None = Field(None, description="CloudEvents source; defaults to /trellis/<service>")
    http_host: str = "0.0.0.0"  # noqa: S104 - containers must listen on all interfaces
    http_port: int = 8000
    http_forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-For is trusted for the client address (rate limits, logs); "
        "'*' only when nothing but the ingress controller can reach the pods",
    )
    http_root_path: str = Field(
        "",
        description="Path prefix a reverse proxy strips before forwarding here (e.g. /surveys for "
        "https://host/surveys/…): links and form actions in pages start with it; public_base_url must end with "
        "it. Empty when served at the root",
    )
    http_max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body any route accepts (413 above); some routes less"
    )
    log_level: str = "INFO"
    log_json: bool = True
    relay_poll_interval_s: float = Field(
        0.5, gt=0, description="Safety-net poll of the outbox relay (it wakes as soon as outbox rows commit)"
    )
    relay_batch_size: int = Field(200, gt=0, description="Outbox rows published and marked sent together")
    consumer_batch_size: int = Field(
        100, gt=0, description="Records a consumer fetches and applies in one transaction, offsets committed once"
    )
    retry_initial_backoff_s: float = Field(0.2, gt=0)
    retry_max_backoff_s: float = Field(30.0, gt=0)
    scheduler_interval_s: float = Field(30.0, gt=0, description="How often schedules look for due work")
    clock: Literal["system", "manual", "shifted"] = Field(
        "system",
        description="manual (time stands still) and shifted (real time plus a shift, from clock_shift_s) expose "
        "PUT /admin/clock so tests, demos and chaos runs can move time; never in prod",
    )
    clock_shift_s: float = Field(0.0, description="clock=shifted: how far ahead of real time the clock starts")
    failpoints: str = Field("", description="Comma-separated crash points for fault-injection tests only")
    consume: bool = Field(True, description="Run the event consumer in this process")
    relay: bool = Field(True, description="Run the outbox relay in this process")
    workers: bool = Field(True, description="Run background workers (schedulers, senders) in this process")
    shutdown_timeout_s: float = Field(
        45.0, gt=0, description="Graceful stop: how long in-flight work (a handler, an SMTP exchange) may finish"
    )
    startup_wait_s: float = Field(
        240.0,
        ge=0,
        description="Start-up: how long to keep trying an unreachable database before exiting (within the "
        "manifests' 300 s start-up probe)",
    )
    auth_issuer: str | None = Field(
        None, description="OIDC issuer whose bearer tokens the API accepts (the token's iss must equal it)"
    )
    auth_audience: str = Field("trellis", description="Audience (aud) the bearer tokens must name")
    auth_jwks_url: str | None = Field(
        None,
        description="The issuer's JWKS endpoint; defaults to the jwks_uri of <issuer>/.well-known/openid-configuration",
    )
    auth_jwks_file: str | None = Field(
        None, description="A local JWKS file instead of the issuer's endpoint (dev: written by `trellis auth keygen`)"
    )
    auth_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"], description="Signature algorithms accepted (never 'none' or HS*)"
    )
    auth_roles_claim: str = Field("roles", description="Claim holding the caller's roles (dotted path allowed)")
    auth_clusters_claim: str = Field(
        "clusters", description="Claim holding the cluster ids the caller's roles apply to"
    )
    migrate_on_start: bool = Field(
        True, description="Apply database migrations at start-up; deployments set false and run the migrate command"
    )

    public_rate_per_minute: int = Field(
        30,
        ge=0,
        description="Requests per minute one client may make to a public page (form, unsubscribe, feed); 0 = off",
    )
    email_trigger_rate_per_hour: int = Field(
        30,
        ge=0,
        description="Requests per hour one caller may make to routes that send email (e.g. invitations); 0 = off",
    )
    secrets_dir: str | None = Field(
        None,
        description="A directory of secret files named like the variables (e.g. a Kubernetes Secret mounted with "
        "keys TRELLIS_DATABASE_URL, TRELLIS_SURVEY_LINK_SECRET); environment variables win over files",
    )

    @model_validator(mode="after")
    def database_named_outside_dev(self) -> ServiceSettings:
        require_database(self.model_fields_set, self.environment)
        return self

    @model_validator(mode="after")
    def movable_clocks_never_in_prod(self) -> ServiceSettings:
        # PUT /admin/clock moves time for everyone (reminders, escalations): tests and demos only.
        if self.clock != "system" and self.environment == "prod":
            raise ValueError(f"clock={self.clock} is refused with environment=prod: it serves PUT /admin/clock")
        if self.clock_shift_s and self.clock != "shifted":
            raise ValueError("clock_shift_s moves only clock=shifted: set both, or neither")
        return self

    @model_validator(mode="after")
    def no_clear_text_kafka_passwords_in_prod(self) -> ServiceSettings:
        if self.environment == "prod" and self.kafka_security_protocol == "SASL_PLAINTEXT":
            raise ValueError("kafka_security_protocol=SASL_PLAINTEXT sends credentials in clear: use SASL_SSL in prod")
        return self

    @field_validator("http_root_path")
    @classmethod
    def root_path_is_a_path(cls, value: str) -> str:
        # uvicorn puts it in front of every request path: "surveys" or "/surveys/" would give broken links.
        value = value.rstrip("/")
        if value and (not value.startswith("/") or any(ch.isspace() or ch in "?#" for ch in value)):
            raise ValueError(f"{value!r} is not a path prefix: leave it empty or give one such as /surveys")
        return value

    @field_validator("auth_algorithms")
    @classmethod
    def asymmetric_algorithms_only(cls, algorithms: list[str]) -> list[str]:
        # 'none' accepts forgeries and an HMAC algorithm would let anyone holding the public key sign tokens.
        refused = [name for name in algorithms if name not in ASYMMETRIC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(f"refused {refused or 'an empty list'}: choose from {', '.join(ASYMMETRIC_ALGORITHMS)}")
        return algorithms

    @property
    def source(self) -> str:
        return self.event_source or f"/trellis/{self.service_name}"

    @property
    def consumer_group(self) -> str:
        # The topic prefix isolates environments sharing a cluster; their consumer groups must not meet.
        return f"{self.topic_prefix}trellis-{self.service_name}"


def trellis_sources(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    dotenv_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Arguments, then TRELLIS_* variables, then .env, then (with TRELLIS_SECRETS_DIR) one file per secret."""
    directory = os.environ.get("TRELLIS_SECRETS_DIR")
    if not directory:
        return init_settings, env_settings, dotenv_settings
    if not Path(directory).is_dir():
        raise ValueError(f"TRELLIS_SECRETS_DIR={directory} is not a directory")
    return init_settings, env_settings, dotenv_settings, SecretsSettingsSource(settings_cls, secrets_dir=directory)


def require_database(given: set[str], environment: str) -> None:
    """Outside dev the database is named: the SQLite file default would quietly give each process its own."""
    if "database_url" not in given and environment != "dev":
        raise ValueError(
            "TRELLIS_DATABASE_URL must be set outside environment=dev (postgresql+asyncpg://user:password@host/db, "
            "one database per service)"
        )


class MigrationSettings(TrellisSources, BaseSettings):
    """What ``<service> migrate`` reads: the database alone. A migration (a Kubernetes Job, a release step) needs
    no Kafka, token issuer or signing secret, so none of them is asked for."""

    model_config = SettingsConfigDict(env_prefix="TRELLIS_", env_file=".env", extra="ignore")

    environment: Literal["dev", "test", "prod"] = "dev"
    database_url: str = DEV_DATABASE_URL
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def database_named_outside_dev(self) -> MigrationSettings:
        require_database(self.model_fields_set, self.environment)
        return self


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def narrowed(settings: ServiceSettings, cls: type[SettingsT]) -> SettingsT:
    """The runtime's settings as the service's own settings class. Runtimes type them as the common base class, and
    a host (a test, the embedded platform) may have built them with it: they are then read into ``cls`` once more,
    every value kept, the service's own settings at their defaults or from the environment."""
    if isinstance(settings, cls):
        return settings
    return cls(**settings.model_dump())
