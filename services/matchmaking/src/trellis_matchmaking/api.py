"""REST API of the matchmaking service: the partner registry and members' matches."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator
from sqlalchemy import func, insert, select

from trellis_common.app import Runtime, not_found
from trellis_common.events import MatchOption, PooledOpportunity
from trellis_matchmaking.domain.scoring import Delivery, OfferFormat, PartnerType
from trellis_matchmaking.models import match_runs, offers, partners

router = APIRouter()
SKILL_CODE = r"^(digcomp|greencomp|intl):[a-z0-9.\-]+$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OfferIn(Body):
    title: str = Field(min_length=1, max_length=200)
    skill_codes: list[Annotated[str, Field(pattern=SKILL_CODE)]] = Field(min_length=1, max_length=50)
    max_level: int = Field(8, ge=1, le=8, description="The proficiency level the offer lifts participants to")
    format: OfferFormat
    delivery: Delivery = Delivery.ONLINE
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(default_factory=list)
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(default_factory=list)
    seats: int = Field(ge=1, le=100_000, description="Seats per period")
    cost_eur: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def on_site_needs_countries(self) -> OfferIn:
        if self.delivery != Delivery.ONLINE and not self.countries:
            raise ValueError("on-site and hybrid offers must name the countries they are delivered in")
        return self


class OfferOut(OfferIn):
    model_config = ConfigDict(extra="ignore")  # rows carry partner_id; the output names what callers need

    id: str
    seats_taken: int


class PartnerIn(Body):
    name: str = Field(min_length=1, max_length=200)
    partner_type: PartnerType
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    website: HttpUrl | None = None
    offers: list[OfferIn] = Field(default_factory=list, max_length=100)


class PartnerOut(BaseModel):
    id: str
    name: str
    partner_type: PartnerType
    country: str | None
    website: str | None
    offers: list[OfferOut]


class PartnerPage(BaseModel):
    items: list[PartnerOut]
    total: int


class MatchRunOut(BaseModel):
    id: str
    assessment_id: str
    cluster_id: str
    member_id: str
    options: list[MatchOption]
    pooled: list[PooledOpportunity]
    matched_at: datetime


@router.post("/partners", status_code=status.HTTP_201_CREATED, response_model=PartnerOut, tags=["partners"])
async def create_partner(body: PartnerIn, runtime: Runtime) -> dict[str, Any]:
    partner_id = str(uuid.uuid4())
    offer_rows = [
        {"id": str(uuid.uuid4()), "partner_id": partner_id, "seats_taken": 0, **o.model_dump(mode="json")}
        for o in body.offers
    ]
    async with runtime.unit_of_work() as uow:
        await uow.session.execute(
            insert(partners).values(
                id=partner_id,
                name=body.name,
                partner_type=body.partner_type,
                country=body.country,
                website=str(body.website) if body.website else None,
                created_at=uow.now,
            )
        )
        if offer_rows:
            await uow.session.execute(insert(offers), offer_rows)
    return await _partner(runtime, partner_id)


async def _partner(runtime: Runtime, partner_id: str) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = (await session.execute(select(partners).where(partners.c.id == partner_id))).mappings().first()
        if row is None:
            raise not_found("partner", partner_id)
        offered = (await session.execute(select(offers).where(offers.c.partner_id == partner_id))).mappings().all()
    return {**row, "offers": [dict(o) for o in offered]}


@router.get("/partners/{partner_id}", response_model=PartnerOut, tags=["partners"])
async def get_partner(partner_id: str, runtime: Runtime) -> dict[str, Any]:
    return await _partner(runtime, partner_id)


@router.get("/partners", response_model=PartnerPage, tags=["partners"])
async def list_partners(
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    partner_type: PartnerType | None = None,
) -> dict[str, Any]:
    where = [partners.c.partner_type == partner_type] if partner_type else []
    async with runtime.db.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(partners).where(*where))
        ids = (
            await session.scalars(
                select(partners.c.id).where(*where).order_by(partners.c.name, partners.c.id).limit(limit).offset(offset)
            )
        ).all()
    return {"items": [await _partner(runtime, i) for i in ids], "total": total or 0}


@router.get("/members/{member_id}/matches", response_model=list[MatchRunOut], tags=["matches"])
async def member_matches(
    member_id: str, runtime: Runtime, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    async with runtime.db.sessions() as session:
        rows = (
            await session.execute(
                select(match_runs)
                .where(match_runs.c.member_id == member_id)
                .order_by(match_runs.c.matched_at.desc())
                .limit(limit)
            )
        ).mappings()
        return [dict(r) for r in rows]
