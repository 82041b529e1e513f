"""Clusters' own offers serve their members first: the seat rule over random registries and sequences.

Two clusters; shared offers and each cluster's own, closed or open to the other cluster; random assessments,
outcomes and added seats, driven through the service's handler and API on SQLite with a manual clock. After
every step:

1. no offer holds more seats than it has in the period;
2. (a) no seat of a cluster's closed offer is held by a member of the other cluster;
3. (b) a seat of a cluster's open offer given to the other cluster's member in this step was one no member
   of the owning cluster waiting for a seat (then, and still) could use;
4. the published wait rule, with owners: a gap waits only if every offer it can use is full, and each seat
   there was given, when it was given, to a member of the offer's cluster while this gap's member is not one,
   or to a gap at least as severe, or before this gap began to wait, or was accepted;
5. proposals do not churn, and every assessed member gets one matched event with reason ``assessment``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from tests.integration.matchmaking.conftest import (
    START,
    answer_a_proposal,
    create_tables,
    deliver_batch,
    gaps_assessed,
    move_clock,
    name_member,
    skill_gap,
)
from tests.support import auth
from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.bus.memory import InMemoryBus
from trellis_common.db import outbox
from trellis_common.events import MemberContext, SkillGap
from trellis_common.runtime import ServiceRuntime
from trellis_matchmaking.domain.partners import MemberProfile, Offer
from trellis_matchmaking.domain.scoring import ineligibility
from trellis_matchmaking.matching import rounds
from trellis_matchmaking.models import matches, member_gaps, member_needs
from trellis_matchmaking.repositories.registry import offer_rows, to_offer
from trellis_matchmaking.service import DEFINITION

SKILLS = ("digcomp:5.2", "digcomp:3.4")
CLUSTERS = ("c-a", "c-b")
MEMBERS = {f"m-{cluster[-1]}{i}": cluster for cluster in CLUSTERS for i in range(3)}
HOLDING = ("proposed", "accepted", "completed")
# Whose an offer is: shared, or a cluster's own, closed (False) or open (True) to the other cluster.
OWNERSHIPS = [None, ("c-a", False), ("c-a", True), ("c-b", False), ("c-b", True)]


def _offers(owners: st.SearchStrategy[Any], regions: list[list[str]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "skills": st.lists(st.sampled_from(SKILLS), min_size=1, max_size=2, unique=True),
            "seats": st.integers(1, 2),
            "regions": st.sampled_from(regions),
            "owner": owners,
        }
    )


# The first offer is a cluster's open one that every member may use, so that clusters contend for it.
offers_strategy = st.builds(
    lambda first, others: [first, *others],
    _offers(st.sampled_from([("c-a", True), ("c-b", True)]), [[]]),
    st.lists(_offers(st.sampled_from(OWNERSHIPS), [[], ["AT13"], ["AT31"]]), max_size=3),
)
gap_strategy = st.tuples(st.sampled_from(SKILLS), st.integers(0, 5), st.integers(1, 3), st.integers(1, 5))
assess = st.tuples(
    st.just("assess"),
    st.lists(
        st.tuples(
            st.sampled_from(sorted(MEMBERS)), st.lists(gap_strategy, min_size=1, max_size=2, unique_by=lambda g: g[0])
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda m: m[0],
    ),
)
outcome = st.tuples(st.sampled_from(["accepted", "declined"]), st.integers(0, 20))
more_seats = st.tuples(st.just("seats"), st.integers(0, 3), st.integers(1, 2))
steps_strategy = st.lists(st.one_of(assess, assess, outcome, more_seats), min_size=2, max_size=8)
regions_strategy = st.lists(st.sampled_from(("AT13", "AT31")), min_size=len(MEMBERS), max_size=len(MEMBERS))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers_strategy, steps_strategy, regions_strategy, st.booleans())
def test_clusters_own_offers_serve_their_members_first(
    offers: list[dict[str, Any]], steps: list[Any], regions: list[str], small_pages: bool
) -> None:
    # Small pages: the waiting list is read a gap or two at a time, so owners' members are often not in the first.
    pages = (0, 1) if small_pages else (rounds._WAITING_PAGE_MIN, rounds._WAITING_PAGE_PER_SEAT)
    with (
        tempfile.TemporaryDirectory() as directory,
        patch.object(rounds, "_WAITING_PAGE_MIN", pages[0]),
        patch.object(rounds, "_WAITING_PAGE_PER_SEAT", pages[1]),
    ):
        asyncio.run(
            _scenario(
                Path(directory) / "matchmaking.db", offers, steps, dict(zip(sorted(MEMBERS), regions, strict=True))
            )
        )


def _manager(cluster_id: str) -> dict[str, str]:
    return auth.bearer("cluster-manager", clusters=(cluster_id,), subject=f"manager-of-{cluster_id}")


def _offer_body(index: int, spec: dict[str, Any], seats: int) -> dict[str, Any]:
    return {
        "title": f"Offer {index}",
        "skill_codes": spec["skills"],
        "format": "masterclass",
        "seats": seats,
        "regions": spec["regions"],
    }


async def _register(api: httpx.AsyncClient, offers: list[dict[str, Any]]) -> list[tuple[str, dict[str, str]]]:
    """One partner per ownership, each offer under its own; (offer id, headers of who changes it) per offer."""
    registered: list[tuple[str, dict[str, str]]] = []
    for index, spec in enumerate(offers):
        owner = spec["owner"]
        headers = auth.admin() if owner is None else _manager(owner[0])
        body: dict[str, Any] = {
            "name": f"Partner {index}",
            "partner_type": "university",
            "offers": [_offer_body(index, spec, spec["seats"])],
        }
        if owner is not None:
            body["open_to_other_clusters"] = owner[1]
        made = await api.post("/partners", json=body, headers=headers)
        assert made.status_code == 201, made.text
        assert made.json()["owner_cluster_id"] == (owner[0] if owner else None)
        registered.append((made.json()["offers"][0]["id"], headers))
    return registered


async def _scenario(path: Path, offers: list[dict[str, Any]], steps: list[Any], regions: dict[str, str]) -> None:
    engine = create_engine(f"sqlite:///{path}")
    create_tables(engine)
    engine.dispose()
    runtime = runtime_for(
        DEFINITION,
        database_url=f"sqlite+aiosqlite:///{path}",
        bus=InMemoryBus(),
        clock="manual",
        consume=False,
        relay=False,
        workers=False,
        migrate_on_start=False,
    )
    move_clock(runtime, START)
    await runtime.start()
    app = create_app(runtime.definition, runtime=runtime, manage_runtime=False)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://m", headers=auth.admin()
        ) as api:
            registered = await _register(api, offers)
            seats = {oid: spec["seats"] for (oid, _), spec in zip(registered, offers, strict=True)}
            assessed_at: dict[str, list[datetime]] = defaultdict(list)
            placed_priority: dict[str, float] = {}  # match id -> its gap's priority when the seat was given
            for member_id, cluster_id in MEMBERS.items():  # published by surveys first, else their gaps would wait
                await name_member(runtime, member_id, f"Member {member_id}", cluster_id=cluster_id)
            for number, step in enumerate(steps, start=1):
                now = START + timedelta(minutes=number)
                move_clock(runtime, now)
                if step[0] == "assess":
                    await _assess(runtime, step[1], regions, now)
                    for member_id, _ in step[1]:
                        assessed_at[member_id].append(now)
                elif step[0] == "seats":
                    index = step[1] % len(registered)
                    oid, headers = registered[index]
                    seats[oid] += step[2]
                    body = _offer_body(index, offers[index], seats[oid])
                    changed = await api.put(f"/offers/{oid}", json=body, headers=headers)
                    assert changed.status_code == 200, changed.text
                else:
                    await answer_a_proposal(api, step[0], step[1])
                try:
                    await _check(runtime, seats, assessed_at, placed_priority, step, now)
                except AssertionError as failed:  # the whole case, so a failure can be replayed by hand
                    raise AssertionError(f"{failed}\noffers={offers}\nsteps={steps}\nregions={regions}") from None
    finally:
        await runtime.stop()


async def _assess(
    runtime: ServiceRuntime,
    members: list[tuple[str, list[tuple[str, int, int, int]]]],
    regions: dict[str, str],
    now: Any,
) -> None:
    """One consumer batch: the members' gaps events handled in one transaction, as the consumer does."""
    await deliver_batch(
        runtime,
        *(
            gaps_assessed(
                member_id,
                [skill_gap(code, current, current + lift, headcount, 5) for code, current, lift, headcount in gaps],
                cluster_id=MEMBERS[member_id],
                context=MemberContext(country="AT", region=regions[member_id], languages=["de"]),
                assessed_at=now,
            )
            for member_id, gaps in members
        ),
    )


def _outranks(holder: Any, given: float, waiting: Any, offer: Offer) -> bool:
    """Whether ``holder``'s seat of ``offer`` may keep ``waiting`` waiting: the rule at the time it was given."""
    if holder.status != "proposed" or holder.created_at < waiting.waiting_since:
        return True  # accepted seats never move; a proposal made before the gap waited keeps its seat
    holder_foreign, waiting_foreign = offer.foreign_to(holder.cluster_id), offer.foreign_to(waiting.cluster_id)
    if holder_foreign != waiting_foreign:
        return not holder_foreign  # the owning cluster's member comes first, whatever the severities
    waiting_priority: float = waiting.priority
    return given >= waiting_priority


async def _check(
    runtime: ServiceRuntime,
    seats: dict[str, int],
    assessed_at: dict[str, list[datetime]],
    placed_priority: dict[str, float],
    step: Any,
    now: datetime,
) -> None:
    async with runtime.db.sessions() as session:
        rows = (await session.execute(select(matches))).all()
        gaps = (await session.execute(select(member_gaps))).all()
        needs = {r.member_id: r for r in (await session.execute(select(member_needs))).all()}
        catalogue = {r.id: to_offer(r, seats_left=1) for r in await offer_rows(session)}
        events = (await session.execute(select(outbox.c.payload, outbox.c.created_at))).all()
    new = {r.id for r in rows if r.id not in placed_priority}
    for r in rows:  # a match seen for the first time was made in this step: its priority is the one it was given
        placed_priority.setdefault(r.id, r.priority)
    holding = [r for r in rows if r.status in HOLDING]
    by_offer: dict[str, list[Any]] = defaultdict(list)
    for r in holding:
        by_offer[r.offer_id].append(r)
    declined = {(r.member_id, r.skill_code, r.offer_id) for r in rows if r.status == "declined"}
    waiting = [g for g in gaps if g.match_id is None]

    def could_use(g: Any, offer: Offer) -> bool:
        if (g.member_id, g.skill_code, offer.offer_id) in declined:
            return False
        profile = MemberProfile.of(MemberContext.model_validate(needs[g.member_id].member_context), g.cluster_id)
        return ineligibility(SkillGap.model_validate(g.gap), dataclasses.replace(offer, seats_left=1), profile) is None

    for oid, holders in by_offer.items():
        offer = catalogue[oid]
        assert len(holders) <= seats[oid], f"1. offer {oid} over capacity after {step}"
        for h in holders:
            if not offer.foreign_to(h.cluster_id):
                continue
            # (a) a closed offer of a cluster is never another cluster's member's seat
            assert offer.open_to_other_clusters, f"2. {h.member_id} of {h.cluster_id} holds a seat of {oid}: closed"
            # (b) an open one only when no member of the owning cluster waiting then could use it
            if h.id in new:
                passed_over = [
                    g.member_id
                    for g in waiting
                    if g.cluster_id == offer.owner_cluster_id
                    and g.waiting_since <= h.created_at
                    and could_use(g, offer)
                ]
                assert not passed_over, f"3. {h.member_id} took a seat of {oid} its owner's {passed_over} could use"

    # 4. a gap waits only behind seats that may keep it waiting
    for g in waiting:
        for oid, offer in catalogue.items():
            if not could_use(g, offer):
                continue
            holders = by_offer.get(oid, [])
            assert len(holders) == seats[oid], f"4. {g.member_id}/{g.skill_code} waits while {oid} has a free seat"
            for h in holders:
                assert _outranks(h, placed_priority[h.id], g, offer), (
                    f"4. {g.member_id} of {g.cluster_id} ({g.skill_code}, priority {g.priority}) waits for {oid} "
                    f"(owner {offer.owner_cluster_id}) behind {h.member_id} of {h.cluster_id} "
                    f"(priority {placed_priority[h.id]})"
                )

    # 5. no churn, and one assessment event per assessed member
    for r in rows:
        if r.status == "released":
            assert r.updated_at in assessed_at[r.member_id], f"5. {r.member_id}'s proposal was taken away"
    if step[0] == "assess":
        reasons: Counter[str] = Counter()
        for payload, created_at in events:
            data = json.loads(payload)
            if created_at == now and data.get("reason") == "assessment":
                reasons[data["member_id"]] += 1
        assert reasons == Counter({member_id: 1 for member_id, _ in step[1]}), reasons
