"""The skills service: turns completed surveys into per-member skill gaps and the cluster's skills profile."""

from __future__ import annotations

from trellis_common.parking import parked_events_router, releasing_names_handler
from trellis_common.runtime import ServiceDefinition
from trellis_skills.api import router
from trellis_skills.handlers import on_responses_completed, on_supply_reported
from trellis_skills.models import PARKING, metadata
from trellis_skills.settings import SkillsSettings

DEFINITION = ServiceDefinition(
    name="skills",
    title="Trellis skills",
    description="Skill taxonomy (DigComp 2.2, GreenComp, workforce green skills, internationalisation), per-member "
    "skill gaps and the cluster's skills profile (shortage, gap, surplus, obsolescence) with a heatmap. Consumes "
    "surveys.response.completed (responses of a member not known yet wait for it) and skills.supply.reported (an "
    "unknown cluster's are refused), and surveys.member.changed (organisations' names; releases what waited), "
    "publishes skills.gaps.assessed and skills.supply.reported (for reports posted to its API).",
    metadata=metadata,
    migrations="trellis_skills:migrations",
    routers=[router, parked_events_router(PARKING)],
    consumes=[
        on_responses_completed,
        on_supply_reported,
        releasing_names_handler(PARKING, [on_responses_completed]),
    ],
    settings_class=SkillsSettings,
)
