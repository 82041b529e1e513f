"""The common machinery on real Kafka and PostgreSQL, driven through the skills service in-process."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select, text

from tests.conftest import NewDatabase
from tests.support import auth
from tests.support.fixtures import completed_response, introduction
from tests.support.kafka import header, produce, produce_event, read_all
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, from_kafka, to_binary, to_structured
from trellis_common.events import GapsAssessed, ResponseCompleted
from trellis_skills.models import NAMES, assessments
from trellis_skills.service import DEFINITION as SKILLS

RESPONSES = spec_for_model(ResponseCompleted)
GAPS = spec_for_model(GapsAssessed)


def response_event(data: ResponseCompleted) -> CloudEvent:
    return CloudEvent(
        source="/tests",
        type=RESPONSES.type,
        subject=data.member_id,
        correlationid="corr-1",
        data=data.model_dump(mode="json"),
    )


async def test_completed_response_becomes_gaps_event(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    runtime = runtime_for(
        SKILLS, database_url=await new_database("skills"), kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix
    )
    await runtime.start()
    try:
        response = completed_response()
        await produce_event(kafka_bootstrap, topic_prefix, introduction(response))
        event = response_event(response)
        headers, value = to_binary(event)
        await produce(kafka_bootstrap, RESPONSES.topic(topic_prefix), value, key=b"m-1", headers=headers)

        records = await eventually(lambda: read_all(kafka_bootstrap, GAPS.topic(topic_prefix)), what="gaps event")
        assert len(records) == 1
        out = from_kafka(records[0].headers, records[0].value)
        assert records[0].key == b"m-1"
        assert out.type == GAPS.type
        assert out.correlationid == "corr-1", "correlation id carried through the hop"
        assert out.causationid == event.id
        gaps = GapsAssessed.model_validate(out.data)
        assert [(g.skill_code, g.level_gap, g.headcount_gap, g.priority) for g in gaps.gaps] == [
            ("digcomp:5.2", 3, 3, 22.5),
            ("digcomp:4.2", 1, 0, 3.0),
        ]
        assert gaps.gaps[0].priority_formula == "5 × (3 + 0.5 × 3) = 22.5"
    finally:
        await runtime.stop()


async def test_structured_mode_is_accepted_and_redelivery_is_applied_once(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    runtime = runtime_for(
        SKILLS, database_url=await new_database("skills"), kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix
    )
    await runtime.start()
    try:
        await produce_event(kafka_bootstrap, topic_prefix, introduction(completed_response()))
        event = response_event(completed_response())
        headers, value = to_structured(event)
        topic = RESPONSES.topic(topic_prefix)
        await produce(kafka_bootstrap, topic, value, key=b"m-1", headers=headers)
        await produce(kafka_bootstrap, topic, value, key=b"m-1", headers=headers)  # the same event again

        async def both_consumed() -> bool:
            async with runtime.db.sessions() as session:
                inbox_rows = await session.scalar(
                    text("SELECT count(*) FROM inbox WHERE event_type = :type"), {"type": RESPONSES.type}
                )
            lag = (
                await runtime.consumer.bus_consumer.lag() if runtime.consumer and runtime.consumer.bus_consumer else {}
            )
            return inbox_rows == 1 and sum(lag.values()) == 0 and bool(lag)

        await eventually(both_consumed, what="both copies consumed")
        async with runtime.db.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(assessments)) == 1
        await runtime.relay.drain()
        assert len(await read_all(kafka_bootstrap, GAPS.topic(topic_prefix))) == 1
    finally:
        await runtime.stop()


async def test_malformed_events_go_to_the_dlq_and_the_consumer_goes_on(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    runtime = runtime_for(
        SKILLS, database_url=await new_database("skills"), kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix
    )
    await runtime.start()
    try:
        topic = RESPONSES.topic(topic_prefix)
        for member_id in ("m-good", "m-y", "m-z"):
            await produce_event(kafka_bootstrap, topic_prefix, introduction(completed_response(member_id=member_id)))
        good = response_event(completed_response(member_id="m-good"))
        headers, _ = to_binary(good)
        bad_json = [(k, v) for k, v in headers if k != "ce_id"] + [("ce_id", b"bad-json")]
        await produce(kafka_bootstrap, topic, b"{not json", key=b"m-x", headers=bad_json)
        missing = response_event(completed_response(member_id="m-y"))
        data = dict(missing.data or {})
        del data["member_id"]
        h2, _ = to_binary(missing)
        await produce(kafka_bootstrap, topic, json.dumps(data).encode(), key=b"m-y", headers=h2)
        unknown_skill = response_event(
            completed_response(member_id="m-z", skills=[]).model_copy(
                update={"skills": [completed_response().skills[0].model_copy(update={"skill_code": "digcomp:9.9"})]}
            )
        )
        h3, v3 = to_binary(unknown_skill)
        await produce(kafka_bootstrap, topic, v3, key=b"m-z", headers=h3)
        h4, v4 = to_binary(good)
        await produce(kafka_bootstrap, topic, v4, key=b"m-good", headers=h4)

        dlq = await eventually(
            lambda: _at_least(read_all(kafka_bootstrap, RESPONSES.dlq_topic(topic_prefix)), 3), what="3 DLQ records"
        )
        reasons = {header(r, "ce_id"): header(r, "trellis_error") or "" for r in dlq}
        assert "not valid JSON" in reasons["bad-json"]
        assert "member_id" in reasons[missing.id] and reasons[missing.id].startswith("contract.invalid_data: ")
        assert "unknown skill code(s) digcomp:9.9" in reasons[unknown_skill.id]
        assert all(header(r, "trellis_original_topic") == topic for r in dlq)

        async def good_assessed() -> int | None:
            async with runtime.db.sessions() as session:
                return await session.scalar(
                    select(func.count()).select_from(assessments).where(assessments.c.member_id == "m-good")
                )

        assert await eventually(good_assessed, what="the valid event after the bad ones") == 1
    finally:
        await runtime.stop()


async def _at_least(records_coro, count: int):  # type: ignore[no-untyped-def]
    records = await records_coro
    return records if len(records) >= count else None


async def test_two_relays_publish_each_row_once_in_order(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    url = await new_database("skills")
    first = runtime_for(
        SKILLS, database_url=url, kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, consume=False
    )
    second = runtime_for(
        SKILLS,
        database_url=url,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        consume=False,
        migrate_on_start=False,
    )
    await first.start()
    await second.start()
    try:
        base = completed_response()
        count = 120
        for batch in range(0, count, 20):
            async with first.unit_of_work() as uow:
                for i in range(batch, batch + 20):
                    uow.emit(_gaps(base.member_id, f"a-{i:04d}"))
        records = await eventually(
            lambda: _at_least(read_all(kafka_bootstrap, GAPS.topic(topic_prefix)), count), what="all rows published"
        )
        assert len(records) == count, "no row published twice by the two relays"
        order = [GapsAssessed.model_validate(json.loads(r.value)).assessment_id for r in records]
        assert order == sorted(order), "one key, one partition: publication order is commit order"
    finally:
        await second.stop()
        await first.stop()


def _gaps(member_id: str, assessment_id: str) -> GapsAssessed:
    response = completed_response(member_id=member_id)
    return GapsAssessed(
        assessment_id=assessment_id,
        response_id=str(uuid.uuid4()),
        cluster_id="c-1",
        member_id=member_id,
        theme=response.theme,
        member_context=response.member_context,
        gaps=[],
        assessed_at=response.completed_at,
    )


async def test_readyz_reports_unreachable_database_and_kafka(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase, pg_admin_url: str
) -> None:
    url = await new_database("skills")
    runtime = runtime_for(SKILLS, database_url=url, kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix)
    app = create_app(SKILLS, runtime=runtime)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://skills"
        ) as client,
    ):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, what="ready with DB and Kafka up")
        assert (await client.get("/healthz")).json()["status"] == "ok"
        metrics = (await client.get("/metrics")).text
        assert "trellis_events_consumed_total" in metrics or "trellis_outbox_backlog" in metrics
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Trellis skills"

        # Make the database unreachable: rename it away under the service's feet.
        name = url.rpartition("/")[2]
        await _admin(pg_admin_url, f'ALTER DATABASE "{name}" RENAME TO "{name}_away"', name)
        try:
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"]["database"].startswith("unreachable")
        finally:
            await _admin(pg_admin_url, f'ALTER DATABASE "{name}_away" RENAME TO "{name}"', f"{name}_away")
        await eventually(ready, what="ready again once the database is back")

    no_kafka = runtime_for(SKILLS, database_url=url, kafka_bootstrap="127.0.0.1:1", topic_prefix=topic_prefix)
    app = create_app(SKILLS, runtime=no_kafka)
    async with (
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30),
        httpx.AsyncClient(
            headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://skills"
        ) as client,
    ):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["bus"].startswith("unreachable")
        assert response.json()["checks"]["database"] == "ok"


async def _admin(pg_admin_url: str, sql: str, database: str) -> None:
    import asyncpg

    from tests.conftest import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(pg_admin_url))
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_database_outage_is_retried_in_order_without_losing_events(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase, pg_admin_url: str
) -> None:
    url = await new_database("skills")
    runtime = runtime_for(SKILLS, database_url=url, kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix)
    await runtime.start()
    name = url.rpartition("/")[2]
    try:
        assert runtime.consumer is not None
        consumer = runtime.consumer

        async def assigned() -> bool:
            return consumer.bus_consumer is not None and consumer.bus_consumer.assigned()

        await eventually(assigned, what="partitions assigned")
        await produce_event(kafka_bootstrap, topic_prefix, introduction(completed_response()))

        async def introduced() -> bool:
            async with runtime.db.sessions() as session:
                return await session.scalar(select(NAMES.members.c.member_id)) == "m-1"

        await eventually(introduced, what="the member known")
        await _admin(pg_admin_url, f'ALTER DATABASE "{name}" RENAME TO "{name}_away"', name)
        first = completed_response()  # digcomp:5.2 severity 3 + 0.5 × 3 = 4.5
        second = completed_response(skills=[first.skills[0].model_copy(update={"current_level": 4})])  # 1 + 1.5
        topic = RESPONSES.topic(topic_prefix)
        for response in (first, second):
            headers, value = to_binary(response_event(response))
            await produce(kafka_bootstrap, topic, value, key=b"m-1", headers=headers)

        async def retrying() -> bool:
            return consumer.retrying is not None

        await eventually(retrying, what="the consumer to retry while the database is away")
        await _admin(pg_admin_url, f'ALTER DATABASE "{name}_away" RENAME TO "{name}"', f"{name}_away")

        async def both() -> list[dict[str, Any]] | None:
            async with runtime.db.sessions() as session:
                rows = (await session.execute(select(assessments).order_by(assessments.c.assessed_at))).mappings().all()
            return [dict(r) for r in rows] if len(rows) == 2 else None

        rows = await eventually(both, timeout=60, what="both events applied after the outage")
        by_response = {r["response_id"]: r for r in rows}
        assert by_response[first.response_id]["gaps"][0]["trend"] == "new"
        assert by_response[second.response_id]["gaps"][0]["trend"] == "closing", "applied in order"
    finally:
        await runtime.stop()


async def test_commit_for_a_revoked_partition_is_skipped_not_fatal(kafka_bootstrap: str, topic_prefix: str) -> None:
    from trellis_common.bus import Record
    from trellis_common.bus.kafka import KafkaBusConsumer

    topic = RESPONSES.topic(topic_prefix)
    consumer = KafkaBusConsumer(kafka_bootstrap, "t", f"{topic_prefix}g", [topic], 6000)
    await consumer.start()
    try:
        await eventually(lambda: _assigned(consumer), what="assignment")
        stranger = Record(topic, 99, 5, None, None, ())  # a partition this member does not own
        assert not consumer.owns(stranger)
        await consumer.commit(stranger)  # aiokafka would raise IllegalStateError here
    finally:
        await consumer.stop()


async def _assigned(consumer) -> bool:  # type: ignore[no-untyped-def]
    return bool(consumer.assigned())


async def test_a_row_the_broker_refuses_is_set_aside_and_the_rest_flows(
    kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    runtime = runtime_for(
        SKILLS,
        database_url=await new_database("skills"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        consume=False,
    )
    await runtime.start()
    try:
        huge = _gaps("m-1", "a-huge").model_copy(update={"response_id": "x" * 1_200_000})  # over the 1 MiB limit
        async with runtime.unit_of_work() as uow:
            uow.emit(_gaps("m-1", "a-0001"))
            uow.emit(huge)
            uow.emit(_gaps("m-1", "a-0002"))

        async def both_published() -> list[str] | None:
            records = await read_all(kafka_bootstrap, GAPS.topic(topic_prefix))
            ids = sorted({GapsAssessed.model_validate(json.loads(r.value)).assessment_id for r in records})
            return ids if len(ids) == 2 else None

        # The first event may go out twice (before and after the refusal is isolated); consumers dedupe.
        assert await eventually(both_published, what="the two normal events") == ["a-0001", "a-0002"]

        async def outbox_settled() -> tuple[list[str], int] | None:
            # The relay records its outcomes when its transaction commits, a moment after the records reach Kafka.
            async with runtime.db.sessions() as session:
                refused = (await session.scalars(text("SELECT error FROM outbox WHERE failed_at IS NOT NULL"))).all()
                pending = await session.scalar(
                    text("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL")
                )
            return (list(refused), int(pending or 0)) if pending == 0 else None

        refused, _ = await eventually(outbox_settled, what="the relay to record what it sent and set aside")
        assert len(refused) == 1 and "MessageSizeTooLarge" in refused[0]
    finally:
        await runtime.stop()
