"""REST API of the skills service: the taxonomy and members' assessments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from trellis_common.app import Runtime, not_found
from trellis_common.events import MemberContext, SkillGap
from trellis_skills.domain.gaps import PRIORITY_FORMULA
from trellis_skills.domain.taxonomy import load_taxonomy
from trellis_skills.models import assessments

router = APIRouter()


class SkillOut(BaseModel):
    code: str
    framework: str
    area: str
    label: str
    esco_uri: str | None


class TaxonomyOut(BaseModel):
    version: str
    count: int
    items: list[SkillOut]


class AssessmentOut(BaseModel):
    id: str
    response_id: str
    cluster_id: str
    member_id: str
    theme: str
    member_context: MemberContext
    gaps: list[SkillGap]
    priority_formula: str = PRIORITY_FORMULA
    assessed_at: datetime


@router.get("/taxonomy", response_model=TaxonomyOut, tags=["taxonomy"])
async def list_taxonomy(
    q: Annotated[str | None, Query(max_length=100, description="Text to look for in code, label or area")] = None,
    framework: Literal["digcomp", "greencomp", "intl"] | None = None,
) -> dict[str, Any]:
    taxonomy = load_taxonomy()
    items = taxonomy.search(q, framework)
    return {"version": taxonomy.version, "count": len(items), "items": [vars(e) for e in items]}


@router.get("/taxonomy/{code}", response_model=SkillOut, tags=["taxonomy"])
async def get_skill(code: str) -> dict[str, Any]:
    entry = load_taxonomy().get(code)
    if entry is None:
        raise not_found("skill", code)
    return vars(entry)


@router.get("/members/{member_id}/assessments", response_model=list[AssessmentOut], tags=["assessments"])
async def member_assessments(
    member_id: str, runtime: Runtime, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    async with runtime.db.sessions() as session:
        rows = (
            await session.execute(
                select(assessments)
                .where(assessments.c.member_id == member_id)
                .order_by(assessments.c.assessed_at.desc())
                .limit(limit)
            )
        ).mappings()
        return [dict(r) for r in rows]


@router.get("/assessments/{assessment_id}", response_model=AssessmentOut, tags=["assessments"])
async def get_assessment(assessment_id: str, runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = (await session.execute(select(assessments).where(assessments.c.id == assessment_id))).mappings().first()
    if row is None:
        raise not_found("assessment", assessment_id)
    return dict(row)
