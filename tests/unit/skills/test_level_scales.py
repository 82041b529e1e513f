"""Levels rated on a template's own scale compare with levels rated on the framework's: the same need answered on
the digital-skills template (every row 0-8) or on the green-transition template (GreenComp 0-4) is the same gap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trellis_common.events import SkillAnswer
from trellis_common.skill_scales import framework_scale, on_framework_scale, rescale
from trellis_skills.domain.gaps import assess_gaps
from trellis_skills.domain.taxonomy import load_taxonomy


def green_row(current: int, required: int, having: int, needed: int, importance: int, scale: int | None) -> SkillAnswer:
    return SkillAnswer(
        skill_code="greencomp:2.1",
        current_level=current,
        required_level=required,
        headcount_having=having,
        headcount_needed=needed,
        importance=importance,
        level_scale_max=scale,
    )


@given(st.integers(0, 4), st.integers(0, 4), st.integers(0, 20), st.integers(0, 20), st.integers(1, 5))
def test_the_same_need_on_either_template_is_the_same_gap(
    current: int, required: int, having: int, needed: int, importance: int
) -> None:
    on_green = green_row(current, required, having, needed, importance, 4)
    on_digital = green_row(2 * current, 2 * required, having, needed, importance, 8)
    taxonomy = load_taxonomy()
    green_gaps = assess_gaps([on_framework_scale(on_green)], taxonomy, {})
    digital_gaps = assess_gaps([on_framework_scale(on_digital)], taxonomy, {})
    assert [(g.level_gap, g.headcount_gap, g.priority) for g in green_gaps] == [
        (g.level_gap, g.headcount_gap, g.priority) for g in digital_gaps
    ]


def test_levels_are_rescaled_half_up_and_none_stays_none() -> None:
    assert [rescale(level, 8, 4) for level in range(9)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert rescale(1, 8, 4) == 1, "someone has the skill: never rounded down to nobody"
    unscaled = green_row(3, 4, 1, 2, 3, None)
    assert on_framework_scale(unscaled) is unscaled, "an answer without a scale is on its framework's"
    digcomp = SkillAnswer(
        skill_code="digcomp:5.2",
        current_level=2,
        required_level=5,
        headcount_having=1,
        headcount_needed=2,
        importance=4,
        level_scale_max=8,
    )
    assert on_framework_scale(digcomp) is digcomp


def test_workforce_green_skills_are_on_the_green_templates_scale() -> None:
    """Workforce green skills are on 0-4, as the green-transition template rates them; a matrix rated 0-8 is put
    on that scale before the gap is computed, and the gap names its framework."""
    assert framework_scale("greenwork:energy-management") == 4
    on_digital_scale = SkillAnswer(
        skill_code="greenwork:energy-management",
        current_level=2,
        required_level=8,
        headcount_having=1,
        headcount_needed=3,
        importance=4,
        level_scale_max=8,
    )
    on_green_scale = on_framework_scale(on_digital_scale)
    assert (on_green_scale.current_level, on_green_scale.required_level, on_green_scale.level_scale_max) == (1, 4, 4)
    (gap,) = assess_gaps([on_green_scale], load_taxonomy(), {})
    assert (gap.framework, gap.skill_label, gap.level_gap, gap.headcount_gap) == (
        "greenwork",
        "Energy management",
        3,
        2,
    )
