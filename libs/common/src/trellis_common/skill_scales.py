"""One level scale per skills framework, so that levels answered on different templates compare.

A template's skill matrix may rate on its own scale (the digital-skills template rates every row 0-8, DigComp's
range, its GreenComp row included); responses say which (``SkillAnswer.level_scale_max``). Before anything
compares levels, they are put on the framework's scale: DigComp 0-8 (its eight proficiency levels), GreenComp
0-4, workforce green skills 0-4 and internationalisation 0-4 (the scales of our green and internationalisation
templates; GreenComp and the sources of the workforce green skills define no levels). 0 always means nobody has the
skill. An answer without a scale (events from before the field existed) is taken to be on its framework's scale,
as every matrix row but one always was.
"""

from __future__ import annotations

from fractions import Fraction

from trellis_common.events import SkillAnswer

# Every framework of the skills taxonomy has its scale here (a test keeps the two in step).
FRAMEWORK_SCALE: dict[str, int] = {"digcomp": 8, "greencomp": 4, "greenwork": 4, "intl": 4}


def framework_scale(skill_code: str) -> int | None:
    return FRAMEWORK_SCALE.get(skill_code.partition(":")[0])


def rescale(level: int, given_max: int, target_max: int) -> int:
    """``level`` of 0..given_max on 0..target_max, rounded half up; a level above 0 stays above 0."""
    if level <= 0:
        return 0
    scaled = Fraction(level * target_max, given_max)
    return max(1, min(target_max, int(scaled + Fraction(1, 2))))


def on_framework_scale(answer: SkillAnswer) -> SkillAnswer:
    """The answer with its levels on its framework's scale (unchanged when it already is, or has no scale)."""
    target = framework_scale(answer.skill_code)
    given = answer.level_scale_max
    if target is None or given is None or given == target:
        return answer
    return answer.model_copy(
        update={
            "current_level": rescale(answer.current_level, given, target),
            "required_level": rescale(answer.required_level, given, target),
            "level_scale_max": target,
        }
    )
