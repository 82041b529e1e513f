"""The matchmaking service in-process on SQLite with a manual clock; gaps events go straight to its handler."""

from __future__ import annotations

import functools
import importlib.util
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text

import trellis_matchmaking
from tests.conftest import NewDatabase
from tests.support import auth
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.clock import ManualClock
from trellis_common.consumer import Handling, Incoming
from trellis_common.db import messaging_metadata
from trellis_common.envelope import CloudEvent
from trellis_common.events import (
    GapsAssessed,
    MemberChanged,
    MemberContext,
    PartnersMatched,
    SkillGap,
    SurveyTheme,
    Trend,
)
from trellis_common.runtime import ServiceRuntime
from trellis_common.unit_of_work import flush_outboxes
from trellis_matchmaking.handlers import on_gaps_assessed, on_gaps_assessed_batch
from trellis_matchmaking.models import NAMES, metadata
from trellis_matchmaking.service import DEFINITION


@functools.cache
def seat_count_migration() -> Any:
    """Migration 0011, which holds the triggers that keep ``offer_seats`` (loaded once, from its file: migrations
    are not a package)."""
    path = Path(trellis_matchmaking.__file__).parent / "migrations" / "versions" / "0011_offer_seats.py"
    spec = importlib.util.spec_from_file_location("offer_seats_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def create_tables(engine: Engine) -> None:
    """The service's tables on SQLite without running every migration (a property test makes hundreds of
    databases), with the triggers migrations add beside the tables."""
    metadata.create_all(engine)
    messaging_metadata.create_all(engine)
    with engine.begin() as connection:
        for statement in seat_count_migration().SQLITE_TRIGGERS:
            connection.execute(text(statement))


START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # seat period 2026-Q1
GAPS = spec_for_model(GapsAssessed)
MEMBERS = spec_for_model(MemberChanged)
AT_MEMBER = MemberContext(country="AT", region="AT13", languages=["de", "en"], sector="C25")


def skill_gap(skill_code: str, current: int, required: int, headcount_gap: int, importance: int) -> SkillGap:
    """A gap as the skills service computes it: priority = importance × (level gap + 0.5 × headcount gap)."""
    level_gap = max(0, required - current)
    priority = importance * (level_gap + 0.5 * headcount_gap)
    return SkillGap(
        skill_code=skill_code,
        skill_label=skill_code,
        framework=skill_code.partition(":")[0],
        current_level=current,
        required_level=required,
        level_gap=level_gap,
        headcount_having=1,
        headcount_needed=1 + headcount_gap,
        headcount_gap=headcount_gap,
        importance=importance,
        priority=priority,
        priority_formula=f"{importance} × ({level_gap} + 0.5 × {headcount_gap}) = {priority:g}",
        trend=Trend.NEW,
    )


def gaps_assessed(
    member_id: str,
    gaps: list[SkillGap],
    *,
    cluster_id: str = "c-1",
    context: MemberContext = AT_MEMBER,
    assessed_at: datetime = START,
    assessment_id: str | None = None,
) -> GapsAssessed:
    return GapsAssessed(
        assessment_id=assessment_id or f"a-{uuid.uuid4()}",
        response_id=f"r-{uuid.uuid4()}",
        cluster_id=cluster_id,
        member_id=member_id,
        theme=SurveyTheme.DIGITAL,
        member_context=context,
        gaps=gaps,
        assessed_at=assessed_at,
    )


async def deliver(runtime: ServiceRuntime, data: GapsAssessed, *, known: bool = True) -> list[PartnersMatched]:
    """Hand the event to the handler as the consumer would (one transaction); return what it published.

    ``known``: the member was published on surveys.member.changed before (else its gaps wait for it)."""
    if known:
        await announce(runtime, data)
    envelope = CloudEvent(
        source="/tests/skills", type=GAPS.type, subject=data.member_id, data=data.model_dump(mode="json")
    )
    async with runtime.unit_of_work(cause=envelope) as uow:
        await on_gaps_assessed(uow, Incoming(envelope, data, data.member_id))
    return [PartnersMatched.model_validate(e.data) for e in uow.emitted]


async def deliver_batch(runtime: ServiceRuntime, *events: GapsAssessed) -> list[PartnersMatched]:
    """Hand several events to the batch handler in one transaction, as the consumer does with a fetched batch."""
    await announce(runtime, *events)
    async with runtime.db.sessions() as session, session.begin():
        batch = []
        for data in events:
            envelope = CloudEvent(
                source="/tests/skills", type=GAPS.type, subject=data.member_id, data=data.model_dump(mode="json")
            )
            unit = runtime.new_unit_of_work(session, cause=envelope)
            batch.append(Handling(unit, Incoming(envelope, data, data.member_id)))
        await on_gaps_assessed_batch(batch)
        await flush_outboxes(h.uow for h in batch)
    return [PartnersMatched.model_validate(e.data) for h in batch for e in h.uow.emitted]


async def announce(runtime: ServiceRuntime, *events: GapsAssessed) -> None:
    """The members of ``events`` as surveys published them before (unless matchmaking knows them already)."""
    async with runtime.db.sessions() as session:
        known = set((await session.execute(select(NAMES.members.c.member_id))).scalars())
    for data in events:
        if data.member_id not in known:
            await name_member(
                runtime, data.member_id, f"Member {data.member_id}", cluster_id=data.cluster_id, cluster_name=None
            )
            known.add(data.member_id)


async def answer_a_proposal(api: httpx.AsyncClient, outcome: str, pick: int) -> None:
    """Record ``outcome`` on the ``pick``-th open proposal (by id, wrapping round), if there is any."""
    page = (await api.get("/matches", params={"status": "proposed", "limit": 500})).json()["items"]
    if page:
        match = sorted(page, key=lambda m: m["id"])[pick % len(page)]
        answered = await api.post(f"/matches/{match['id']}/outcome", json={"outcome": outcome})
        assert answered.status_code == 200, answered.text


async def name_member(
    runtime: ServiceRuntime,
    member_id: str,
    name: str,
    *,
    cluster_id: str = "c-1",
    cluster_name: str | None = "Danube",
    at: datetime = START,
) -> None:
    """The member's (and its cluster's) name, as surveys.member.changed brings it (releasing gaps that waited)."""
    changed = MemberChanged(
        cluster_id=cluster_id,
        member_id=member_id,
        name=name,
        cluster_name=cluster_name,
        context=AT_MEMBER,
        changed_at=at,
    )
    envelope = CloudEvent(
        source="/tests/surveys",
        type=spec_for_model(MemberChanged).type,
        subject=member_id,
        data=changed.model_dump(mode="json"),
    )
    handler = DEFINITION.handlers[envelope.type]
    async with runtime.unit_of_work(cause=envelope) as uow:
        await handler(uow, Incoming(envelope, changed, member_id))


def move_clock(runtime: ServiceRuntime, moment: datetime) -> None:
    assert isinstance(runtime.clock, ManualClock)
    runtime.clock.set(moment)


def partner(name: str, partner_type: str, *offers: dict[str, Any], country: str = "AT") -> dict[str, Any]:
    return {"name": name, "partner_type": partner_type, "country": country, "offers": list(offers)}


def offer(title: str, skill: str, seats: int, **fields: Any) -> dict[str, Any]:
    return {"title": title, "skill_codes": [skill], "format": "masterclass", "seats": seats, **fields}


@pytest.fixture
async def matchmaking(tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    runtime = runtime_for(
        DEFINITION,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'matchmaking.db'}",
        bus=InMemoryBus(),
        clock="manual",
        consume=False,
    )
    move_clock(runtime, START)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
async def on_kafka(kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase) -> AsyncIterator[ServiceRuntime]:
    """The service as deployed: its consumer and relay on real Kafka, on its own PostgreSQL database."""
    runtime = runtime_for(
        DEFINITION,
        database_url=await new_database("matchmaking"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
async def api(matchmaking: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DEFINITION, runtime=matchmaking, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://matchmaking"
    ) as client:
        yield client


async def created(response: httpx.Response, code: int = 201) -> Any:
    assert response.status_code == code, response.text
    return response.json()


def problem(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return " ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in response.json()["detail"])
