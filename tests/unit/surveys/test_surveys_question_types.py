"""Every question type goes the whole way: drawn as a field of the form, read back from what a member posts,
checked against the template and counted in the results.

mypy points at each ``match`` a new ``QuestionType`` must fill; this test points at what mypy cannot see (the
form's HTML draws a field for every widget) and at ``EXAMPLES``, which needs one question of the new type.
"""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from trellis_surveys.answering_form import Widget, form_questions, read_answers, widget
from trellis_surveys.answering_texts import UI
from trellis_surveys.domain.answers import validate_response
from trellis_surveys.domain.results import question_counts
from trellis_surveys.domain.templates import QuestionType, SurveyTemplate

SKILL = "digcomp:5.2"
# Per type: a question of it, what a member posts for it, and what the checked answer is.
EXAMPLES: dict[QuestionType, tuple[dict[str, Any], dict[str, list[str]], Any]] = {
    QuestionType.LIKERT: ({}, {"q.likert": ["4"]}, 4),
    QuestionType.RATING: ({"scale_min": 0, "scale_max": 10}, {"q.rating": ["7"]}, 7),
    QuestionType.SINGLE_CHOICE: (
        {"options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]},
        {"q.single_choice": ["no"]},
        "no",
    ),
    QuestionType.MULTI_CHOICE: (
        {"options": [{"value": "cost", "label": "Cost"}, {"value": "time", "label": "Time"}]},
        {"q.multi_choice": ["cost", "time"]},
        ["cost", "time"],
    ),
    QuestionType.NUMBER: ({"integer": False, "unit": "EUR"}, {"q.number": ["2,5"]}, 2.5),
    QuestionType.TEXT: ({}, {"q.text": [" Plain words "]}, "Plain words"),
    QuestionType.SKILL_MATRIX: (
        {"skills": [SKILL]},
        {
            f"skill.{SKILL}.current_level": ["2"],
            f"skill.{SKILL}.required_level": ["5"],
            f"skill.{SKILL}.headcount_having": ["1"],
            f"skill.{SKILL}.headcount_needed": ["4"],
            f"skill.{SKILL}.importance": ["3"],
        },
        [
            {
                "skill_code": SKILL,
                "current_level": 2,
                "required_level": 5,
                "headcount_having": 1,
                "headcount_needed": 4,
                "importance": 3,
            }
        ],
    ),
}
PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("trellis_surveys", "web"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def one_question(kind: QuestionType) -> SurveyTemplate:
    fields = EXAMPLES[kind][0]
    return SurveyTemplate.model_validate(
        {
            "id": "every-type",
            "theme": "digital",
            "title": "Every type",
            "taxonomy": [{"code": SKILL, "label": "Protecting devices"}],
            "questions": [{"id": kind.value, "type": kind, "text": f"The {kind.value} question", **fields}],
        }
    )


def test_every_question_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(QuestionType)


@pytest.mark.parametrize("kind", list(QuestionType))
def test_the_form_draws_a_field_for_the_type(kind: QuestionType) -> None:
    template = one_question(kind)
    page = PAGES.get_template("form.html").render(
        lang="en",
        page_title=template.title,
        title=template.title,
        intro="",
        ui=UI["en"],
        questions=form_questions(template, "en", UI["en"], EXAMPLES[kind][1], {}),
        errors={},
        error_list=[],
        notice=None,
        action="/answer/token",
        csrf="csrf",
    )
    assert f'id="q-{kind.value}"' in page and f"The {kind.value} question" in page
    for name in EXAMPLES[kind][1]:
        assert f'name="{name}"' in page, f"{widget(kind)} draws no field named {name}"


def test_every_widget_draws_some_type() -> None:
    assert {widget(kind) for kind in QuestionType} == set(Widget)


@pytest.mark.parametrize("kind", list(QuestionType))
def test_a_posted_answer_is_read_checked_and_counted(kind: QuestionType) -> None:
    template = one_question(kind)
    answers, skills, errors = read_answers(template, EXAMPLES[kind][1], UI["en"])
    assert errors == []
    validated, errors = validate_response(template, answers, skills)
    assert errors == [] and validated is not None
    rows = [row.model_dump() for row in validated.skills]
    assert (rows if kind is QuestionType.SKILL_MATRIX else validated.answers[kind.value]) == EXAMPLES[kind][2]
    [counted] = question_counts(template, [(validated.answers, rows)])
    assert counted["answered"] == 1
