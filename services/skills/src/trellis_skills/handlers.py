"""skills consumes surveys.response.completed and publishes skills.gaps.assessed."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, insert, select

from trellis_common.consumer import Incoming
from trellis_common.errors import PermanentError
from trellis_common.events import GapsAssessed, ResponseCompleted
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_skills.domain.gaps import assess_gaps, severity
from trellis_skills.domain.taxonomy import load_taxonomy
from trellis_skills.models import assessments, member_skill_severity

log = get_logger(__name__)


async def on_response_completed(uow: UnitOfWork, incoming: Incoming) -> None:
    response = incoming.require(ResponseCompleted)
    # The same response re-sent under a new event id is still one assessment and one event.
    if await uow.session.scalar(select(assessments.c.id).where(assessments.c.response_id == response.response_id)):
        log.info("response_already_assessed", response_id=response.response_id)
        return
    taxonomy = load_taxonomy()
    unknown = taxonomy.unknown([s.skill_code for s in response.skills])
    if unknown:
        raise PermanentError(f"unknown skill code(s) {', '.join(unknown)} (taxonomy {taxonomy.version})")

    codes = [s.skill_code for s in response.skills]
    previous = {
        row.skill_code: row.severity
        for row in await uow.session.execute(
            select(member_skill_severity).where(
                member_skill_severity.c.member_id == response.member_id,
                member_skill_severity.c.skill_code.in_(codes),
            )
        )
    }
    gaps = assess_gaps(response.skills, taxonomy, previous)

    now = uow.now
    await uow.session.execute(
        delete(member_skill_severity).where(
            member_skill_severity.c.member_id == response.member_id, member_skill_severity.c.skill_code.in_(codes)
        )
    )
    if response.skills:
        await uow.session.execute(
            insert(member_skill_severity),
            [
                {
                    "member_id": response.member_id,
                    "skill_code": s.skill_code,
                    "severity": severity(
                        max(0, s.required_level - s.current_level), max(0, s.headcount_needed - s.headcount_having)
                    ),
                    "updated_at": now,
                }
                for s in response.skills
            ],
        )
    assessment_id = str(uuid.uuid4())
    await uow.session.execute(
        insert(assessments).values(
            id=assessment_id,
            response_id=response.response_id,
            cluster_id=response.cluster_id,
            member_id=response.member_id,
            theme=response.theme,
            member_context=response.member_context.model_dump(mode="json"),
            gaps=[g.model_dump(mode="json") for g in gaps],
            assessed_at=now,
        )
    )
    uow.emit(
        GapsAssessed(
            assessment_id=assessment_id,
            response_id=response.response_id,
            cluster_id=response.cluster_id,
            member_id=response.member_id,
            theme=response.theme,
            member_context=response.member_context,
            gaps=gaps,
            assessed_at=now,
        )
    )
