"""strategy consumes partner matches (actions for the agenda, a schedule per cluster) and gap assessments.

Both arrive in consumer batches and are applied together: a cluster's strategy and schedule are looked up (or
made) once per batch, the runs and assessments recorded in one statement each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trellis_common.auth import Scope
from trellis_common.events import GapsAssessed, PartnersMatched
from trellis_common.logging import get_logger
from trellis_common.repositories.names import names_of
from trellis_common.settings import narrowed
from trellis_common.subscriptions import Received, handles_batch
from trellis_strategy import planning
from trellis_strategy.domain.agenda import ProposedAction, proposed_actions
from trellis_strategy.domain.strategy import StrategyType, strategy_type_for_skill
from trellis_strategy.models import NAMES
from trellis_strategy.repositories import actions, activity, strategies
from trellis_strategy.settings import StrategySettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = get_logger(__name__)
# Events are the service's own work: they may touch any cluster (the event names which).
_ALL = Scope.everything("strategy-events")


@handles_batch(PartnersMatched)
async def on_partners_matched(batch: Sequence[Received[PartnersMatched]]) -> None:
    """Each new match run's actions go on the agenda of its cluster's strategy of the action's theme."""
    first = batch[0].uow
    session, now, settings = first.session, first.now, narrowed(first.settings, StrategySettings)
    runs = [(received.event, received.envelope.id) for received in batch]
    routes: dict[str, dict[StrategyType, str]] = {}  # per cluster: the strategy each theme's actions go to
    for cluster_id in dict.fromkeys(matched.cluster_id for matched, _ in runs):
        overall, schedule = await planning.ensure_overall(session, _ALL, settings, cluster_id, now)
        if schedule.created_at == now:
            log.info(
                "review_schedule_created",
                cluster_id=cluster_id,
                strategy_id=overall.id,
                cadence=schedule.cadence,
                next_due_at=schedule.next_due_at.isoformat(),
            )
        routes[cluster_id] = await _themes(session, cluster_id, overall)
    fresh = await activity.record_match_runs(session, _ALL, runs, now)
    names = await names_of(session, NAMES, member_ids=[matched.member_id for matched, _ in runs])
    proposals: list[tuple[str, ProposedAction, str, str]] = []
    for matched, event_id in runs:
        if matched.match_run_id not in fresh:
            # The same run re-sent under a new event id (or twice in this batch): its actions are on the agenda.
            log.info("match_run_already_seen", match_run_id=matched.match_run_id)
            continue
        fresh.discard(matched.match_run_id)
        run_actions = proposed_actions(matched, names.member(matched.member_id))
        themes = routes[matched.cluster_id]
        for action in run_actions:
            strategy_id = themes.get(strategy_type_for_skill(action.skill_code), themes[StrategyType.OVERALL])
            proposals.append((matched.cluster_id, action, strategy_id, event_id))
        log.info("actions_proposed", cluster_id=matched.cluster_id, count=len(run_actions))
    await actions.propose_actions(session, _ALL, proposals, now=now)


async def _themes(session: AsyncSession, cluster_id: str, overall: strategies.Strategy) -> dict[StrategyType, str]:
    """The cluster's newest active strategy of each type (the overall one included)."""
    active = await strategies.list_strategies(session, _ALL, cluster_id, include_archived=False)
    newest: dict[StrategyType, str] = {StrategyType.OVERALL: overall.id}
    for strategy in active:  # oldest first, so the newest of a type wins
        newest[strategy.strategy_type] = strategy.id
    return newest


@handles_batch(GapsAssessed)
async def on_gaps_assessed(batch: Sequence[Received[GapsAssessed]]) -> None:
    """Remember which skills members have gaps in, for the "new gaps since the last review" of the agenda."""
    first = batch[0].uow
    assessed = []
    for received in batch:
        assessment = received.event
        skills = sorted({g.skill_code for g in assessment.gaps if g.level_gap > 0 or g.headcount_gap > 0})
        assessed.append((assessment, skills))
    recorded = await activity.record_gap_assessments(first.session, _ALL, assessed, first.now)
    for assessment, skills in assessed:
        if assessment.assessment_id in recorded:
            log.info("gaps_recorded", cluster_id=assessment.cluster_id, skills=len(skills))
