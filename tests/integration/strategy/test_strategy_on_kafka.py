"""The strategy service on real Kafka and PostgreSQL: what the loop sends becomes the next review's agenda."""

from __future__ import annotations

from datetime import date, timedelta

from aiokafka.structs import ConsumerRecord

from tests.conftest import NewDatabase
from tests.integration.strategy.conftest import (
    FIRST_DUE,
    REVIEW_DUE,
    START,
    gaps_assessed,
    move_clock,
    open_actions,
    partners_matched,
)
from tests.support.kafka import header, produce, read_all
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, from_kafka, to_binary
from trellis_common.events import EventData, ReminderKind, ReviewDue
from trellis_strategy.service import DEFINITION


async def send(bootstrap: str, prefix: str, data: EventData) -> None:
    """Publish an upstream event the way its producer would (binary mode, keyed by member)."""
    spec = spec_for_model(type(data))
    key = str(getattr(data, spec.key_field))
    event = CloudEvent(source="/tests/upstream", type=spec.type, subject=key, data=data.model_dump(mode="json"))
    headers, value = to_binary(event)
    await produce(bootstrap, spec.topic(prefix), value, key=key.encode(), headers=headers)


async def test_a_match_on_kafka_puts_its_actions_on_the_next_review_agenda(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    runtime = runtime_for(
        DEFINITION,
        database_url=await new_database("strategy"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        clock="manual",
    )
    move_clock(runtime, START, wake=False)
    await runtime.start()
    try:
        gaps = gaps_assessed(cluster_id="c-k", member_id="m-2", skills=("digcomp:1.3", "digcomp:5.2"))
        await send(kafka_bootstrap, topic_prefix, gaps)
        await send(kafka_bootstrap, topic_prefix, partners_matched(cluster_id="c-k", member_id="m-1"))

        async def proposed() -> list[str] | None:
            texts = await open_actions(runtime, "c-k")
            return texts if len(texts) == 2 else None

        actions = await eventually(proposed, timeout=60, what="the proposed actions from the match")
        assert actions == [
            "3 members share a gap in Managing data, information and digital content; "
            "pooled Data bootcamp from KU Leuven",
            "A member organisation could work with DIH Flanders on Identifying needs and technological responses",
        ]

        move_clock(runtime, FIRST_DUE + timedelta(minutes=1))  # the worker wakes and sends the due reminder
        topic = REVIEW_DUE.topic(topic_prefix)

        async def reminders() -> list[ConsumerRecord[bytes, bytes]] | None:
            return await read_all(kafka_bootstrap, topic) or None

        [record] = await eventually(reminders, timeout=30, what="strategy.review.due on Kafka")
        assert record.key == b"c-k"  # keyed by cluster, so a cluster's reminders stay in order
        assert header(record, "ce_type") == REVIEW_DUE.type
        review = ReviewDue.model_validate(from_kafka(record.headers, record.value).data)
        assert (review.kind, review.late, review.due_date) == (ReminderKind.DUE, False, date(2025, 4, 30))
        assert review.agenda.proposed_actions == actions
        assert (review.agenda.new_matches, review.agenda.members_with_gaps) == (1, 2)
        assert [(g.skill_code, g.members) for g in review.agenda.top_gaps] == [("digcomp:1.3", 1), ("digcomp:5.2", 1)]
    finally:
        await runtime.stop()
