"""The embedded figure: the same burst through all services in one process (SQLite, in-process bus)."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text

from loopkit.workload import Cluster, response_event, seed_cluster, seed_partners
from trellis.embedded import build_embedded
from trellis_common import heap
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import to_binary
from trellis_common.events import ResponseCompleted
from trellis_common.logging import configure_logging


async def measure_embedded(members: int, offers: int, seats: int, seed: int, within_s: float = 600) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="trellis-loop-embedded-") as data_dir:
        configure_logging("WARNING")  # `trellis embedded --log-level WARNING`: a console line per event is not measured
        platform = build_embedded(Path(data_dir), fast=False)
        # No SMTP pacing, as in the distributed run: the figure is the platform's own ceiling.
        notifications = platform.runtimes["notifications"]
        notifications.settings = notifications.settings.model_copy(update={"smtp_rate_per_s": 0})
        async with LifespanManager(platform.app):
            heap.settle_after_start()  # as `trellis embedded` does once started
            transport = httpx.ASGITransport(app=platform.app)
            headers = platform.admin_headers()
            surveys = httpx.AsyncClient(
                transport=transport, base_url="http://embedded/surveys", headers=headers, timeout=300
            )
            matchmaking = httpx.AsyncClient(
                transport=transport, base_url="http://embedded/matchmaking", headers=headers, timeout=300
            )
            async with surveys, matchmaking:
                cluster = await seed_cluster(surveys, "embedded", members)
                await seed_partners(matchmaking, offers, seats, rng)
            directory = platform.runtimes["notifications"].db
            deadline = time.monotonic() + within_s
            while time.monotonic() < deadline:  # contacts first, so no email waits for its recipient
                async with directory.sessions() as session:
                    if (await session.scalar(text("SELECT count(*) FROM contacts")) or 0) >= members:
                        break
                await asyncio.sleep(0.2)
            topic = spec_for_model(ResponseCompleted).topic("")
            messages = []
            for member_id in cluster.member_ids:
                headers_, value = to_binary(response_event(cluster, member_id, rng))
                messages.append(OutgoingMessage(topic, member_id, value, headers_))
            wanted = {Cluster.address("embedded", i) for i in range(members)}
            started = time.monotonic()
            await InMemoryBus(platform.broker).publish(messages)
            deadline = started + within_s
            emailed: set[str] = set()
            while time.monotonic() < deadline:
                emailed = {r for m in platform.mail.messages for r in m.recipients if r in wanted}
                if len(emailed) >= members:
                    break
                await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
    return {"responses": members, "emailed": len(emailed), "seconds": elapsed, "rate": len(emailed) / elapsed}
