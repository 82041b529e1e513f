"""The cluster's skills profile: the four types of skills imbalance, worked through the guide's scenarios."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trellis_common.events import SkillAnswer
from trellis_skills.domain.imbalance import (
    ACTIONS,
    AnswerLike,
    ExternalFigure,
    ImbalanceRules,
    ImbalanceType,
    SkillBalance,
    SkillsAction,
    SkillTotals,
    aggregate,
    classify,
    profile_cluster,
)

RULES = ImbalanceRules()


def answer(code: str, current: int, required: int, having: int, needed: int, importance: int = 3) -> SkillAnswer:
    return SkillAnswer(
        skill_code=code,
        current_level=current,
        required_level=required,
        headcount_having=having,
        headcount_needed=needed,
        importance=importance,
    )


def one(
    answers: Sequence[AnswerLike], figures: list[ExternalFigure] | None = None, rules: ImbalanceRules = RULES
) -> SkillBalance:
    (balance,) = profile_cluster(answers, figures or [], rules)
    return balance


# --- Worked examples: each type of imbalance from a scenario of the guide (digital segment) ---------------


def test_shortage_rural_smes_cannot_attract_digital_talent() -> None:
    # The guide: SMEs and companies in rural areas struggle to attract the workforce they need; 46% of SMEs
    # find it hard to hire people with advanced IT skills for lack of suitable applicants.
    # Three rural SMEs need 4 + 3 + 3 = 10 programmers (DigComp 3.4) at level 5 and have 1 + 0 + 1 = 2.
    balance = one(
        [
            answer("digcomp:3.4", 5, 5, 1, 4),
            answer("digcomp:3.4", 0, 5, 0, 3),
            answer("digcomp:3.4", 5, 5, 1, 3),
        ]
    )
    assert balance.imbalance is ImbalanceType.SHORTAGE
    assert (balance.demand, balance.supply, balance.demand_supply_ratio) == (10, 2, 5.0)
    assert balance.explanation == (
        "Shortage: members need 10 people, 2 people available (2 in member companies): demand is 5 × supply, "
        "8 short (rule: demand ≥ 1.2 × supply and demand − supply ≥ 2 people)."
    )
    assert balance.actions == (SkillsAction.UPSKILLING, SkillsAction.TALENT_ATTRACTION)
    assert balance.rule.startswith("shortage: ")


def test_gap_experienced_staff_below_the_required_level() -> None:
    # The guide: experienced employees find it harder to adjust and to develop digital skills. Three
    # manufacturers need 10 people at level 4 in protecting personal data (DigComp 4.2); 9 work with it, at
    # levels 2, 2 and 3: (2 × 4 + 2 × 4 + 1 × 2) / 10 = 1.8 levels short on average.
    balance = one(
        [
            answer("digcomp:4.2", 2, 4, 4, 4),
            answer("digcomp:4.2", 2, 4, 3, 4),
            answer("digcomp:4.2", 3, 4, 2, 2),
        ]
    )
    assert balance.imbalance is ImbalanceType.GAP
    assert (balance.required_level, balance.current_level, balance.level_gap) == (4.0, 2.2, 1.8)
    assert balance.explanation == (
        "Gap: members need 10 people, 9 people available (9 in member companies), but their people are at level "
        "2.2 on average against 4 required: 1.8 level(s) short (rule: members have people with the skill (level "
        "above 0) and they are on average ≥ 1 level(s) below the required level)."
    )
    assert balance.actions == (SkillsAction.UPSKILLING,)


def test_surplus_it_cluster_members_with_more_programmers_than_they_need() -> None:
    # The guide's Transilvania IT Cluster: IT members whose practitioners train other companies through a
    # "train the trainer" programme. They need 10 + 8 + 6 = 24 programmers and have 20 + 12 + 8 = 40.
    balance = one(
        [
            answer("digcomp:3.4", 6, 6, 20, 10),
            answer("digcomp:3.4", 6, 5, 12, 8),
            answer("digcomp:3.4", 5, 5, 8, 6),
        ]
    )
    assert balance.imbalance is ImbalanceType.SURPLUS
    assert balance.explanation == (
        "Surplus: members need 24 people, 40 people available (40 in member companies): supply is 1.67 × demand, "
        "16 more than needed (rule: supply ≥ 1.5 × demand and supply − demand ≥ 2 people)."
    )
    assert balance.actions == ()
    assert "train-the-trainer" in balance.recommendation


@dataclass(frozen=True)
class Revised:
    """A member's latest answer as skills stores it: with what it needed at its previous answer."""

    skill_code: str
    current_level: int
    required_level: int
    headcount_having: int
    headcount_needed: int
    previous_headcount_needed: int | None


def test_many_holders_and_little_need_is_a_surplus_without_evidence_of_decline() -> None:
    # 15 people hold the skill, 1 is needed, and nobody's need has fallen: the skill is plentiful, not obsolete.
    balance = one(
        [
            answer("digcomp:3.4", 5, 5, 6, 1),
            answer("digcomp:3.4", 4, 0, 5, 0),
            answer("digcomp:3.4", 4, 0, 4, 0),
        ]
    )
    assert balance.imbalance is ImbalanceType.SURPLUS
    assert balance.declining_members == 0 and balance.actions == ()


def test_obsolescence_needs_a_falling_need() -> None:
    # The same stock, but two members needed people at their previous answer and need none now.
    balance = one(
        [
            Revised("digcomp:3.4", 5, 5, 6, 1, 1),
            Revised("digcomp:3.4", 4, 0, 5, 0, 3),
            Revised("digcomp:3.4", 4, 0, 4, 0, 2),
        ]
    )
    assert balance.imbalance is ImbalanceType.OBSOLESCENCE and balance.declining_members == 2
    assert balance.explanation == (
        "Obsolescence: members hold the skill (15 people) but need 1 person: demand is 0.07 × what they hold, "
        "and 2 members need fewer people than at their previous answer (rule: members hold it (≥ 2 people), "
        "demand ≤ 0.1 × what they hold, and a member needs fewer people than at its previous answer)."
    )
    assert balance.actions == (SkillsAction.RESKILLING,)
    rising = one([Revised("digcomp:3.4", 4, 4, 15, 1, 0)])  # the need grew: still only a surplus
    assert rising.imbalance is ImbalanceType.SURPLUS


def test_balanced_collaboration_tools_after_the_pandemic() -> None:
    # The guide: during the crisis clusters and businesses developed their digital skills further; online
    # collaboration (DigComp 2.4) is now where the members need it.
    balance = one([answer("digcomp:2.4", 4, 4, 3, 3), answer("digcomp:2.4", 5, 4, 3, 3)])
    assert balance.imbalance is ImbalanceType.BALANCED
    assert balance.explanation == (
        "Balanced: members need 6 people, 6 people available (6 in member companies); their people are 0 "
        "level(s) short on average (rule: none of the other rules holds)."
    )
    assert balance.actions == ()


def test_regional_employment_agency_figures_count_only_at_the_required_level() -> None:
    # The guide: regional employment agencies know the regional labour market. The agency reports 8 people
    # at level 5 and 5 at level 3; the SMEs of the shortage example require level 5.
    answers = [answer("digcomp:3.4", 5, 5, 1, 4), answer("digcomp:3.4", 0, 5, 0, 3), answer("digcomp:3.4", 5, 5, 1, 3)]
    figures = [
        ExternalFigure("AMS", "region", "AT13", "digcomp:3.4", 8, 5),
        ExternalFigure("WAFF", "region", "AT13", "digcomp:3.4", 5, 3),
    ]
    balance = one(answers, figures)
    assert (balance.member_supply, balance.external_supply, balance.external_below_level) == (2, 8, 5)
    assert balance.imbalance is ImbalanceType.BALANCED
    assert "10 people available (2 in member companies, 8 reported by other systems)" in balance.explanation
    assert "5 people reported below the required level are not counted" in balance.explanation
    assert balance.sources == ("AMS (region AT13)", "WAFF (region AT13)")


def test_supply_reported_for_a_skill_no_member_answered_for() -> None:
    balance = one([], [ExternalFigure("Uni", "cluster", "c-1", "greencomp:2.1", 30, None)])
    assert balance.imbalance is ImbalanceType.SURPLUS  # supply exists, nobody needs it: not held by members
    assert "nobody is needed" in balance.explanation


def test_nobody_available_is_said_in_words() -> None:
    balance = one([answer("digcomp:5.2", 0, 5, 0, 4)])
    assert balance.imbalance is ImbalanceType.SHORTAGE
    assert balance.demand_supply_ratio is None
    assert "nobody is available, 4 short" in balance.explanation


def test_thresholds_are_configurable_and_compared_exactly() -> None:
    answers = [answer("digcomp:1.3", 3, 3, 10, 11)]
    assert one(answers).imbalance is ImbalanceType.BALANCED  # 1 short: below 2 people
    strict = ImbalanceRules(shortage_ratio=1.1, shortage_min_people=1)
    # 11 ≥ 1.1 × 10 holds exactly, although 1.1 * 10 == 11.000000000000002 in floating point.
    assert one(answers, rules=strict).imbalance is ImbalanceType.SHORTAGE
    assert "demand ≥ 1.1 × supply and demand − supply ≥ 1 person" in one(answers, rules=strict).explanation


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("shortage_ratio", 0.9, "shortage_ratio must be at least 1"),
        ("surplus_ratio", 0.5, "surplus_ratio must be at least 1"),
        ("obsolescence_max_demand_ratio", 1.0, "obsolescence_max_demand_ratio must be in [0, 1)"),
        ("gap_min_levels", 0, "gap_min_levels must be positive"),
        ("shortage_min_people", 0, "at least 1"),
    ],
)
def test_inconsistent_rules_are_refused(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        ImbalanceRules(**{field: value})  # type: ignore[arg-type]


def test_every_type_names_its_actions() -> None:
    assert set(ACTIONS) == set(ImbalanceType)
    assert SkillsAction.TALENT_ATTRACTION in ACTIONS[ImbalanceType.SHORTAGE]
    assert ACTIONS[ImbalanceType.OBSOLESCENCE] == (SkillsAction.RESKILLING,)


# --- Properties ------------------------------------------------------------------------------------------

CODES = ["digcomp:3.4", "digcomp:4.2", "greencomp:2.1", "intl:trade-fairs"]
answers_st = st.one_of(
    st.builds(
        answer, st.sampled_from(CODES), st.integers(0, 8), st.integers(0, 8), st.integers(0, 60), st.integers(0, 60)
    ),
    # Stored answers: with what the member needed before (none at a first answer).
    st.builds(
        Revised,
        st.sampled_from(CODES),
        st.integers(0, 8),
        st.integers(0, 8),
        st.integers(0, 60),
        st.integers(0, 60),
        st.one_of(st.none(), st.integers(0, 60)),
    ),
)
figures_st = st.builds(
    ExternalFigure,
    st.sampled_from(["AMS", "Uni", "DIH"]),
    st.sampled_from(["cluster", "region"]),
    st.just("x"),
    st.sampled_from(CODES),
    st.integers(0, 40),
    st.one_of(st.none(), st.integers(1, 8)),
)
rules_st = st.builds(
    ImbalanceRules,
    shortage_ratio=st.sampled_from([1.0, 1.1, 1.2, 2.0]),
    shortage_min_people=st.integers(1, 5),
    gap_min_levels=st.sampled_from([0.5, 1.0, 2.0]),
    surplus_ratio=st.sampled_from([1.0, 1.5, 3.0]),
    surplus_min_people=st.integers(1, 5),
    obsolescence_max_demand_ratio=st.sampled_from([0.0, 0.1, 0.3]),
    obsolescence_min_people=st.integers(1, 5),
)


@settings(max_examples=200)
@given(st.lists(answers_st, max_size=40), st.lists(figures_st, max_size=8), rules_st, st.randoms())
def test_the_profile_does_not_depend_on_member_order(
    answers: list[SkillAnswer], figures: list[ExternalFigure], rules: ImbalanceRules, rnd: random.Random
) -> None:
    shuffled, shuffled_figures = list(answers), list(figures)
    rnd.shuffle(shuffled)
    rnd.shuffle(shuffled_figures)
    assert profile_cluster(answers, figures, rules) == profile_cluster(shuffled, shuffled_figures, rules)


@given(st.lists(answers_st, max_size=30))
def test_aggregate_is_the_sum_of_each_answers_totals(answers: list[SkillAnswer]) -> None:
    expected: dict[str, SkillTotals] = {}
    for a in answers:
        expected[a.skill_code] = expected.get(a.skill_code, SkillTotals()) + SkillTotals.of(a)
    assert aggregate(answers) == expected


@given(st.lists(answers_st, max_size=30), st.integers(0, 30))
def test_totals_add_up_piece_by_piece(answers: list[SkillAnswer], cut: int) -> None:
    # What lets the database (GROUP BY) or an incremental update compute the same totals.
    whole, first, second = aggregate(answers), aggregate(answers[:cut]), aggregate(answers[cut:])
    for code in whole:
        assert first.get(code, SkillTotals()) + second.get(code, SkillTotals()) == whole[code]


@settings(max_examples=300)
@given(st.lists(answers_st, min_size=1, max_size=30), st.lists(figures_st, max_size=6), rules_st)
def test_each_type_holds_what_its_name_says(
    answers: list[SkillAnswer], figures: list[ExternalFigure], rules: ImbalanceRules
) -> None:
    for b in profile_cluster(answers, figures, rules):
        assert min(b.demand, b.supply, b.member_supply, b.external_supply, b.external_below_level) >= 0
        assert b.level_gap is None or b.level_gap >= 0
        assert b.supply == b.member_supply + b.external_supply
        assert b.actions == ACTIONS[b.imbalance]
        assert f"{b.demand} {'person' if b.demand == 1 else 'people'}" in b.explanation
        shortage = (
            b.demand - b.supply >= rules.shortage_min_people
            and b.demand >= Fraction(str(rules.shortage_ratio)) * b.supply
        )
        obsolete = (
            b.member_supply >= rules.obsolescence_min_people
            and b.demand <= Fraction(str(rules.obsolescence_max_demand_ratio)) * b.member_supply
            and b.declining_members > 0
        )
        surplus = (
            b.supply - b.demand >= rules.surplus_min_people
            and b.supply >= Fraction(str(rules.surplus_ratio)) * b.demand
        )
        match b.imbalance:
            case ImbalanceType.SHORTAGE:
                assert b.demand > b.supply and shortage
            case ImbalanceType.OBSOLESCENCE:
                assert not shortage and obsolete and b.demand < b.member_supply
            case ImbalanceType.GAP:
                assert not shortage and not obsolete and b.current_level is not None and b.current_level > 0
                assert b.level_gap is not None and b.level_gap >= round(rules.gap_min_levels, 2) - 0.005
            case ImbalanceType.SURPLUS:
                assert not shortage and not obsolete and b.supply > b.demand and surplus
            case ImbalanceType.BALANCED:
                assert not (shortage or obsolete or surplus)


def test_unanswered_totals_classify_without_dividing_by_zero() -> None:
    balance = classify("digcomp:1.1", SkillTotals(), [], RULES)
    assert balance.imbalance is ImbalanceType.BALANCED
    assert (balance.required_level, balance.level_gap, balance.demand_supply_ratio) == (None, None, None)
