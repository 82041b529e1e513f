"""What one arriving gaps event costs matchmaking, against how many gaps are already open in the period.

    scripts/infra up && eval "$(scripts/infra env)"
    .venv/bin/python benchmarks/matchmaking_per_event.py                    # 500, 2,000 and 20,000 open gaps
    .venv/bin/python benchmarks/matchmaking_per_event.py --open 500 --open 20000 --events 30

For each size: a fresh PostgreSQL database, the matchmaking service in-process (no consumer, no relay), 200
offers of 20 seats over 12 skills, then ``--open`` gaps of the current period (3 per member), then
``--events`` more members' gaps events handled one at a time through the service's handler, each in its own
transaction as the consumer would apply a batch of one. Prints the median and p90 milliseconds per event, and
the statements per event sent to PostgreSQL (each a round trip).

The open gaps are put in place as the code under test would have them: through its batch handler when it
has one (so seats are taken and the rest wait), otherwise as rows of its needs table (a release that
re-solved the whole period on every event kept nothing else).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, insert

sys.path.insert(0, str(Path(__file__).parent))

from loopkit.platform import asyncpg_dsn
from loopkit.workload import SKILLS

from trellis_common.bus.memory import InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.consumer import Incoming
from trellis_common.envelope import CloudEvent
from trellis_common.events import GapsAssessed, MemberContext, SkillGap, SurveyTheme, Trend
from trellis_common.logging import configure_logging
from trellis_common.runtime import ServiceRuntime
from trellis_matchmaking import handlers, models
from trellis_matchmaking.matching import current_period
from trellis_matchmaking.models import member_needs, offers, partners
from trellis_matchmaking.service import DEFINITION
from trellis_matchmaking.settings import MatchmakingSettings

GAPS = spec_for_model(GapsAssessed)
CONTEXT = MemberContext(country="AT", region="AT13", languages=["de", "en"])


def _gap(rng: random.Random, code: str) -> SkillGap:
    current = rng.randint(0, 4)
    required = rng.randint(current + 1, 6)
    headcount = rng.randint(0, 5)
    importance = rng.randint(2, 5)
    priority = importance * (required - current + 0.5 * headcount)
    return SkillGap(
        skill_code=code,
        skill_label=code,
        framework="digcomp",
        current_level=current,
        required_level=required,
        level_gap=required - current,
        headcount_having=1,
        headcount_needed=1 + headcount,
        headcount_gap=headcount,
        importance=importance,
        priority=priority,
        priority_formula="",
        trend=Trend.NEW,
    )


def _assessed(rng: random.Random, member_id: str, now: datetime) -> GapsAssessed:
    return GapsAssessed(
        assessment_id=str(uuid.uuid4()),
        response_id=str(uuid.uuid4()),
        cluster_id="c-bench",
        member_id=member_id,
        theme=SurveyTheme.DIGITAL,
        member_context=CONTEXT,
        gaps=[_gap(rng, code) for code in rng.sample(SKILLS, 3)],
        assessed_at=now,
    )


def _envelope(data: GapsAssessed) -> CloudEvent:
    return CloudEvent(source="/bench", type=GAPS.type, subject=data.member_id, data=data.model_dump(mode="json"))


def _insert_offers() -> Any:
    """The release's insert of offers with their skill index, wherever its repository keeps it (None before the
    index existed)."""
    for module in ("trellis_matchmaking.repositories.registry", "trellis_matchmaking.repository"):
        try:
            return getattr(importlib.import_module(module), "insert_offers", None)
        except ModuleNotFoundError:
            continue
    return None


async def _seed_offers(runtime: ServiceRuntime, rng: random.Random, count: int, seats: int) -> None:
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        rows.append(
            {
                "id": f"o-{i:04d}",
                "partner_id": f"p-{i // 5:03d}",
                "title": f"Offer {i}",
                "skill_codes": sorted(rng.sample(SKILLS, rng.choice((1, 2)))),
                "max_level": rng.choice((6, 7, 8)),
                "format": rng.choice(("training", "masterclass", "coaching", "mentoring")),
                "delivery": "online",
                "countries": [],
                "languages": [],
                "seats": seats,
            }
        )
    async with runtime.unit_of_work() as uow:
        partner_rows = [
            {"id": f"p-{p:03d}", "name": f"Partner {p}", "partner_type": "university", "created_at": now}
            for p in range(count // 5 + 1)
        ]
        await uow.session.execute(insert(partners), partner_rows)
        insert_offers = _insert_offers()
        if insert_offers is not None:
            await insert_offers(uow.session, rows)
        else:
            await uow.session.execute(insert(offers), rows)


async def _introduce(runtime: ServiceRuntime, member_ids: list[str]) -> None:
    """The members as surveys.member.changed brought them (matchmaking places gaps of known members only)."""
    names = getattr(models, "NAMES", None)
    if names is None:  # a version before members had to be known
        return
    now = datetime.now(UTC)
    rows = [{"member_id": m, "cluster_id": "c-bench", "name": f"Member {m}", "changed_at": now} for m in member_ids]
    async with runtime.db.sessions() as session, session.begin():
        for start in range(0, len(rows), 5000):
            await session.execute(insert(names.members), rows[start : start + 5000])


async def _seed_open_gaps(runtime: ServiceRuntime, rng: random.Random, gaps: int) -> None:
    now = datetime.now(UTC)
    members = [f"seed-{i:06d}" for i in range(gaps // 3)]
    await _introduce(runtime, members)
    batch_handler = getattr(handlers, "on_gaps_assessed_batch", None)
    if batch_handler is not None:
        from trellis_common.consumer import Handling  # type: ignore[attr-defined,unused-ignore]
        from trellis_common.unit_of_work import flush_outboxes  # type: ignore[attr-defined,unused-ignore]

        for start in range(0, len(members), 500):
            async with runtime.db.sessions() as session, session.begin():
                batch = []
                for member_id in members[start : start + 500]:
                    data = _assessed(rng, member_id, now)
                    envelope = _envelope(data)
                    unit = runtime.new_unit_of_work(session, cause=envelope)
                    batch.append(Handling(unit, Incoming(envelope, data, member_id)))
                await batch_handler(batch)
                await flush_outboxes(h.uow for h in batch)
        return
    settings = runtime.settings
    assert isinstance(settings, MatchmakingSettings)
    period = current_period(settings, now)
    rows = []
    for member_id in members:
        data = _assessed(rng, member_id, now)
        rows.append(
            {
                "member_id": member_id,
                "cluster_id": data.cluster_id,
                "assessment_id": data.assessment_id,
                "period": period,
                "member_context": data.member_context.model_dump(mode="json"),
                "gaps": [g.model_dump(mode="json") for g in data.gaps],
                "assessed_at": now,
                "updated_at": now,
            }
        )
    async with runtime.unit_of_work() as uow:
        await uow.session.execute(insert(member_needs), rows)


async def measure(pg_admin_url: str, open_gaps: int, events: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    name = f"bench_mm_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(pg_admin_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{pg_admin_url.rpartition('/')[0]}/{name}"
    settings = MatchmakingSettings(
        database_url=url, bus="memory", consume=False, relay=False, workers=False, environment="dev"
    )
    runtime = ServiceRuntime(DEFINITION, settings, bus=InMemoryBus())
    await runtime.start()
    try:
        await _seed_offers(runtime, rng, 200, 20)
        started = time.perf_counter()
        await _seed_open_gaps(runtime, rng, open_gaps)
        seeded_s = time.perf_counter() - started
        async with runtime.db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
        timings = []
        statements = 0

        def count(*_: Any) -> None:  # every statement the timed events send to PostgreSQL (round trips)
            nonlocal statements
            statements += 1

        event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)
        await _introduce(runtime, [f"new-{i:04d}" for i in range(events)])
        for i in range(events):
            data = _assessed(rng, f"new-{i:04d}", datetime.now(UTC))
            envelope = _envelope(data)
            started = time.perf_counter()
            async with runtime.unit_of_work(cause=envelope) as uow:
                await handlers.on_gaps_assessed(uow, Incoming(envelope, data, data.member_id))
            timings.append((time.perf_counter() - started) * 1000)
        ordered = sorted(timings)
        return {
            "open_gaps": open_gaps,
            "events": events,
            "median_ms": statistics.median(timings),
            "statements": statements / events,
            "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
            "seeding_s": seeded_s,
        }
    finally:
        await runtime.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, action="append", help="open gaps before timing (repeatable)")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    sizes = args.open or [500, 2000, 20000]
    pg = os.environ.get("TRELLIS_TEST_DATABASE_URL")
    if not pg:
        sys.exit('Start the infrastructure first: scripts/infra up && eval "$(scripts/infra env)"')
    configure_logging("WARNING")
    results = [await measure(pg, size, args.events, args.seed) for size in sizes]
    base = results[0]["median_ms"]
    print(
        "| open gaps in the period | median ms per event | p90 ms | × the first size | statements per event "
        "| seeding s |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['open_gaps']:,} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['median_ms'] / base:.2f} "
            f"| {r['statements']:.1f} | {r['seeding_s']:.1f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
