"""The surveys service in-process: its app over ASGI, the in-memory bus and a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.support import auth
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.clock import ManualClock
from trellis_common.db import outbox
from trellis_common.envelope import from_kafka
from trellis_common.events import EventData, InvitationRequested, ResponseCompleted
from trellis_common.runtime import ServiceRuntime
from trellis_surveys.service import DEFINITION

START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
SECRET = "integration-test-secret-0123456789abcdef"
BASE_URL = "https://surveys.example.eu"


def surveys_runtime(database_url: str, broker: InMemoryBroker, **overrides: Any) -> ServiceRuntime:
    settings: dict[str, Any] = {
        "clock": "manual",
        "public_base_url": BASE_URL,
        "survey_link_secret": SECRET,
        **overrides,
    }
    runtime = runtime_for(DEFINITION, database_url=database_url, bus=InMemoryBus(broker), **settings)
    clock = runtime.clock
    assert isinstance(clock, ManualClock)
    clock.set(START)
    return runtime


@dataclass
class Surveys:
    runtime: ServiceRuntime
    broker: InMemoryBroker
    client: httpx.AsyncClient

    def move_clock(self, delta: timedelta) -> datetime:
        clock = self.runtime.clock
        assert isinstance(clock, ManualClock)
        clock.advance(delta)
        return clock.now()

    async def events(self, model: type[EventData]) -> list[Any]:
        """What the relay has published of ``model`` once the outbox is drained."""

        async def drained() -> bool:
            return await self.count(outbox, outbox.c.sent_at.is_(None)) == 0

        await eventually(drained, timeout=10, what="the outbox to drain")
        spec = spec_for_model(model)
        return [
            model.model_validate(from_kafka(r.headers, r.value).data)
            for r in self.broker.topics.get(spec.topic(), [])
            if r.value is not None
        ]

    async def invitations(self) -> list[InvitationRequested]:
        return await self.events(InvitationRequested)

    async def responses(self) -> list[ResponseCompleted]:
        return await self.events(ResponseCompleted)

    async def count(self, table: Any, *where: Any) -> int:
        async with self.runtime.db.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)

    async def outbox_rows(self, model: type[EventData]) -> int:
        return await self.count(outbox, outbox.c.event_type == spec_for_model(model).type)


async def start_surveys(database_url: str, **overrides: Any) -> AsyncIterator[Surveys]:
    broker = InMemoryBroker()
    runtime = surveys_runtime(database_url, broker, **overrides)
    await runtime.start()
    app = create_app(DEFINITION, runtime=runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            headers=auth.admin(), transport=transport, base_url="http://surveys.test"
        ) as client:
            yield Surveys(runtime, broker, client)
    finally:
        await runtime.stop()


@pytest.fixture
async def surveys(tmp_path: Path) -> AsyncIterator[Surveys]:
    # Reminders are fired by explicit scheduler ticks in these tests, not by the background worker.
    async for started in start_surveys(f"sqlite+aiosqlite:///{tmp_path / 'surveys.db'}", workers=False):
        yield started


async def ok(response: httpx.Response, expected: int = 200) -> Any:
    assert response.status_code == expected, f"{response.status_code}: {response.text}"
    return response.json()


async def cluster_with_members(client: httpx.AsyncClient, count: int = 2) -> tuple[str, list[str]]:
    cluster = await ok(await client.post("/clusters", json={"name": "Test cluster", "country": "AT"}), 201)
    ids = []
    for n in range(count):
        member = await ok(
            await client.post(
                f"/clusters/{cluster['id']}/members",
                json={
                    "name": f"Member {n}",
                    "country": "AT",
                    "contacts": [
                        {
                            "name": f"Contact {n}",
                            "email": f"c{n}@member{n}.example",
                            "language": "de" if n == 1 else "en",
                        }
                    ],
                },
            ),
            201,
        )
        ids.append(member["id"])
    return cluster["id"], ids
