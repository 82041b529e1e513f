"""Phantom members (#16 point 8): a response for a member nobody published is not assessed; it waits (parked,
with the reason) until surveys.member.changed brings the member, then it is assessed once, in its own chain. A
response for an unknown cluster goes to the DLQ with the reason, and so do supply figures for one; a broken
response goes to the DLQ at once rather than wait for its member."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.integration.skills.conftest import (
    assessed_count,
    member_changed,
    publish,
    response,
    skill,
    until_assessed,
)
from tests.support.polling import eventually
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import from_kafka
from trellis_common.events import GapsAssessed, ResponseCompleted, SupplyReported
from trellis_common.runtime import ServiceRuntime
from trellis_skills.models import PARKING

RESPONSES = spec_for_model(ResponseCompleted)
SUPPLY = spec_for_model(SupplyReported)
GAPS = spec_for_model(GapsAssessed)


async def parked(skills: ServiceRuntime) -> list[tuple[str, str]]:
    async with skills.db.sessions() as session:
        rows = await session.execute(select(PARKING.parked.c.member_id, PARKING.parked.c.reason))
        return [(str(member_id), str(reason)) for member_id, reason in rows]


def errors_in(broker: InMemoryBroker, topic: str) -> list[str]:
    return [dict(r.headers)["trellis_error"].decode() for r in broker.topics.get(topic, [])]


async def test_unknown_members_wait_and_unknown_clusters_wait_too(
    skills: ServiceRuntime, broker: InMemoryBroker
) -> None:
    await publish(broker, member_changed("m-known", "Huber Präzision GmbH", cluster_id="c-1"))
    phantom = response("m-phantom", [skill("digcomp:5.2", 2, 5, 1, 4)], cluster_id="c-1")
    (phantom_event,) = await publish(broker, phantom, announce=False)
    # A cluster onboarded while skills was behind: its response is read before any of its members.
    await publish(broker, response("m-x", [skill("digcomp:5.2", 2, 5, 1, 4)], cluster_id="c-new"), announce=False)
    await publish(broker, response("m-phantom", [skill("nocode:1", 2, 5, 1, 4)], cluster_id="c-1"), announce=False)
    supply = SupplyReported.model_validate(
        {
            "report_id": "r-1",
            "source": "Employment agency",
            "scope": "cluster",
            "scope_id": "c-nowhere",
            "as_of": "2026-02-28",
            "figures": [{"skill_code": "digcomp:5.2", "headcount": 3}],
            "reported_at": "2026-03-01T00:00:00Z",
        }
    )
    await publish(broker, supply)

    async def refused() -> list[str] | None:
        found = errors_in(broker, RESPONSES.dlq_topic()) + errors_in(broker, SUPPLY.dlq_topic())
        return found if len(found) >= 2 else None

    reasons = await eventually(refused, what="the unknown cluster's figures and the broken response refused")
    strangers = [r for r in reasons if r.startswith("rule.unknown_cluster: unknown cluster 'c-nowhere'")]
    assert len(strangers) == 1, reasons
    broken = [r for r in reasons if "unknown skill code(s) nocode:1" in r]
    assert len(broken) == 1 and broken[0].startswith("rule.refused: "), "broken: refused at once, not parked"
    assert sorted(await eventually(lambda: parked(skills), what="the two unknown members' responses parked")) == [
        ("m-phantom", "member 'm-phantom' is not known yet"),
        ("m-x", "member 'm-x' and its cluster 'c-new' are not known yet"),
    ]
    assert await assessed_count(skills) == 0 and not broker.topics.get(GAPS.topic())

    # The new cluster's member arrives: its response is assessed, and nothing went to a dead-letter topic for it.
    await publish(broker, member_changed("m-x", "Neue Werkstatt", cluster_id="c-new"))
    await eventually(until_assessed(skills, 1), what="the new cluster's response assessed")
    assert await parked(skills) == [("m-phantom", "member 'm-phantom' is not known yet")]
    assert len(errors_in(broker, RESPONSES.dlq_topic())) == 1

    # Surveys publishes the member (registered late): the response that waited is assessed, in its own chain.
    await publish(broker, member_changed("m-phantom", "Alpine Composites", cluster_id="c-1"))
    await eventually(until_assessed(skills, 2), what="the released response assessed")
    assert await parked(skills) == []
    await skills.relay.drain()
    events = [from_kafka(r.headers, r.value) for r in broker.topics[GAPS.topic()]]
    (gaps,) = [e for e in events if e.data is not None and e.data["member_id"] == "m-phantom"]
    assert gaps.causationid == phantom_event
    async with skills.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PARKING.parked)) == 0
