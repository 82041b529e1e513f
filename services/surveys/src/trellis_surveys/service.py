"""The surveys service: who the cluster's members are, what they are asked, and what they answered."""

from __future__ import annotations

from trellis_common.runtime import ServiceDefinition
from trellis_surveys.api.answering import router as answering_router
from trellis_surveys.api.campaigns import router as campaigns_router
from trellis_surveys.api.directory import router
from trellis_surveys.api.privacy import router as privacy_router
from trellis_surveys.api.templates import router as templates_router
from trellis_surveys.models import metadata
from trellis_surveys.settings import SurveysSettings
from trellis_surveys.workers import scheduler_worker

DEFINITION = ServiceDefinition(
    name="surveys",
    title="Trellis surveys",
    description="Cluster directory (members, contacts, CSV import), versioned survey templates for the green, "
    "digital and internationalisation themes, campaigns with signed links and reminders, the answering form "
    "and responses. Publishes surveys.member.changed, surveys.invitation.requested and "
    "surveys.response.completed.",
    metadata=metadata,
    migrations="trellis_surveys:migrations",
    routers=[router, templates_router, campaigns_router, privacy_router, answering_router],
    workers=[scheduler_worker],
    settings_class=SurveysSettings,
)
