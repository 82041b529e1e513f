"""Pages anyone can reach are rate limited per client (or per link), and so are routes that send email."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import auth
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.runtime import ServiceDefinition
from trellis_notifications.service import DEFINITION as NOTIFICATIONS
from trellis_strategy.service import DEFINITION as STRATEGY
from trellis_surveys.service import DEFINITION as SURVEYS


async def _client(definition: ServiceDefinition, tmp_path: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    runtime = runtime_for(definition, database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", **settings)
    await runtime.start()
    try:
        app = create_app(definition, runtime=runtime, manage_runtime=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
            yield client
    finally:
        await runtime.stop()


@pytest.fixture
async def surveys(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(SURVEYS, tmp_path, public_rate_per_minute=3, email_trigger_rate_per_hour=1):
        yield client


@pytest.fixture
async def notifications(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(NOTIFICATIONS, tmp_path, public_rate_per_minute=2):
        yield client


async def test_the_survey_form_is_limited_per_client(surveys: httpx.AsyncClient) -> None:
    statuses = [(await surveys.get(f"/answer/not-a-token-{n}")).status_code for n in range(4)]
    assert 429 not in statuses[:3]
    assert statuses[3] == 429
    refused = await surveys.post("/answer/not-a-token", data={"csrf": "x"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


async def test_launching_campaigns_is_limited_per_caller(surveys: httpx.AsyncClient) -> None:
    admin = auth.admin()
    cluster = (await surveys.post("/clusters", json={"name": "Limits", "country": "AT"}, headers=admin)).json()
    manager = auth.bearer("cluster-manager", clusters=(cluster["id"],), subject="busy-manager")
    body = {"title": "Q1", "template_id": "no-such-template"}
    first = await surveys.post(f"/clusters/{cluster['id']}/campaigns", json=body, headers=manager)
    assert first.status_code != 429
    second = await surveys.post(f"/clusters/{cluster['id']}/campaigns", json=body, headers=manager)
    assert second.status_code == 429
    other = auth.bearer("cluster-manager", clusters=(cluster["id"],), subject="other-manager")
    assert (await surveys.post(f"/clusters/{cluster['id']}/campaigns", json=body, headers=other)).status_code != 429


async def test_unsubscribe_pages_are_limited_per_client_and_one_click_per_link(
    notifications: httpx.AsyncClient,
) -> None:
    assert [(await notifications.get(f"/unsubscribe/bad-{n}")).status_code for n in range(3)] == [400, 400, 429]
    # One-click posts come from mail providers' shared addresses: other links still go through.
    assert [(await notifications.post("/unsubscribe/same-link")).status_code for _ in range(3)] == [400, 400, 429]
    assert (await notifications.post("/unsubscribe/another-link")).status_code == 400


async def test_the_calendar_feed_is_limited_per_client(tmp_path: Path) -> None:
    async for client in _client(STRATEGY, tmp_path, public_rate_per_minute=2):
        feed = "/clusters/c-1/reviews.ics"
        statuses = [(await client.get(feed, params={"token": f"guess-{n}"})).status_code for n in range(3)]
        assert statuses[:2] == [403, 403] and statuses[2] == 429
