"""The ingress service: the CloudEvents HTTP binding for systems that cannot reach Kafka."""

from __future__ import annotations

from trellis_common.catalogue import INGRESS
from trellis_common.names import member_names_handler
from trellis_common.runtime import ServiceDefinition
from trellis_ingress.api import router
from trellis_ingress.models import NAMES, metadata
from trellis_ingress.settings import IngressSettings

DEFINITION = ServiceDefinition(
    name="ingress",
    title="Trellis ingress",
    description="POST /events accepts a CloudEvent over HTTP (binary or structured mode) from an authenticated "
    "system, validates it against the event catalogue, and publishes it to its Kafka topic through the outbox; "
    "a repeated event id is answered as before; an event for a cluster surveys never published is refused (it "
    "consumes surveys.member.changed to know them). Accepts: " + ", ".join(spec.type for spec in INGRESS) + ".",
    metadata=metadata,
    migrations="trellis_ingress:migrations",
    routers=[router],
    consumes=[member_names_handler(NAMES)],
    projection_only=True,
    settings_class=IngressSettings,
)
