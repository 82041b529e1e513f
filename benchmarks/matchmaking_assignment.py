"""Benchmark: one matching round of 10,000 member gaps against 2,000 offers (target: < 5 s, < 1 GiB).

What is timed is the domain work of a round, without the database: every eligible (gap, offer) pair scored
with its explanation factors, seats given out by the min-cost flow, each gap's options with explanations,
and the pools found. Peak memory is reported twice: the Python heap during the round (tracemalloc, which
also sees numpy's arrays but not OR-Tools' C++ memory, so it runs in a second, untimed pass) and the
process's peak resident set (``ru_maxrss``, everything included, imports too).

    .venv/bin/python benchmarks/matchmaking_assignment.py [--members 2500 --gaps 4 --offers 2000 --seed 7]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter

from trellis_common.events import MemberContext, SkillGap, Trend
from trellis_matchmaking.domain.partners import (
    GROUP_FORMATS,
    Delivery,
    MemberNeed,
    MemberProfile,
    Offer,
    OfferFormat,
    PartnerType,
)
from trellis_matchmaking.domain.plan import MatchPlan, plan_matches
from trellis_matchmaking.domain.pooling import SeatHolder, find_pools

SKILLS = (
    [f"digcomp:{a}.{c}" for a, n in ((1, 3), (2, 6), (3, 4), (4, 4), (5, 4)) for c in range(1, n + 1)]
    + [f"greencomp:{a}.{c}" for a in range(1, 5) for c in range(1, 4)]
    + [
        "intl:market-analysis",
        "intl:value-chain-risk",
        "intl:partner-search",
        "intl:matchmaking-participation",
        "intl:funding-applications",
        "intl:export-readiness",
        "intl:trade-fairs",
        "intl:regulatory-compliance",
        "intl:intercultural-communication",
        "intl:ip-protection",
    ]
)
COUNTRIES = ["AT", "BE", "CZ", "DE", "DK", "ES", "FR", "IT", "NL", "PL", "PT", "SE"]
LANGUAGES = ["de", "en", "fr", "es", "it", "nl", "pl"]
SECTORS = ["C22", "C25", "C26", "C27", "C28", "C29", "J62", "M71"]


def synthetic(
    members: int, gaps_per_member: int, offer_count: int, seed: int, dense: bool = False
) -> tuple[list[MemberNeed], list[Offer]]:
    """A registry and a cluster network with a fixed seed. ``dense``: every offer online, open to every country
    and language, from a partner type the guide names for its skills, with 1-3 seats: far more eligible pairs
    and seats contested by many gaps."""
    rng = random.Random(seed)
    needs: list[MemberNeed] = []
    for m in range(members):
        country = rng.choice(COUNTRIES)
        context = MemberContext(
            country=country,
            region=f"{country}{rng.randint(1, 4)}{rng.randint(1, 5)}",
            sector=rng.choice(SECTORS),
            languages=[*rng.sample(LANGUAGES, rng.randint(1, 2)), "en"],
            target_countries=rng.sample(COUNTRIES, rng.randint(0, 2)),
        )
        profile = MemberProfile.of(context)
        for code in rng.sample(SKILLS, gaps_per_member):
            current = rng.randint(0, 6)
            required = rng.randint(current, 8)
            level_gap, headcount_gap, importance = required - current, rng.randint(0, 5), rng.randint(1, 5)
            if level_gap == 0 and headcount_gap == 0:
                headcount_gap = 1
            priority = importance * (level_gap + 0.5 * headcount_gap)
            gap = SkillGap(
                skill_code=code,
                skill_label=code,
                framework=code.partition(":")[0],
                current_level=current,
                required_level=required,
                level_gap=level_gap,
                headcount_having=1,
                headcount_needed=1 + headcount_gap,
                headcount_gap=headcount_gap,
                importance=importance,
                priority=priority,
                priority_formula=f"{importance} × ({level_gap} + 0.5 × {headcount_gap}) = {priority:g}",
                trend=Trend.NEW,
            )
            needs.append(MemberNeed(f"m{m:05d}", f"c{m % 50:02d}", gap, profile))
    offers: list[Offer] = []
    for o in range(offer_count):
        if dense:
            code = rng.choice(SKILLS)
            framework = code.partition(":")[0]
            offers.append(
                Offer(
                    offer_id=f"o{o:05d}",
                    partner_id=f"p{o // 5:04d}",
                    partner_name=f"Partner {o // 5}",
                    partner_type=rng.choice(sorted(PartnerType)).value,
                    title=f"Offer {o}",
                    skill_codes=frozenset([code, *rng.sample([s for s in SKILLS if s.startswith(framework)], 1)]),
                    max_level=8,
                    format=rng.choice(list(OfferFormat)),
                    delivery=Delivery.ONLINE,
                    seats_left=rng.randint(1, 3),
                    partner_country=rng.choice(COUNTRIES),
                )
            )
            continue
        delivery = rng.choice(list(Delivery))
        home = rng.choice(COUNTRIES)
        countries = (
            frozenset()
            if delivery == Delivery.ONLINE and rng.random() < 0.7
            else frozenset([*rng.sample(COUNTRIES, rng.randint(1, 3)), home])
        )
        offers.append(
            Offer(
                offer_id=f"o{o:05d}",
                partner_id=f"p{o // 5:04d}",
                partner_name=f"Partner {o // 5}",
                partner_type=rng.choice(list(PartnerType)).value,
                title=f"Offer {o}",
                skill_codes=frozenset(rng.sample(SKILLS, rng.randint(1, 3))),
                max_level=rng.randint(3, 8),
                format=rng.choice(list(OfferFormat)),
                delivery=delivery,
                countries=countries,
                languages=frozenset(rng.sample(LANGUAGES, rng.randint(0, 2))),
                seats_left=rng.randint(1, 20),
                regions=frozenset({f"{home}{rng.randint(1, 4)}"}) if rng.random() < 0.2 else frozenset(),
                sectors=frozenset(rng.sample(SECTORS, 1)) if rng.random() < 0.3 else frozenset(),
                target_markets=frozenset(rng.sample(COUNTRIES, 2)) if rng.random() < 0.1 else frozenset(),
                partner_country=home,
            )
        )
    return needs, offers


def one_round(needs: list[MemberNeed], offers: list[Offer]) -> tuple[MatchPlan, int]:
    plan = plan_matches(needs, offers)
    holders = [
        SeatHolder(n.member_id, n.cluster_id, n.gap.skill_code, seat.offer_id, seat.format in GROUP_FORMATS)
        for n, seat in zip(plan.needs, plan.seated, strict=True)
        if seat is not None
    ]
    return plan, len(find_pools(holders, period="2026-Q1", min_members=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2500)
    parser.add_argument("--gaps", type=int, default=4, help="gaps per member")
    parser.add_argument("--offers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dense", action="store_true", help="open online offers with few seats: heavy contention")
    args = parser.parse_args()

    needs, offers = synthetic(args.members, args.gaps, args.offers, args.seed, args.dense)
    seats = sum(o.seats_left for o in offers)
    one_round(needs[:200], offers[:200])  # warm up imports and caches outside the measurement

    started = time.perf_counter()
    plan, pools = one_round(needs, offers)
    seconds = time.perf_counter() - started
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux; before tracemalloc adds its own

    tracemalloc.start()
    one_round(needs, offers)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    seated = sum(1 for s in plan.seated if s is not None)
    load = Counter(s.offer_id for s in plan.seated if s is not None)
    assert all(load[o.offer_id] <= o.seats_left for o in offers), "an offer is oversubscribed"
    options = sum(len(o) for o in plan.options)
    print(f"gaps {len(needs):,}  offers {len(offers):,}  seats {seats:,}  eligible pairs {plan.candidates:,}")
    print(f"seated {seated:,}  unserved {len(needs) - seated:,}  options listed {options:,}  pools {pools:,}")
    print(f"time            {seconds:.2f} s   (target < 5 s)")
    print(f"heap peak       {heap_peak / 2**20:.0f} MiB (tracemalloc, during the round)")
    print(f"process peak    {rss_kib / 2**10:.0f} MiB (ru_maxrss after the timed round; target < 1024 MiB)")
    ok = seconds < 5 and rss_kib < 2**20
    print("within target" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
