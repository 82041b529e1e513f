"""Recording a completed response, whichever way it arrives (REST, the answering form)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trellis_common.events import Contact, MemberChanged, MemberContext, ResponseCompleted, SkillAnswer
from trellis_common.unit_of_work import UnitOfWork
from trellis_surveys.domain.ambitions import ContextField
from trellis_surveys.domain.answers import ValidatedResponse
from trellis_surveys.domain.templates import SurveyTemplate
from trellis_surveys.repositories.invitations import stop_member_reminders
from trellis_surveys.repositories.responses import add_response, campaign_response, replace_response


def new_id() -> str:
    return str(uuid.uuid4())


def member_context(member: dict[str, Any], answered: Mapping[ContextField, list[str]] | None = None) -> MemberContext:
    """The member's directory entry, plus what its answers say of it (a response's international ambitions)."""
    answered = answered or {}
    return MemberContext(
        country=member["country"],
        region=member["region"],
        size_class=member["size_class"],
        sector=member["sector"],
        member_type=member["member_type"],
        languages=member["languages"],
        target_countries=answered.get(ContextField.TARGET_COUNTRIES, []),
        target_sectors=answered.get(ContextField.TARGET_SECTORS, []),
    )


def member_changed(member: dict[str, Any]) -> MemberChanged:
    """The member's state as published; ``member`` as ``load_member`` reads it (with its cluster's name)."""
    return MemberChanged(
        cluster_id=member["cluster_id"],
        member_id=member["id"],
        name=member["name"],
        cluster_name=member["cluster_name"],
        context=member_context(member),
        contacts=[
            Contact(contact_id=c["id"], name=c["name"], email=c["email"], language=c["language"], role=c["role"])
            for c in member["contacts"]
        ],
        changed_at=member["updated_at"],
    )


@dataclass(frozen=True)
class Recorded:
    response_id: str
    event_id: str
    completed_at: Any
    replaced: bool
    unchanged: bool


def _digest(validated: ValidatedResponse) -> str:
    canonical = json.dumps(validated.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def record_response(
    uow: UnitOfWork,
    member: dict[str, Any],
    template: SurveyTemplate,
    validated: ValidatedResponse,
    *,
    campaign_id: str | None = None,
    invitation_id: str | None = None,
) -> Recorded:
    """Store a validated response and publish ``surveys.response.completed`` in the same transaction.

    In a campaign a member has one response: a resubmission replaces it (and is published again), while the
    same answers sent twice (a retry, a double click) change nothing and publish nothing.
    """
    now = uow.now
    digest = _digest(validated)
    matrix = template.skill_matrix
    scale = {"level_scale_max": matrix.levels.max} if matrix is not None else {}  # the scale the member rated on
    skills = [SkillAnswer.model_validate(row.model_dump() | scale) for row in validated.skills]
    values = {
        "template_id": template.id,
        "template_version": template.version,
        "theme": template.theme,
        "skills": [s.model_dump(mode="json") for s in skills],
        "answers": validated.answers,
        "answers_digest": digest,
        "invitation_id": invitation_id,
        "completed_at": now,
    }
    existing = None
    if campaign_id is not None:
        existing = await campaign_response(uow.session, campaign_id, member["id"])
    if existing is not None and existing["answers_digest"] == digest:
        return Recorded(existing["id"], existing["event_id"], existing["completed_at"], replaced=False, unchanged=True)
    response_id = existing["id"] if existing is not None else new_id()
    event = uow.emit(
        ResponseCompleted(
            response_id=response_id,
            cluster_id=member["cluster_id"],
            member_id=member["id"],
            template_id=template.id,
            template_version=template.version,
            theme=template.theme,
            completed_at=now,
            member_context=member_context(member, template.context_answers(validated.answers)),
            skills=skills,
            answers=validated.answers,
        )
    )
    if existing is None:
        await add_response(
            uow.session,
            {
                "id": response_id,
                "cluster_id": member["cluster_id"],
                "member_id": member["id"],
                "campaign_id": campaign_id,
                "event_id": event.id,
                **values,
            },
        )
    else:
        await replace_response(uow.session, response_id, {"event_id": event.id, **values})
    if campaign_id is not None:
        await stop_member_reminders(uow.session, campaign_id, member["id"])
    return Recorded(response_id, event.id, now, replaced=existing is not None, unchanged=False)
