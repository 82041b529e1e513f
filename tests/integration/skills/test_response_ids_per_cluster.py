"""A response id names one response: the same id sent for another cluster is refused (DLQ), never taken as a
re-send that silently drops it, and the first cluster's assessment stays as it was."""

from __future__ import annotations

from sqlalchemy import select

from tests.integration.skills.conftest import publish, response, skill, until_assessed
from tests.support.polling import eventually
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.catalogue import spec_for_model
from trellis_common.events import ResponseCompleted
from trellis_common.runtime import ServiceRuntime
from trellis_skills.models import assessments

RESPONSES = spec_for_model(ResponseCompleted)


async def test_another_clusters_response_with_a_known_id_goes_to_the_dlq(
    skills: ServiceRuntime, broker: InMemoryBroker
) -> None:
    first = response("m-a", [skill("digcomp:5.2", 2, 5, 1, 4)], cluster_id="cluster-a")
    await publish(broker, first)
    await eventually(until_assessed(skills, 1), what="cluster A's assessment")
    copy = response("m-b", [skill("digcomp:5.2", 1, 6, 0, 9)], cluster_id="cluster-b")
    copy = copy.model_copy(update={"response_id": first.response_id})
    resent = first.model_copy()  # the same response again (e.g. the survey tool retried)
    await publish(broker, copy, resent)

    def dead_lettered() -> list[object]:
        return list(broker.topics.get(RESPONSES.dlq_topic(), []))

    async def refused() -> list[object] | None:
        return dead_lettered() or None

    [letter] = await eventually(refused, what="the other cluster's copy in the DLQ")
    errors = dict(letter.headers)  # type: ignore[attr-defined]
    assert b"already used by another cluster" in errors["trellis_error"]
    await eventually(lambda: _consumed_all(skills, broker), what="the re-send to be consumed")
    async with skills.db.sessions() as session:
        rows = (await session.execute(select(assessments.c.cluster_id, assessments.c.member_id))).all()
    assert [tuple(r) for r in rows] == [("cluster-a", "m-a")], "one assessment, cluster A's, unchanged"
    assert len(dead_lettered()) == 1, "the re-send of the same response is a duplicate, not an error"


async def _consumed_all(skills: ServiceRuntime, broker: InMemoryBroker) -> bool:
    assert skills.consumer is not None and skills.consumer.bus_consumer is not None
    return sum((await skills.consumer.bus_consumer.lag()).values()) == 0
