"""The shipped templates and the rules that check answers against a template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from trellis_common.events import SkillAnswer
from trellis_common.skill_labels import skill_label
from trellis_surveys.answering_texts import UI
from trellis_surveys.domain.answers import active_questions, validate_response
from trellis_surveys.domain.templates import QuestionType, SurveyTemplate, adapt
from trellis_surveys.repositories.templates import builtin_templates

TAXONOMY = Path(__file__).parents[3] / "services/skills/src/trellis_skills/data/taxonomy.json"


def template(template_id: str) -> SurveyTemplate:
    return builtin_templates()[(template_id, 1)]


def row(code: str = "digcomp:5.2", **changes: Any) -> dict[str, Any]:
    base = {
        "skill_code": code,
        "current_level": 2,
        "required_level": 5,
        "headcount_having": 1,
        "headcount_needed": 4,
        "importance": 5,
    }
    return {**base, **changes}


def test_three_themes_each_with_at_least_eight_questions() -> None:
    shipped = builtin_templates()
    assert {t.theme.value for t in shipped.values()} == {"green", "digital", "internationalisation"}
    for t in shipped.values():
        assert len(t.questions) >= 8, t.id
        types = {q.type for q in t.questions}
        assert QuestionType.SKILL_MATRIX in types and len(types) >= 5, (t.id, types)
        assert any(q.show_if for q in t.questions), f"{t.id} has no conditional question"
        assert any(q.required for q in t.questions)


def test_every_skill_question_carries_codes_known_to_the_skills_taxonomy() -> None:
    known = {e["code"]: skill_label(e["code"]) for e in json.loads(TAXONOMY.read_text())["entries"]}
    for t in builtin_templates().values():
        for entry in t.taxonomy:
            assert known.get(entry.code) == entry.label, (t.id, entry.code)
        for question in t.questions:
            if question.is_skill_question:
                assert question.codes and set(question.codes) <= known.keys(), (t.id, question.id)


def test_the_digital_template_accepts_what_the_loop_sends() -> None:
    validated, errors = validate_response(template("digital-skills"), {}, [row()])
    assert errors == [] and validated is not None
    assert validated.taxonomy_codes == ["digcomp:5.2"]


@pytest.mark.parametrize(
    ("answers", "skills", "field"),
    [
        ({"no_such_question": 1}, [row()], "answers.no_such_question"),
        ({}, [row(current_level=9)], "skills[0].current_level"),
        ({}, [row(importance=0)], "skills[0].importance"),
        ({}, [row(code="digcomp:9.9")], "skills[0].skill_code"),
        ({}, [], "skills"),
        ({"employees": "many"}, [row()], "answers.employees"),
        ({"digitalisation_priority": 6}, [row()], "answers.digitalisation_priority"),
        ({"obstacles": "cost"}, [row()], "answers.obstacles"),
        ({"obstacles": ["cost", "bribes"]}, [row()], "answers.obstacles"),
        ({"hiring_difficulty": True}, [row()], "answers.hiring_difficulty"),
        ({}, [row(), row()], "skills[1].skill_code"),
        ({}, [row(current_level="3")], "skills[0].current_level"),
    ],
)
def test_bad_answers_name_the_field(answers: dict[str, Any], skills: list[Any], field: str) -> None:
    validated, errors = validate_response(template("digital-skills"), answers, skills)
    assert validated is None
    assert field in [e.field for e in errors], errors


def test_required_answers_of_the_green_template() -> None:
    validated, errors = validate_response(template("green-transition"), {}, [])
    assert validated is None
    assert {"answers.green_priority", "answers.sustainability_strategy", "answers.challenges", "skills"} <= {
        e.field for e in errors
    }


def test_green_levels_follow_the_template_scale() -> None:
    answers = {"green_priority": 4, "sustainability_strategy": "no", "challenges": ["skills"]}
    ok, _ = validate_response(
        template("green-transition"), answers, [row("greencomp:2.1", current_level=1, required_level=4)]
    )
    assert ok is not None
    _, errors = validate_response(template("green-transition"), answers, [row("greencomp:2.1", required_level=5)])
    assert [e.field for e in errors] == ["skills[0].required_level"]


def test_the_green_template_asks_for_workforce_green_skills_beside_the_greencomp_competences() -> None:
    """Version 2 rates, on the same 0-4 scale, every workforce green skill of the taxonomy (skills members can name:
    energy management, life-cycle assessment, sustainability reporting, …) and GreenComp's sustainability
    competences as version 1 did; version 1 stays as it shipped (a shipped version never changes)."""
    entries = json.loads(TAXONOMY.read_text())["entries"]
    green_work = [e["code"] for e in entries if e["framework"] == "greenwork"]
    first, newest = template("green-transition"), builtin_templates()[("green-transition", 2)]
    assert first.skill_matrix is not None and newest.skill_matrix is not None
    assert len(green_work) >= 8 and set(green_work) <= set(newest.skill_matrix.skills)
    assert [c for c in newest.skill_matrix.skills if c.startswith("greencomp:")] == first.skill_matrix.skills
    assert not [c for c in first.skill_matrix.skills if c.startswith("greenwork:")]
    assert newest.skill_matrix.levels == first.skill_matrix.levels
    assert "workforce green skills" in newest.source

    answers = {"green_priority": 4, "sustainability_strategy": "no", "challenges": ["skills"]}
    lca = row("greenwork:life-cycle-assessment", current_level=1, required_level=4)
    validated, errors = validate_response(newest, answers, [lca])
    assert errors == [] and validated is not None and validated.taxonomy_codes == ["greenwork:life-cycle-assessment"]
    _, errors = validate_response(newest, answers, [{**lca, "required_level": 5}])
    assert [e.field for e in errors] == ["skills[0].required_level"]


def test_conditional_questions_are_asked_only_when_their_condition_holds() -> None:
    t = template("internationalisation-readiness")
    base = {"international_ambition": "none", "value_chain_disrupted": 2, "support_wanted": ["matchmaking"]}
    assert "target_regions" not in [q.id for q in active_questions(t, base)]
    # An answer to a question that is not asked is dropped, not stored.
    validated, errors = validate_response(t, {**base, "target_regions": ["asia"]})
    assert errors == [] and validated is not None and "target_regions" not in validated.answers
    validated, _ = validate_response(
        t,
        {
            **base,
            "international_ambition": "grow",
            "target_regions": ["asia"],
            "value_chain_disrupted": 5,
            "disruption_causes": ["components"],
        },
    )
    assert validated is not None
    assert validated.answers["target_regions"] == ["asia"] and validated.answers["disruption_causes"] == ["components"]
    assert validated.taxonomy_codes == ["intl:matchmaking-participation"]


def test_a_copy_keeps_its_origin_and_must_stay_well_formed() -> None:
    source = template("digital-skills")
    copy = adapt(source, new_id="our-digital-survey", title="Our digital survey")
    assert copy.based_on == "digital-skills@1" and copy.version == 1 and copy.questions == source.questions
    with pytest.raises(ValidationError, match="not in the template's taxonomy"):
        adapt(source, new_id="broken", taxonomy=[])
    with pytest.raises(ValidationError, match="earlier question"):
        questions = [q.model_dump(by_alias=True, exclude_none=True) for q in source.questions]
        adapt(source, new_id="broken", questions=list(reversed(questions)))


levels = st.integers(min_value=0, max_value=8)
counts = st.integers(min_value=0, max_value=10_000)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([f"digcomp:{a}.{c}" for a, c in [(1, 1), (3, 4), (5, 2), (4, 1)]]),
            levels,
            levels,
            counts,
            counts,
            st.integers(1, 5),
        ),
        unique_by=lambda r: r[0],
        min_size=1,
    )
)
def test_any_in_range_matrix_is_accepted_and_kept_whole(rows: list[tuple[str, int, int, int, int, int]]) -> None:
    skills = [
        row(c, current_level=a, required_level=b, headcount_having=h, headcount_needed=n, importance=i)
        for c, a, b, h, n, i in rows
    ]
    validated, errors = validate_response(template("digital-skills"), {}, skills)
    assert errors == [] and validated is not None
    assert [s.model_dump() for s in validated.skills] == skills


@given(
    st.one_of(st.integers(max_value=-1), st.integers(min_value=9)), st.sampled_from(["current_level", "required_level"])
)
def test_any_out_of_range_level_is_refused(level: int, field: str) -> None:
    validated, errors = validate_response(template("digital-skills"), {}, [{**row(), field: level}])
    assert validated is None and [e.field for e in errors] == [f"skills[0].{field}"]


# The guide's three action segments, as its overview names them ("Segments of action").
GUIDE_SEGMENTS = {
    "green": "clusters as leaders of the green transition through collaboration",
    "digital": "clusters as accelerators of the digital transition through skills",
    "internationalisation": "clusters as builders of resilience through internationalisation",
}


@pytest.mark.parametrize("key", sorted(builtin_templates()))
def test_each_shipped_template_cites_the_guide_segment_by_its_name(key: tuple[str, int]) -> None:
    shipped = builtin_templates()[key]
    assert f"segment '{GUIDE_SEGMENTS[shipped.theme.value]}'" in (shipped.source or "")


@pytest.mark.parametrize(
    ("language", "today", "in_total"),
    [("en", "today", "in total"), ("de", "heute", "insgesamt"), ("fr", "aujourd’hui", "au total")],
)
def test_the_form_asks_for_headcounts_exactly_as_the_event_means_them(language: str, today: str, in_total: str) -> None:
    """headcount_having: people with the skill today (at the current level); headcount_needed: people needed at the
    required level in total, those the member has included (the gap is the difference)."""
    assert today in UI[language]["headcount_having"] and in_total in UI[language]["headcount_needed"]
    fields = SkillAnswer.model_fields
    assert "current_level" in (fields["headcount_having"].description or "")
    assert "in total" in (fields["headcount_needed"].description or "")
