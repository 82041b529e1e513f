"""Phantom members (#16 point 8), on real Kafka and PostgreSQL: gaps of a member nobody published wait and take
no seat until surveys.member.changed brings the member; an unknown cluster's gaps go to the DLQ with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from tests.integration.matchmaking.conftest import gaps_assessed, offer, partner, skill_gap
from tests.support import auth
from tests.support.kafka import header, produce_event, read_all
from tests.support.polling import eventually
from trellis_common.app import create_app
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import from_kafka
from trellis_common.events import GapsAssessed, MemberChanged, MemberContext, PartnersMatched
from trellis_common.runtime import ServiceRuntime
from trellis_matchmaking.models import PARKING
from trellis_matchmaking.service import DEFINITION

GAPS = spec_for_model(GapsAssessed)
MATCHED = spec_for_model(PartnersMatched)
CONTEXT = MemberContext(country="AT", region="AT13", languages=["de", "en"])


def member(member_id: str, cluster_id: str) -> MemberChanged:
    return MemberChanged(
        cluster_id=cluster_id,
        member_id=member_id,
        name=f"Member {member_id}",
        cluster_name="Danube",
        context=CONTEXT,
        changed_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


async def parked(runtime: ServiceRuntime) -> list[str]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(select(PARKING.parked.c.member_id, PARKING.parked.c.reason))
        return [f"{member_id}: {reason}" for member_id, reason in rows]


async def test_unknown_members_wait_without_seats_even_in_unknown_clusters(
    on_kafka: ServiceRuntime, kafka_bootstrap: str, topic_prefix: str
) -> None:
    app = create_app(DEFINITION, runtime=on_kafka, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://matchmaking"
    ) as api:
        created = await api.post(
            "/partners", json=partner("TU Danube", "university", offer("Masterclass", "digcomp:5.2", 1))
        )
        assert created.status_code == 201, created.text
        offer_id = created.json()["offers"][0]["id"]
        await produce_event(kafka_bootstrap, topic_prefix, member("m-known", "c-1"))

        phantom = gaps_assessed("m-phantom", [skill_gap("digcomp:5.2", 1, 5, 3, 5)], cluster_id="c-1", context=CONTEXT)
        phantom_event = await produce_event(kafka_bootstrap, topic_prefix, phantom, correlation_id="corr-phantom")
        elsewhere = gaps_assessed("m-x", [skill_gap("digcomp:5.2", 1, 5, 3, 5)], cluster_id="c-nowhere")
        await produce_event(kafka_bootstrap, topic_prefix, elsewhere)
        moved = gaps_assessed("m-known", [skill_gap("digcomp:5.2", 1, 5, 3, 5)], cluster_id="c-other-known")
        await produce_event(kafka_bootstrap, topic_prefix, member("m-other", "c-other-known"))
        await produce_event(kafka_bootstrap, topic_prefix, moved)

        async def dead_lettered() -> list[str] | None:
            records = await read_all(kafka_bootstrap, f"{GAPS.topic(topic_prefix)}.dlq")
            return [header(r, "trellis_error") or "" for r in records] or None

        (reason,) = await eventually(dead_lettered, timeout=60, what="the other cluster's gaps dead-lettered")
        assert "member 'm-known' belongs to another cluster than 'c-other-known'" in reason

        async def both_parked() -> list[str] | None:
            found = await parked(on_kafka)
            return sorted(found) if len(found) >= 2 else None

        waiting = await eventually(both_parked, timeout=60, what="the unknown members' gaps parked")
        assert waiting == [
            "m-phantom: member 'm-phantom' is not known yet",
            "m-x: member 'm-x' and its cluster 'c-nowhere' are not known yet",
        ]
        listed = (await api.get("/parked-events", params={"cluster_id": "c-1"})).json()  # what an operator sees
        assert [(e["event_id"], e["member_id"], e["cluster_id"]) for e in listed] == [
            (phantom_event, "m-phantom", "c-1")
        ]
        assert (await api.get("/parked-events", params={"cluster_id": "c-2"})).json() == []
        assert await read_all(kafka_bootstrap, MATCHED.topic(topic_prefix)) == []
        assert (await api.get(f"/offers/{offer_id}")).json()["seats_taken"] == 0, "a phantom takes no seat"
        assert (await api.get("/matches")).json()["items"] == []

        # Surveys publishes the member after all (it was registered late): what waited is matched, once.
        await produce_event(kafka_bootstrap, topic_prefix, member("m-phantom", "c-1"))

        async def matched() -> list[PartnersMatched] | None:
            records = await read_all(kafka_bootstrap, MATCHED.topic(topic_prefix))
            return [PartnersMatched.model_validate(from_kafka(r.headers, r.value).data) for r in records] or None

        (event,) = await eventually(matched, timeout=60, what="the released gaps matched")
        assert event.member_id == "m-phantom" and [o.offer_title for o in event.options] == ["Masterclass"]
        (record,) = await read_all(kafka_bootstrap, MATCHED.topic(topic_prefix))
        envelope = from_kafka(record.headers, record.value)
        assert (envelope.causationid, envelope.correlationid) == (phantom_event, "corr-phantom"), "its own chain"
        assert await parked(on_kafka) == ["m-x: member 'm-x' and its cluster 'c-nowhere' are not known yet"]
        assert [e["member_id"] for e in (await api.get("/parked-events")).json()] == ["m-x"]
        assert (await api.get(f"/offers/{offer_id}")).json()["seats_taken"] == 1
        async with on_kafka.db.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(PARKING.parked)) == 1
