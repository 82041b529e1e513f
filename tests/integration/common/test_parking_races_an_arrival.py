"""A response parked by one replica while another applies its member's arrival is not left waiting for an arrival
that has already happened: parking and arrivals take turns (PostgreSQL advisory lock), so either the arrival sees
the parked event and releases it, or the response sees the member and is handled at once.

Found by a chaos run (seed 21): two skills replicas started on a backlog; one parked a response of a member whose
surveys.member.changed the other was applying in a transaction not yet committed. The response stayed parked, its
member never got an assessment nor an email."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from tests.conftest import NewDatabase
from tests.support.fixtures import completed_response, introduction
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.catalogue import spec_for_model
from trellis_common.consumer import Incoming
from trellis_common.envelope import CloudEvent
from trellis_common.events import EventData, MemberChanged, ResponseCompleted
from trellis_common.parking import admit
from trellis_common.runtime import ServiceRuntime
from trellis_common.subscriptions import Received
from trellis_skills.models import PARKING
from trellis_skills.service import DEFINITION as SKILLS


def envelope_of(data: EventData) -> CloudEvent:
    return CloudEvent(source="/tests", type=spec_for_model(type(data)).type, data=data.model_dump(mode="json"))


async def admitted_in_a_transaction_of_its_own(runtime: ServiceRuntime, response: ResponseCompleted) -> int:
    async with runtime.db.sessions() as session, session.begin():
        uow = runtime.new_unit_of_work(session)
        received = Received(uow, response, envelope_of(response), response.member_id)
        return len(await admit(PARKING, [received], lambda r: (r.cluster_id, r.member_id)))


async def test_a_response_parked_while_its_member_arrives_is_not_left_behind(new_database: NewDatabase) -> None:
    url = await new_database("skills")
    runtime = runtime_for(SKILLS, database_url=url, workers=False, relay=False, consume=False)
    await runtime.start()
    try:
        response = completed_response(member_id="m-race", cluster_id="c-race")
        arrival = introduction(response)
        on_member_changed = SKILLS.handlers[spec_for_model(MemberChanged).type]
        async with runtime.db.sessions() as arriving, arriving.begin():
            # One replica applies the member's arrival and has not committed yet...
            await on_member_changed(
                runtime.new_unit_of_work(arriving), Incoming(envelope_of(arrival), arrival, arrival.member_id)
            )
            # ...while another meets the member's response.
            meeting = asyncio.create_task(admitted_in_a_transaction_of_its_own(runtime, response))

            async def waiting_or_done() -> bool:
                if meeting.done():
                    return True
                async with runtime.db.sessions() as probe:
                    waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    return bool(await probe.scalar(text(waiting)))

            await eventually(waiting_or_done, timeout=10, what="the response met (or waiting its turn)")
        admitted = await asyncio.wait_for(meeting, 10)

        async with runtime.db.sessions() as session:
            parked = await session.scalar(select(func.count()).select_from(PARKING.parked))
        # Handled at once, or parked and released: never parked for good.
        assert (admitted, parked) == (1, 0)
    finally:
        await runtime.stop()
