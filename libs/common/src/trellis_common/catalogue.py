"""The event catalogue: every event type, its topic, key and topic settings, in one place.

Topics, JSON Schemas, the AsyncAPI document and the topic-creation command are all derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from trellis_common import events as ev

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class EventSpec:
    service: str
    entity: str
    verb: str
    major: int
    model: type[ev.EventData]
    key_field: str
    summary: str
    compacted: bool = False
    partitions: int = 3
    retention_ms: int = 7 * DAY_MS
    # Other systems may post it through the HTTP ingress (trellis-ingress); the rest only their owner publishes.
    ingress: bool = False

    @property
    def type(self) -> str:
        return f"eu.trellis.{self.service}.{self.entity}.{self.verb}.v{self.major}"

    @property
    def name(self) -> str:
        """Topic name without prefix, e.g. ``skills.gaps.assessed.v1``."""
        return f"{self.service}.{self.entity}.{self.verb}.v{self.major}"

    def topic(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"

    def dlq_topic(self, prefix: str = "") -> str:
        return f"{self.topic(prefix)}.dlq"

    def topic_config(self) -> dict[str, str]:
        if self.compacted:
            # Tombstones must outlive the longest consumer outage so erasure reaches every projection.
            return {
                "cleanup.policy": "compact",
                "delete.retention.ms": str(30 * DAY_MS),
                "min.compaction.lag.ms": "0",
                # An erased contact's old values must not wait for a week-old segment to roll: compact within a day.
                "segment.ms": str(DAY_MS),
                "max.compaction.lag.ms": str(DAY_MS),
            }
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


DLQ_RETENTION_MS = 30 * DAY_MS

CATALOGUE: tuple[EventSpec, ...] = (
    EventSpec(
        "surveys",
        "member",
        "changed",
        1,
        ev.MemberChanged,
        "member_id",
        "A member and its contacts as they are now; a tombstone (null value) when deleted",
        compacted=True,
    ),
    EventSpec(
        "surveys",
        "invitation",
        "requested",
        1,
        ev.InvitationRequested,
        "member_id",
        "A contact is to be invited (or reminded) to answer a survey",
    ),
    EventSpec(
        "surveys",
        "response",
        "completed",
        1,
        ev.ResponseCompleted,
        "member_id",
        "A member completed a needs-assessment survey",
        ingress=True,
    ),
    EventSpec(
        "skills",
        "gaps",
        "assessed",
        1,
        ev.GapsAssessed,
        "member_id",
        "A member's skill gaps computed from a completed survey",
    ),
    EventSpec(
        "skills",
        "supply",
        "reported",
        1,
        ev.SupplyReported,
        "scope_id",
        "Skills supply figures for a cluster or a region, posted by another system or through the skills API",
        ingress=True,
    ),
    EventSpec(
        "matchmaking",
        "partners",
        "matched",
        1,
        ev.PartnersMatched,
        "member_id",
        "Collaboration partners proposed for a member's gaps",
    ),
    EventSpec(
        "strategy",
        "review",
        "due",
        1,
        ev.ReviewDue,
        "cluster_id",
        "A cluster strategy review is coming up, due, or overdue",
    ),
    EventSpec(
        "notifications",
        "email",
        "delivered",
        1,
        ev.EmailDelivered,
        "contact_id",
        "An email was accepted by the SMTP relay (audit)",
    ),
    EventSpec(
        "notifications", "email", "failed", 1, ev.EmailFailed, "contact_id", "An email could not be delivered (audit)"
    ),
)

BY_TYPE: dict[str, EventSpec] = {spec.type: spec for spec in CATALOGUE}
BY_MODEL: dict[type[ev.EventData], EventSpec] = {spec.model: spec for spec in CATALOGUE}


INGRESS: tuple[EventSpec, ...] = tuple(spec for spec in CATALOGUE if spec.ingress)


def spec_for_type(event_type: str) -> EventSpec | None:
    return BY_TYPE.get(event_type)


def spec_for_model(model: type[ev.EventData]) -> EventSpec:
    return BY_MODEL[model]
