"""The strategy service in-process: SQLite, the in-memory bus and a manual clock that starts on a month end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.support.runtime import runtime_for
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.clock import ManualClock
from trellis_common.db import outbox, schedule_fires
from trellis_common.envelope import CloudEvent, from_kafka, to_binary
from trellis_common.events import MatchOption, PartnersMatched, PooledOpportunity, ReviewDue
from trellis_common.runtime import ServiceRuntime
from trellis_strategy import repository
from trellis_strategy.models import proposed_actions
from trellis_strategy.service import DEFINITION

START = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)  # 10:00 in Brussels, on a month end
FIRST_DUE = datetime(2025, 4, 30, 8, 0, tzinfo=UTC)  # clamped to 30 April, 10:00 CEST
SECOND_DUE = datetime(2025, 7, 31, 8, 0, tzinfo=UTC)
MATCHED = spec_for_model(PartnersMatched)
REVIEW_DUE = spec_for_model(ReviewDue)


def partners_matched(
    cluster_id: str = "c-1", member_id: str = "m-1", *, pool_size: int = 3, run_id: str | None = None
) -> PartnersMatched:
    return PartnersMatched(
        match_run_id=run_id or f"run-{uuid.uuid4()}",
        assessment_id=f"a-{member_id}",
        cluster_id=cluster_id,
        member_id=member_id,
        options=[
            MatchOption(rank=rank, skill_code="digcomp:5.2", partner_id=f"p-{rank}", partner_name=partner,
                        partner_type="digital_innovation_hub", offer_id=f"o-{rank}", offer_title="Data literacy",
                        format="training", delivery="online", score=1.0 / rank, explanation=[])
            for rank, partner in ((2, "Runner-up Academy"), (1, "DIH Flanders"))
        ],
        pooled=[
            PooledOpportunity(pool_id=f"pool-{uuid.uuid4()}", skill_code="digcomp:1.3", partner_id="p-9",
                              partner_name="KU Leuven", offer_id="o-9", offer_title="Data bootcamp",
                              member_count=pool_size, seats=12)
        ],
        matched_at=START,
    )


async def publish(broker: InMemoryBroker, data: PartnersMatched, *, event_id: str | None = None) -> str:
    """Put a matchmaking event on the bus the way matchmaking's relay would; returns its event id."""
    event = CloudEvent(id=event_id or str(uuid.uuid4()), source="/tests/matchmaking", type=MATCHED.type,
                       subject=data.member_id, data=data.model_dump(mode="json"))
    headers, value = to_binary(event)
    await broker.append([OutgoingMessage(MATCHED.topic(), data.member_id, value, headers)])
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


async def schedule_of(runtime: ServiceRuntime, cluster_id: str) -> repository.Schedule | None:
    async with runtime.db.sessions() as session:
        return await repository.get_schedule(session, cluster_id)


async def open_actions(runtime: ServiceRuntime, cluster_id: str) -> list[str]:
    async with runtime.db.sessions() as session:
        return await repository.open_action_texts(session, cluster_id, 100)


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
