"""Gaps events in, matched events out: the matchmaking service in-process on real Kafka and PostgreSQL.

The fixture is small enough to check by hand. Weights: severity 0.35, level 0.15, format 0.10, delivery 0.10,
sector 0.10, market 0.10, pooling 0.10; no offer names a sector (sector fit 0.5 → 0.05 for every pair).

Members (cluster c-k, all in Austria):
- Huber: digcomp:5.2 priority 5 × (3 + 0.5 × 3) = 22.5, digcomp:4.1 priority 3 × (1 + 0) = 3
- Alpine: digcomp:5.2 priority 4 × (2 + 0.5 × 3) = 14
- Sensor: digcomp:4.1 priority 5 × (3 + 0.5 × 1) = 17.5, intl:partner-search 4 × (2 + 0) = 8, target country DE
Partners: TU Danube (masterclass, 5.2, 10 seats), CyberSafe Academy (training, 4.1, ONE seat),
EEN Bavaria (advisory, partner search, based in DE), Pôle Lyon (cluster in FR, partner search: reaches FR only).

Sent one after another, the events tell this story:
1. Huber: 5.2 → TU Danube 0.35×0.5625 + 0.15 + 0.1 + 0.1 + 0.05 + 0.1 + 0 = 0.696875 (no one shares the gap
   yet); 4.1 → CyberSafe 0.35×0.075 + 0.15 + 0.1 + 0.1 + 0.05 + 0.1 + 0 = 0.52625.
2. Alpine: 5.2 → TU Danube 0.35×0.35 + … + pooling 0.1 = 0.7225; pooled with Huber (2 members, 2 seats).
3. Sensor: 4.1 waits: CyberSafe's one seat is Huber's proposal, and a proposal keeps its seat however severe
   the later gap (17.5 against Huber's 3): Huber was told, proposals do not churn; partner search → EEN Bavaria
   0.35×0.2 + 0.15 + 0.1 + 0.1 + 0.05 + 0.1 (reaches DE) + 0 = 0.57. Pôle Lyon is never proposed.
Huber hears nothing more: its proposals did not change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.integration.matchmaking.conftest import gaps_assessed, offer, partner, skill_gap
from tests.support import auth
from tests.support.kafka import produce, produce_event, read_all
from tests.support.polling import eventually
from trellis_common.app import create_app
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, from_kafka, to_binary
from trellis_common.events import GapsAssessed, MemberChanged, MemberContext, PartnersMatched
from trellis_common.runtime import ServiceRuntime
from trellis_matchmaking.models import matches
from trellis_matchmaking.service import DEFINITION

GAPS = spec_for_model(GapsAssessed)
MATCHED = spec_for_model(PartnersMatched)
CLUSTER = "c-k"

HUBER = gaps_assessed(
    "m-huber",
    [skill_gap("digcomp:5.2", 2, 5, 3, 5), skill_gap("digcomp:4.1", 3, 4, 0, 3)],
    cluster_id=CLUSTER,
    context=MemberContext(country="AT", region="AT12", languages=["de", "en"], sector="C25"),
)
ALPINE = gaps_assessed(
    "m-alpine",
    [skill_gap("digcomp:5.2", 3, 5, 3, 4)],
    cluster_id=CLUSTER,
    context=MemberContext(country="AT", region="AT31", languages=["en"], sector="C22"),
)
SENSOR = gaps_assessed(
    "m-sensor",
    [skill_gap("digcomp:4.1", 2, 5, 1, 5), skill_gap("intl:partner-search", 1, 3, 0, 4)],
    cluster_id=CLUSTER,
    context=MemberContext(country="AT", region="AT13", languages=["en", "de"], sector="C26", target_countries=["DE"]),
)
PARTNERS = [
    partner(
        "TU Danube",
        "university",
        offer("Data-driven production masterclass", "digcomp:5.2", 10, max_level=6, languages=["de", "en"]),
    ),
    partner(
        "CyberSafe Academy",
        "training_provider",
        offer("Protecting devices", "digcomp:4.1", 1, max_level=5, format="training", languages=["en"]),
        country="DE",
    ),
    partner(
        "EEN Bavaria",
        "enterprise_europe_network",
        offer("Partner search in Germany", "intl:partner-search", 5, format="advisory"),
        country="DE",
    ),
    partner(
        "Pôle Lyon",
        "cluster",
        offer("Partner search in France", "intl:partner-search", 5, format="advisory"),
        country="FR",
    ),
]


def member_of(gaps: GapsAssessed) -> MemberChanged:
    return MemberChanged(
        cluster_id=gaps.cluster_id,
        member_id=gaps.member_id,
        name=f"Member {gaps.member_id}",
        context=gaps.member_context,
        changed_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


def summary(event: PartnersMatched) -> dict[str, Any]:
    return {
        "member": event.member_id,
        "reason": event.reason,
        "options": [(o.rank, o.skill_code, o.partner_name, o.score, o.match_id is not None) for o in event.options],
        "pooled": [(p.skill_code, p.partner_name, p.member_count, p.seats) for p in event.pooled],
    }


async def test_gaps_events_become_ranked_explained_matches_with_one_pool(
    on_kafka: ServiceRuntime, kafka_bootstrap: str, topic_prefix: str
) -> None:
    app = create_app(DEFINITION, runtime=on_kafka, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://matchmaking"
    ) as api:
        for body in PARTNERS:
            assert (await api.post("/partners", json=body)).status_code == 201
        for known in (HUBER, ALPINE, SENSOR):  # surveys published the members before skills assessed them
            await produce_event(kafka_bootstrap, topic_prefix, member_of(known))

        for sent, expected_total in ((HUBER, 1), (ALPINE, 2), (SENSOR, 3)):  # one after another: the story above
            envelope = CloudEvent(
                source="/tests/skills",
                type=GAPS.type,
                subject=sent.member_id,
                correlationid=f"corr-{sent.member_id}",
                data=sent.model_dump(mode="json"),
            )
            headers, value = to_binary(envelope)
            await produce(
                kafka_bootstrap, GAPS.topic(topic_prefix), value, key=sent.member_id.encode(), headers=headers
            )

            async def arrived(count: int = expected_total) -> list[Any] | None:
                records = await read_all(kafka_bootstrap, MATCHED.topic(topic_prefix))
                return records if len(records) >= count else None

            await eventually(arrived, timeout=60, what=f"{expected_total} matched event(s)")

        records = await read_all(kafka_bootstrap, MATCHED.topic(topic_prefix))
        assert len(records) == 3
        by_member: dict[str, list[PartnersMatched]] = {}
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):  # one member, one partition: in order
            out = from_kafka(record.headers, record.value)
            event = PartnersMatched.model_validate(out.data)
            assert out.type == MATCHED.type and record.key == event.member_id.encode()
            assert out.causationid is not None
            by_member.setdefault(event.member_id, []).append(event)
        (huber_first,) = by_member["m-huber"]
        (alpine,) = by_member["m-alpine"]
        (sensor,) = by_member["m-sensor"]

        assert summary(huber_first) == {
            "member": "m-huber",
            "reason": "assessment",
            "options": [
                (1, "digcomp:5.2", "TU Danube", pytest.approx(0.696875), True),
                (2, "digcomp:4.1", "CyberSafe Academy", pytest.approx(0.52625), True),
            ],
            "pooled": [],
        }
        assert summary(alpine) == {
            "member": "m-alpine",
            "reason": "assessment",
            "options": [(1, "digcomp:5.2", "TU Danube", pytest.approx(0.7225), True)],
            "pooled": [("digcomp:5.2", "TU Danube", 2, 2)],
        }
        assert summary(sensor) == {
            "member": "m-sensor",
            "reason": "assessment",
            "options": [(1, "intl:partner-search", "EEN Bavaria", pytest.approx(0.57), True)],
            "pooled": [],
        }
        for event in (huber_first, alpine, sensor):
            for option in event.options:
                assert sum(c.contribution for c in option.explanation) == pytest.approx(option.score, abs=1e-6)
        market = {c.factor: c for c in sensor.options[0].explanation}["market_fit"]
        assert (market.value, market.note) == (1.0, "reaches DE")

        (pool,) = (await api.get(f"/clusters/{CLUSTER}/pools")).json()
        assert (pool["member_ids"], pool["seats"], pool["offer_title"]) == (
            ["m-alpine", "m-huber"],
            2,
            "Data-driven production masterclass",
        )
        cybersafe = next(p for p in (await api.get("/partners")).json()["items"] if p["name"] == "CyberSafe Academy")
        assert cybersafe["offers"][0]["seats_taken"] == 1, "one seat, never more"

    async with on_kafka.db.sessions() as session:
        rows = (await session.execute(select(matches.c.member_id, matches.c.skill_code, matches.c.status))).all()
    assert sorted(rows) == [
        ("m-alpine", "digcomp:5.2", "proposed"),
        ("m-huber", "digcomp:4.1", "proposed"),
        ("m-huber", "digcomp:5.2", "proposed"),
        ("m-sensor", "intl:partner-search", "proposed"),
    ]
