"""Workers wake when work commits, not at their next poll: in-process, and across processes on PostgreSQL.

The relays here poll once a minute, so an event published within seconds was published because of a wake-up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.conftest import NewDatabase
from tests.support.fixtures import completed_response
from tests.support.polling import eventually
from tests.support.runtime import emit, runtime_for
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.events import ResponseCompleted
from trellis_common.runtime import ServiceRuntime
from trellis_surveys.service import DEFINITION as SURVEYS

RESPONSES = spec_for_model(ResponseCompleted)
SLOW_POLL: dict[str, Any] = {"relay_poll_interval_s": 60.0, "retry_max_backoff_s": 60.0}


async def published_within(broker: InMemoryBroker, runtime: ServiceRuntime, seconds: float) -> float:
    """Emit one event through ``runtime`` and return how long it took to reach the bus (failing after
    ``seconds``). The first call may meet the relay's first pass; later ones find it waiting for its poll."""
    before = len(broker.topics.get(RESPONSES.topic(), []))
    started = time.monotonic()
    await emit(runtime, completed_response())

    async def arrived() -> bool:
        return len(broker.topics.get(RESPONSES.topic(), [])) > before

    await eventually(arrived, timeout=seconds, interval=0.02, what="the event on the bus")
    return time.monotonic() - started


async def test_a_commit_wakes_the_relay_of_its_own_process(tmp_path: Path) -> None:
    broker = InMemoryBroker()
    url = f"sqlite+aiosqlite:///{tmp_path / 'surveys.db'}"
    runtime = runtime_for(SURVEYS, database_url=url, bus=InMemoryBus(broker), workers=False, **SLOW_POLL)
    await runtime.start()
    try:
        await published_within(broker, runtime, 70)
        assert await published_within(broker, runtime, 5) < 5
    finally:
        await runtime.stop()


async def test_a_commit_in_one_process_wakes_the_relay_of_another(new_database: NewDatabase) -> None:
    """Two runtimes on one PostgreSQL database, as an API process and a worker process: only the second runs
    the relay, and it publishes what the first committed at once (LISTEN/NOTIFY), not a minute later."""
    url = await new_database("surveys")
    broker = InMemoryBroker()
    worker = runtime_for(SURVEYS, database_url=url, bus=InMemoryBus(broker), workers=False, **SLOW_POLL)
    api = runtime_for(
        SURVEYS, database_url=url, bus=InMemoryBus(broker), relay=False, workers=False, migrate_on_start=False
    )
    await worker.start()
    await api.start()
    try:

        async def listening() -> bool:
            return worker.wakeups.listening

        await eventually(listening, timeout=10, what="the worker to listen")
        await published_within(broker, api, 70)
        assert await published_within(broker, api, 10) < 10
    finally:
        await api.stop()
        await worker.stop()


async def test_a_commit_while_the_relay_looks_is_not_missed(tmp_path: Path) -> None:
    """A row committed after the relay's pass found nothing, but before the pass ended, is published at once:
    the signal it fires is not cleared by the relay going back to wait (a lost wake-up costs a poll)."""
    broker = InMemoryBroker()
    url = f"sqlite+aiosqlite:///{tmp_path / 'surveys.db'}"
    runtime = runtime_for(SURVEYS, database_url=url, bus=InMemoryBus(broker), workers=False, **SLOW_POLL)
    relay = runtime.relay
    look = relay.publish_batch
    late: list[float] = []

    async def look_then_commit() -> int:
        sent = await look()
        if sent == 0 and not late:  # the pass saw nothing; a commit lands before it ends
            late.append(time.monotonic())
            await emit(runtime, completed_response())
        return sent

    relay.publish_batch = look_then_commit  # type: ignore[method-assign]
    await runtime.start()
    try:

        async def published() -> bool:
            return bool(late) and len(broker.topics.get(RESPONSES.topic(), [])) == 1

        await eventually(published, timeout=5, interval=0.02, what="the late commit on the bus")
    finally:
        await runtime.stop()
