"""skills consumes surveys.response.completed (publishes skills.gaps.assessed) and skills.supply.reported."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from trellis_common.auth import Scope
from trellis_common.consumer import distinct_runs
from trellis_common.errors import PermanentError
from trellis_common.events import GapsAssessed, ResponseCompleted, SupplyReported, SupplyScope
from trellis_common.logging import get_logger
from trellis_common.parking import admit, require_known_cluster
from trellis_common.settings import narrowed
from trellis_common.skill_scales import on_framework_scale
from trellis_common.subscriptions import Received, handles, handles_batch
from trellis_common.unit_of_work import UnitOfWork
from trellis_skills import repository
from trellis_skills.domain.gaps import answer_problems, assess_gaps, severity
from trellis_skills.domain.supply import report_problems
from trellis_skills.domain.taxonomy import load_taxonomy
from trellis_skills.models import NAMES, PARKING
from trellis_skills.settings import SkillsSettings

log = get_logger(__name__)
EVERYTHING = Scope.everything("skills-consumer")  # events come from the platform, for any cluster


@handles_batch(ResponseCompleted)
async def on_responses_completed(batch: Sequence[Received[ResponseCompleted]]) -> None:
    """Assess the responses of a consumer batch together: one read of what is known, one write of each kind.

    A member named twice in a batch has its responses assessed one after the other (the second one's trends
    compare with the first). Responses of a member not known yet wait for it (parked); an unknown cluster's are
    refused (``trellis_common.parking``).
    """
    if batch:
        taxonomy, max_headcount = load_taxonomy(), narrowed(batch[0].uow.settings, SkillsSettings).max_headcount
        for received in batch:  # a broken response goes to the DLQ now rather than wait for its member
            response = _on_framework_scales(received.event)
            problems = answer_problems(response.skills, taxonomy, max_headcount)
            if problems:
                raise PermanentError("; ".join(problems))
    admitted = await admit(PARKING, batch, _member_of)
    for run in distinct_runs(admitted, key=lambda r: r.event.member_id):
        await _assess(run)


def _member_of(response: ResponseCompleted) -> tuple[str, str]:
    return response.cluster_id, response.member_id


def _on_framework_scales(response: ResponseCompleted) -> ResponseCompleted:
    """Levels rated on a template's own scale, put on each framework's (``trellis_common.skill_scales``)."""
    if all(a.level_scale_max is None for a in response.skills):
        return response
    return response.model_copy(update={"skills": [on_framework_scale(a) for a in response.skills]})


async def _assess(run: Sequence[Received[ResponseCompleted]]) -> None:
    session = run[0].uow.session
    taxonomy = load_taxonomy()
    responses = [(r.uow, _on_framework_scales(r.event)) for r in run]
    # The same response re-sent under a new event id is still one assessment and one event. The same id from
    # another cluster is not a re-send: a producer of one cluster must not be able to pre-empt another's ids.
    owners = await repository.clusters_of_responses(session, EVERYTHING, [r.response_id for _, r in responses])
    fresh: list[tuple[UnitOfWork, ResponseCompleted]] = []
    for uow, response in responses:
        owner = owners.get(response.response_id)
        if owner is not None and owner != response.cluster_id:
            raise PermanentError(f"response id {response.response_id!r} was already used by another cluster")
        if owner is not None:
            log.info("response_already_assessed", response_id=response.response_id)
            continue
        owners[response.response_id] = response.cluster_id  # twice in this batch: the second is the re-send
        fresh.append((uow, response))
    if not fresh:
        return
    stored = await repository.stored_answers_of(session, EVERYTHING, [(r.cluster_id, r.member_id) for _, r in fresh])
    answered = []
    assessments = []
    for uow, response in fresh:
        previous = stored[(response.cluster_id, response.member_id)]
        gaps = assess_gaps(response.skills, taxonomy, {code: s.severity for code, s in previous.items()})
        severities = {
            s.skill_code: severity(
                max(0, s.required_level - s.current_level), max(0, s.headcount_needed - s.headcount_having)
            )
            for s in response.skills
        }
        answered.append((response, severities))
        assessment = GapsAssessed(
            assessment_id=str(uuid.uuid4()),
            response_id=response.response_id,
            cluster_id=response.cluster_id,
            member_id=response.member_id,
            theme=response.theme,
            member_context=response.member_context,
            gaps=gaps,
            assessed_at=uow.now,
        )
        assessments.append(
            {
                "id": assessment.assessment_id,
                "response_id": response.response_id,
                "cluster_id": response.cluster_id,
                "member_id": response.member_id,
                "theme": response.theme,
                "member_context": response.member_context.model_dump(mode="json"),
                "gaps": [g.model_dump(mode="json") for g in gaps],
                "assessed_at": uow.now,
            }
        )
        uow.emit(assessment)
    await repository.save_answers(session, EVERYTHING, answered, fresh[0][0].now)
    await repository.insert_assessments(session, EVERYTHING, assessments)


@handles(SupplyReported)
async def on_supply_reported(received: Received[SupplyReported]) -> None:
    """Figures from another system (or our own API, whose event comes back here and is recognised)."""
    uow, report = received.uow, received.event
    settings = narrowed(uow.settings, SkillsSettings)
    problems = report_problems(report, load_taxonomy(), settings.max_headcount, uow.now.date())
    if problems:
        raise PermanentError(f"supply report {report.report_id}: " + "; ".join(map(str, problems)))
    if report.scope is SupplyScope.CLUSTER:
        await require_known_cluster(uow.session, NAMES, report.scope_id)
    outcome = await repository.record_supply_report(uow.session, EVERYTHING, report, via="event", now=uow.now)
    if outcome == "conflict":
        raise PermanentError(
            f"supply report {report.report_id} was already recorded with other figures; send new figures "
            "under a new report_id"
        )
    log.info("supply_report_recorded", report_id=report.report_id, outcome=outcome, figures=len(report.figures))
