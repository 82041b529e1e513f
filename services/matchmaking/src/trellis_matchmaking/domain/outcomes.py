"""What happens to a proposal after it is made, and how proposals move through our own funnel:
proposed → accepted → completed (declined leaves it).

No outside benchmark is put next to these figures: ECCP's matchmaking events count bilateral meetings that led to
agreements, a different thing from members accepting a seat in an offer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class MatchStatus(StrEnum):
    PROPOSED = "proposed"  # holds a seat until the member answers or a re-match moves it
    ACCEPTED = "accepted"  # the member takes the offer: the seat is confirmed
    DECLINED = "declined"  # the seat is free again and the offer is not proposed for this gap again
    COMPLETED = "completed"  # the member took part
    RELEASED = "released"  # a re-match or a change of the offer moved the proposal away (not an outcome)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"


HOLDS_SEAT = frozenset({MatchStatus.PROPOSED, MatchStatus.ACCEPTED, MatchStatus.COMPLETED})
CONFIRMED = frozenset({MatchStatus.ACCEPTED, MatchStatus.COMPLETED})
_NEXT: Mapping[MatchStatus, frozenset[Outcome]] = {
    MatchStatus.PROPOSED: frozenset(Outcome),
    MatchStatus.ACCEPTED: frozenset({Outcome.COMPLETED, Outcome.DECLINED}),  # declined: the member withdrew
}


class OutcomeNotAllowed(ValueError):
    """The outcome does not follow from the match's status (e.g. completing a declined match)."""


def next_status(current: MatchStatus, outcome: Outcome) -> MatchStatus:
    """The status after recording ``outcome``; recording the current status again changes nothing."""
    if current.value == outcome.value:
        return current
    if outcome not in _NEXT.get(current, frozenset()):
        raise OutcomeNotAllowed(f"a {current.value} match cannot become {outcome.value}")
    return MatchStatus(outcome.value)


@dataclass(frozen=True)
class Conversion:
    """The funnel: of the proposals members answered, the share they took up (``rate``); of those taken up, the
    share completed (``completion_rate``)."""

    proposals: int
    pending: int
    accepted: int
    declined: int
    completed: int
    released: int
    agreements: int
    answered: int
    rate: float | None
    share_of_proposals: float | None
    completion_rate: float | None


def conversion(counts: Mapping[MatchStatus, int]) -> Conversion:
    """``counts``: matches by status. A released proposal never reached an answer, so it counts nowhere."""
    pending = counts.get(MatchStatus.PROPOSED, 0)
    accepted = counts.get(MatchStatus.ACCEPTED, 0)
    declined = counts.get(MatchStatus.DECLINED, 0)
    completed = counts.get(MatchStatus.COMPLETED, 0)
    agreements = accepted + completed
    answered = agreements + declined
    proposals = answered + pending
    rate = round(agreements / answered, 4) if answered else None
    return Conversion(
        proposals=proposals,
        pending=pending,
        accepted=accepted,
        declined=declined,
        completed=completed,
        released=counts.get(MatchStatus.RELEASED, 0),
        agreements=agreements,
        answered=answered,
        rate=rate,
        share_of_proposals=round(agreements / proposals, 4) if proposals else None,
        completion_rate=round(completed / agreements, 4) if agreements else None,
    )
