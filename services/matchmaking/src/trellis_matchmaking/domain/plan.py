"""One placement: score the eligible pairs, give the free seats to the gaps placed now, list each gap's options.

The gaps placed together compete for the free seats as equals: the min-cost flow of ``assignment.py`` gives a
contested seat to the more severe gap, and a seat of a cluster's own offer to a member of that cluster first.
Gaps that already hold a proposal (``fixed``) keep it as long as the offer can still serve them; they are not
placed again, so a later, more severe gap never takes their seat.

Each gap gets at most one seat (its proposal); its other options are the next best offers that still have
free seats after everyone is placed, so a member may switch without taking anyone's seat. A gap without a
seat has no options: every offer it could use is full.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trellis_common.events import ScoreComponent
from trellis_matchmaking.domain.assignment import UNASSIGNED, assign_seats
from trellis_matchmaking.domain.candidates import Candidates, score_candidates
from trellis_matchmaking.domain.partners import MemberNeed, Offer
from trellis_matchmaking.domain.scoring import FACTORS, explanation, ineligibility, score


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
    kept: tuple[bool, ...] = ()  # per need: its fixed proposal stays (False for needs placed now)

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
    fixed: Mapping[tuple[str, str], str] | None = None,
    declined: Collection[tuple[str, str, str]] = (),
    shared_by: Mapping[tuple[str, str], int] | None = None,
    options_per_gap: int = 3,
    pool_min_members: int = 2,
    confined: Mapping[tuple[str, str], Collection[str]] | None = None,
) -> MatchPlan:
    """Place ``needs`` in the free seats of ``offers`` (``seats_left``).

    ``fixed``: (member, skill) → offer id of proposals the needs already hold; their seats are already counted
    out of ``seats_left``. A fixed proposal the offer can no longer serve (the gap changed, the offer is
    gone) is dropped, its seat freed, and its need placed like the others. ``declined``: (member, skill,
    offer id) turned down, never proposed again; ``shared_by``: members per (cluster, skill) with the gap
    (defaults to counting ``needs``); ``confined``: (member, skill) → the only offers the need may take a seat
    of in this placement (members of an offer's cluster placed ahead of their turn, see ``matching.rounds``).
    """
    offers = sorted(offers, key=lambda o: o.offer_id)  # ties resolve the same way every time
    shared = dict(shared_by) if shared_by is not None else sharing(needs)
    offer_index = {o.offer_id: j for j, o in enumerate(offers)}
    seats = np.array([max(0, o.seats_left) for o in offers], dtype=np.int64).reshape(-1)
    kept_offer = np.full(len(needs), UNASSIGNED, dtype=np.int64)
    for i, need in enumerate(needs):
        j = offer_index.get((fixed or {}).get(need.key, ""), UNASSIGNED)
        if j == UNASSIGNED:
            continue
        still = dataclasses.replace(offers[j], seats_left=1)  # its own seat is there whatever the count says
        if ineligibility(need.gap, still, need.profile) is None:
            kept_offer[i] = j
        else:
            seats[j] += 1  # the proposal lapses: its seat is free for the others
    offers = [dataclasses.replace(o, seats_left=int(seats[j])) for j, o in enumerate(offers)]
    found = score_candidates(needs, offers, shared_by=shared, pool_min_members=pool_min_members, declined=declined)
    if confined:
        found = found.where(_within(needs, offers, found, confined))
    contending = kept_offer[found.need] == UNASSIGNED
    priority = np.array([n.gap.priority for n in needs], dtype=np.float64).reshape(-1)
    foreign = _foreign(needs, offers, found)
    assigned = assign_seats(
        priority,
        seats,
        found.need[contending],
        found.offer[contending],
        found.score[contending],
        foreign[contending],
    )
    seated = np.where(kept_offer != UNASSIGNED, kept_offer, assigned)
    placed = assigned[assigned != UNASSIGNED]
    left = seats - np.bincount(placed, minlength=len(offers)).astype(np.int64)
    options = _options(needs, offers, found, seated, kept_offer, left, shared, options_per_gap, pool_min_members)
    return MatchPlan(
        needs=tuple(needs),
        seated=tuple(offers[j] if j != UNASSIGNED else None for j in seated.tolist()),
        options=options,
        seats_left={o.offer_id: int(left[j]) for j, o in enumerate(offers)},
        candidates=len(found),
        kept=tuple(bool(j != UNASSIGNED) for j in kept_offer.tolist()),
    )


def _foreign(needs: Sequence[MemberNeed], offers: Sequence[Offer], found: Candidates) -> npt.NDArray[np.bool_]:
    """Per candidate pair: its offer belongs to another cluster than its need's member."""
    index = {c: k for k, c in enumerate(sorted({o.owner_cluster_id or "" for o in offers} - {""}))}
    owner = np.array([index.get(o.owner_cluster_id or "", -1) for o in offers], dtype=np.int64).reshape(-1)
    cluster = np.array([index.get(n.cluster_id, -2) for n in needs], dtype=np.int64).reshape(-1)
    result: npt.NDArray[np.bool_] = (owner[found.offer] >= 0) & (owner[found.offer] != cluster[found.need])
    return result


def _within(
    needs: Sequence[MemberNeed],
    offers: Sequence[Offer],
    found: Candidates,
    confined: Mapping[tuple[str, str], Collection[str]],
) -> npt.NDArray[np.bool_]:
    """Per candidate pair: whether its offer is one its need may take (every offer, unless the need is confined)."""
    offer_index = {o.offer_id: j for j, o in enumerate(offers)}
    limited = np.zeros(len(needs), dtype=bool)
    allowed: list[int] = []  # need index × offers + offer index
    for i, need in enumerate(needs):
        ids = confined.get(need.key)
        if ids is not None:
            limited[i] = True
            allowed.extend(i * len(offers) + offer_index[o] for o in ids if o in offer_index)
    pairs = found.need * len(offers) + found.offer
    result: npt.NDArray[np.bool_] = ~limited[found.need] | np.isin(pairs, np.array(allowed, dtype=np.int64))
    return result


def _options(
    needs: Sequence[MemberNeed],
    offers: Sequence[Offer],
    found: Candidates,
    seated: npt.NDArray[np.int64],
    kept_offer: npt.NDArray[np.int64],
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
        shared_by = shared.get((need.cluster_id, need.gap.skill_code), 1)
        reserved_arc, alternatives = -1, list[int]()
        for arc in range(int(starts[i]), int(starts[i + 1])):
            j = int(offer_of[arc])
            if j == mine:
                reserved_arc = arc
            elif left[j] > 0 and len(alternatives) < per_gap - 1:
                alternatives.append(arc)
            if reserved_arc >= 0 and len(alternatives) >= per_gap - 1:
                break

        def proposal(arc: int, reserved: bool, need: MemberNeed = need, shared_by: int = shared_by) -> Proposal:
            chosen = offers[int(offer_of[arc])]
            values = {f: float(v) for f, v in zip(FACTORS, values_of[arc].tolist(), strict=True)}
            return Proposal(
                need=need,
                offer=chosen,
                score=float(score_of[arc]),
                explanation=tuple(
                    explanation(
                        need.gap,
                        chosen,
                        need.profile,
                        values,
                        shared_by=shared_by,
                        pool_min_members=pool_min_members,
                    )
                ),
                reserved=reserved,
            )

        if kept_offer[i] != UNASSIGNED:  # scored on its own: the offer may have no free seat left for others
            total, parts = score(
                need.gap,
                dataclasses.replace(offers[mine], seats_left=1),
                need.profile,
                shared_by=shared_by,
                pool_min_members=pool_min_members,
            )
            first = Proposal(need, offers[mine], total, tuple(parts), reserved=True)
        else:
            first = proposal(reserved_arc, True)
        result.append((first, *(proposal(arc, False) for arc in alternatives)))
    return tuple(result)
