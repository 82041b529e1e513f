"""Rules a skill matrix or a supply report must keep, beyond the event contract; the service's settings."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from trellis_common.events import SkillAnswer, SupplyFigure, SupplyReported, SupplyScope
from trellis_common.settings import ServiceSettings, narrowed
from trellis_skills.domain.gaps import answer_problems
from trellis_skills.domain.supply import fingerprint, report_problems, scope_key
from trellis_skills.domain.taxonomy import load_taxonomy
from trellis_skills.settings import SkillsSettings

TAXONOMY = load_taxonomy()
TODAY = date(2026, 3, 3)


def answer(code: str, current: int = 1, required: int = 3, having: int = 0, needed: int = 2) -> SkillAnswer:
    return SkillAnswer(
        skill_code=code,
        current_level=current,
        required_level=required,
        headcount_having=having,
        headcount_needed=needed,
        importance=3,
    )


def test_a_sound_matrix_has_no_problems() -> None:
    assert answer_problems([answer("digcomp:3.4"), answer("greencomp:2.1", 0, 0, 0, 0)], TAXONOMY, 1000) == []


def test_each_problem_names_the_skill_and_the_value() -> None:
    problems = answer_problems(
        [
            answer("digcomp:9.9"),
            answer("digcomp:3.4"),
            answer("digcomp:3.4", needed=5000),
            answer("intl:nowhere"),
        ],
        TAXONOMY,
        1000,
    )
    assert problems == [
        "unknown skill code(s) digcomp:9.9, intl:nowhere (taxonomy 2026.1)",
        "skills[2] (digcomp:3.4): the skill is answered twice",
        "skills[2] (digcomp:3.4): headcount_needed 5000 is more than the 1000 people allowed",
    ]


def report(*figures: SupplyFigure, as_of: date = date(2026, 2, 28), scope_id: str = " at13 ") -> SupplyReported:
    return SupplyReported(
        report_id="r-1",
        source="AMS",
        scope=SupplyScope.REGION,
        scope_id=scope_id,
        as_of=as_of,
        figures=list(figures),
        reported_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def test_supply_report_problems_point_at_the_field() -> None:
    bad = report(
        SupplyFigure(skill_code="digcomp:3.4", headcount=2, level=0),
        SupplyFigure(skill_code="digcomp:3.4", headcount=2_000_000),
        SupplyFigure(skill_code="greencomp:7.1", headcount=1),
        as_of=date(2027, 1, 1),
    )
    assert [str(p) for p in report_problems(bad, TAXONOMY, 100_000, TODAY)] == [
        "as_of: 2027-01-01 is in the future",
        "figures.0.level: level 0 is outside digcomp levels 1-8",
        "figures.1.skill_code: digcomp:3.4 is reported twice",
        "figures.1.headcount: 2000000 is more than the 100000 people allowed",
        "figures.2.skill_code: unknown skill code 'greencomp:7.1' (taxonomy 2026.1)",
    ]
    ungraded = report(SupplyFigure(skill_code="greencomp:2.1", headcount=3, level=6))
    assert report_problems(ungraded, TAXONOMY, 100_000, TODAY) == [], "GreenComp has no levels to stay within"


def test_a_report_is_the_same_whatever_the_order_of_its_figures() -> None:
    a = SupplyFigure(skill_code="digcomp:3.4", headcount=2)
    b = SupplyFigure(skill_code="digcomp:4.2", headcount=5, level=3)
    assert fingerprint(report(a, b)) == fingerprint(report(b, a))
    assert fingerprint(report(a, b)) != fingerprint(report(a, b.model_copy(update={"headcount": 6})))
    assert scope_key(SupplyScope.REGION, " at13 ") == "AT13"
    assert scope_key(SupplyScope.CLUSTER, "c-Mixed") == "c-Mixed"


def test_settings_carry_the_thresholds_and_refuse_nonsense() -> None:
    settings = SkillsSettings(shortage_ratio=1.5, gap_min_levels=2)
    rules = settings.imbalance_rules()
    assert (rules.shortage_ratio, rules.gap_min_levels, rules.surplus_ratio) == (1.5, 2, 1.5)
    with pytest.raises(ValidationError, match="obsolescence_max_demand_ratio"):
        SkillsSettings(obsolescence_max_demand_ratio=1.0)
    with pytest.raises(ValidationError, match="shortage_ratio"):
        SkillsSettings(shortage_ratio=0.5)
    assert isinstance(narrowed(ServiceSettings(service_name="skills"), SkillsSettings), SkillsSettings)
