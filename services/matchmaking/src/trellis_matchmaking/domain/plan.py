"""One matching round: score every eligible pair, give out the seats, and list each gap's options.

Each gap gets at most one seat (its proposal); its other options are the next best offers that still have
free seats after everyone is placed, so a member may switch without taking anyone's seat. A gap without a
seat has no options: every offer it could use is full of more severe (or equally severe) gaps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trellis_common.events import ScoreComponent
from trellis_matchmaking.domain.assignment import UNASSIGNED, assign_seats
from trellis_matchmaking.domain.candidates import Candidates, score_candidates
from trellis_matchmaking.domain.partners import MemberNeed, Offer
from trellis_matchmaking.domain.scoring import FACTORS, explanation


@dataclass(frozen=True)
class Proposal:
    """One option for one gap; ``reserved`` when it is the gap's proposal and holds a seat."""

    need: MemberNeed
    offer: Offer
    score: float
    explanation: tuple[ScoreComponent, ...]
    reserved: bool


@dataclass(frozen=True)
class MatchPlan:
    needs: tuple[MemberNeed, ...]
    seated: tuple[Offer | None, ...]  # per need: the offer holding its seat
    options: tuple[tuple[Proposal, ...], ...]  # per need: the proposal first, then alternatives by score
    seats_left: Mapping[str, int]  # per offer id, after the round
    candidates: int  # eligible pairs considered

    def proposal_for(self, index: int) -> Proposal | None:
        first = self.options[index][0] if self.options[index] else None
        return first if first is not None and first.reserved else None


def sharing(needs: Iterable[MemberNeed]) -> dict[tuple[str, str], int]:
    """Members per (cluster, skill) with the gap."""
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    for need in needs:
        members[(need.cluster_id, need.gap.skill_code)].add(need.member_id)
    return {key: len(ids) for key, ids in members.items()}


def plan_matches(
    needs: Sequence[MemberNeed],
    offers: Sequence[Offer],
    *,
    held: Mapping[tuple[str, str], str] | None = None,
    declined: Collection[tuple[str, str, str]] = (),
    shared_by: Mapping[tuple[str, str], int] | None = None,
    options_per_gap: int = 3,
    pool_min_members: int = 2,
) -> MatchPlan:
    """``held``: (member, skill) → offer id of current proposals; ``declined``: (member, skill, offer id)
    turned down; ``shared_by``: members per (cluster, skill) with the gap (defaults to counting ``needs``)."""
    offers = sorted(offers, key=lambda o: o.offer_id)  # ties resolve the same way every time
    shared = dict(shared_by) if shared_by is not None else sharing(needs)
    found = score_candidates(needs, offers, shared_by=shared, pool_min_members=pool_min_members, declined=declined)
    offer_index = {o.offer_id: j for j, o in enumerate(offers)}
    held_offer = np.array(
        [offer_index.get((held or {}).get(n.key, ""), UNASSIGNED) for n in needs], dtype=np.int64
    ).reshape(-1)
    seats = np.array([max(0, o.seats_left) for o in offers], dtype=np.int64).reshape(-1)
    priority = np.array([n.gap.priority for n in needs], dtype=np.float64).reshape(-1)
    seated = assign_seats(priority, seats, found.need, found.offer, found.score, found.offer == held_offer[found.need])
    left = seats - np.bincount(seated[seated != UNASSIGNED], minlength=len(offers)).astype(np.int64)
    options = _options(needs, offers, found, seated, left, shared, options_per_gap, pool_min_members)
    return MatchPlan(
        needs=tuple(needs),
        seated=tuple(offers[j] if j != UNASSIGNED else None for j in seated.tolist()),
        options=options,
        seats_left={o.offer_id: int(left[j]) for j, o in enumerate(offers)},
        candidates=len(found),
    )


def _options(
    needs: Sequence[MemberNeed],
    offers: Sequence[Offer],
    found: Candidates,
    seated: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    shared: Mapping[tuple[str, str], int],
    per_gap: int,
    pool_min_members: int,
) -> tuple[tuple[Proposal, ...], ...]:
    order = np.lexsort((found.offer, -found.score, found.need))
    by_need = found.need[order]
    starts = np.searchsorted(by_need, np.arange(len(needs) + 1))
    offer_of, score_of, values_of = found.offer[order], found.score[order], found.values[order]
    result: list[tuple[Proposal, ...]] = []
    for i, need in enumerate(needs):
        mine = int(seated[i])
        if mine == UNASSIGNED:
            result.append(())
            continue
        reserved_arc, alternatives = -1, list[int]()
        for arc in range(int(starts[i]), int(starts[i + 1])):
            j = int(offer_of[arc])
            if j == mine:
                reserved_arc = arc
            elif left[j] > 0 and len(alternatives) < per_gap - 1:
                alternatives.append(arc)
            if reserved_arc >= 0 and len(alternatives) >= per_gap - 1:
                break
        chosen = [(reserved_arc, True)] + [(arc, False) for arc in alternatives]
        shared_by = shared.get((need.cluster_id, need.gap.skill_code), 1)
        result.append(
            tuple(
                Proposal(
                    need=need,
                    offer=offers[int(offer_of[arc])],
                    score=float(score_of[arc]),
                    explanation=tuple(
                        explanation(
                            need.gap,
                            offers[int(offer_of[arc])],
                            need.profile,
                            {f: float(v) for f, v in zip(FACTORS, values_of[arc].tolist(), strict=True)},
                            shared_by=shared_by,
                            pool_min_members=pool_min_members,
                        )
                    ),
                    reserved=reserved,
                )
                for arc, reserved in chosen
            )
        )
    return tuple(result)
