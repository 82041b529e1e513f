"""Per-member skill gaps from a completed survey's skill matrix (guide, digital segment, Action 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from trellis_common.events import SkillAnswer, SkillGap, Trend
from trellis_skills.domain.taxonomy import Taxonomy

HEADCOUNT_WEIGHT = 0.5
PRIORITY_FORMULA = "importance × (level_gap + 0.5 × headcount_gap)"


def severity(level_gap: int, headcount_gap: int) -> float:
    """How far the member is from what it needs: levels missing plus half a point per person missing."""
    return level_gap + HEADCOUNT_WEIGHT * headcount_gap


def trend(current: float, previous: float | None) -> Trend:
    if previous is None or previous == 0:
        return Trend.NEW
    if current > previous:
        return Trend.WIDENING
    if current < previous:
        return Trend.CLOSING
    return Trend.UNCHANGED


def assess_gaps(answers: Sequence[SkillAnswer], taxonomy: Taxonomy, previous: Mapping[str, float]) -> list[SkillGap]:
    """Gaps (never negative) for every skill where demand exceeds supply, highest priority first.

    ``previous`` maps a skill code to the severity found at the member's last assessment.
    """
    gaps: list[SkillGap] = []
    for answer in answers:
        entry = taxonomy.get(answer.skill_code)
        if entry is None:
            raise KeyError(answer.skill_code)
        level_gap = max(0, answer.required_level - answer.current_level)
        headcount_gap = max(0, answer.headcount_needed - answer.headcount_having)
        current = severity(level_gap, headcount_gap)
        if current == 0:
            continue
        priority = answer.importance * current
        gaps.append(
            SkillGap(
                skill_code=entry.code,
                skill_label=entry.label,
                framework=entry.framework,
                current_level=answer.current_level,
                required_level=answer.required_level,
                level_gap=level_gap,
                headcount_having=answer.headcount_having,
                headcount_needed=answer.headcount_needed,
                headcount_gap=headcount_gap,
                importance=answer.importance,
                priority=priority,
                priority_formula=f"{answer.importance} × ({level_gap} + 0.5 × {headcount_gap}) = {priority:g}",
                trend=trend(current, previous.get(entry.code)),
            )
        )
    return sorted(gaps, key=lambda g: (-g.priority, g.skill_code))
