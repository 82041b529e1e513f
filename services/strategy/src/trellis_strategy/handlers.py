"""strategy consumes partner matches (actions for the agenda, a schedule per cluster) and gap assessments."""

from __future__ import annotations

from trellis_common.auth import Scope
from trellis_common.consumer import Incoming
from trellis_common.events import GapsAssessed, PartnersMatched
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_strategy import planning, repository
from trellis_strategy.domain.agenda import ProposedAction, proposed_actions
from trellis_strategy.domain.strategy import StrategyType, strategy_type_for_skill
from trellis_strategy.settings import strategy_settings

log = get_logger(__name__)
# Events are the service's own work: they may touch any cluster (the event names which).
_ALL = Scope.everything("strategy-events")


async def on_partners_matched(uow: UnitOfWork, incoming: Incoming) -> None:
    matched = incoming.require(PartnersMatched)
    now = uow.now
    settings = strategy_settings(uow.settings)
    overall, schedule = await planning.ensure_overall(uow.session, _ALL, settings, matched.cluster_id, now)
    if schedule.created_at == now:
        log.info(
            "review_schedule_created",
            cluster_id=matched.cluster_id,
            strategy_id=overall.id,
            cadence=schedule.cadence,
            next_due_at=schedule.next_due_at.isoformat(),
        )
    event_id = incoming.envelope.id
    if not await repository.record_match_run(uow.session, _ALL, matched, event_id, now):
        # The same run re-sent under a new event id: its actions are already on the agenda.
        log.info("match_run_already_seen", match_run_id=matched.match_run_id)
        return
    actions = proposed_actions(matched)
    routed = await _route(uow, matched.cluster_id, actions, overall)
    await repository.propose_actions(uow.session, _ALL, matched.cluster_id, routed, source_event_id=event_id, now=now)
    log.info("actions_proposed", cluster_id=matched.cluster_id, count=len(actions))


async def _route(
    uow: UnitOfWork, cluster_id: str, actions: list[ProposedAction], overall: repository.Strategy
) -> list[tuple[ProposedAction, str]]:
    """Each action to the cluster's newest active strategy of its theme, else to the overall strategy."""
    active = await repository.list_strategies(uow.session, _ALL, cluster_id, include_archived=False)
    newest: dict[StrategyType, str] = {}
    for strategy in active:  # oldest first, so the newest of a type wins
        newest[strategy.strategy_type] = strategy.id
    return [(action, newest.get(strategy_type_for_skill(action.skill_code), overall.id)) for action in actions]


async def on_gaps_assessed(uow: UnitOfWork, incoming: Incoming) -> None:
    """Remember which skills a member has gaps in, for the "new gaps since the last review" of the agenda."""
    assessed = incoming.require(GapsAssessed)
    skills = sorted({gap.skill_code for gap in assessed.gaps if gap.level_gap > 0 or gap.headcount_gap > 0})
    if await repository.record_gap_assessment(uow.session, _ALL, assessed, skills, uow.now):
        log.info("gaps_recorded", cluster_id=assessed.cluster_id, member_id=assessed.member_id, skills=len(skills))
