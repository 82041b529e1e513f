"""Strategy types and phases (the guide's Figure 9) and what a review's agenda counts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_strategy.domain.agenda import Activity, summarise
from trellis_strategy.domain.strategy import (
    PHASE_ORDER,
    InvalidPhaseChange,
    StrategyPhase,
    StrategyType,
    check_phase_change,
    follows,
    strategy_type_for_skill,
)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("digcomp:5.2", StrategyType.DIGITAL_SKILLS_PLAN),
        ("greencomp:1.1", StrategyType.GREEN_ACTION_PLAN),
        ("greenwork:energy-management", StrategyType.GREEN_ACTION_PLAN),
        ("intl:ip-protection", StrategyType.INTERNATIONALISATION_STRATEGY),
        ("DigComp:1.1", StrategyType.DIGITAL_SKILLS_PLAN),
        ("esco:abc", StrategyType.OVERALL),
        ("no-prefix", StrategyType.OVERALL),
    ],
)
def test_a_skill_belongs_to_the_strategy_of_its_theme(code: str, kind: StrategyType) -> None:
    assert strategy_type_for_skill(code) is kind


def test_phases_move_forward_one_step_at_a_time() -> None:
    check_phase_change(StrategyPhase.DIAGNOSTICS, StrategyPhase.CHOICE)
    check_phase_change(StrategyPhase.CHOICE, StrategyPhase.ACTION)
    with pytest.raises(InvalidPhaseChange, match="from 'diagnostics' go to 'choice' before 'action'"):
        check_phase_change(StrategyPhase.DIAGNOSTICS, StrategyPhase.ACTION)


@given(st.sampled_from(PHASE_ORDER), st.sampled_from(PHASE_ORDER))
def test_going_back_is_always_allowed(current: StrategyPhase, new: StrategyPhase) -> None:
    if PHASE_ORDER.index(new) <= PHASE_ORDER.index(current) + 1:
        check_phase_change(current, new)
    else:
        with pytest.raises(InvalidPhaseChange):
            check_phase_change(current, new)


RUNS = [
    Activity("m-1", ("digcomp:5.2", "digcomp:1.3")),
    Activity("m-2", ("greencomp:1.1",)),
    Activity("m-3", ()),  # a run that found no partner
]
ASSESSMENTS = [
    Activity("m-4", ("digcomp:5.2", "greencomp:1.1")),
    Activity("m-4", ("digcomp:5.2",)),  # re-assessed: still one member
    Activity("m-5", ("digcomp:5.2", "intl:export-readiness")),
]


def test_the_overall_agenda_counts_everything() -> None:
    facts = summarise(StrategyType.OVERALL, RUNS, ASSESSMENTS, top=2)
    assert (facts.new_matches, facts.members_with_gaps) == (3, 4)  # m-1, m-2 (runs), m-4, m-5 (gaps)
    assert facts.top_gaps == [("digcomp:5.2", 2), ("greencomp:1.1", 1)]


def test_a_thematic_agenda_counts_its_theme_only() -> None:
    facts = summarise(StrategyType.DIGITAL_SKILLS_PLAN, RUNS, ASSESSMENTS)
    assert (facts.new_matches, facts.members_with_gaps, facts.top_gaps) == (1, 3, [("digcomp:5.2", 2)])
    green = summarise(StrategyType.GREEN_ACTION_PLAN, RUNS, ASSESSMENTS)
    assert (green.new_matches, green.members_with_gaps, green.top_gaps) == (1, 2, [("greencomp:1.1", 1)])
    assert follows(StrategyType.OVERALL, []) and not follows(StrategyType.GREEN_ACTION_PLAN, [])


def test_the_green_action_plan_follows_workforce_green_skills_too() -> None:
    """GreenComp mindsets and workforce green skills (energy management, …) are both the green theme."""
    runs = [Activity("m-1", ("greenwork:energy-management",)), Activity("m-2", ("digcomp:5.2",))]
    assessments = [Activity("m-3", ("greenwork:energy-management", "greencomp:2.1"))]
    green = summarise(StrategyType.GREEN_ACTION_PLAN, runs, assessments)
    assert (green.new_matches, green.members_with_gaps) == (1, 2)
    assert green.top_gaps == [("greencomp:2.1", 1), ("greenwork:energy-management", 1)]
    assert not follows(StrategyType.DIGITAL_SKILLS_PLAN, ["greenwork:energy-management"])
