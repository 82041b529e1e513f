"""matchmaking consumes skills.gaps.assessed and publishes matchmaking.partners.matched."""

from __future__ import annotations

from sqlalchemy import or_, select

from trellis_common.auth import Scope
from trellis_common.consumer import Incoming
from trellis_common.errors import PermanentError
from trellis_common.events import GapsAssessed
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking import repository
from trellis_matchmaking.matching import Reason, current_period, run_round, supersede_other_periods
from trellis_matchmaking.models import match_runs
from trellis_matchmaking.settings import matchmaking_settings

log = get_logger(__name__)


async def on_gaps_assessed(uow: UnitOfWork, incoming: Incoming) -> None:
    """The member's latest gaps become its demand in the current seat period, then a matching round runs."""
    assessed = incoming.require(GapsAssessed)
    codes = [g.skill_code for g in assessed.gaps]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:  # one gap per skill is what a seat is given to; two would be two answers to one question
        raise PermanentError(f"gaps: skill(s) {', '.join(twice)} appear more than once")
    session, everything = uow.session, Scope.everything()  # the service's own work: every cluster
    # The same assessment re-sent under a new event id is matched once (runs before re-matching have no reason).
    seen = await session.scalar(
        select(match_runs.c.id).where(
            match_runs.c.assessment_id == assessed.assessment_id,
            or_(match_runs.c.reason == Reason.ASSESSMENT, match_runs.c.reason.is_(None)),
        )
    )
    if seen:
        log.info("assessment_already_matched", assessment_id=assessed.assessment_id)
        return
    known = await repository.need_row(session, everything, assessed.member_id)
    if known is not None and known.assessed_at > assessed.assessed_at:
        log.info("assessment_superseded", assessment_id=assessed.assessment_id, latest=known.assessment_id)
        return
    settings = matchmaking_settings(uow.settings)
    period = current_period(settings, uow.now)
    await repository.save_need(
        session,
        everything,
        {
            "member_id": assessed.member_id,
            "cluster_id": assessed.cluster_id,
            "assessment_id": assessed.assessment_id,
            "period": period,
            "member_context": assessed.member_context.model_dump(mode="json"),
            "gaps": [g.model_dump(mode="json") for g in assessed.gaps],
            "assessed_at": assessed.assessed_at,
            "updated_at": uow.now,
        },
    )
    await supersede_other_periods(session, everything, assessed.member_id, period, uow.now)
    await run_round(uow, settings, period, {assessed.member_id: Reason.ASSESSMENT})
