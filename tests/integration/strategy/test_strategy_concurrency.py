"""A review recorded by one replica while another replica's scheduler is advancing the same schedule.

The scheduler reads a due schedule, decides, and writes the schedule back. If a review could commit between that
read and that write, the scheduler would write its stale state over it: the strategy would be overdue again and
its board would be told of a review that was held. The tests stop a real scheduler pass right after its read,
record the review from a second replica whose lock waits end at once (a waiting replica would wait for the test
itself), let the pass finish, then record the review again if it had to wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import NewDatabase
from tests.integration.strategy.conftest import (
    FIRST_DUE,
    SECOND_DUE,
    move_clock,
    ok,
    sqlite_url,
    strategy_runtime,
    tick,
)
from tests.support import auth
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBroker
from trellis_common.runtime import ServiceRuntime
from trellis_strategy.repositories import schedules
from trellis_strategy.service import DEFINITION

HELD = FIRST_DUE + timedelta(minutes=1)


def _without_lock_waits(runtime: ServiceRuntime) -> None:
    """The replica's connections give up on a lock at once (SQLite) or almost at once (PostgreSQL)."""
    sqlite = runtime.db.dialect == "sqlite"

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 0" if sqlite else "SET lock_timeout = '200ms'")
        cursor.close()
        dbapi_connection.commit()  # the pool rolls back on return, which would undo a SET made in its transaction

    event.listen(runtime.db.engine.sync_engine, "connect", on_connect)


async def _start(url: str, broker: InMemoryBroker) -> tuple[ServiceRuntime, ServiceRuntime]:
    """A scheduler replica whose passes the test drives, and an API replica, on one database."""
    scheduler = strategy_runtime(url, broker, workers=False, consume=False, relay=False)
    api = strategy_runtime(url, broker, workers=False, consume=False, relay=False, migrate_on_start=False)
    _without_lock_waits(api)
    await scheduler.start()
    await api.start()
    return scheduler, api


@pytest.fixture
async def on_sqlite(tmp_path: Path, broker: InMemoryBroker) -> AsyncIterator[tuple[ServiceRuntime, ServiceRuntime]]:
    scheduler, api = await _start(sqlite_url(tmp_path), broker)
    try:
        yield scheduler, api
    finally:
        await api.stop()
        await scheduler.stop()


@pytest.fixture
async def on_postgres(
    new_database: NewDatabase, broker: InMemoryBroker
) -> AsyncIterator[tuple[ServiceRuntime, ServiceRuntime]]:
    scheduler, api = await _start(await new_database("strategy"), broker)
    try:
        yield scheduler, api
    finally:
        await api.stop()
        await scheduler.stop()


def _client(runtime: ServiceRuntime) -> httpx.AsyncClient:
    app = create_app(DEFINITION, runtime=runtime, manage_runtime=False)
    # A lock wait that ends is an internal error (500) here, not an exception in the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(headers=auth.admin(), transport=transport, base_url="http://strategy")


async def test_a_review_recorded_while_the_scheduler_advances_the_schedule_is_not_lost_on_sqlite(
    on_sqlite: tuple[ServiceRuntime, ServiceRuntime], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _review_during_a_scheduler_pass(*on_sqlite, monkeypatch)


async def test_a_review_recorded_while_the_scheduler_advances_the_schedule_is_not_lost_on_postgres(
    on_postgres: tuple[ServiceRuntime, ServiceRuntime], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _review_during_a_scheduler_pass(*on_postgres, monkeypatch)


async def _review_during_a_scheduler_pass(
    scheduler: ServiceRuntime, replica: ServiceRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _client(replica) as api:
        created = await ok(await api.put("/clusters/c-1/schedule", json={"cadence": "quarterly"}), 201)
        assert created["next_due_at"] == "2025-04-30T08:00:00Z"
        sid = created["strategy_id"]
        record = {"held_at": HELD.isoformat(), "notes": "Held on the day."}
        for runtime in (scheduler, replica):
            move_clock(runtime, HELD, wake=False)

        # The scheduler's pass reads the due schedule; before it writes, the other replica records the review.
        real_due_schedules = schedules.due_schedules
        attempts: list[httpx.Response] = []

        async def read_then_let_the_review_in(*args: Any, **kwargs: Any) -> list[schedules.Schedule]:
            due = await real_due_schedules(*args, **kwargs)
            if not attempts:
                assert [s.strategy_id for s in due] == [sid]
                attempts.append(await api.post(f"/strategies/{sid}/reviews", json=record))
            return due

        monkeypatch.setattr(schedules, "due_schedules", read_then_let_the_review_in)
        assert await tick(scheduler) == 1  # the review date's own reminder: nothing was reviewed when it was read
        monkeypatch.undo()
        [during] = attempts
        # Waiting for the scheduler's lock is right; the review is recorded once the pass has committed.
        review = await ok(
            during if during.status_code == 201 else await api.post(f"/strategies/{sid}/reviews", json=record), 201
        )
        assert (review["closed_due_at"], review["next_due_at"]) == ("2025-04-30T08:00:00Z", "2025-07-31T08:00:00Z")

        # The review stands: not overdue, nothing to escalate, the next date is July's.
        schedule = await ok(await api.get(f"/strategies/{sid}/schedule"))
        assert (schedule["status"], schedule["overdue_since"], schedule["missed_reviews"]) == ("on_schedule", None, 0)
        assert schedule["next_due_at"] == "2025-07-31T08:00:00Z"
        assert (await ok(await api.get(f"/strategies/{sid}")))["last_review"]["id"] == review["id"]
        move_clock(scheduler, FIRST_DUE + timedelta(days=15), wake=False)
        assert await tick(scheduler) == 0  # no escalation of a period that was reviewed
        # The review could not slip in between the scheduler's read and its write.
        assert during.status_code != 201, "a review committed while the scheduler held the schedule"
        move_clock(scheduler, SECOND_DUE, wake=False)
        assert await tick(scheduler) == 1
