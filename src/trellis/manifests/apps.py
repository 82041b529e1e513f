"""What runs on Kubernetes: the six services and the manager console, with their settings and secrets, and the
names, ports and labels every other part of the manifests refers to."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from trellis_common.catalogue import CATALOGUE, EventSpec, spec_for_type
from trellis_common.runtime import ServiceDefinition
from trellis_console.settings import SERVICES as CONSOLE_BACKENDS

SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications", "ingress")
PART_OF = "trellis"
IMAGE = "trellis"
UID = 10001
HTTP_PORT = 8000
SERVICE_PORT = 80  # the port of every Service; it forwards to the pods' `http` port (HTTP_PORT)
CONSOLE = "console"
CONSOLE_COMPONENT = "web"  # not "api": the APIs' network policy, ServiceMonitor and Kafka wiring pass it by
ISSUER = "https://login.example.org/realms/trellis"  # a placeholder: every overlay merges in its OIDC issuer


@dataclass(frozen=True)
class Secret:
    env: str
    key: str
    optional: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    definition: ServiceDefinition
    config: dict[str, str]
    secrets: tuple[Secret, ...]

    @property
    def consumes(self) -> tuple[EventSpec, ...]:
        specs = []
        for event_type in self.definition.consumed_types:
            spec = spec_for_type(event_type)
            if spec is None:
                raise LookupError(f"{self.name} handles {event_type}, which the catalogue does not list")
            specs.append(spec)
        return tuple(specs)

    @property
    def publishes(self) -> tuple[EventSpec, ...]:
        return tuple(
            spec for spec in CATALOGUE if spec.service == self.name or (self.name == "ingress" and spec.ingress)
        )

    @property
    def scales_by_lag(self) -> bool:
        """A consumer of work scales with its lag; a service that only keeps a projection scales with HTTP."""
        return bool(self.consumes) and not self.definition.projection_only

    @property
    def max_replicas(self) -> int:
        """More consumers than partitions would leave one unassigned, and /readyz keeps it unready."""
        if not self.scales_by_lag:
            return 6
        return min(3, sum(spec.partitions for spec in self.consumes))


@dataclass(frozen=True)
class Console:
    """The manager console: pages over the services' APIs, which it calls with the signed-in person's token. It
    keeps no data: no database, no Kafka, no migration; it scales with its HTTP load like the APIs."""

    name: str
    config: dict[str, str]
    secrets: tuple[Secret, ...]


App = Service | Console


def definition(name: str) -> ServiceDefinition:
    module = importlib.import_module(f"trellis_{name}.service")
    found: ServiceDefinition = module.DEFINITION
    return found


DATABASE = Secret("TRELLIS_DATABASE_URL", "database-url")


def services() -> list[Service]:
    extra: dict[str, dict[str, str]] = {
        "surveys": {"TRELLIS_PUBLIC_BASE_URL": "https://surveys.trellis.example.org"},
        "matchmaking": {"TRELLIS_PUBLIC_BASE_URL": "https://matchmaking.trellis.example.org"},
        "notifications": {
            "TRELLIS_PUBLIC_BASE_URL": "https://notifications.trellis.example.org",
            "TRELLIS_SMTP_HOST": "smtp.example.org",
            "TRELLIS_SMTP_PORT": "587",
            "TRELLIS_SMTP_STARTTLS": "true",
            "TRELLIS_MAIL_FROM": "Trellis <notifications@trellis.example.org>",
            "TRELLIS_MAIL_DOMAIN": "trellis.example.org",
        },
    }
    secrets: dict[str, tuple[Secret, ...]] = {
        "surveys": (DATABASE, Secret("TRELLIS_SURVEY_LINK_SECRET", "survey-link-secret")),
        "matchmaking": (DATABASE, Secret("TRELLIS_REPLY_LINK_SECRET", "reply-link-secret")),
        "notifications": (
            DATABASE,
            Secret("TRELLIS_UNSUBSCRIBE_SECRET", "unsubscribe-secret"),
            Secret("TRELLIS_SMTP_USERNAME", "smtp-username", optional=True),
            Secret("TRELLIS_SMTP_PASSWORD", "smtp-password", optional=True),
        ),
    }
    common = {
        "TRELLIS_ENVIRONMENT": "prod",
        "TRELLIS_BUS": "kafka",
        "TRELLIS_MIGRATE_ON_START": "false",
        "TRELLIS_LOG_JSON": "true",
        "TRELLIS_LOG_LEVEL": "INFO",
    }
    return [
        Service(name, definition(name), {**common, **extra.get(name, {})}, secrets.get(name, (DATABASE,)))
        for name in SERVICES
    ]


def console() -> Console:
    """The APIs at their Services' addresses, and placeholders for the sign-in that every overlay merges its own
    values into, as it does the services' issuer (trellis-auth)."""
    unknown = [name for name in CONSOLE_BACKENDS if name not in SERVICES]
    if unknown:
        raise LookupError(f"the console calls {unknown}, which are not services")
    urls = {f"TRELLIS_CONSOLE_{name.upper()}_URL": f"http://{name}:{SERVICE_PORT}" for name in CONSOLE_BACKENDS}
    sign_in = {
        "TRELLIS_CONSOLE_OIDC_ISSUER": ISSUER,
        "TRELLIS_CONSOLE_OIDC_CLIENT_ID": "trellis-console",
        "TRELLIS_CONSOLE_PUBLIC_URL": "https://trellis.example.org",
        "TRELLIS_CONSOLE_ROLES_CLAIM": "roles",
        "TRELLIS_CONSOLE_CLUSTERS_CLAIM": "clusters",
    }
    secrets = (
        Secret("TRELLIS_CONSOLE_SESSION_SECRET", "session-secret"),
        # Without it the console is a public client of the provider (PKCE alone).
        Secret("TRELLIS_CONSOLE_OIDC_CLIENT_SECRET", "oidc-client-secret", optional=True),
    )
    return Console(CONSOLE, {"TRELLIS_CONSOLE_ENVIRONMENT": "prod", **urls, **sign_in}, secrets)


def labels(service: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": service,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/component": component,
    }


def selector(service: str, component: str = "api") -> dict[str, str]:
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/component": component}
