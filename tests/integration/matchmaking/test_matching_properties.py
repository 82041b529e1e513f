"""The published matching properties, over random sequences of assessments, outcomes and seat changes.

Each example runs the matchmaking service in-process (SQLite, its own database) through its real handler
and API, then checks after every step:

1. no offer holds more seats than it has in the period;
2. every gap's seat pointer and the seat-holding matches agree;
3. a gap waits only if every offer it can use is full, and each seat there was given to a gap that was at
   least as severe when it got it, or got it before this gap began to wait (it arrived, or its own
   proposal lapsed or was declined), or was accepted;
4. proposals do not churn: a proposal is released only when its own member was assessed again;
5. every member of an assessment gets exactly one matched event with reason ``assessment`` for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import tempfile
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

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
from trellis_matchmaking.domain.partners import MemberProfile
from trellis_matchmaking.domain.scoring import ineligibility
from trellis_matchmaking.models import matches, member_gaps, member_needs
from trellis_matchmaking.repositories.registry import offer_rows, to_offer
from trellis_matchmaking.service import DEFINITION

SKILLS = ("digcomp:5.2", "digcomp:3.4")
MEMBERS = [f"m-{i}" for i in range(6)]
REGIONS = ("AT13", "AT31")

offers_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "skills": st.lists(st.sampled_from(SKILLS), min_size=1, max_size=2, unique=True),
            "max_level": st.integers(3, 8),
            "seats": st.integers(1, 2),
            "regions": st.sampled_from([[], ["AT13"], ["AT31"]]),
        }
    ),
    min_size=1,
    max_size=3,
)
gap_strategy = st.tuples(st.sampled_from(SKILLS), st.integers(0, 5), st.integers(1, 3), st.integers(1, 5))
assess = st.tuples(
    st.just("assess"),
    st.lists(
        st.tuples(st.sampled_from(MEMBERS), st.lists(gap_strategy, min_size=1, max_size=2, unique_by=lambda g: g[0])),
        min_size=1,
        max_size=3,
        unique_by=lambda m: m[0],
    ),
)
outcome = st.tuples(st.sampled_from(["accepted", "declined"]), st.integers(0, 20))
more_seats = st.tuples(st.just("seats"), st.integers(0, 2), st.integers(1, 2))
steps_strategy = st.lists(st.one_of(assess, assess, outcome, more_seats), min_size=2, max_size=8)
regions_strategy = st.lists(st.sampled_from(REGIONS), min_size=len(MEMBERS), max_size=len(MEMBERS))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offers_strategy, steps_strategy, regions_strategy)
def test_matching_keeps_its_promises(offers: list[dict[str, Any]], steps: list[Any], regions: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(
            _scenario(Path(directory) / "matchmaking.db", offers, steps, dict(zip(MEMBERS, regions, strict=True)))
        )


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
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://m", headers=auth.admin()) as api:
            body = {
                "name": "Partner",
                "partner_type": "university",
                "country": "AT",
                "offers": [
                    {
                        "title": f"Offer {i}",
                        "skill_codes": o["skills"],
                        "max_level": o["max_level"],
                        "format": "masterclass",
                        "seats": o["seats"],
                        "regions": o["regions"],
                    }
                    for i, o in enumerate(offers)
                ],
            }
            created = await api.post("/partners", json=body)
            assert created.status_code == 201, created.text
            offer_ids = [o["id"] for o in sorted(created.json()["offers"], key=lambda o: o["title"])]
            seats = {oid: o["seats"] for oid, o in zip(offer_ids, offers, strict=True)}
            assessed_at: dict[str, list[Any]] = defaultdict(list)
            placed_priority: dict[str, float] = {}  # match id -> its gap's priority when the seat was given
            for member_id in regions:  # surveys published them: gaps of unknown members would wait instead
                await name_member(runtime, member_id, f"Member {member_id}")
            for number, step in enumerate(steps, start=1):
                now = START + timedelta(minutes=number)
                move_clock(runtime, now)
                if step[0] == "assess":
                    await _assess(runtime, step[1], regions, now)
                    for member_id, _ in step[1]:
                        assessed_at[member_id].append(now)
                elif step[0] == "seats":
                    oid = offer_ids[step[1] % len(offer_ids)]
                    seats[oid] += step[2]
                    o = offers[offer_ids.index(oid)]
                    changed = await api.put(
                        f"/offers/{oid}",
                        json={
                            "title": "more seats",
                            "skill_codes": o["skills"],
                            "max_level": o["max_level"],
                            "format": "masterclass",
                            "seats": seats[oid],
                            "regions": o["regions"],
                        },
                    )
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
                context=MemberContext(country="AT", region=regions[member_id], languages=["de"]),
                assessed_at=now,
            )
            for member_id, gaps in members
        ),
    )


async def _check(
    runtime: ServiceRuntime,
    seats: dict[str, int],
    assessed_at: dict[str, list[Any]],
    placed_priority: dict[str, float],
    step: Any,
    now: Any,
) -> None:
    async with runtime.db.sessions() as session:
        rows = (await session.execute(select(matches))).all()
        gaps = (await session.execute(select(member_gaps))).all()
        needs = {r.member_id: r for r in (await session.execute(select(member_needs))).all()}
        catalogue = {r.id: to_offer(r, seats_left=1) for r in await offer_rows(session)}
        events = (await session.execute(select(outbox.c.payload, outbox.c.created_at))).all()
    for r in rows:  # a match seen for the first time was made in this step: its priority is the one it was given
        placed_priority.setdefault(r.id, r.priority)
    holding = [r for r in rows if r.status in ("proposed", "accepted", "completed")]
    by_offer: dict[str, list[Any]] = defaultdict(list)
    for r in holding:
        by_offer[r.offer_id].append(r)

    # 1. capacity
    for oid, holders in by_offer.items():
        assert len(holders) <= seats[oid], f"offer {oid} over capacity after {step}"

    # 2. seat pointers
    seat_of = {(g.member_id, g.skill_code): g.match_id for g in gaps}
    for r in holding:  # an accepted seat stays even when a later assessment no longer names the gap
        if r.status == "proposed" or (r.member_id, r.skill_code) in seat_of:
            assert seat_of.get((r.member_id, r.skill_code)) == r.id, (
                f"{r.member_id}/{r.skill_code}: pointer out of step"
            )
    holding_ids = {r.id for r in holding}
    assert all(m is None or m in holding_ids for m in seat_of.values()), "a gap points at a match without a seat"

    # 3. a gap waits only behind seats that may keep it waiting
    declined = {(r.member_id, r.skill_code, r.offer_id) for r in rows if r.status == "declined"}
    for g in gaps:
        if g.match_id is not None:
            continue
        profile = MemberProfile.of(MemberContext.model_validate(needs[g.member_id].member_context))
        stored = SkillGap.model_validate(g.gap)
        for oid, candidate in catalogue.items():
            if (g.member_id, g.skill_code, oid) in declined:
                continue
            if ineligibility(stored, dataclasses.replace(candidate, seats_left=1), profile) is not None:
                continue
            holders = by_offer.get(oid, [])
            assert len(holders) == seats[oid], f"{g.member_id}/{g.skill_code} waits while {oid} has a free seat"
            for h in holders:
                given = placed_priority[h.id]
                assert h.status != "proposed" or given >= g.priority or h.created_at < g.waiting_since, (
                    f"{g.member_id}/{g.skill_code} (priority {g.priority}) waits behind a milder gap placed after it "
                    f"began to wait: {h.member_id}/{h.skill_code} (priority {given} when placed)"
                )

    # 4. no churn: a released proposal belongs to a member assessed again when it was released
    for r in rows:
        if r.status == "released":
            assert r.updated_at in assessed_at[r.member_id], f"{r.member_id}'s proposal was taken away"

    # 5. one assessment event per member and assessment
    if step[0] == "assess":
        reasons: Counter[str] = Counter()
        for payload, created_at in events:
            data = json.loads(payload)
            if created_at == now and data.get("reason") == "assessment":
                reasons[data["member_id"]] += 1
        assert reasons == Counter({member_id: 1 for member_id, _ in step[1]}), reasons
