from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_common.events import SkillAnswer, Trend
from trellis_common.skill_scales import FRAMEWORK_SCALE
from trellis_skills.domain.gaps import assess_gaps, severity, trend
from trellis_skills.domain.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
CODES = sorted(TAXONOMY.entries)


def test_taxonomy_has_the_frameworks_in_full() -> None:
    frameworks = [e.framework for e in TAXONOMY.entries.values()]
    assert frameworks.count("digcomp") == 21
    assert frameworks.count("greencomp") == 12
    assert frameworks.count("greenwork") == 11
    assert frameworks.count("intl") >= 8
    assert TAXONOMY.get("digcomp:5.4") is not None and TAXONOMY.get("digcomp:5.4").label.startswith("Identifying")  # type: ignore[union-attr]
    assert set(frameworks) == set(FRAMEWORK_SCALE), "every framework has its one level scale"
    assert all(e.source for e in TAXONOMY.entries.values()), "every skill says where it comes from"


# Each workforce green skill is cited to a public standard or EU act (no ESCO URI could be checked, so none is given).
CITES = re.compile(r"\bISO \d{4,5}(-\d)?:\d{4}|\b(Directive|Regulation) (\(E[CU]\) (No )?)?\d{4}/\d+|GHG Protocol")


def test_workforce_green_skills_are_skills_members_can_name_each_with_its_source() -> None:
    green_work = {e.code: e for e in TAXONOMY.search(framework="greenwork")}
    assert set(green_work) >= {
        "greenwork:energy-management",
        "greenwork:life-cycle-assessment",
        "greenwork:sustainability-reporting",
        "greenwork:circular-design",
    }
    for code, entry in green_work.items():
        assert CITES.search(entry.source or ""), code
        assert entry.levels is None and entry.esco_uri is None, "scale 0-4 is ours; no URI we could not check"
    assert "ISO 14040:2006" in (green_work["greenwork:life-cycle-assessment"].source or "")
    assert "Directive (EU) 2022/2464" in (green_work["greenwork:sustainability-reporting"].source or "")


answers = st.builds(
    SkillAnswer,
    skill_code=st.sampled_from(CODES),
    current_level=st.integers(0, 8),
    required_level=st.integers(0, 8),
    headcount_having=st.integers(0, 500),
    headcount_needed=st.integers(0, 500),
    importance=st.integers(1, 5),
)


@given(st.lists(answers, max_size=20, unique_by=lambda a: a.skill_code))
def test_gaps_are_never_negative_and_sorted_by_priority(batch: list[SkillAnswer]) -> None:
    gaps = assess_gaps(batch, TAXONOMY, {})
    for gap in gaps:
        assert gap.level_gap >= 0 and gap.headcount_gap >= 0
        assert gap.level_gap + gap.headcount_gap > 0
        assert gap.priority == gap.importance * severity(gap.level_gap, gap.headcount_gap)
        assert gap.trend == Trend.NEW
    assert [g.priority for g in gaps] == sorted((g.priority for g in gaps), reverse=True)


@given(st.lists(answers, max_size=20, unique_by=lambda a: a.skill_code), st.randoms())
def test_result_does_not_depend_on_answer_order(batch: list[SkillAnswer], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(batch)
    rnd.shuffle(shuffled)
    assert assess_gaps(batch, TAXONOMY, {}) == assess_gaps(shuffled, TAXONOMY, {})


def test_worked_example_sme_that_cannot_find_digital_talent() -> None:
    # An SME needs 4 people at DigComp 5.2 level 5, has 1 at level 2 (importance 5).
    answer = SkillAnswer(
        skill_code="digcomp:5.2",
        current_level=2,
        required_level=5,
        headcount_having=1,
        headcount_needed=4,
        importance=5,
    )
    (gap,) = assess_gaps([answer], TAXONOMY, {"digcomp:5.2": 6.0})
    assert (gap.level_gap, gap.headcount_gap, gap.priority) == (3, 3, 22.5)
    assert gap.priority_formula == "5 × (3 + 0.5 × 3) = 22.5"
    assert gap.trend == Trend.CLOSING


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [
        (3.0, None, Trend.NEW),
        (3.0, 0.0, Trend.NEW),
        (4.0, 3.0, Trend.WIDENING),
        (2.0, 3.0, Trend.CLOSING),
        (3.0, 3.0, Trend.UNCHANGED),
    ],
)
def test_trend(now: float, before: float | None, expected: Trend) -> None:
    assert trend(now, before) == expected


def test_unknown_code_is_refused() -> None:
    answer = SkillAnswer(
        skill_code="digcomp:9.9",
        current_level=1,
        required_level=2,
        headcount_having=0,
        headcount_needed=1,
        importance=1,
    )
    with pytest.raises(KeyError):
        assess_gaps([answer], TAXONOMY, {})
