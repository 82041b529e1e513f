"""One matching round: the members' gaps and the waiting list placed in the free seats, and who is told."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.logging import get_logger
from trellis_common.unit_of_work import UnitOfWork
from trellis_matchmaking.domain.partners import Offer
from trellis_matchmaking.domain.plan import MatchPlan
from trellis_matchmaking.domain.scoring import ineligibility
from trellis_matchmaking.matching.announcements import UnitFor, alternatives_for, announce
from trellis_matchmaking.matching.ledger import EVERYTHING, Key, Ledger
from trellis_matchmaking.matching.solving import catalogue_of, match_row, release_matches, solve
from trellis_matchmaking.repositories import gaps, proposals, registry
from trellis_matchmaking.settings import MatchmakingSettings

log = get_logger(__name__)
# Waiting gaps read per page when seats free up: a few per free seat, since some may not fit the offer; a
# page that placed too few makes the next one larger.
_WAITING_PAGE_PER_SEAT = 4
_WAITING_PAGE_MIN = 50
_WAITING_PAGE_MAX = 5000


class Reason:
    ASSESSMENT = "assessment"
    REMATCH = "rematch"


FIGURES = ("gaps", "proposals_made", "proposals_kept", "proposals_released", "unserved_gaps")


@dataclass
class RoundResult:
    period: str
    # Per cluster: gaps (looked at in this round), proposals_made, proposals_kept, proposals_released,
    # unserved_gaps; kept per cluster so a caller is told only about its own clusters.
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    notified: dict[str, str] = field(default_factory=dict)  # member id -> its cluster
    placed: set[str] = field(default_factory=set)  # members who got a new proposal
    considered: dict[Key, str] = field(default_factory=dict)  # gaps looked at -> their cluster

    def count(self, cluster_id: str, figure: str, n: int = 1) -> None:
        self.counts.setdefault(cluster_id, Counter())[figure] += n

    def seen_by(self, scope: Scope) -> dict[str, Any]:
        """The round's figures and notified members in the scope's clusters."""
        total: Counter[str] = Counter()
        for cluster_id, counts in self.counts.items():
            if scope.allows(cluster_id):
                total.update(counts)
        return {
            "period": self.period,
            **{name: total[name] for name in FIGURES},
            "notified_members": sorted(m for m, c in self.notified.items() if scope.allows(c)),
        }


async def settle(
    uow: UnitOfWork,
    settings: MatchmakingSettings,
    period: str,
    reasons: Mapping[str, str | None],
    *,
    freed: Iterable[str] = (),
    unit_for: UnitFor | None = None,
) -> RoundResult:
    """Settle the seats after the gaps of the members in ``reasons`` changed (member → why they get an event),
    or after the ``freed`` offers changed: every free seat of the offers involved goes to the waiting gaps,
    most severe first (the members' gaps without a seat wait too, so they compete as equals).

    The members' proposals stay where they are while the offer still serves the gap. Every member with a
    reason gets a ``matchmaking.partners.matched`` event; members with ``None`` and members placed from the
    waiting list get one (reason ``rematch``) only when they got a new proposal.
    """
    session, now = uow.session, uow.now
    result = RoundResult(period)
    ledger = Ledger(session, period)
    members = sorted(reasons)
    await ledger.load(members)
    needs = {need.key: need for m in members for need in ledger.open_needs(m)}
    proposed = {(m, s): match for m in members for s, match in ledger.proposals(m).items()}
    skills = {need.gap.skill_code for need in needs.values()}
    offer_ids = set(await registry.offers_for_skills(session, skills)) | set(freed)
    offer_ids |= {match["offer_id"] for match in proposed.values()}
    locked = {row.id: row for row in await registry.lock_offers(session, offer_ids)}

    # A proposal lapses when its gap is gone, was accepted elsewhere, or the offer no longer serves it.
    lapsed, kept = [], {(m, s): match["id"] for m in members for s, match in ledger.confirmed(m).items()}
    for key, match in proposed.items():
        need, offer = needs.get(key), locked.get(match["offer_id"])
        if need is None or offer is None or ineligibility(need.gap, registry.to_offer(offer, 1), need.profile):
            lapsed.append(match)
            result.count(match["cluster_id"], "proposals_released")
        else:
            kept[key] = match["id"]
            result.count(match["cluster_id"], "proposals_kept")
    await release_matches(session, [match["id"] for match in lapsed], now)
    for match in lapsed:
        ledger.drop(match)
    await gaps.seat_gaps(session, kept)  # a new assessment's gaps arrive without their seats

    catalogue = await catalogue_of(session, period, locked.values())
    result.considered.update((key, need.cluster_id) for key, need in needs.items())
    # Seats this round freed (and the offers the caller changed) may now serve gaps that were waiting before it.
    reopened = set(freed) | {match["offer_id"] for match in lapsed}
    await _serve_waiting_list(uow, settings, ledger, catalogue, result, members=members, reopened=reopened)
    for key, cluster_id in result.considered.items():
        result.count(cluster_id, "gaps")
        if not ledger.seated(key):
            result.count(cluster_id, "unserved_gaps")
    announced = {m: reason for m, reason in reasons.items() if reason}
    announced |= {m: Reason.REMATCH for m in sorted(result.placed) if m not in announced}
    alternatives = await alternatives_for(uow, settings, ledger, sorted(announced), catalogue)
    result.notified.update(await announce(uow, unit_for, ledger, announced, alternatives, settings))
    figures = result.seen_by(EVERYTHING)
    log.info("matching_round", **figures | {"notified_members": len(figures["notified_members"])})
    return result


async def _serve_waiting_list(
    uow: UnitOfWork,
    settings: MatchmakingSettings,
    ledger: Ledger,
    catalogue: dict[str, Offer],
    result: RoundResult,
    *,
    members: Sequence[str],
    reopened: Collection[str],
) -> None:
    """Give the free seats of ``catalogue`` (locked) to the period's waiting gaps, most severe first, page by
    page; each page is placed in one solve. ``catalogue`` is kept up to date with the seats left.

    Every round ends with no waiting gap able to use a free seat: each gap it leaves waiting is ineligible for
    every offer with seats left (or declined it). So a seat that was free before this round is out of reach of
    the gaps that waited before it, and the waiting list is read only for the offers whose seats this round
    freed (``reopened``: lapsed proposals, or offers the caller changed). The gaps of the round's own
    ``members`` join it from memory, each in the page its severity falls in. An event's round thus reads no
    waiting list at all unless it freed a seat, however long the list.

    A cluster's offer open to other clusters serves its own members first, whatever their severity: the first
    page also holds the owning cluster's members waiting for its skills, each of them confined to its
    cluster's open offers, so no other cluster's member takes a seat one of them could use (they meet the
    rest of the waiting list in their turn)."""
    session, now, period = uow.session, uow.now, ledger.period
    cursor: tuple[float, str, str] | None = None
    growth = 1
    own = _own_waiting(ledger, members)
    confined = await _owners_first(session, period, catalogue, reopened, ledger, own)
    while True:
        free = {oid: offer for oid, offer in catalogue.items() if offer.seats_left > 0}
        if not free:
            return
        page = min(_WAITING_PAGE_MAX, growth * (_WAITING_PAGE_MIN + _WAITING_PAGE_PER_SEAT * len(free)))
        growth *= 2
        skills = {code for oid, offer in free.items() if oid in reopened for code in offer.skill_codes}
        rows = await gaps.waiting_gaps(session, period, skills, limit=page, after=cursor) if skills else []
        more = len(rows) == page  # the list may go on past this page
        turn = [g for g in own if g >= rows[-1]] if more else own  # the round's own gaps as severe as this page
        own = own[len(turn) :]
        in_turn = {(member_id, skill) for _, member_id, skill in (*rows, *turn)}
        if not in_turn and not confined:
            return
        confined = {key: offers for key, offers in confined.items() if key not in in_turn}
        members_now = [*(m for _, m, _ in (*rows, *turn)), *(m for m, _ in confined)]
        await ledger.load(members_now)
        wanted = in_turn | confined.keys()
        needs = [n for m in dict.fromkeys(members_now) for n in ledger.needs.get(m, []) if n.key in wanted]
        result.considered.update((n.key, n.cluster_id) for n in needs)
        # Only the seats are kept from this solve: the options members read are listed once the round is over.
        plan = await solve(ledger, settings, needs, list(free.values()), fixed={}, confined=confined, seats_only=True)
        confined = {}  # only the first page: later seats go to members the owners' members were placed before
        await _write(session, ledger, plan, result, now)
        for oid, left in plan.seats_left.items():
            catalogue[oid] = replace(catalogue[oid], seats_left=left)
        if not more:
            return
        cursor = rows[-1]


def _own_waiting(ledger: Ledger, members: Iterable[str]) -> list[tuple[float, str, str]]:
    """(priority, member, skill) of the members' gaps of the period without a seat, in the waiting list's order."""
    found = [
        (need.gap.priority, need.member_id, need.gap.skill_code)
        for member_id in members
        if (row := ledger.assessments.get(member_id)) is not None and row.period == ledger.period
        for need in ledger.open_needs(member_id)
        if not ledger.seated(need.key)
    ]
    return sorted(found, reverse=True)


async def _owners_first(
    session: AsyncSession,
    period: str,
    catalogue: Mapping[str, Offer],
    reopened: Collection[str],
    ledger: Ledger,
    own: Iterable[tuple[float, str, str]],
) -> dict[Key, set[str]]:
    """The waiting gaps of the members of clusters whose offers open to other clusters have free seats, each
    with the offers of its own cluster it may take ahead of its turn: read for the reopened offers (the gaps
    that waited before this round can use no other), and among the round's own gaps for every such offer."""
    opened: dict[str, set[str]] = {}
    skills: dict[str, set[str]] = {}
    for offer in catalogue.values():
        if offer.owner_cluster_id is not None and offer.open_to_other_clusters and offer.seats_left > 0:
            opened.setdefault(offer.owner_cluster_id, set()).add(offer.offer_id)
            skills.setdefault(offer.owner_cluster_id, set()).update(offer.skill_codes)
    if not opened:
        return {}
    confined: dict[Key, set[str]] = {}
    for _, member_id, skill in own:
        cluster_id = ledger.assessments[member_id].cluster_id
        if skill in skills.get(cluster_id, ()):
            confined[(member_id, skill)] = set(opened[cluster_id])
    reopened_skills: dict[str, set[str]] = {}
    for cluster_id, offer_ids in opened.items():
        for offer_id in offer_ids.intersection(reopened):
            reopened_skills.setdefault(cluster_id, set()).update(catalogue[offer_id].skill_codes)
    if reopened_skills:
        waiting = await gaps.waiting_members_of(session, period, reopened_skills)
        for key, cluster_id in waiting.items():
            confined.setdefault(key, set()).update(opened[cluster_id])
    return confined


async def _write(session: AsyncSession, ledger: Ledger, plan: MatchPlan, result: RoundResult, now: datetime) -> None:
    """The proposals a solve made, stored (and their gaps pointed at them)."""
    rows: list[dict[str, Any]] = []
    for index, need in enumerate(plan.needs):
        proposal = plan.proposal_for(index)
        if proposal is None:
            continue
        row = match_row(ledger.period, ledger.assessments[need.member_id].assessment_id, need, proposal, now)
        rows.append(row)
        ledger.add(row)
        result.count(need.cluster_id, "proposals_made")
        result.placed.add(need.member_id)
    if rows:
        await proposals.insert_proposals(session, rows)
        await gaps.seat_gaps(session, {(r["member_id"], r["skill_code"]): r["id"] for r in rows})
