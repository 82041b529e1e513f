"""matchmaking consumes skills.gaps.assessed and publishes matchmaking.partners.matched.

The consumer hands over a fetched batch of gaps events at once: their gaps are placed together (one solve,
a contested seat to the more severe gap), each member's event emitted in the unit of work of its own gaps
event so causation and correlation stay per chain.
"""

from __future__ import annotations

from collections.abc import Sequence

from trellis_common.consumer import Handling, Incoming, distinct_runs
from trellis_common.errors import PermanentError
from trellis_common.events import GapsAssessed
from trellis_common.logging import get_logger
from trellis_common.parking import admit
from trellis_common.settings import narrowed
from trellis_common.subscriptions import Received, handles_batch
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking.matching import EVERYTHING, Reason, current_period, settle, supersede_other_periods
from trellis_matchmaking.models import PARKING
from trellis_matchmaking.repositories import gaps, proposals
from trellis_matchmaking.settings import MatchmakingSettings

log = get_logger(__name__)


async def on_gaps_assessed(uow: UnitOfWork, incoming: Incoming) -> None:
    """One gaps event on its own (what the batch handler does with a batch of one)."""
    await on_gaps_assessed_batch([Handling(uow, incoming)])


@handles_batch(GapsAssessed)
async def on_gaps_assessed_batch(batch: Sequence[Received[GapsAssessed]]) -> None:
    """Each member's latest gaps become its demand in the current seat period, then they are placed together.

    A member named twice in a batch has its assessments placed one after the other, as if they came apart.
    Gaps of a member not known yet wait (parked) and never take a seat; an unknown cluster's are refused
    (``trellis_common.parking``).
    """
    admitted = await admit(PARKING, batch, _member_of)
    for part in distinct_runs(admitted, key=lambda r: r.event.member_id):
        await _place(part)


def _member_of(assessed: GapsAssessed) -> tuple[str, str]:
    return assessed.cluster_id, assessed.member_id


async def _place(part: Sequence[Received[GapsAssessed]]) -> None:
    first = part[0].uow
    session, now = first.session, first.now
    settings = narrowed(first.settings, MatchmakingSettings)
    period = current_period(settings, now)
    events = [(r.uow, r.event) for r in part]
    for _, assessed in events:
        codes = [g.skill_code for g in assessed.gaps]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:  # one gap per skill is what a seat is given to; two would be two answers to one question
            raise PermanentError(f"gaps: skill(s) {', '.join(twice)} appear more than once")
    # The same assessment re-sent under a new event id is matched once (runs before re-matching have no reason).
    seen = await proposals.assessments_matched(session, [a.assessment_id for _, a in events])
    known = await gaps.need_rows(session, EVERYTHING, [a.member_id for _, a in events])
    units: dict[str, UnitOfWork] = {}
    for uow, assessed in events:
        if assessed.assessment_id in seen:
            log.info("assessment_already_matched", assessment_id=assessed.assessment_id)
            continue
        latest = known.get(assessed.member_id)
        if latest is not None and latest.assessed_at > assessed.assessed_at:
            log.info("assessment_superseded", assessment_id=assessed.assessment_id, latest=latest.assessment_id)
            continue
        units[assessed.member_id] = uow
    placed = [(uow, assessed) for uow, assessed in events if units.get(assessed.member_id) is uow]
    await gaps.save_needs(
        session,
        EVERYTHING,
        [
            {
                "member_id": assessed.member_id,
                "cluster_id": assessed.cluster_id,
                "assessment_id": assessed.assessment_id,
                "period": period,
                "member_context": assessed.member_context.model_dump(mode="json"),
                "assessed_at": assessed.assessed_at,
                "updated_at": now,
            }
            for _, assessed in placed
        ],
        known,
    )
    await gaps.replace_gaps(session, [(a.member_id, a.cluster_id, period, a.gaps) for _, a in placed], now)
    await supersede_other_periods(session, list(units), period, now)
    if units:
        reasons: dict[str, str | None] = dict.fromkeys(units, Reason.ASSESSMENT)
        await settle(first, settings, period, reasons, unit_for=lambda member_id: units.get(member_id, first))
