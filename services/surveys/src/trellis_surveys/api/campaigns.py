"""Campaigns: launch a published template to members, follow progress, read the results.

A campaign belongs to its cluster: the cluster's readers follow it, its managers launch it.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response

from trellis_common.app import CorrelationId, Runtime, invalid, not_found
from trellis_common.auth import Reader, Scope, Writer
from trellis_common.rate_limit import EmailLimit
from trellis_common.settings import narrowed
from trellis_surveys.api.directory import require_cluster
from trellis_surveys.campaigns import invitation_event
from trellis_surveys.domain.results import question_counts
from trellis_surveys.domain.templates import Question, QuestionType, TemplateStatus
from trellis_surveys.recording import new_id
from trellis_surveys.repositories.campaigns import (
    add_campaign,
    bring_reminders_forward,
    campaign_responses,
    cluster_campaigns,
    contacts_to_invite,
    find_campaign,
    invitation_tallies,
    mark_closed,
)
from trellis_surveys.repositories.templates import get_template
from trellis_surveys.schemas import CampaignIn, CampaignOut, RemindersOut
from trellis_surveys.settings import SurveysSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter(tags=["campaigns"])


async def _campaign_out(session: AsyncSession, scope: Scope, row: dict[str, Any]) -> dict[str, Any]:
    tallies = await invitation_tallies(session, scope, row["id"])
    invited, answered = tallies["members_invited"], tallies["members_completed"]
    return {
        **row,
        "reminder_after_hours": row["reminder_after_s"] / 3600,
        "progress": {**tallies, "response_rate": round(answered / invited, 4) if invited else 0.0},
    }


async def _campaign(session: AsyncSession, scope: Scope, campaign_id: str) -> dict[str, Any]:
    """A campaign in scope, or the 404 of an unknown id."""
    row = await find_campaign(session, scope, campaign_id)
    if row is None:
        raise not_found("campaign", campaign_id)
    return row


@router.post(
    "/clusters/{cluster_id}/campaigns",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignOut,
    summary="Launch a survey: one surveys.invitation.requested per contact of the selected members",
)
async def launch_campaign(
    cluster_id: str,
    body: CampaignIn,
    runtime: Runtime,
    scope: Writer,
    correlation: CorrelationId,
    _limit: EmailLimit,  # after the scope: authentication has run, the limit is per caller
) -> dict[str, Any]:
    settings = narrowed(runtime.settings, SurveysSettings)
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        session, now = uow.session, uow.now
        await require_cluster(session, scope, cluster_id)
        stored = await get_template(session, scope, body.template_id, body.template_version)
        if stored is not None and body.template_version is None and stored.status is not TemplateStatus.PUBLISHED:
            stored = await get_template(session, scope, body.template_id, published=True) or stored
        if stored is None or (stored.cluster_id not in (None, cluster_id)):
            raise invalid("template_id", f"no template {body.template_id!r} for this cluster")
        if stored.status is not TemplateStatus.PUBLISHED:
            raise invalid("template_id", f"{stored.template.key} is a draft; publish it first")
        closes_at = body.closes_at or now + timedelta(days=settings.campaign_days)
        if closes_at <= now:
            raise invalid("closes_at", "must be in the future")
        selected = await contacts_to_invite(
            session,
            scope,
            cluster_id,
            member_ids=body.member_ids,
            member_type=body.member_type,
            country=body.country,
        )
        if body.member_ids is not None:
            found = {m for _, m, _ in selected}
            missing = [m for m in body.member_ids if m not in found]
            if missing:
                raise invalid("member_ids", f"not members of this cluster with a contact: {missing[:10]}")
        if not selected:
            raise invalid("member_ids", "no contacts to invite")
        reminder_after = (
            timedelta(hours=body.reminder_after_hours) if body.reminder_after_hours else settings.reminder_after
        )
        campaign = {
            "id": new_id(),
            "cluster_id": cluster_id,
            "title": body.title or stored.template.title,
            "template_id": stored.template.id,
            "template_version": stored.template.version,
            "theme": stored.template.theme,
            "launched_at": now,
            "closes_at": closes_at,
            "reminder_after_s": int(reminder_after.total_seconds()),
            "max_reminders": settings.max_reminders if body.max_reminders is None else body.max_reminders,
        }
        first_reminder = now + reminder_after
        rows = [
            {
                "id": new_id(),
                "campaign_id": campaign["id"],
                "cluster_id": cluster_id,
                "member_id": member_id,
                "contact_id": contact_id,
                "language": language,
                "invited_at": now,
                "reminders_sent": 0,
                "next_reminder_at": first_reminder
                if campaign["max_reminders"] and first_reminder < closes_at
                else None,
            }
            for contact_id, member_id, language in selected
        ]
        await add_campaign(session, campaign, rows)
        for row in rows:
            uow.emit(invitation_event(settings, campaign, row, 0, stored.template))
        out = await _campaign_out(session, scope, campaign)
    runtime.wake_workers()
    return out


@router.post(
    "/campaigns/{campaign_id}/reminders",
    response_model=RemindersOut,
    summary="Remind the contacts who have not answered now, instead of at their next reminder time",
    responses={409: {"description": "The campaign is closed"}},
)
async def remind_now(campaign_id: str, runtime: Runtime, scope: Writer, correlation: CorrelationId) -> dict[str, int]:
    """Brings each non-responder's next reminder forward to now; the reminder job sends it (once, claimed per
    invitation and reminder number, as scheduled reminders are). A contact who has had the campaign's
    ``max_reminders`` gets none: the count says how many."""
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        campaign = await _campaign(uow.session, scope, campaign_id)
        if campaign["closes_at"] <= uow.now:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="the campaign is closed")
        scheduled, used_up = await bring_reminders_forward(uow.session, campaign_id, campaign["max_reminders"], uow.now)
    runtime.wake_workers()
    return {"scheduled": scheduled, "reminders_used_up": used_up}


@router.post(
    "/campaigns/{campaign_id}/close",
    response_model=CampaignOut,
    summary="Close a campaign now: its links stop taking answers and no reminder follows",
    responses={409: {"description": "The campaign is already closed"}},
)
async def close_campaign(
    campaign_id: str, runtime: Runtime, scope: Writer, correlation: CorrelationId
) -> dict[str, Any]:
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        campaign = await _campaign(uow.session, scope, campaign_id)
        if campaign["closes_at"] <= uow.now:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="the campaign is already closed")
        campaign["closes_at"] = uow.now
        await mark_closed(uow.session, campaign_id, uow.now)
        return await _campaign_out(uow.session, scope, campaign)


@router.get("/clusters/{cluster_id}/campaigns", response_model=list[CampaignOut])
async def list_campaigns(cluster_id: str, runtime: Runtime, scope: Reader) -> list[dict[str, Any]]:
    async with runtime.db.sessions() as session:
        await require_cluster(session, scope, cluster_id)
        rows = await cluster_campaigns(session, scope, cluster_id)
        return [await _campaign_out(session, scope, r) for r in rows]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, summary="A campaign with its progress")
async def get_campaign(campaign_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        return await _campaign_out(session, scope, await _campaign(session, scope, campaign_id))


@router.get(
    "/campaigns/{campaign_id}/results",
    summary="Responses of a campaign and counts per question (format=csv for a spreadsheet)",
    response_model=None,
)
async def campaign_results(
    campaign_id: str,
    runtime: Runtime,
    scope: Reader,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> dict[str, Any] | Response:
    async with runtime.db.sessions() as session:
        campaign = await _campaign(session, scope, campaign_id)
        stored = await get_template(session, scope, campaign["template_id"], campaign["template_version"])
        assert stored is not None
        rows = await campaign_responses(session, scope, campaign_id)
    template = stored.template
    if format == "csv":
        return Response(
            _results_csv(template.questions, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'},
        )
    return {
        "campaign_id": campaign_id,
        "template": template.key,
        "responses": [
            {
                "response_id": r["id"],
                "member_id": r["member_id"],
                "member_name": r["member_name"],
                "completed_at": r["completed_at"],
                "answers": r["answers"],
                "skills": r["skills"],
            }
            for r in rows
        ],
        "questions": question_counts(template, [(r["answers"], r["skills"]) for r in rows]),
    }


def _results_csv(questions: list[Question], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    plain = [q for q in questions if q.type is not QuestionType.SKILL_MATRIX]  # the matrix is the skills column
    writer.writerow(["member_id", "member_name", "completed_at", *[q.id for q in plain], "skills"])
    for r in rows:
        cells = []
        for q in plain:
            value = r["answers"].get(q.id, "")
            cells.append(";".join(map(str, value)) if isinstance(value, list) else value)
        skills = ";".join(
            f"{s['skill_code']}={s['current_level']}/{s['required_level']} "
            f"({s['headcount_having']}/{s['headcount_needed']}, importance {s['importance']})"
            for s in r["skills"]
        )
        writer.writerow(
            [
                r["member_id"],
                _safe(r["member_name"]),
                r["completed_at"].isoformat(),
                *[_safe(str(c)) for c in cells],
                skills,
            ]
        )
    return out.getvalue()


def _safe(cell: str) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell
