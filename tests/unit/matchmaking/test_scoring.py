from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from trellis_common.events import MemberContext, SkillGap, Trend
from trellis_matchmaking.domain.scoring import Delivery, Offer, OfferFormat, ineligibility, score


def _gap(current: int = 2, required: int = 5, priority: float = 22.5) -> SkillGap:
    return SkillGap(
        skill_code="digcomp:5.2",
        skill_label="x",
        framework="digcomp",
        current_level=current,
        required_level=required,
        level_gap=max(0, required - current),
        headcount_having=1,
        headcount_needed=4,
        headcount_gap=3,
        importance=5,
        priority=priority,
        priority_formula="",
        trend=Trend.NEW,
    )


def _offer(**overrides: object) -> Offer:
    base: dict[str, object] = dict(
        offer_id="o",
        partner_id="p",
        partner_name="P",
        partner_type="university",
        title="T",
        skill_codes=frozenset({"digcomp:5.2"}),
        max_level=6,
        format=OfferFormat.MASTERCLASS,
        delivery=Delivery.ONLINE,
        seats_left=3,
    )
    return Offer(**{**base, **overrides})  # type: ignore[arg-type]


MEMBER = MemberContext(country="AT", languages=["de"])


@given(
    current=st.integers(0, 7),
    lift=st.integers(1, 8),
    priority=st.floats(0.5, 100),
    delivery=st.sampled_from(list(Delivery)),
)
def test_explanation_adds_up_to_the_score(current: int, lift: int, priority: float, delivery: Delivery) -> None:
    offer = _offer(max_level=lift, delivery=delivery, countries=frozenset({"AT"}))
    total, parts = score(_gap(current, 8, priority), offer, MEMBER)
    assert math.isclose(total, sum(p.contribution for p in parts), abs_tol=1e-6)
    assert all(0 <= p.value <= 1 for p in parts)
    assert 0 <= total <= 1


def test_ineligible_pairs_say_why() -> None:
    assert (
        ineligibility(_gap(), _offer(skill_codes=frozenset({"digcomp:1.1"})), MEMBER)
        == "offer does not cover the skill"
    )
    assert ineligibility(_gap(current=6, required=8), _offer(max_level=6), MEMBER) is not None
    assert ineligibility(_gap(), _offer(delivery=Delivery.ON_SITE, countries=frozenset({"DE"})), MEMBER) is not None
    assert ineligibility(_gap(), _offer(languages=frozenset({"fr"})), MEMBER) == "no common language"
    assert ineligibility(_gap(), _offer(seats_left=0), MEMBER) == "no seats left"
    assert ineligibility(_gap(), _offer(), MEMBER) is None
