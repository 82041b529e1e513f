"""The skills service: turns completed surveys into per-member skill gaps."""

from __future__ import annotations

from trellis_common.catalogue import spec_for_model
from trellis_common.events import ResponseCompleted
from trellis_common.runtime import ServiceDefinition
from trellis_skills.api import router
from trellis_skills.handlers import on_response_completed
from trellis_skills.models import metadata

DEFINITION = ServiceDefinition(
    name="skills",
    title="Trellis skills",
    description="Skill taxonomy (DigComp 2.2, GreenComp, internationalisation) and skill-gap analysis. "
    "Consumes surveys.response.completed, publishes skills.gaps.assessed.",
    metadata=metadata,
    migrations="trellis_skills:migrations",
    routers=[router],
    handlers={spec_for_model(ResponseCompleted).type: on_response_completed},
)
