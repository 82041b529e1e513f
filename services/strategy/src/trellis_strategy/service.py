"""The strategy service: keeps each cluster's strategy on its review cadence."""

from __future__ import annotations

from trellis_common.catalogue import spec_for_model
from trellis_common.events import PartnersMatched
from trellis_common.runtime import ServiceDefinition
from trellis_strategy.api import router
from trellis_strategy.handlers import on_partners_matched
from trellis_strategy.jobs import scheduler_worker
from trellis_strategy.models import metadata
from trellis_strategy.settings import StrategySettings

DEFINITION = ServiceDefinition(
    name="strategy",
    title="Trellis strategy",
    description="Review schedules for cluster strategies (quarterly, six-monthly or an RFC 5545 RRULE) and the "
    "actions proposed for each review. Consumes matchmaking.partners.matched, publishes strategy.review.due.",
    metadata=metadata,
    migrations="trellis_strategy:migrations",
    routers=[router],
    handlers={spec_for_model(PartnersMatched).type: on_partners_matched},
    workers=[scheduler_worker],
    settings_class=StrategySettings,
)
