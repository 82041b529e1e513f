"""The surveys service: who the cluster's members are, and what they answered."""

from __future__ import annotations

from trellis_common.runtime import ServiceDefinition
from trellis_surveys.api import router
from trellis_surveys.models import metadata

DEFINITION = ServiceDefinition(
    name="surveys",
    title="Trellis surveys",
    description="Cluster directory (members, contacts) and needs-assessment responses. "
    "Publishes surveys.member.changed and surveys.response.completed.",
    metadata=metadata,
    migrations="trellis_surveys:migrations",
    routers=[router],
)
