"""The readable rules: eligibility with reasons, and a score whose explanation adds up to it."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.matchmaking.strategies import contexts, gap, offer, offers
from trellis_common.events import MemberContext, ScoreComponent
from trellis_matchmaking.domain.partners import (
    Delivery,
    MemberProfile,
    Offer,
    OfferFormat,
    PartnerType,
    region_prefixes,
)
from trellis_matchmaking.domain.scoring import FACTORS, WEIGHTS, ineligibility, score

MEMBER = MemberContext(country="AT", region="AT13", languages=["de"], sector="C25")


def test_weights_add_up_to_one() -> None:
    assert math.isclose(sum(WEIGHTS.values()), 1.0)


@given(
    current=st.integers(0, 7),
    lift=st.integers(1, 8),
    priority=st.floats(0.5, 100),
    delivery=st.sampled_from(list(Delivery)),
    shared_by=st.integers(1, 5),
)
def test_explanation_adds_up_to_the_score(
    current: int, lift: int, priority: float, delivery: Delivery, shared_by: int
) -> None:
    pair = offer(max_level=lift, delivery=delivery, countries=frozenset({"AT"}))
    total, parts = score(gap(current=current, required=8, priority=priority), pair, MEMBER, shared_by=shared_by)
    assert [p.factor for p in parts] == list(FACTORS)
    assert math.isclose(total, sum(p.contribution for p in parts), abs_tol=1e-6)
    assert all(0 <= p.value <= 1 and p.note for p in parts)
    assert all(math.isclose(p.contribution, p.weight * p.value, abs_tol=1e-6) for p in parts)
    assert 0 <= total <= 1


@given(st.data())
def test_any_pair_explains_its_score(data: st.DataObject) -> None:
    context = data.draw(contexts)
    pair = data.draw(offers(0))
    total, parts = score(
        gap(skill_code=next(iter(pair.skill_codes))), pair, context, shared_by=data.draw(st.integers(1, 3))
    )
    assert math.isclose(total, sum(p.contribution for p in parts), abs_tol=1e-6)


def test_a_worked_example() -> None:
    """Priority 22.5 of 40; lifts 2 → 4 of the 5 needed; coaching for upskilling; on site in the member's region;
    open to every sector; not an internationalisation need; one member at a time."""
    coaching = offer(
        max_level=4,
        format=OfferFormat.COACHING,
        delivery=Delivery.ON_SITE,
        countries=frozenset({"AT"}),
        regions=frozenset({"AT1"}),
    )
    total, parts = score(gap(current=2, required=5, priority=22.5), coaching, MEMBER)
    assert {p.factor: p.value for p in parts} == {
        "gap_severity": 0.5625,
        "level_fit": 0.6667,
        "format_fit": 0.9,
        "delivery_fit": 1.0,
        "sector_fit": 0.5,
        "market_fit": 1.0,
        "pooling": 0.0,
    }
    # 0.35×0.5625 + 0.15×0.6667 + 0.1×0.9 + 0.1×1 + 0.1×0.5 + 0.1×1 + 0.1×0
    assert total == 0.63688
    assert parts[1].note == "lifts to level 4 of the 5 needed (from 2)"
    assert parts[2].note == "coaching for an upskilling need"


def test_pooling_counts_only_for_group_formats_of_shared_gaps() -> None:
    masterclass, coaching = offer(), offer(format=OfferFormat.COACHING)

    def pooling(pair: Offer, shared: int) -> ScoreComponent:
        return next(p for p in score(gap(), pair, MEMBER, shared_by=shared)[1] if p.factor == "pooling")

    assert pooling(masterclass, 3).value == 1.0
    assert "3 members of the cluster share this gap" in (pooling(masterclass, 3).note or "")
    assert pooling(masterclass, 1).value == 0.0
    assert pooling(coaching, 3).value == 0.0


def test_ineligible_pairs_say_why() -> None:
    assert (
        ineligibility(gap(), offer(skill_codes=frozenset({"digcomp:1.1"})), MEMBER) == "offer does not cover the skill"
    )
    assert ineligibility(gap(current=6, required=8), offer(max_level=6), MEMBER) == (
        "offer does not lift above the member's current level"
    )
    assert ineligibility(gap(), offer(delivery=Delivery.ON_SITE, countries=frozenset({"DE"})), MEMBER) == (
        "offer serves DE only"
    )
    assert ineligibility(gap(), offer(countries=frozenset({"DE"})), MEMBER) == "offer serves DE only", "online too"
    assert ineligibility(gap(), offer(regions=frozenset({"AT3"})), MEMBER) == "offer serves the regions AT3 only"
    assert ineligibility(gap(), offer(languages=frozenset({"fr"})), MEMBER) == "no common language"
    assert ineligibility(gap(), offer(seats_left=0), MEMBER) == "no seats left"
    assert ineligibility(gap(), offer(), MEMBER) is None


def test_a_clusters_closed_offer_serves_only_its_members() -> None:
    """A cluster's offer keeps its seats for its own members unless the cluster opens it; shared offers serve all."""
    in_a, in_b = MemberProfile.of(MEMBER, "c-a"), MemberProfile.of(MEMBER, "c-b")
    closed, opened = offer(owner_cluster_id="c-a"), offer(owner_cluster_id="c-a", open_to_other_clusters=True)
    assert ineligibility(gap(), closed, in_a) is None
    assert ineligibility(gap(), closed, in_b) == "the offer's seats are kept for the members of its cluster"
    assert ineligibility(gap(), closed, MEMBER) is not None, "a member of no known cluster is not its member"
    assert ineligibility(gap(), opened, in_b) is None and ineligibility(gap(), offer(), in_b) is None
    assert (closed.foreign_to("c-a"), opened.foreign_to("c-b"), offer().foreign_to("c-b")) == (False, True, False)


@pytest.mark.parametrize("partner_type", list(PartnerType))
@pytest.mark.parametrize(
    "skill_code", ["digcomp:5.2", "greencomp:2.1", "greenwork:circular-design", "intl:partner-search"]
)
def test_eligibility_follows_what_the_offer_declares_never_the_partner_type(
    partner_type: PartnerType, skill_code: str
) -> None:
    """The guide lists no partner types per framework: a DIH may well run a green course, a technology provider
    may open doors abroad. What counts is what the offer declares (skills, levels, places, languages, seats)."""
    declared = offer(partner_type=partner_type.value, skill_codes=frozenset({skill_code}))
    assert ineligibility(gap(skill_code=skill_code), declared, MEMBER) is None


def test_regions_contain_their_subregions() -> None:
    assert region_prefixes("at130") == {"AT", "AT1", "AT13", "AT130"}
    assert region_prefixes("Vienna") == {"VIENNA"}
    assert ineligibility(gap(), offer(regions=frozenset({"AT1"})), MEMBER) is None
    unknown_region = MemberContext(country="AT", languages=["de"])
    assert ineligibility(gap(), offer(regions=frozenset({"AT1"})), unknown_region) is not None


def test_international_ambitions_need_a_partner_that_reaches_the_target_countries() -> None:
    member = MemberContext(
        country="AT", languages=["en"], sector="C25", target_countries=["DE"], target_sectors=["C29"]
    )
    intl = gap(skill_code="intl:partner-search", current=1, required=3, priority=10)
    een: dict[str, Any] = dict(skill_codes=frozenset({"intl:partner-search"}), format=OfferFormat.ADVISORY)
    german_een = offer(partner_type=PartnerType.ENTERPRISE_EUROPE_NETWORK.value, partner_country="DE", **een)
    french_cluster = offer(partner_type=PartnerType.CLUSTER.value, partner_country="FR", **een)
    home_een = offer(partner_type=PartnerType.ENTERPRISE_EUROPE_NETWORK.value, partner_country="AT", **een)
    declared = offer(
        partner_type=PartnerType.CLUSTER.value, partner_country="FR", target_markets=frozenset({"DE"}), **een
    )
    university = offer(partner_type=PartnerType.UNIVERSITY.value, **een)
    dih = offer(partner_type=PartnerType.DIGITAL_INNOVATION_HUB.value, **een)

    assert ineligibility(intl, french_cluster, member) == "partner reaches FR, not the member's target countries"
    assert ineligibility(intl, dih, member) is None, "a hub that declares the skill is eligible"
    values = {
        name: {p.factor: p.value for p in score(intl, o, member)[1]}["market_fit"]
        for name, o in [
            ("german_een", german_een),
            ("home_een", home_een),
            ("declared", declared),
            ("university", university),
        ]
    }
    assert values == {"german_een": 1.0, "home_een": 0.5, "declared": 1.0, "university": 0.5}
    made_for_target_sector = offer(sectors=frozenset({"C29"}), **een)
    sector = {p.factor: p for p in score(intl, made_for_target_sector, MemberProfile.of(member))[1]}["sector_fit"]
    assert sector.value == 1.0 and sector.note == "made for sector C29"
