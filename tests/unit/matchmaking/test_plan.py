"""A whole matching round: proposals, alternatives, explanations, over random registries and members."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

from hypothesis import given, settings

from tests.unit.matchmaking.strategies import need, offer, problems
from trellis_common.events import MemberContext
from trellis_matchmaking.domain.partners import Delivery, OfferFormat, PartnerType
from trellis_matchmaking.domain.plan import plan_matches
from trellis_matchmaking.domain.scoring import ineligibility


@settings(max_examples=150, deadline=None)
@given(problems())
def test_a_round_never_proposes_an_ineligible_pair_nor_oversubscribes(problem) -> None:  # type: ignore[no-untyped-def]
    needs, catalogue = problem
    plan = plan_matches(needs, catalogue, options_per_gap=3)
    seats = {o.offer_id: o.seats_left for o in catalogue}
    load = Counter(o.offer_id for o in plan.seated if o is not None)
    assert all(load[o] <= seats[o] for o in load)
    assert all(plan.seats_left[o] == seats[o] - load[o] for o in seats)
    for index, options in enumerate(plan.options):
        assert len(options) <= 3
        assert [o.reserved for o in options][:1] == ([True] if plan.seated[index] else [])
        assert all(not o.reserved for o in options[1:])
        assert len({o.offer.offer_id for o in options}) == len(options)
        for option in options:
            original = next(c for c in catalogue if c.offer_id == option.offer.offer_id)
            assert ineligibility(option.need.gap, original, option.need.profile) is None
            assert math.isclose(option.score, sum(c.contribution for c in option.explanation), abs_tol=1e-6)
            if not option.reserved:
                assert plan.seats_left[option.offer.offer_id] > 0, "alternatives have a free seat"
        scores = [o.score for o in options[1:]]
        assert scores == sorted(scores, reverse=True)
    for index, waiting in enumerate(plan.needs):
        if plan.seated[index] is not None:
            continue
        for candidate in catalogue:
            if ineligibility(waiting.gap, candidate, waiting.profile) is None:
                holders = [n for n, seat in zip(plan.needs, plan.seated, strict=True) if seat == candidate]
                assert len(holders) == candidate.seats_left, "an eligible offer with a free seat was left unused"
                for h in holders:  # the owning cluster's members first, then the most severe
                    if candidate.foreign_to(h.cluster_id) != candidate.foreign_to(waiting.cluster_id):
                        assert not candidate.foreign_to(h.cluster_id), "another cluster took the owner's seat"
                    else:
                        assert h.gap.priority >= waiting.gap.priority, "a milder gap took the seat"


def test_the_contested_last_seat_goes_to_the_more_severe_gap() -> None:
    mild = need("m-mild", priority=6.0, current=4, required=5)
    severe = need("m-severe", priority=30.0, current=2, required=5)
    plan = plan_matches([mild, severe], [offer("o-1", seats_left=1)])
    assert [o.offer_id if o else None for o in plan.seated] == [None, "o-1"]
    assert plan.options[0] == (), "a gap without a seat has no options: everything it could use is full"


def test_confined_gaps_take_only_the_offers_they_are_confined_to() -> None:
    """Members read ahead of their turn for their cluster's open offer take no other seat in that placement."""
    early = need("m-early", "c-a", priority=6.0)
    own = offer("o-own", owner_cluster_id="c-a", open_to_other_clusters=True, seats_left=0)
    plan = plan_matches([early], [own, offer("o-shared")], confined={early.key: {"o-own"}})
    assert plan.seated == (None,) and plan.options == ((),)
    plan = plan_matches(
        [early], [dataclasses.replace(own, seats_left=1), offer("o-shared")], confined={early.key: {"o-own"}}
    )
    assert plan.seated[0].offer_id == "o-own"  # type: ignore[union-attr]


def test_declined_offers_and_fixed_proposals() -> None:
    gap_need = need("m-1")
    two = [offer("o-a"), offer("o-b")]
    for fixed in ("o-a", "o-b"):  # a proposal the gap holds stays where it is
        plan = plan_matches([gap_need], two, fixed={("m-1", "digcomp:5.2"): fixed})
        assert plan.seated[0].offer_id == fixed and plan.kept == (True,)  # type: ignore[union-attr]
    declined = {("m-1", "digcomp:5.2", "o-a")}
    plan = plan_matches([gap_need], two, declined=declined)
    assert [o.offer.offer_id for o in plan.options[0]] == ["o-b"]


def test_a_fixed_proposal_keeps_its_seat_against_a_more_severe_gap() -> None:
    mild = need("m-mild", priority=6.0, current=4, required=5)
    severe = need("m-severe", priority=30.0, current=2, required=5)
    full = offer("o-1", seats_left=0)  # its one seat is the mild gap's proposal, already counted
    plan = plan_matches([mild, severe], [full], fixed={mild.key: "o-1"})
    assert [o.offer_id if o else None for o in plan.seated] == ["o-1", None]
    assert plan.kept == (True, False)
    (reserved,) = plan.options[0]
    assert reserved.reserved and math.isclose(reserved.score, sum(c.contribution for c in reserved.explanation))


def test_a_fixed_proposal_the_offer_no_longer_serves_lapses_and_frees_its_seat() -> None:
    lifted = need("m-1", current=6, required=8, priority=10.0)  # the offer lifts to 6: no use any more
    other = need("m-2", priority=6.0)
    plan = plan_matches([lifted, other], [offer("o-1", seats_left=0)], fixed={lifted.key: "o-1"})
    assert plan.kept == (False, False)
    assert [o.offer_id if o else None for o in plan.seated] == [None, "o-1"], "the freed seat went to the other"


def test_shared_gaps_lean_towards_one_group_offer() -> None:
    context = MemberContext(country="AT", region="AT13", languages=["de"])
    members = [need(f"m-{i}", "c-1", context) for i in range(3)]
    coaching = offer("o-coach", format=OfferFormat.COACHING, seats_left=5)  # fits upskilling 0.9, one at a time
    masterclass = offer("o-class", max_level=5, seats_left=5)  # a group format: pooling counts
    alone = plan_matches(members[:1], [coaching, masterclass])
    shared = plan_matches(members, [coaching, masterclass])
    assert alone.seated[0].offer_id == "o-class"  # type: ignore[union-attr]
    assert {o.offer_id for o in shared.seated if o} == {"o-class"}
    pooling = {c.factor: c for c in shared.options[0][0].explanation}["pooling"]
    assert pooling.value == 1.0


def test_places_and_languages_are_respected_in_a_round_and_partner_types_do_not_exclude() -> None:
    member = need("m-1", context=MemberContext(country="AT", languages=["de"]))
    catalogue = [
        offer("o-green", partner_type=PartnerType.GREEN_TECH_CONSULTANT.value),  # declares the digital skill
        offer("o-de", delivery=Delivery.ON_SITE, countries=frozenset({"DE"})),
        offer("o-fr", languages=frozenset({"fr"})),
        offer("o-ok", delivery=Delivery.HYBRID, countries=frozenset({"AT"})),
    ]
    plan = plan_matches([member], catalogue)
    assert sorted(o.offer.offer_id for o in plan.options[0]) == ["o-green", "o-ok"]
