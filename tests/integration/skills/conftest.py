"""The skills service in-process: PostgreSQL or SQLite, the in-memory bus or real Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import NewDatabase
from tests.support import auth
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import (
    EventData,
    MemberChanged,
    MemberContext,
    ResponseCompleted,
    SkillAnswer,
    SurveyTheme,
)
from trellis_common.runtime import ServiceRuntime
from trellis_skills.models import NAMES, assessments
from trellis_skills.service import DEFINITION as SKILLS

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def skill(code: str, current: int, required: int, having: int, needed: int, importance: int = 3) -> SkillAnswer:
    return SkillAnswer(
        skill_code=code,
        current_level=current,
        required_level=required,
        headcount_having=having,
        headcount_needed=needed,
        importance=importance,
    )


def response(
    member_id: str,
    skills: list[SkillAnswer],
    *,
    cluster_id: str = "c-1",
    region: str | None = "AT13",
    size_class: str | None = "small",
    completed_at: datetime = T0,
) -> ResponseCompleted:
    return ResponseCompleted(
        response_id=str(uuid.uuid4()),
        cluster_id=cluster_id,
        member_id=member_id,
        template_id="digital-skills",
        template_version=1,
        theme=SurveyTheme.DIGITAL,
        completed_at=completed_at,
        member_context=MemberContext(country="AT", region=region, size_class=size_class, sector="C25"),
        skills=skills,
    )


def member_changed(
    member_id: str,
    name: str,
    *,
    cluster_id: str = "c-1",
    cluster_name: str | None = "Danube Mechatronics",
    at: datetime = T0,
) -> MemberChanged:
    return MemberChanged(
        cluster_id=cluster_id,
        member_id=member_id,
        name=name,
        cluster_name=cluster_name,
        context=MemberContext(country="AT"),
        changed_at=at,
    )


def envelope(data: EventData, *, event_id: str | None = None) -> CloudEvent:
    spec = spec_for_model(type(data))
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source="/tests",
        type=spec.type,
        subject=str(getattr(data, spec.key_field)),
        correlationid="corr-skills",
        data=data.model_dump(mode="json"),
    )


async def publish(broker: InMemoryBroker, *events: EventData, announce: bool = True) -> list[str]:
    """Put events on the in-memory bus the way their producers' relays would; returns their event ids.

    ``announce``: first publish each response's member as surveys did when it was registered (with an old
    ``changed_at``, so a test's own names win); without it, responses of members nobody published wait."""
    ids = []
    if announce:
        first_clusters: dict[str, str] = {}  # a member belongs to one cluster: the first response's
        for data in events:
            if isinstance(data, ResponseCompleted):
                first_clusters.setdefault(data.member_id, data.cluster_id)
        introductions: list[EventData] = [
            member_changed(member_id, f"Member {member_id}", cluster_id=cluster_id, cluster_name=None, at=LONG_AGO)
            for member_id, cluster_id in first_clusters.items()
        ]
        events = (*introductions, *events)
    for data in events:
        spec = spec_for_model(type(data))
        event = envelope(data)
        headers, value = to_binary(event)
        await broker.append([OutgoingMessage(spec.topic(), str(getattr(data, spec.key_field)), value, headers)])
        ids.append(event.id)
    return ids


async def forget(broker: InMemoryBroker, member_id: str) -> None:
    """The member's tombstone on surveys.member.changed, as surveys publishes it when the member is deleted."""
    spec = spec_for_model(MemberChanged)
    event = CloudEvent(source="/tests", type=spec.type, subject=member_id, data=None)
    headers, value = to_binary(event)
    await broker.append([OutgoingMessage(spec.topic(), member_id, value, headers)])


async def known_member(runtime: ServiceRuntime, member_id: str) -> bool:
    async with runtime.db.sessions() as session:
        found = await session.scalar(select(NAMES.members.c.member_id).where(NAMES.members.c.member_id == member_id))
        return found is not None


async def assessed_count(runtime: ServiceRuntime) -> int:
    async with runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(assessments)) or 0)


def until_assessed(runtime: ServiceRuntime, count: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return await assessed_count(runtime) >= count

    return probe


@pytest.fixture(params=["postgres", "sqlite"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, new_database: NewDatabase) -> str:
    """Distributed mode runs on PostgreSQL, embedded mode on SQLite: the SQL must agree on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'skills.db'}"
    return await new_database("skills")


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


@pytest.fixture
def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of the runtime; a test changes them with ``@pytest.mark.parametrize(..., indirect=True)``."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
async def skills(database_url: str, broker: InMemoryBroker, overrides: dict[str, Any]) -> AsyncIterator[ServiceRuntime]:
    runtime = runtime_for(SKILLS, database_url=database_url, bus=InMemoryBus(broker), clock="manual", **overrides)
    runtime.clock.set(T0 + timedelta(days=1))  # type: ignore[attr-defined]
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
async def api(skills: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SKILLS, runtime=skills, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://skills"
    ) as client:
        yield client
