"""The matchmaking service: proposes collaboration partners for members' skill gaps."""

from __future__ import annotations

from trellis_common.catalogue import spec_for_model
from trellis_common.events import GapsAssessed
from trellis_common.runtime import ServiceDefinition
from trellis_matchmaking.api import router
from trellis_matchmaking.handlers import on_gaps_assessed
from trellis_matchmaking.models import metadata
from trellis_matchmaking.settings import MatchmakingSettings

DEFINITION = ServiceDefinition(
    name="matchmaking",
    title="Trellis matchmaking",
    description="Partner registry (training providers, universities, DIHs, clusters, EEN, …) with CSV import; "
    "matching of member gaps to offers with explained scores, seat capacity per period (min-cost flow: the most "
    "severe gaps first), pooled demand and international ambitions; outcomes and conversion rate; re-matching. "
    "Consumes skills.gaps.assessed, publishes matchmaking.partners.matched.",
    metadata=metadata,
    migrations="trellis_matchmaking:migrations",
    routers=[router],
    handlers={spec_for_model(GapsAssessed).type: on_gaps_assessed},
    settings_class=MatchmakingSettings,
)
