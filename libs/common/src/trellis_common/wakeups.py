"""Waking workers when work is committed: in-process signals, and PostgreSQL LISTEN/NOTIFY across processes.

A transaction that leaves work for a worker (outbox rows for the relay, deliveries for the email sender) names
the signal (``UnitOfWork.wake``). When it commits, the workers of this process waiting on that signal wake at
once; on PostgreSQL a NOTIFY sent in the same transaction (``repositories.wakeups.notify``, delivered by the
server only on commit) wakes those of every other process too: replicas, or the API and worker processes of
one service. Polling stays, as a safety net only: a notification lost while a listener reconnects costs one
poll interval, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from trellis_common.db import Database
from trellis_common.logging import get_logger

log = get_logger(__name__)
CHANNEL = "trellis_wake"
OUTBOX = "outbox"  # outbox rows to publish
WORKERS = "workers"  # every worker: look for due work now (e.g. the manual clock moved)


class Wakeups:
    """Named signals; every waiter gets its own event, so one waking worker never clears another's."""

    def __init__(self) -> None:
        self._events: dict[str, list[asyncio.Event]] = defaultdict(list)
        self.listening = False  # other processes' notifications reach us (PostgreSQL only)

    def subscribe(self, name: str) -> asyncio.Event:
        return self.subscribe_event(name, asyncio.Event())

    def subscribe_event(self, name: str, event: asyncio.Event) -> asyncio.Event:
        """Let ``name`` set an event that may already answer to other names."""
        self._events[name].append(event)
        return event

    def fire(self, names: Iterable[str]) -> None:
        for name in names:
            for event in self._events.get(name, ()):
                event.set()


async def listen(db: Database, wakeups: Wakeups, stop: asyncio.Event, *, retry_s: float = 1.0) -> None:
    """Fire the signals other processes NOTIFY, until ``stop``; reconnects after a lost connection."""
    if db.dialect != "postgresql":
        await stop.wait()
        return

    def received(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        wakeups.fire([payload])

    while not stop.is_set():
        lost = asyncio.Event()
        try:
            async with db.engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                raw.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await raw.add_listener(CHANNEL, received)
                wakeups.listening = True
                try:
                    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
                    try:
                        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for waiter in waiters:
                            waiter.cancel()
                finally:
                    wakeups.listening = False
                    if not lost.is_set():
                        with contextlib.suppress(Exception):
                            await raw.remove_listener(CHANNEL, received)
        except Exception as exc:
            log.warning("wakeup_listener_lost", error=repr(exc), retry_in_s=retry_s)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=retry_s)
