"""skills consumes surveys.response.completed (publishes skills.gaps.assessed) and skills.supply.reported."""

from __future__ import annotations

import uuid

from trellis_common.auth import Scope
from trellis_common.consumer import Incoming
from trellis_common.errors import PermanentError
from trellis_common.events import GapsAssessed, ResponseCompleted, SupplyReported
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_skills import repository
from trellis_skills.domain.gaps import answer_problems, assess_gaps, severity
from trellis_skills.domain.supply import report_problems
from trellis_skills.domain.taxonomy import load_taxonomy
from trellis_skills.settings import skills_settings

log = get_logger(__name__)
EVERYTHING = Scope.everything("skills-consumer")  # events come from the platform, for any cluster


async def on_response_completed(uow: UnitOfWork, incoming: Incoming) -> None:
    response = incoming.require(ResponseCompleted)
    # The same response re-sent under a new event id is still one assessment and one event. The same id from
    # another cluster is not a re-send: a producer of one cluster must not be able to pre-empt another's ids.
    owner = await repository.cluster_of_response(uow.session, EVERYTHING, response.response_id)
    if owner is not None and owner != response.cluster_id:
        raise PermanentError(f"response id {response.response_id!r} was already used by another cluster")
    if owner is not None:
        log.info("response_already_assessed", response_id=response.response_id)
        return
    taxonomy = load_taxonomy()
    problems = answer_problems(response.skills, taxonomy, skills_settings(uow.settings).max_headcount)
    if problems:
        raise PermanentError("; ".join(problems))

    codes = [s.skill_code for s in response.skills]
    stored = await repository.stored_answers(uow.session, EVERYTHING, response.cluster_id, response.member_id, codes)
    gaps = assess_gaps(response.skills, taxonomy, {code: s.severity for code, s in stored.items()})

    now = uow.now
    severities = {
        s.skill_code: severity(
            max(0, s.required_level - s.current_level), max(0, s.headcount_needed - s.headcount_having)
        )
        for s in response.skills
    }
    await repository.save_member_answers(uow.session, EVERYTHING, response, severities, now)
    assessment_id = str(uuid.uuid4())
    await repository.insert_assessment(
        uow.session,
        EVERYTHING,
        {
            "id": assessment_id,
            "response_id": response.response_id,
            "cluster_id": response.cluster_id,
            "member_id": response.member_id,
            "theme": response.theme,
            "member_context": response.member_context.model_dump(mode="json"),
            "gaps": [g.model_dump(mode="json") for g in gaps],
            "assessed_at": now,
        },
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


async def on_supply_reported(uow: UnitOfWork, incoming: Incoming) -> None:
    """Figures from another system (or our own API, whose event comes back here and is recognised)."""
    report = incoming.require(SupplyReported)
    settings = skills_settings(uow.settings)
    problems = report_problems(report, load_taxonomy(), settings.max_headcount, uow.now.date())
    if problems:
        raise PermanentError(f"supply report {report.report_id}: " + "; ".join(map(str, problems)))
    outcome = await repository.record_supply_report(uow.session, EVERYTHING, report, via="event", now=uow.now)
    if outcome == "conflict":
        raise PermanentError(
            f"supply report {report.report_id} was already recorded with other figures; send new figures "
            "under a new report_id"
        )
    log.info("supply_report_recorded", report_id=report.report_id, outcome=outcome, figures=len(report.figures))
