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


def answer_problems(answers: Sequence[SkillAnswer], taxonomy: Taxonomy, max_headcount: int) -> list[str]:
    """Why a skill matrix cannot be assessed (empty when it can): each problem names the skill and the value.

    The event contract already bounds levels (0-8) and importance (1-5); these are the rules that need the
    taxonomy or the service's configuration.
    """
    problems: list[str] = []
    unknown = taxonomy.unknown([a.skill_code for a in answers])
    if unknown:
        problems.append(f"unknown skill code(s) {', '.join(sorted(set(unknown)))} (taxonomy {taxonomy.version})")
    seen: set[str] = set()
    for index, answer in enumerate(answers):
        where = f"skills[{index}] ({answer.skill_code})"
        if answer.skill_code in seen:
            problems.append(f"{where}: the skill is answered twice")
        seen.add(answer.skill_code)
        entry = taxonomy.get(answer.skill_code)
        if entry is not None and entry.levels is not None:
            low, high = entry.levels
            for name in ("current_level", "required_level"):
                level = getattr(answer, name)
                if level != 0 and not low <= level <= high:
                    problems.append(f"{where}: {name} {level} is outside {entry.framework} levels {low}-{high}")
        for name in ("headcount_having", "headcount_needed"):
            count = getattr(answer, name)
            if count > max_headcount:
                problems.append(f"{where}: {name} {count} is more than the {max_headcount} people allowed")
    return problems


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
