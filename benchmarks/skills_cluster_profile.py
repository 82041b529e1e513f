"""How long it takes to recompute a cluster's skills profile (default: 5,000 members × 40 skills).

Three figures, each the median of several runs:

1. in memory: ``domain.imbalance.profile_cluster`` over the members' answers (a list of 200,000 answers);
2. from the database: ``repository.cluster_profile`` as ``GET /clusters/{id}/profile`` runs it (the totals per
   skill are summed by the database with GROUP BY, then classified), on a temporary SQLite file by default,
   or on a temporary PostgreSQL database with ``--postgres <admin URL>``;
3. the member heatmap's query (the 60 members with the largest gaps and their cells).

    python benchmarks/skills_cluster_profile.py [--members 5000] [--skills 40] [--runs 5]
    python benchmarks/skills_cluster_profile.py --postgres postgresql+asyncpg://user:pass@host:port/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import insert, text

from trellis_common.auth import Scope
from trellis_common.db import Database
from trellis_common.events import SkillAnswer
from trellis_common.migrations import upgrade
from trellis_skills import repository
from trellis_skills.domain.gaps import severity
from trellis_skills.domain.imbalance import ExternalFigure, ImbalanceRules, profile_cluster
from trellis_skills.domain.taxonomy import load_taxonomy
from trellis_skills.models import cluster_members, member_skill_profiles, supply_figures
from trellis_skills.repository import HeatmapAxis
from trellis_skills.service import DEFINITION

CLUSTER = "c-bench"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
REGIONS = ["AT11", "AT12", "AT13", "AT21", "AT22"]


def generate(members: int, skills: int, seed: int = 2026) -> list[tuple[str, str, SkillAnswer]]:
    """(member id, region, answer) for every member and each of ``skills`` taxonomy skills."""
    rnd = random.Random(seed)
    codes = sorted(load_taxonomy().entries)
    if skills > len(codes):
        raise SystemExit(f"the taxonomy has {len(codes)} skills; ask for at most that many")
    rows = []
    for m in range(members):
        member, region = f"m-{m:05d}", REGIONS[m % len(REGIONS)]
        for code in codes[:skills]:
            required = rnd.randint(0, 8)
            rows.append(
                (
                    member,
                    region,
                    SkillAnswer(
                        skill_code=code,
                        current_level=rnd.randint(0, required) if rnd.random() < 0.7 else rnd.randint(0, 8),
                        required_level=required,
                        headcount_having=rnd.randint(0, 12),
                        headcount_needed=rnd.randint(0, 12),
                        importance=rnd.randint(1, 5),
                    ),
                )
            )
    return rows


def figures(skills: int) -> list[ExternalFigure]:
    codes = sorted(load_taxonomy().entries)[:skills]
    return [ExternalFigure("AMS", "region", "AT13", code, 40 + i, 4) for i, code in enumerate(codes)]


def timed(run: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def timed_async(run: Callable[[], Awaitable[Any]], runs: int) -> float:
    await run()  # warm-up: connection pool, statement cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def load(db: Database, rows: list[tuple[str, str, SkillAnswer]], skills: int) -> float:
    started = time.perf_counter()
    members = {member: region for member, region, _ in rows}
    async with db.transaction() as session:
        await session.execute(
            insert(cluster_members),
            [
                {
                    "cluster_id": CLUSTER,
                    "member_id": member,
                    "region": region,
                    "member_type": "sme",
                    "answered_at": NOW,
                    "updated_at": NOW,
                }
                for member, region in members.items()
            ],
        )
        batch = 20_000
        for start in range(0, len(rows), batch):
            await session.execute(
                insert(member_skill_profiles),
                [
                    {
                        "cluster_id": CLUSTER,
                        "member_id": member,
                        "skill_code": a.skill_code,
                        "current_level": a.current_level,
                        "required_level": a.required_level,
                        "headcount_having": a.headcount_having,
                        "headcount_needed": a.headcount_needed,
                        "importance": a.importance,
                        "severity": severity(
                            max(0, a.required_level - a.current_level), max(0, a.headcount_needed - a.headcount_having)
                        ),
                        "response_id": f"r-{member}",
                        "answered_at": NOW,
                        "updated_at": NOW,
                    }
                    for member, _, a in rows[start : start + batch]
                ],
            )
        await session.execute(
            insert(supply_figures),
            [
                {
                    "scope": f.scope,
                    "scope_key": f.scope_id,
                    "source": f.source,
                    "skill_code": f.skill_code,
                    "headcount": f.headcount,
                    "level": f.level,
                    "as_of": date(2026, 2, 28),
                    "reported_at": NOW,
                    "report_id": "bench",
                }
                for f in figures(skills)
            ],
        )
    return time.perf_counter() - started


async def on_database(url: str, rows: list[tuple[str, str, SkillAnswer]], skills: int, runs: int) -> None:
    await upgrade(DEFINITION, url)
    db = Database(url)
    await db.prepare()
    rules = ImbalanceRules()
    try:
        print(f"  loaded {len(rows):,} answers in {await load(db, rows, skills):.1f} s (not part of the figure)")
        if db.dialect == "postgresql":
            async with db.transaction() as session:
                await session.execute(text("ANALYZE"))

        async def profile() -> None:
            async with db.sessions() as session:
                result = await repository.cluster_profile(session, Scope.everything(), CLUSTER, rules)
            assert result is not None and len(result.skills) == skills

        async def totals() -> None:
            async with db.sessions() as session:
                await repository.cluster_totals(session, Scope.everything(), CLUSTER)

        async def heatmap() -> None:
            async with db.sessions() as session:
                data = await repository.heatmap_data(session, Scope.everything(), CLUSTER, HeatmapAxis.MEMBER, 60)
            assert len(data.columns) == 60

        print(f"  cluster profile (GET /clusters/{{id}}/profile): {await timed_async(profile, runs) * 1000:.0f} ms")
        print(f"    of which the GROUP BY totals:                 {await timed_async(totals, runs) * 1000:.0f} ms")
        print(
            f"  member heatmap query (60 of {len(rows) // skills:,} members):  "
            f"{await timed_async(heatmap, runs) * 1000:.0f} ms"
        )
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--skills", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="create a temporary database on this server")
    args = parser.parse_args()

    rows = generate(args.members, args.skills)
    answers = [a for _, _, a in rows]
    external = figures(args.skills)
    print(
        f"cluster of {args.members:,} members × {args.skills} skills = {len(answers):,} answers, "
        f"{len(external)} external figures; median of {args.runs} runs"
    )
    in_memory = timed(lambda: profile_cluster(answers, external, ImbalanceRules()), args.runs)
    print(f"in memory (domain.imbalance.profile_cluster over a list): {in_memory * 1000:.0f} ms")

    if args.postgres:
        base, _, _ = args.postgres.rpartition("/")
        name = f"bench_skills_{uuid.uuid4().hex[:8]}"
        admin = args.postgres.replace("postgresql+asyncpg://", "postgresql://", 1)
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        print(f"PostgreSQL (temporary database {name}):")
        try:
            await on_database(f"{base}/{name}", rows, args.skills, args.runs)
        finally:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    else:
        with tempfile.TemporaryDirectory() as folder:
            print("SQLite (temporary file):")
            await on_database(f"sqlite+aiosqlite:///{Path(folder) / 'skills.db'}", rows, args.skills, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
