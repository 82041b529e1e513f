"""A skills that starts on a backlog of both its topics reads the member directory up to where it stood before any
response: a cluster onboarded while skills was down has its responses assessed, none parked or dead-lettered.

Before, topics were read in no order: the loop benchmark's skills read a new cluster's 2,000 responses before
their members and dead-lettered every one; once unknown clusters were parked, it parked them all instead and
released them one by one, ten times slower than assessing them."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.conftest import NewDatabase
from tests.integration.skills.conftest import member_changed, response, skill
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import EventData, ResponseCompleted
from trellis_skills.models import PARKING, assessments
from trellis_skills.service import DEFINITION as SKILLS

RESPONSES = spec_for_model(ResponseCompleted)
MEMBERS = 300


async def produce_all(bootstrap: str, prefix: str, events: Sequence[EventData]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for data in events:
            spec = spec_for_model(type(data))
            key = str(getattr(data, spec.key_field))
            event = CloudEvent(source="/tests", type=spec.type, subject=key, data=data.model_dump(mode="json"))
            headers, value = to_binary(event)
            sent.append(await producer.send(spec.topic(prefix), value, key=key.encode(), headers=headers))
        for delivery in sent:
            await delivery
    finally:
        await producer.stop()


def parked_so_far() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "trellis_events_parked"
        for sample in metric.samples
        if sample.name == "trellis_events_parked_total" and sample.labels.get("service") == "skills"
    )


async def test_a_new_clusters_backlog_is_assessed_without_parking(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    members = [f"m-{i:03}" for i in range(MEMBERS)]
    # The responses went on Kafka first, then surveys' announcements of their members: skills was down for both.
    await produce_all(
        kafka_bootstrap,
        topic_prefix,
        [response(m, [skill("digcomp:5.2", 2, 5, 1, 4)], cluster_id="c-new") for m in members],
    )
    await produce_all(
        kafka_bootstrap, topic_prefix, [member_changed(m, f"Firm {m}", cluster_id="c-new") for m in members]
    )
    parked_before = parked_so_far()

    runtime = runtime_for(
        SKILLS, database_url=await new_database("skills"), kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix
    )
    await runtime.start()
    try:

        async def assessed() -> int | None:
            async with runtime.db.sessions() as session:
                count = int(await session.scalar(select(func.count()).select_from(assessments)) or 0)
            return count if count == MEMBERS else None

        await eventually(assessed, timeout=90, what="every response of the new cluster assessed")
        assert parked_so_far() == parked_before, "no response waited for a member the directory already held"
        async with runtime.db.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(PARKING.parked)) == 0
    finally:
        await runtime.stop()
