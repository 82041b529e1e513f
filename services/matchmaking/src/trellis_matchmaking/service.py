"""The matchmaking service: proposes collaboration partners for members' skill gaps."""

from __future__ import annotations

from trellis_common.catalogue import spec_for_model
from trellis_common.events import GapsAssessed
from trellis_common.runtime import ServiceDefinition
from trellis_matchmaking.api import router
from trellis_matchmaking.handlers import on_gaps_assessed
from trellis_matchmaking.models import metadata

DEFINITION = ServiceDefinition(
    name="matchmaking",
    title="Trellis matchmaking",
    description="Partner registry (training providers, universities, DIHs, clusters, …) and matching of member "
    "gaps to offers with explanations, seat capacity and pooled demand. Consumes skills.gaps.assessed, "
    "publishes matchmaking.partners.matched.",
    metadata=metadata,
    migrations="trellis_matchmaking:migrations",
    routers=[router],
    handlers={spec_for_model(GapsAssessed).type: on_gaps_assessed},
)
