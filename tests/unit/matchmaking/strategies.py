"""Hypothesis strategies and builders for matchmaking's domain tests: small vocabularies, so rules collide."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from trellis_common.events import MemberContext, SkillGap, Trend
from trellis_matchmaking.domain.partners import (
    Delivery,
    MemberNeed,
    MemberProfile,
    Offer,
    OfferFormat,
    PartnerType,
)

SKILLS = ["digcomp:5.2", "digcomp:4.1", "greencomp:2.1", "intl:partner-search"]
COUNTRIES = ["AT", "DE", "FR"]
REGIONS = ["AT1", "AT13", "AT3", "DE2"]
LANGUAGES = ["de", "en", "fr"]
SECTORS = ["C", "C25", "C26", "J62"]
PRIORITIES = [1.0, 2.5, 6.0, 10.0, 22.5, 40.0, 45.0]


def gap(
    skill_code: str = "digcomp:5.2", current: int = 2, required: int = 5, priority: float = 22.5, headcount_gap: int = 3
) -> SkillGap:
    return SkillGap(
        skill_code=skill_code,
        skill_label=skill_code,
        framework=skill_code.partition(":")[0],
        current_level=current,
        required_level=required,
        level_gap=max(0, required - current),
        headcount_having=1,
        headcount_needed=1 + headcount_gap,
        headcount_gap=headcount_gap,
        importance=5,
        priority=priority,
        priority_formula="",
        trend=Trend.NEW,
    )


def offer(offer_id: str = "o", **overrides: Any) -> Offer:
    base: dict[str, Any] = {
        "offer_id": offer_id,
        "partner_id": f"p-{offer_id}",
        "partner_name": f"Partner {offer_id}",
        "partner_type": PartnerType.UNIVERSITY.value,
        "title": f"Offer {offer_id}",
        "skill_codes": frozenset({"digcomp:5.2"}),
        "max_level": 6,
        "format": OfferFormat.MASTERCLASS,
        "delivery": Delivery.ONLINE,
        "seats_left": 3,
    }
    return Offer(**{**base, **overrides})


def need(
    member_id: str = "m", cluster_id: str = "c", context: MemberContext | None = None, **gap_fields: Any
) -> MemberNeed:
    context = context or MemberContext(country="AT", region="AT13", languages=["de"])
    return MemberNeed(member_id, cluster_id, gap(**gap_fields), MemberProfile.of(context, cluster_id))


contexts = st.builds(
    MemberContext,
    country=st.none() | st.sampled_from(COUNTRIES),
    region=st.none() | st.sampled_from(["AT130", "AT13", "AT31", "DE21"]),
    languages=st.lists(st.sampled_from(LANGUAGES), max_size=2, unique=True),
    sector=st.none() | st.sampled_from(["C25.1", "C26", "J62"]),
    target_countries=st.lists(st.sampled_from(COUNTRIES), max_size=2, unique=True),
    target_sectors=st.lists(st.sampled_from(["C25", "J62"]), max_size=1),
)


@st.composite
def offers(draw: st.DrawFn, index: int) -> Offer:
    delivery = draw(st.sampled_from(list(Delivery)))
    return offer(
        f"o{index:02d}",
        partner_type=draw(st.sampled_from(list(PartnerType))).value,
        skill_codes=frozenset(draw(st.lists(st.sampled_from(SKILLS), min_size=1, max_size=2, unique=True))),
        max_level=draw(st.integers(1, 8)),
        format=draw(st.sampled_from(list(OfferFormat))),
        delivery=delivery,
        countries=frozenset(draw(st.lists(st.sampled_from(COUNTRIES), max_size=2, unique=True))),
        regions=frozenset(draw(st.lists(st.sampled_from(REGIONS), max_size=2, unique=True))),
        languages=frozenset(draw(st.lists(st.sampled_from(LANGUAGES), max_size=2, unique=True))),
        sectors=frozenset(draw(st.lists(st.sampled_from(SECTORS), max_size=2, unique=True))),
        target_markets=frozenset(draw(st.lists(st.sampled_from(COUNTRIES), max_size=2, unique=True))),
        partner_country=draw(st.none() | st.sampled_from(COUNTRIES)),
        seats_left=draw(st.integers(0, 3)),
        owner_cluster_id=draw(st.sampled_from([None, None, "c1", "c2"])),  # shared, or one cluster's own
        open_to_other_clusters=draw(st.booleans()),
    )


@st.composite
def member_needs(draw: st.DrawFn, index: int) -> list[MemberNeed]:
    """One member's gaps: distinct skills, one context."""
    context = draw(contexts)
    cluster = draw(st.sampled_from(["c1", "c2"]))
    skills = draw(st.lists(st.sampled_from(SKILLS), min_size=1, max_size=3, unique=True))
    out = []
    for skill in skills:
        current = draw(st.integers(0, 7))
        required = draw(st.integers(current, 8))
        out.append(
            need(
                f"m{index:02d}",
                cluster,
                context,
                skill_code=skill,
                current=current,
                required=required,
                priority=draw(st.sampled_from(PRIORITIES)),
                headcount_gap=draw(st.integers(0, 3)),
            )
        )
    return out


@st.composite
def problems(draw: st.DrawFn, max_members: int = 8, max_offers: int = 8) -> tuple[list[MemberNeed], list[Offer]]:
    members = draw(st.integers(1, max_members))
    needs = [n for i in range(members) for n in draw(member_needs(i))]
    catalogue = [draw(offers(j)) for j in range(draw(st.integers(0, max_offers)))]
    return needs, catalogue
