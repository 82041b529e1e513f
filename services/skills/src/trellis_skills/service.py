"""The skills service: turns completed surveys into per-member skill gaps and the cluster's skills profile."""

from __future__ import annotations

from trellis_common.catalogue import spec_for_model
from trellis_common.events import MemberChanged, ResponseCompleted, SupplyReported
from trellis_common.names import member_names_handler
from trellis_common.runtime import ServiceDefinition
from trellis_skills.api import router
from trellis_skills.handlers import on_responses_completed, on_supply_reported
from trellis_skills.models import NAMES, metadata
from trellis_skills.settings import SkillsSettings

DEFINITION = ServiceDefinition(
    name="skills",
    title="Trellis skills",
    description="Skill taxonomy (DigComp 2.2, GreenComp, internationalisation), per-member skill gaps and the "
    "cluster's skills profile (shortage, gap, surplus, obsolescence) with a heatmap. Consumes "
    "surveys.response.completed and skills.supply.reported (and surveys.member.changed for organisations' names), "
    "publishes skills.gaps.assessed and skills.supply.reported (for reports posted to its API).",
    metadata=metadata,
    migrations="trellis_skills:migrations",
    routers=[router],
    handlers={
        spec_for_model(SupplyReported).type: on_supply_reported,
        spec_for_model(MemberChanged).type: member_names_handler(NAMES),
    },
    batch_handlers={spec_for_model(ResponseCompleted).type: on_responses_completed},
    settings_class=SkillsSettings,
)
