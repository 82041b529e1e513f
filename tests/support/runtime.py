"""Build service runtimes for in-process tests, on the real infrastructure or the in-memory bus."""

from __future__ import annotations

from typing import Any

from tests.support.auth import auth_settings
from trellis_common.bus import EventBus
from trellis_common.events import EventData
from trellis_common.runtime import ServiceDefinition, ServiceRuntime


def runtime_for(
    definition: ServiceDefinition,
    *,
    database_url: str,
    kafka_bootstrap: str | None = None,
    topic_prefix: str = "",
    bus: EventBus | None = None,
    **overrides: Any,
) -> ServiceRuntime:
    values: dict[str, Any] = {
        **auth_settings(),  # the session's token issuer; a test may override any auth_* setting
        "service_name": definition.name,
        "database_url": database_url,
        "bus": "kafka" if kafka_bootstrap else "memory",
        "kafka_bootstrap_servers": kafka_bootstrap or "unused:9092",
        "topic_prefix": topic_prefix,
        "relay_poll_interval_s": 0.05,
        "scheduler_interval_s": 0.1,
        "retry_initial_backoff_s": 0.05,
        "retry_max_backoff_s": 0.5,
        **overrides,
    }
    settings = definition.settings_class(**values)
    return ServiceRuntime(definition, settings, bus=bus)


async def emit(runtime: ServiceRuntime, *events: EventData) -> list[str]:
    """Publish events through the runtime's own outbox (as a producing service would); returns event ids."""
    async with runtime.unit_of_work() as uow:
        ids = [uow.emit(event).id for event in events]
    return ids
