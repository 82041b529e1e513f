"""Migration 0002 carries the stored severities (trends) over into the members' skill profiles, and back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import JSON, Float, String, column, pool, select, table, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.skills.conftest import T0
from trellis_common.db import UTCDateTime
from trellis_common.migrations import alembic_config, upgrade
from trellis_skills.service import DEFINITION as SKILLS

OLD_ASSESSMENTS = table(
    "assessments",
    column("id", String),
    column("response_id", String),
    column("cluster_id", String),
    column("member_id", String),
    column("theme", String),
    column("member_context", JSON),
    column("gaps", JSON),
    column("assessed_at", UTCDateTime),
)
OLD_SEVERITY = table(
    "member_skill_severity",
    column("member_id", String),
    column("skill_code", String),
    column("severity", Float),
    column("updated_at", UTCDateTime),
)


def gap(code: str, current: int, required: int, having: int, needed: int, importance: int = 3) -> dict[str, Any]:
    level_gap, headcount_gap = max(0, required - current), max(0, needed - having)
    priority = importance * (level_gap + 0.5 * headcount_gap)
    return {
        "skill_code": code,
        "skill_label": code,
        "framework": code.split(":")[0],
        "current_level": current,
        "required_level": required,
        "level_gap": level_gap,
        "headcount_having": having,
        "headcount_needed": needed,
        "headcount_gap": headcount_gap,
        "importance": importance,
        "priority": priority,
        "priority_formula": "",
        "trend": "new",
    }


async def test_stored_severities_become_profiles_and_back(database_url: str) -> None:
    await upgrade(SKILLS, database_url, "0001")
    engine = create_async_engine(database_url, poolclass=pool.NullPool)
    later = T0 + timedelta(days=90)
    context = {"country": "AT", "region": "AT13", "size_class": "small", "sector": "C25", "member_type": "sme"}
    try:
        async with engine.begin() as conn:
            await conn.execute(
                OLD_ASSESSMENTS.insert(),
                [
                    # m-1 first: gaps in 3.4 (severity 3 + 1 = 4) and 4.2 (1)
                    {
                        "id": "a1",
                        "response_id": "r1",
                        "cluster_id": "c-1",
                        "member_id": "m-1",
                        "theme": "digital",
                        "member_context": context,
                        "gaps": [gap("digcomp:3.4", 1, 4, 0, 2), gap("digcomp:4.2", 3, 4, 2, 2)],
                        "assessed_at": T0,
                    },
                    # m-1 later: 3.4 narrower (1 + 0.5 = 1.5), 4.2 closed (severity 0, not in the gaps)
                    {
                        "id": "a2",
                        "response_id": "r2",
                        "cluster_id": "c-1",
                        "member_id": "m-1",
                        "theme": "digital",
                        "member_context": {**context, "region": "AT12"},
                        "gaps": [gap("digcomp:3.4", 3, 4, 1, 2)],
                        "assessed_at": later,
                    },
                    {
                        "id": "a3",
                        "response_id": "r3",
                        "cluster_id": "c-1",
                        "member_id": "m-2",
                        "theme": "green",
                        "member_context": {},
                        "gaps": [gap("greencomp:2.1", 0, 3, 0, 1, importance=5)],
                        "assessed_at": T0,
                    },
                ],
            )
            await conn.execute(
                OLD_SEVERITY.insert(),
                [
                    {"member_id": "m-1", "skill_code": "digcomp:3.4", "severity": 1.5, "updated_at": later},
                    {"member_id": "m-1", "skill_code": "digcomp:4.2", "severity": 0.0, "updated_at": later},
                    {"member_id": "m-2", "skill_code": "greencomp:2.1", "severity": 3.5, "updated_at": T0},
                ],
            )

        await upgrade(SKILLS, database_url)
        async with engine.connect() as conn:
            profiles = (
                await conn.execute(
                    text(
                        "SELECT member_id, skill_code, current_level, headcount_having, severity, response_id "
                        "FROM member_skill_profiles ORDER BY member_id, skill_code"
                    )
                )
            ).all()
            members = (
                await conn.execute(
                    text("SELECT member_id, region, member_type FROM cluster_members ORDER BY member_id")
                )
            ).all()
        assert [tuple(p) for p in profiles] == [
            ("m-1", "digcomp:3.4", 3, 1, 1.5, "r2"),
            ("m-2", "greencomp:2.1", 0, 0, 3.5, "r3"),
        ], "4.2 was closed later; its levels are unknown, and severity 0 and no answer both give the trend 'new'"
        assert [tuple(m) for m in members] == [("m-1", "AT12", "sme"), ("m-2", None, "sme")]

        await downgrade(database_url, "0001")
        async with engine.connect() as conn:
            severities = (
                await conn.execute(
                    select(OLD_SEVERITY.c.member_id, OLD_SEVERITY.c.skill_code, OLD_SEVERITY.c.severity).order_by(
                        "member_id"
                    )
                )
            ).all()
        assert [tuple(s) for s in severities] == [("m-1", "digcomp:3.4", 1.5), ("m-2", "greencomp:2.1", 3.5)]
        await upgrade(SKILLS, database_url)
    finally:
        await engine.dispose()


async def downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(SKILLS, url), revision)
