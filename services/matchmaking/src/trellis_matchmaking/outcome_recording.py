"""Recording what became of a proposal, whoever reports it: the member through the link in the match email, or
the cluster manager through the API. One place, so both paths free a declined seat the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from trellis_common.auth import Scope
from trellis_common.runtime import ServiceRuntime
from trellis_common.settings import narrowed
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking.domain.outcomes import MatchStatus, Outcome, next_status
from trellis_matchmaking.matching import current_period, settle
from trellis_matchmaking.repositories import gaps, outcomes
from trellis_matchmaking.settings import MatchmakingSettings


@dataclass(frozen=True)
class Recorded:
    before: MatchStatus
    after: MatchStatus

    @property
    def changed(self) -> bool:
        return self.before is not self.after


async def record_outcome(
    runtime: ServiceRuntime,
    uow: UnitOfWork,
    scope: Scope,
    match_id: str,
    outcome: Outcome,
    *,
    recorded_by: str,
    note: str | None = None,
) -> Recorded | None:
    """The match's status before and after ``outcome`` (None for a match ``scope`` does not see). Recording the
    status the match already has changes nothing, not even when it was recorded; an outcome that does not follow
    from the status raises ``OutcomeNotAllowed``."""
    row = await outcomes.match_row(uow.session, scope, match_id, lock=True)
    if row is None:
        return None
    before = MatchStatus(row.status)
    after = next_status(before, outcome)
    if after is not before:
        values: dict[str, Any] = {
            "status": after.value,
            "outcome_at": uow.now,
            "outcome_by": recorded_by,
            "outcome_note": note,
            "updated_at": uow.now,
        }
        await outcomes.update_match(uow.session, scope, match_id, values)
        if after is MatchStatus.DECLINED:
            await _after_decline(runtime, uow, row)
    return Recorded(before, after)


async def _after_decline(runtime: ServiceRuntime, uow: UnitOfWork, match: Row[Any]) -> None:
    """The seat is free again: the gap looks for another offer (its member hears of it only if it finds one)
    and the waiting list gets the seat."""
    await gaps.clear_gap_seats(uow.session, [match.id], uow.now)
    settings = narrowed(runtime.settings, MatchmakingSettings)
    if match.period == current_period(settings, uow.now):
        await settle(uow, settings, match.period, {match.member_id: None}, freed=[match.offer_id])
