"""The skills service in-process on real Kafka and PostgreSQL: responses in, gaps out; supply figures in;
bad events to the DLQ with a clear reason while the rest flow on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import NewDatabase
from tests.integration.skills.conftest import LONG_AGO, T0, envelope, member_changed, response, skill
from tests.support import auth
from tests.support.kafka import header, produce, read_all
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.catalogue import spec_for_model
from trellis_common.db import inbox
from trellis_common.envelope import from_kafka, to_binary
from trellis_common.events import (
    EventData,
    GapsAssessed,
    MemberChanged,
    ResponseCompleted,
    SupplyFigure,
    SupplyReported,
)
from trellis_common.runtime import ServiceRuntime
from trellis_skills.models import assessments
from trellis_skills.service import DEFINITION as SKILLS

RESPONSES = spec_for_model(ResponseCompleted)
GAPS = spec_for_model(GapsAssessed)
SUPPLY = spec_for_model(SupplyReported)


@pytest.fixture
async def skills(kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase) -> AsyncIterator[ServiceRuntime]:
    runtime = runtime_for(
        SKILLS,
        database_url=await new_database("skills"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        max_headcount=1000,
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def send(bootstrap: str, topic: str, data: EventData | dict[str, Any], *, event_id: str | None = None) -> str:
    """Produce an event in binary mode; returns its id. A response's member is published first, as surveys did
    when it was registered (responses of members nobody published wait for them)."""
    if isinstance(data, ResponseCompleted):
        prefix = topic.removesuffix(spec_for_model(ResponseCompleted).topic())
        introduction = member_changed(
            data.member_id, f"Member {data.member_id}", cluster_id=data.cluster_id, at=LONG_AGO
        )
        await send(bootstrap, spec_for_model(MemberChanged).topic(prefix), introduction)
    if isinstance(data, EventData):
        event = envelope(data, event_id=event_id)
        headers, value = to_binary(event)
        key = str(getattr(data, spec_for_model(type(data)).key_field))
    else:  # a raw payload that breaks the contract on purpose, under a response's headers
        event = envelope(response(data["member_id"], []), event_id=event_id)
        headers, _ = to_binary(event)
        value, key = json.dumps(data).encode(), data["member_id"]
    await produce(bootstrap, topic, value, key=key.encode(), headers=headers)
    return event.id


async def records_at_least(bootstrap: str, topic: str, count: int) -> list[Any] | None:
    records = await read_all(bootstrap, topic)
    return records if len(records) >= count else None


# Hand-computed fixture: priority = importance × (level_gap + 0.5 × headcount_gap); trend against the
# member's previous answer for the skill (severity = level_gap + 0.5 × headcount_gap).
FIRST = [
    skill("digcomp:3.4", 1, 4, 0, 2, importance=4),  # 3 levels, 2 people: 4 × (3 + 1) = 16, severity 4
    skill("greencomp:2.1", 2, 3, 1, 5, importance=3),  # 1 level, 4 people: 3 × (1 + 2) = 9, severity 3
    skill("intl:export-readiness", 3, 3, 2, 2, importance=5),  # no gap: not reported
    skill("digcomp:4.1", 4, 5, 3, 3, importance=2),  # 1 level, 0 people: 2 × (1 + 0) = 2, severity 1
]
FIRST_GAPS = [
    ("digcomp:3.4", "Programming", "digcomp", 3, 2, 16.0, "4 × (3 + 0.5 × 2) = 16", "new"),
    ("greencomp:2.1", "Systems thinking", "greencomp", 1, 4, 9.0, "3 × (1 + 0.5 × 4) = 9", "new"),
    ("digcomp:4.1", "Protecting devices", "digcomp", 1, 0, 2.0, "2 × (1 + 0.5 × 0) = 2", "new"),
]
SECOND = [
    skill("digcomp:3.4", 3, 4, 1, 2, importance=4),  # 1 level, 1 person: 4 × 1.5 = 6; severity 1.5 < 4
    skill("greencomp:2.1", 2, 4, 1, 6, importance=3),  # 2 levels, 5 people: 3 × 4.5 = 13.5; 4.5 > 3
    skill("digcomp:4.1", 5, 5, 3, 3, importance=2),  # closed: not reported
    skill("intl:partner-search", 1, 3, 0, 1, importance=5),  # 2 levels, 1 person: 5 × 2.5 = 12.5, first time
]
SECOND_GAPS = [
    ("greencomp:2.1", "Systems thinking", "greencomp", 2, 5, 13.5, "3 × (2 + 0.5 × 5) = 13.5", "widening"),
    ("intl:partner-search", "International partner search", "intl", 2, 1, 12.5, "5 × (2 + 0.5 × 1) = 12.5", "new"),
    ("digcomp:3.4", "Programming", "digcomp", 1, 1, 6.0, "4 × (1 + 0.5 × 1) = 6", "closing"),
]


def as_rows(gaps: GapsAssessed) -> list[tuple[Any, ...]]:
    return [
        (
            g.skill_code,
            g.skill_label,
            g.framework,
            g.level_gap,
            g.headcount_gap,
            g.priority,
            g.priority_formula,
            g.trend,
        )
        for g in gaps.gaps
    ]


async def test_completed_responses_in_gaps_events_out_as_computed_by_hand(
    skills: ServiceRuntime, kafka_bootstrap: str, topic_prefix: str
) -> None:
    first = response("m-k1", FIRST, cluster_id="c-k")
    second = response("m-k1", SECOND, cluster_id="c-k", completed_at=T0 + timedelta(days=90))
    first_id = await send(kafka_bootstrap, RESPONSES.topic(topic_prefix), first)
    await send(kafka_bootstrap, RESPONSES.topic(topic_prefix), second)
    await send(kafka_bootstrap, RESPONSES.topic(topic_prefix), first)  # the first again, under a new event id

    records = await eventually(
        lambda: records_at_least(kafka_bootstrap, GAPS.topic(topic_prefix), 2), what="two gaps events"
    )
    events = [from_kafka(r.headers, r.value) for r in records]
    outs = [GapsAssessed.model_validate(e.data) for e in events]
    assert [r.key for r in records] == [b"m-k1", b"m-k1"]
    assert events[0].causationid == first_id and events[0].correlationid == "corr-skills"
    assert [o.response_id for o in outs] == [first.response_id, second.response_id]
    assert as_rows(outs[0]) == FIRST_GAPS
    assert as_rows(outs[1]) == SECOND_GAPS
    for out in outs:
        assert (out.cluster_id, out.member_id, out.theme) == ("c-k", "m-k1", "digital")
        context = out.member_context
        assert (context.region, context.size_class, context.sector, context.country) == ("AT13", "small", "C25", "AT")

    async def all_consumed() -> bool:
        async with skills.db.sessions() as session:
            consumed = select(func.count()).select_from(inbox).where(inbox.c.event_type == RESPONSES.type)
            return await session.scalar(consumed) == 3

    await eventually(all_consumed, what="the repeated response consumed")
    await skills.relay.drain()
    assert len(await read_all(kafka_bootstrap, GAPS.topic(topic_prefix))) == 2, "the same response: one event"
    app = create_app(SKILLS, runtime=skills, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://skills"
    ) as api:
        history = (await api.get("/members/m-k1/assessments")).json()
    assert [a["response_id"] for a in history] == [second.response_id, first.response_id]


async def test_bad_responses_go_to_the_dlq_with_a_clear_reason_and_the_rest_flow_on(
    skills: ServiceRuntime, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = RESPONSES.topic(topic_prefix)
    good = response("m-good", [skill("digcomp:3.4", 1, 4, 0, 2, importance=4)])
    raw = good.model_dump(mode="json")

    def broken(member_id: str, **answer: Any) -> dict[str, Any]:
        return {
            **raw,
            "response_id": f"r-{member_id}",
            "member_id": member_id,
            "skills": [{**raw["skills"][0], **answer}],
        }

    cases: dict[str, tuple[ResponseCompleted | dict[str, Any], str]] = {
        "unknown GreenComp area": (
            response("m-1", [skill("greencomp:5.1", 1, 2, 0, 1)]),
            "unknown skill code(s) greencomp:5.1 (taxonomy 2026.1)",
        ),
        "unknown framework": (
            response("m-2", [skill("esco:programming", 1, 2, 0, 1), skill("digcomp:1.1", 1, 2, 0, 1)]),
            "unknown skill code(s) esco:programming",
        ),
        "level above 8": (
            broken("m-3", current_level=9),
            "contract.invalid_data: skills.0.current_level: Input should be less than or equal to 8",
        ),
        "importance 0": (
            broken("m-4", importance=0),
            "skills.0.importance: Input should be greater than or equal to 1",
        ),
        "negative headcount": (
            broken("m-5", headcount_having=-2),
            "skills.0.headcount_having: Input should be greater than or equal to 0",
        ),
        "headcount out of range": (
            response("m-6", [skill("digcomp:3.4", 1, 4, 0, 5000)]),
            "skills[0] (digcomp:3.4): headcount_needed 5000 is more than the 1000 people allowed",
        ),
        "same skill twice": (
            response("m-7", [skill("digcomp:3.4", 1, 4, 0, 2), skill("digcomp:3.4", 2, 4, 0, 2)]),
            "skills[1] (digcomp:3.4): the skill is answered twice",
        ),
    }
    sent = {name: await send(kafka_bootstrap, topic, data) for name, (data, _) in cases.items()}
    good_id = await send(kafka_bootstrap, topic, good)

    dlq = await eventually(
        lambda: records_at_least(kafka_bootstrap, RESPONSES.dlq_topic(topic_prefix), len(cases)),
        what=f"{len(cases)} DLQ records",
    )
    reasons = {header(r, "ce_id"): header(r, "trellis_error") or "" for r in dlq}
    for name, (_, reason) in cases.items():
        assert reason in reasons[sent[name]], f"{name}: {reasons[sent[name]]}"
    assert all(header(r, "trellis_original_topic") == topic for r in dlq)
    assert good_id not in reasons

    records = await eventually(
        lambda: records_at_least(kafka_bootstrap, GAPS.topic(topic_prefix), 1), what="the valid response's gaps"
    )
    (only,) = [GapsAssessed.model_validate(from_kafka(r.headers, r.value).data) for r in records]
    assert only.member_id == "m-good" and as_rows(only)[0][5] == 16.0
    async with skills.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(assessments)) == 1


def supply(report_id: str, headcount: int, *, code: str = "digcomp:3.4", scope_id: str = "c-k") -> SupplyReported:
    return SupplyReported(
        report_id=report_id,
        source="TechSkills Academy (training provider)",
        scope="cluster",
        scope_id=scope_id,
        as_of=date(2026, 2, 28),
        figures=[SupplyFigure(skill_code=code, headcount=headcount, level=4)],
        reported_at=T0,
    )


async def test_supply_figures_from_other_systems_are_consumed_once(
    skills: ServiceRuntime, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = SUPPLY.topic(topic_prefix)
    await send(kafka_bootstrap, RESPONSES.topic(topic_prefix), response("m-k1", FIRST, cluster_id="c-k"))
    report_event = await send(kafka_bootstrap, topic, supply("tsa-2026-02", 5))
    await send(kafka_bootstrap, topic, supply("tsa-2026-02", 5), event_id=report_event)  # redelivered
    await send(kafka_bootstrap, topic, supply("tsa-2026-02", 5))  # the same report, sent again
    conflict = await send(kafka_bootstrap, topic, supply("tsa-2026-02", 50))
    unknown = await send(kafka_bootstrap, topic, supply("tsa-2026-03", 5, code="digcomp:6.1"))

    dlq = await eventually(
        lambda: records_at_least(kafka_bootstrap, SUPPLY.dlq_topic(topic_prefix), 2), what="two DLQ records"
    )
    reasons = {header(r, "ce_id"): header(r, "trellis_error") or "" for r in dlq}
    assert "supply report tsa-2026-02 was already recorded with other figures" in reasons[conflict]
    assert "figures.0.skill_code: unknown skill code 'digcomp:6.1'" in reasons[unknown]

    app = create_app(SKILLS, runtime=skills, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://skills"
    ) as api:

        async def programming() -> dict[str, Any] | None:
            answer = await api.get("/clusters/c-k/profile")
            if answer.status_code != 200:
                return None
            found = {s["skill_code"]: s for s in answer.json()["skills"]}.get("digcomp:3.4")
            return found if found and found["external_supply"] else None

        balance = await eventually(programming, what="the reported figure in the profile")
        # 2 needed at level 4, the member's people at level 1; 5 people at level 4 from the training provider:
        # enough people around, but the member's own are 3 levels short (the gap rule comes before surplus).
        assert (balance["demand"], balance["member_supply"], balance["external_supply"]) == (2, 0, 5)
        assert balance["imbalance"] == "gap"
        assert "5 people available (0 in member companies, 5 reported by other systems)" in balance["explanation"]
        assert balance["sources"] == ["TechSkills Academy (training provider) (cluster c-k)"]
        assert (await api.get("/supply-reports")).json()["total"] == 1

        posted = await api.post(
            "/supply-reports",
            json={
                "report_id": "ams-2026-02",
                "source": "AMS (regional employment agency)",
                "scope": "region",
                "scope_id": "AT13",
                "as_of": "2026-02-28",
                "figures": [{"skill_code": "greencomp:2.1", "headcount": 4}],
            },
        )
        assert posted.status_code == 201, posted.text

    published = await eventually(lambda: records_at_least(kafka_bootstrap, topic, 6), what="the API's report event")
    ours = [r for r in published if header(r, "ce_source") == "/trellis/skills"]
    mine = [from_kafka(r.headers, r.value) for r in ours]
    assert [(e.type, e.subject, (e.data or {})["report_id"]) for e in mine] == [(SUPPLY.type, "AT13", "ams-2026-02")]
    assert ours[0].key == b"AT13"

    async def own_report_recognised() -> bool:
        async with skills.db.sessions() as session:
            count = await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_id == mine[0].id))
        return count == 1

    await eventually(own_report_recognised, what="our own report consumed back")
