"""strategy consumes matchmaking.partners.matched: a review schedule per cluster and actions for its agenda."""

from __future__ import annotations

from trellis_common.consumer import Incoming
from trellis_common.events import PartnersMatched
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_strategy import repository
from trellis_strategy.domain.agenda import proposed_actions
from trellis_strategy.domain.cadence import ReviewCadence
from trellis_strategy.domain.schedule import plan_schedule
from trellis_strategy.settings import strategy_settings

log = get_logger(__name__)


async def on_partners_matched(uow: UnitOfWork, incoming: Incoming) -> None:
    matched = incoming.require(PartnersMatched)
    now = uow.now
    schedule = await repository.get_schedule(uow.session, matched.cluster_id)
    if schedule is None:
        # The cluster's own time zone arrives with a later issue; until then the configured default.
        defaults = strategy_settings(uow.settings)
        fields = plan_schedule(
            ReviewCadence.parse(defaults.default_cadence),
            defaults.default_timezone,
            defaults.default_strategy_title,
            anchor=now,
            now=now,
        )
        schedule = await repository.ensure_schedule(uow.session, matched.cluster_id, fields, now)
        log.info("review_schedule_created", cluster_id=matched.cluster_id, cadence=schedule.cadence,
                 next_due_at=schedule.next_due_at.isoformat())
    event_id = incoming.envelope.id
    if not await repository.record_match_run(uow.session, matched, event_id, now):
        # The same run re-sent under a new event id: its actions are already on the agenda.
        log.info("match_run_already_seen", match_run_id=matched.match_run_id)
        return
    actions = proposed_actions(matched)
    await repository.propose_actions(uow.session, schedule, actions, source_event_id=event_id, now=now)
    log.info("actions_proposed", cluster_id=matched.cluster_id, count=len(actions))
