"""The matchmaking service: proposes collaboration partners for members' skill gaps."""

from __future__ import annotations

from trellis_common.parking import parked_events_router, releasing_names_handler
from trellis_common.runtime import ServiceDefinition
from trellis_matchmaking.api import reply_page
from trellis_matchmaking.api.matches import router
from trellis_matchmaking.handlers import on_gaps_assessed_batch
from trellis_matchmaking.models import PARKING, metadata
from trellis_matchmaking.settings import MatchmakingSettings

DEFINITION = ServiceDefinition(
    name="matchmaking",
    title="Trellis matchmaking",
    description="Partner registry (training providers, universities, DIHs, clusters, EEN, …) with CSV import; "
    "matching of member gaps to offers with explained scores as gaps arrive, seat capacity per period (gaps placed "
    "together: the most severe first; a proposal keeps its seat; freed seats to the waiting list, most severe "
    "first), pooled demand and international ambitions; outcomes and conversion rate; re-matching. "
    "Consumes skills.gaps.assessed (gaps of a member not known yet wait for it and take no seat) and "
    "surveys.member.changed (organisations' names; releases what waited for the member), publishes "
    "matchmaking.partners.matched.",
    metadata=metadata,
    migrations="trellis_matchmaking:migrations",
    routers=[router, reply_page.router, parked_events_router(PARKING)],
    consumes=[on_gaps_assessed_batch, releasing_names_handler(PARKING, [on_gaps_assessed_batch])],
    settings_class=MatchmakingSettings,
)
