"""The strategy service in-process: SQLite, the in-memory bus and a manual clock that starts on a month end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.support import auth
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.auth import Scope
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.clock import ManualClock
from trellis_common.db import outbox, schedule_fires
from trellis_common.envelope import CloudEvent, from_kafka, to_binary
from trellis_common.events import (
    EventData,
    GapsAssessed,
    MatchOption,
    MemberContext,
    PartnersMatched,
    PooledOpportunity,
    ReviewDue,
    SkillGap,
    SurveyTheme,
    Trend,
)
from trellis_common.runtime import ServiceRuntime
from trellis_common.scheduler import Scheduler
from trellis_strategy.models import proposed_actions
from trellis_strategy.repositories import actions, schedules, strategies
from trellis_strategy.service import DEFINITION
from trellis_strategy.workers import ReviewDueJob

START = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)  # 10:00 in Brussels, on a month end
FIRST_DUE = datetime(2025, 4, 30, 8, 0, tzinfo=UTC)  # clamped to 30 April, 10:00 CEST
SECOND_DUE = datetime(2025, 7, 31, 8, 0, tzinfo=UTC)
THIRD_DUE = datetime(2025, 10, 31, 9, 0, tzinfo=UTC)  # 10:00 CET again
MATCHED = spec_for_model(PartnersMatched)
GAPS = spec_for_model(GapsAssessed)
REVIEW_DUE = spec_for_model(ReviewDue)
# What tests read the database with, behind the API (like the service's own work, never a request).
EVERYTHING = Scope.everything("tests")


def partners_matched(
    cluster_id: str = "c-1",
    member_id: str = "m-1",
    *,
    pool_size: int = 3,
    run_id: str | None = None,
    option_skill: str = "digcomp:5.2",
    pool_skill: str = "digcomp:1.3",
) -> PartnersMatched:
    return PartnersMatched(
        match_run_id=run_id or f"run-{uuid.uuid4()}",
        assessment_id=f"a-{member_id}",
        cluster_id=cluster_id,
        member_id=member_id,
        options=[
            MatchOption(
                rank=rank,
                skill_code=option_skill,
                partner_id=f"p-{rank}",
                partner_name=partner,
                partner_type="digital_innovation_hub",
                offer_id=f"o-{rank}",
                offer_title="Data literacy",
                format="training",
                delivery="online",
                score=1.0 / rank,
                explanation=[],
            )
            for rank, partner in ((2, "Runner-up Academy"), (1, "DIH Flanders"))
        ],
        pooled=[
            PooledOpportunity(
                pool_id=f"pool-{uuid.uuid4()}",
                skill_code=pool_skill,
                partner_id="p-9",
                partner_name="KU Leuven",
                offer_id="o-9",
                offer_title="Data bootcamp",
                member_count=pool_size,
                seats=12,
            )
        ],
        matched_at=START,
    )


def gaps_assessed(cluster_id: str = "c-1", member_id: str = "m-1", skills: tuple[str, ...] = ()) -> GapsAssessed:
    return GapsAssessed(
        assessment_id=f"a-{uuid.uuid4()}",
        response_id=f"r-{uuid.uuid4()}",
        cluster_id=cluster_id,
        member_id=member_id,
        theme=SurveyTheme.DIGITAL,
        member_context=MemberContext(),
        gaps=[
            SkillGap(
                skill_code=code,
                skill_label=code,
                framework=code.partition(":")[0],
                current_level=2,
                required_level=4,
                level_gap=2,
                headcount_having=1,
                headcount_needed=3,
                headcount_gap=2,
                importance=4,
                priority=12.0,
                priority_formula="4 × (2 + 0.5 × 2) = 12",
                trend=Trend.NEW,
            )
            for code in skills
        ],
        assessed_at=START,
    )


async def publish(broker: InMemoryBroker, data: EventData, *, event_id: str | None = None) -> str:
    """Put an upstream event on the bus the way its producer's relay would; returns its event id."""
    spec = spec_for_model(type(data))
    key = str(getattr(data, spec.key_field))
    event = CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source="/tests/upstream",
        type=spec.type,
        subject=key,
        data=data.model_dump(mode="json"),
    )
    headers, value = to_binary(event)
    await broker.append([OutgoingMessage(spec.topic(), key, value, headers)])
    return event.id


def reviews_on_bus(broker: InMemoryBroker) -> list[ReviewDue]:
    reviews = []
    for record in broker.topics[REVIEW_DUE.topic()]:
        event = from_kafka(record.headers, record.value)
        assert event.type == REVIEW_DUE.type
        reviews.append(ReviewDue.model_validate(event.data))
    return reviews


def move_clock(runtime: ServiceRuntime, moment: datetime, *, wake: bool = True) -> None:
    clock = runtime.clock
    assert isinstance(clock, ManualClock)
    clock.set(moment)
    if wake:
        runtime.wake_workers()


async def tick(runtime: ServiceRuntime) -> int:
    """One scheduler pass by hand (tests that drive time themselves run without the worker)."""
    return await Scheduler([ReviewDueJob()]).tick(runtime)


def strategy_runtime(database_url: str, broker: InMemoryBroker, **overrides: Any) -> ServiceRuntime:
    runtime = runtime_for(DEFINITION, database_url=database_url, bus=InMemoryBus(broker), clock="manual", **overrides)
    move_clock(runtime, START, wake=False)
    return runtime


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'strategy.db'}"


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


@pytest.fixture
async def strategy(tmp_path: Path, broker: InMemoryBroker) -> AsyncIterator[ServiceRuntime]:
    runtime = strategy_runtime(sqlite_url(tmp_path), broker)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
async def api(strategy: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DEFINITION, runtime=strategy, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://strategy"
    ) as client:
        yield client


@pytest.fixture
async def strategy_by_hand(tmp_path: Path, broker: InMemoryBroker) -> AsyncIterator[ServiceRuntime]:
    """The service without its scheduler worker, for tests that count what their own ``tick`` fires (a worker
    ticking beside them could fire it first)."""
    runtime = strategy_runtime(sqlite_url(tmp_path), broker, workers=False)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.fixture
async def api_by_hand(strategy_by_hand: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DEFINITION, runtime=strategy_by_hand, manage_runtime=False)
    async with httpx.AsyncClient(
        headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://strategy"
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def refusing_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    """One API per module, without consumer, relay or workers, for requests that must be refused (and so
    change nothing): starting a runtime per bad-input case would cost a second each."""
    url = sqlite_url(tmp_path_factory.mktemp("strategy"))
    runtime = strategy_runtime(url, InMemoryBroker(), consume=False, relay=False, workers=False)
    await runtime.start()
    app = create_app(DEFINITION, runtime=runtime, manage_runtime=False)
    try:
        async with httpx.AsyncClient(
            headers=auth.admin(), transport=httpx.ASGITransport(app=app), base_url="http://strategy"
        ) as client:
            yield client
    finally:
        await runtime.stop()


async def ok(response: httpx.Response, expected: int = 200) -> Any:
    assert response.status_code == expected, response.text
    return response.json() if response.content else None


def problem(response: httpx.Response) -> str:
    """A 422's errors as one line: 'loc.path: message …'."""
    assert response.status_code == 422, response.text
    return " ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in response.json()["detail"])


async def schedule_of(runtime: ServiceRuntime, cluster_id: str) -> schedules.Schedule | None:
    async with runtime.db.sessions() as session:
        return await schedules.get_schedule(session, EVERYTHING, cluster_id)


async def overall_of(runtime: ServiceRuntime, cluster_id: str) -> strategies.Strategy | None:
    async with runtime.db.sessions() as session:
        return await strategies.overall_strategy(session, EVERYTHING, cluster_id)


async def open_actions(runtime: ServiceRuntime, cluster_id: str) -> list[str]:
    async with runtime.db.sessions() as session:
        items, _total = await actions.list_actions(
            session, EVERYTHING, cluster_id, strategy_id=None, include_reviewed=False, limit=200, offset=0
        )
    return [item["text"] for item in items]


async def count_rows(runtime: ServiceRuntime, table: Any, *where: Any) -> int:
    async with runtime.db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def review_events_written(runtime: ServiceRuntime) -> int:
    return await count_rows(runtime, outbox, outbox.c.event_type == REVIEW_DUE.type)


async def fires_recorded(runtime: ServiceRuntime) -> int:
    return await count_rows(runtime, schedule_fires)


async def outbox_sent(runtime: ServiceRuntime) -> bool:
    return await count_rows(runtime, outbox, outbox.c.sent_at.is_(None)) == 0


async def action_count(runtime: ServiceRuntime) -> int:
    return await count_rows(runtime, proposed_actions)


def reminders_fired(late: bool) -> float:
    labels = {"service": "strategy", "schedule": "review", "late": str(late).lower()}
    return REGISTRY.get_sample_value("trellis_reminders_fired_total", labels) or 0.0
