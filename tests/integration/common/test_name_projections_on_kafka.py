"""Every service that renders for people keeps organisations' names from surveys.member.changed, on real Kafka
and PostgreSQL: names arrive, a newer state renames, a tombstone forgets the member (not its cluster)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import NewDatabase
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import Contact, MemberChanged, MemberContext
from trellis_common.repositories.names import NameTables
from trellis_common.runtime import ServiceDefinition, ServiceRuntime
from trellis_matchmaking.models import NAMES as MATCHMAKING_NAMES
from trellis_matchmaking.service import DEFINITION as MATCHMAKING
from trellis_notifications.models import NAMES as NOTIFICATIONS_NAMES
from trellis_notifications.service import DEFINITION as NOTIFICATIONS
from trellis_skills.models import NAMES as SKILLS_NAMES
from trellis_skills.service import DEFINITION as SKILLS
from trellis_strategy.models import NAMES as STRATEGY_NAMES
from trellis_strategy.service import DEFINITION as STRATEGY

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MEMBERS = spec_for_model(MemberChanged)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PROJECTIONS: dict[str, tuple[ServiceDefinition, NameTables]] = {
    "skills": (SKILLS, SKILLS_NAMES),
    "matchmaking": (MATCHMAKING, MATCHMAKING_NAMES),
    "strategy": (STRATEGY, STRATEGY_NAMES),
    "notifications": (NOTIFICATIONS, NOTIFICATIONS_NAMES),
}


async def send(bootstrap: str, prefix: str, member_id: str, data: MemberChanged | None) -> None:
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/tests/surveys",
        type=MEMBERS.type,
        subject=member_id,
        data=data.model_dump(mode="json") if data is not None else None,
    )
    headers, value = to_binary(event)
    await produce(bootstrap, MEMBERS.topic(prefix), value, key=member_id.encode(), headers=headers)


def changed(member_id: str, name: str, at: datetime, cluster_name: str | None = "Danube Mechatronics") -> MemberChanged:
    return MemberChanged(
        cluster_id="c-names",
        member_id=member_id,
        name=name,
        cluster_name=cluster_name,
        context=MemberContext(country="AT"),
        # Personal data rides on the same event; only notifications keeps it (checked in its own tests).
        contacts=[Contact(contact_id=f"{member_id}-c", name="Lea Huber", email=f"lea@{member_id}.example")],
        changed_at=at,
    )


async def names_in(runtime: ServiceRuntime, tables: NameTables) -> tuple[dict[str, str], dict[str, str]]:
    async with runtime.db.sessions() as session:
        members = dict((await session.execute(select(tables.members.c.member_id, tables.members.c.name))).all())
        clusters = dict((await session.execute(select(tables.clusters.c.cluster_id, tables.clusters.c.name))).all())
    return {str(k): str(v) for k, v in members.items()}, {str(k): str(v) for k, v in clusters.items()}


@pytest.mark.parametrize("service", sorted(PROJECTIONS))
async def test_names_fill_rename_and_vanish_with_the_member(
    service: str, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    definition, tables = PROJECTIONS[service]
    runtime = runtime_for(
        definition, database_url=await new_database(service), kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix
    )
    await runtime.start()
    try:
        await send(kafka_bootstrap, topic_prefix, "m-1", changed("m-1", "Huber GmbH", T0))
        await send(kafka_bootstrap, topic_prefix, "m-2", changed("m-2", "Alpine Composites", T0, cluster_name=None))

        async def filled() -> tuple[dict[str, str], dict[str, str]] | None:
            found = await names_in(runtime, tables)
            return found if len(found[0]) == 2 else None

        members, clusters = await eventually(filled, timeout=60, what=f"{service}'s names projection")
        assert members == {"m-1": "Huber GmbH", "m-2": "Alpine Composites"}
        assert clusters == {"c-names": "Danube Mechatronics"}, "an event without a cluster name keeps the known one"

        later = T0 + timedelta(hours=1)
        await send(kafka_bootstrap, topic_prefix, "m-1", changed("m-1", "Huber Präzision GmbH", later, "Danube Tech"))
        await send(kafka_bootstrap, topic_prefix, "m-2", None)  # the member was deleted

        async def followed() -> tuple[dict[str, str], dict[str, str]] | None:
            found = await names_in(runtime, tables)
            return found if "m-2" not in found[0] and found[0].get("m-1") == "Huber Präzision GmbH" else None

        members, clusters = await eventually(followed, timeout=60, what=f"{service} to rename and forget")
        assert members == {"m-1": "Huber Präzision GmbH"}
        assert clusters == {"c-names": "Danube Tech"}
    finally:
        await runtime.stop()
