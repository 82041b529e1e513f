"""Consumer behaviour that needs no broker: poison records are dead-lettered and the stream goes on."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from tests.support.fixtures import completed_response, introduction_message
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.bus import OutgoingMessage, Record
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.consumer import EventConsumer
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.errors import DEAD_LETTER_CODES
from trellis_common.events import ResponseCompleted
from trellis_common.parking import PARKED
from trellis_skills.models import assessments
from trellis_skills.service import DEFINITION as SKILLS

RESPONSES = spec_for_model(ResponseCompleted)


async def test_poison_records_go_to_the_dlq_and_the_consumer_goes_on(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    runtime = runtime_for(SKILLS, database_url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}", bus=InMemoryBus(broker))
    await runtime.start()
    try:
        response = completed_response()
        await broker.append([introduction_message(response)])
        good = CloudEvent(source="/t", type=RESPONSES.type, data=response.model_dump(mode="json"))
        headers, value = to_binary(good)
        nested = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError, not a ValueError
        other_type = [(k, b"eu.trellis.no.such.v1" if k == "ce_type" else v) for k, v in headers]
        invalid = json.dumps({**response.model_dump(mode="json"), "member_id": None}).encode()
        poison = [
            OutgoingMessage(RESPONSES.topic(), "m", nested, [*headers[1:], ("ce_id", b"deep")]),
            OutgoingMessage(RESPONSES.topic(), "m", value, [("ce_type", None)]),  # type: ignore[list-item]
            OutgoingMessage(RESPONSES.topic(), "m", b'"just a string"', headers),  # a CloudEvent, data no object
            OutgoingMessage(RESPONSES.topic(), "m", b"{not json", headers),
            OutgoingMessage(RESPONSES.topic(), "m", value, other_type),
            OutgoingMessage(RESPONSES.topic(), "m", invalid, headers),
            OutgoingMessage(RESPONSES.topic(), "m", value, headers),
        ]
        await broker.append(poison)

        async def assessed() -> int:
            async with runtime.db.sessions() as session:
                return int(await session.scalar(select(func.count()).select_from(assessments)) or 0)

        assert await eventually(assessed, what="the good event after six poison records") == 1
        dlq = broker.topics[RESPONSES.dlq_topic()]
        letters = [dict(r.headers) for r in dlq]
        codes = [letter["trellis_error_code"].decode() for letter in letters]
        assert codes == [
            "contract.undecodable",
            "contract.not_a_cloudevent",
            "contract.not_an_object",
            "contract.not_json",
            "contract.unknown_type",
            "contract.invalid_data",
        ]
        assert set(codes) <= set(DEAD_LETTER_CODES), "every code is in the documented vocabulary"
        reasons = [letter["trellis_error"].decode() for letter in letters]
        assert all(reason.startswith(f"{code}: ") for code, reason in zip(codes, reasons, strict=True)), reasons
        assert "RecursionError" in reasons[0] and "not a CloudEvent: missing header(s)" in reasons[1]
        assert reasons[2] == "contract.not_an_object: event data must be a JSON object, not a string"
        assert "member_id" in reasons[5]
    finally:
        await runtime.stop()


async def test_a_batch_applies_the_member_directory_before_the_facts_fetched_with_it(tmp_path: Path) -> None:
    """A member registered and answering at once, fetched in one batch with its response first (partitions of
    different topics come in no particular order): the batch applies surveys.member.changed first, so the
    response is assessed, neither parked nor dead-lettered as a stranger's."""
    broker = InMemoryBroker()
    runtime = runtime_for(
        SKILLS, database_url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}", bus=InMemoryBus(broker), consume=False
    )
    await runtime.start()
    try:
        response = completed_response(member_id="m-new", cluster_id="c-new")
        headers, value = to_binary(CloudEvent(source="/t", type=RESPONSES.type, data=response.model_dump(mode="json")))
        member = introduction_message(response)
        fetched = [
            Record(RESPONSES.topic(), 0, 0, b"m-new", value, tuple(headers)),
            Record(
                member.topic, 0, 0, member.key.encode() if member.key else None, member.value, tuple(member.headers)
            ),
        ]
        parked_before = PARKED.labels("skills", RESPONSES.type)._value.get()
        await EventConsumer(runtime, SKILLS.handlers, SKILLS.batch_handlers)._process_batch(fetched)
        async with runtime.db.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(assessments)) == 1
        assert PARKED.labels("skills", RESPONSES.type)._value.get() == parked_before, "never parked"
        assert not broker.topics.get(RESPONSES.dlq_topic()), "not refused as an unknown cluster's"
    finally:
        await runtime.stop()
