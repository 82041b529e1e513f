"""What a cluster strategy is: its type, its phase, and which skills its agenda follows (pure, no I/O).

The guide asks clusters to integrate sustainability, digital skills and internationalisation into their
strategy: a green action plan, a digital skills plan and an internationalisation strategy may stand beside
the cluster's overall strategy. Each is built in three steps (the guide's Figure 9): *diagnostics* (understand
the members' needs and the cluster's capabilities), *choice* (decide which objectives to pursue) and *action*.
"""

from __future__ import annotations

from enum import StrEnum


class StrategyType(StrEnum):
    OVERALL = "overall"
    GREEN_ACTION_PLAN = "green_action_plan"
    DIGITAL_SKILLS_PLAN = "digital_skills_plan"
    INTERNATIONALISATION_STRATEGY = "internationalisation_strategy"


class StrategyPhase(StrEnum):
    DIAGNOSTICS = "diagnostics"
    CHOICE = "choice"
    ACTION = "action"


PHASE_ORDER: tuple[StrategyPhase, ...] = (StrategyPhase.DIAGNOSTICS, StrategyPhase.CHOICE, StrategyPhase.ACTION)

# The skill frameworks (prefix of a taxonomy code such as ``digcomp:5.2``) each thematic strategy follows: the green
# action plan follows both the GreenComp sustainability competences and the workforce green skills.
FRAMEWORKS_OF_TYPE: dict[StrategyType, frozenset[str]] = {
    StrategyType.GREEN_ACTION_PLAN: frozenset({"greencomp", "greenwork"}),
    StrategyType.DIGITAL_SKILLS_PLAN: frozenset({"digcomp"}),
    StrategyType.INTERNATIONALISATION_STRATEGY: frozenset({"intl"}),
}
TYPE_OF_FRAMEWORK: dict[str, StrategyType] = {
    framework: kind for kind, frameworks in FRAMEWORKS_OF_TYPE.items() for framework in frameworks
}

DEFAULT_TITLES: dict[StrategyType, str] = {
    StrategyType.OVERALL: "Cluster strategy",
    StrategyType.GREEN_ACTION_PLAN: "Green action plan",
    StrategyType.DIGITAL_SKILLS_PLAN: "Digital skills plan",
    StrategyType.INTERNATIONALISATION_STRATEGY: "Internationalisation strategy",
}


class InvalidPhaseChange(ValueError):
    """A phase change that skips a step of diagnostics → choice → action."""


def check_phase_change(current: StrategyPhase, new: StrategyPhase) -> None:
    """Forward one step at a time; going back (a review that reopens the diagnosis) is always allowed."""
    step = PHASE_ORDER.index(new) - PHASE_ORDER.index(current)
    if step > 1:
        missing = PHASE_ORDER[PHASE_ORDER.index(current) + 1]
        raise InvalidPhaseChange(
            f"a strategy moves diagnostics → choice → action one step at a time (the guide's Figure 9): "
            f"from {current.value!r} go to {missing.value!r} before {new.value!r}"
        )


def framework_of(skill_code: str) -> str:
    """``digcomp:5.2`` → ``digcomp``; a code without a prefix has no framework (empty string)."""
    prefix, sep, _rest = skill_code.partition(":")
    return prefix.strip().lower() if sep else ""


def strategy_type_for_skill(skill_code: str) -> StrategyType:
    """The thematic strategy a skill belongs to; skills outside the three themes go to the overall strategy."""
    return TYPE_OF_FRAMEWORK.get(framework_of(skill_code), StrategyType.OVERALL)


def follows(strategy_type: StrategyType, skill_codes: list[str] | tuple[str, ...] | set[str]) -> bool:
    """Does a strategy of this type care about activity on these skills? The overall strategy follows all."""
    frameworks = FRAMEWORKS_OF_TYPE.get(strategy_type)
    return frameworks is None or any(framework_of(code) in frameworks for code in skill_codes)
