"""The answering form's fields: a template's questions as ``form.html`` shows them, and the posted fields read
back as answers and skill rows, with each problem placed next to its question.

Fields are named ``q.<question id>`` and ``skill.<code>.<field>``; a saved draft is these fields as posted.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, assert_never

from fastapi import Request

from trellis_common.likert import LIKERT_SCALE
from trellis_common.skill_labels import is_listed, skill_label
from trellis_surveys.domain.answers import SKILL_FIELDS, AnswerError
from trellis_surveys.domain.templates import Question, QuestionType, SurveyTemplate

Draft = dict[str, list[str]]


def localised(template: SurveyTemplate, language: str) -> SurveyTemplate:
    """``template`` as a member reading ``language`` sees it: its translation, the shared skill labels."""
    codes = [t.code for t in template.taxonomy if is_listed(t.code)]
    return template.localised(language, {code: skill_label(code, language) for code in codes})


def _anchor(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", code)


def _condition_text(template: SurveyTemplate, question: Question, ui: dict[str, str]) -> str | None:
    condition = question.show_if
    if condition is None:
        return None
    source = template.question(condition.question)
    assert source is not None
    labels = dict(_choices(source, template.language))
    if condition.at_least is not None:
        return ui["only_if_min"].format(answer=f"{condition.at_least:g}", question=source.text)
    wanted = [str(condition.equals)] if condition.equals is not None else (condition.any_of or [])
    answer = " / ".join(labels.get(w, w) for w in wanted)
    return ui["only_if"].format(answer=answer, question=source.text)


class Widget(StrEnum):
    """How ``form.html`` draws a question's field."""

    RADIO = "radio"  # one of the choices
    CHECKBOXES = "checkboxes"  # any of the choices
    NUMBER = "number"  # a line for a number
    TEXTAREA = "textarea"  # free text
    SKILL_MATRIX = "skill_matrix"  # a row of fields per skill


def widget(kind: QuestionType) -> Widget:
    match kind:
        case QuestionType.LIKERT | QuestionType.RATING | QuestionType.SINGLE_CHOICE:
            return Widget.RADIO
        case QuestionType.MULTI_CHOICE:
            return Widget.CHECKBOXES
        case QuestionType.NUMBER:
            return Widget.NUMBER
        case QuestionType.TEXT:
            return Widget.TEXTAREA
        case QuestionType.SKILL_MATRIX:
            return Widget.SKILL_MATRIX
        case unknown:
            assert_never(unknown)


def _choices(question: Question, language: str | None) -> list[tuple[str, str]]:
    """The (value, label) pairs to choose from: a scale's points, or the options."""
    match question.type:
        case QuestionType.LIKERT:
            scale = LIKERT_SCALE.get(language or "en", LIKERT_SCALE["en"])
            return [(str(n), f"{n} – {label}") for n, label in enumerate(scale, start=1)]
        case QuestionType.RATING:
            low, high = question.scale_labels or ("", "")
            return [
                (
                    str(n),
                    f"{n}"
                    + (f" – {low}" if n == question.scale_min and low else "")
                    + (f" – {high}" if n == question.scale_max and high else ""),
                )
                for n in range(question.scale_min, question.scale_max + 1)
            ]
        case (
            QuestionType.SINGLE_CHOICE
            | QuestionType.MULTI_CHOICE
            | QuestionType.NUMBER
            | QuestionType.TEXT
            | QuestionType.SKILL_MATRIX
        ):
            return [(o.value, o.label) for o in question.options]
        case unknown:
            assert_never(unknown)


def form_questions(
    template: SurveyTemplate, language: str, ui: dict[str, str], draft: Draft, errors: dict[str, str]
) -> list[dict[str, Any]]:
    """Each question of the (localised) ``template`` as ``form.html`` renders it, filled from ``draft``."""
    questions: list[dict[str, Any]] = []
    for q in template.questions:
        item: dict[str, Any] = {
            "id": q.id,
            "widget": widget(q.type).value,
            "text": q.text,
            "help": q.help,
            "section": q.section,
            "required": q.required,
            "unit": q.unit,
            "max_length": q.max_length,
            "condition": _condition_text(template, q, ui),
            "choices": _choices(q, language),
            "current": draft.get(f"q.{q.id}", []),
        }
        if item["widget"] == Widget.SKILL_MATRIX:
            level_options = [
                (str(n), q.levels.labels.get(str(n), str(n))) for n in range(q.levels.min, q.levels.max + 1)
            ]
            importance = [(str(n), str(n)) for n in range(1, 6)]
            item["skills"] = [
                {
                    "code": code,
                    "anchor": _anchor(code),
                    "error": errors.get(f"skill:{code}"),
                    "label": template.label_of(code),
                    "fields": [
                        {
                            "name": f"skill.{code}.{f}",
                            "id": f"skill-{_anchor(code)}-{f}",
                            "label": ui[f],
                            "value": (draft.get(f"skill.{code}.{f}") or [""])[0],
                            "options": level_options
                            if f.endswith("_level")
                            else importance
                            if f == "importance"
                            else None,
                        }
                        for f in SKILL_FIELDS
                    ],
                }
                for code in q.skills
            ]
        questions.append(item)
    return questions


async def posted_fields(request: Request) -> Draft:
    """The form's question and skill fields as posted (each value cut at 10,000 characters)."""
    form = await request.form()
    draft: Draft = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and (key.startswith("q.") or key.startswith("skill.")):
            draft.setdefault(key, []).append(value[:10_000])
    return draft


def read_answers(
    template: SurveyTemplate, draft: Draft, ui: dict[str, str]
) -> tuple[dict[str, Any], list[Any], list[AnswerError]]:
    """Form values to typed answers and skill rows; values that are not numbers are errors here already."""
    answers: dict[str, Any] = {}
    skills: list[Any] = []
    errors: list[AnswerError] = []
    for q in template.questions:
        values = [v for v in draft.get(f"q.{q.id}", []) if v.strip()]
        match q.type:
            case QuestionType.SKILL_MATRIX:
                rows, row_errors = _skill_rows(q, draft, ui)
                skills += rows
                errors += row_errors
            case QuestionType.MULTI_CHOICE:
                if values:
                    answers[q.id] = values
            case QuestionType.LIKERT | QuestionType.RATING | QuestionType.NUMBER:
                if values:
                    # A decimal comma is as good as a point in an amount; a scale point is a whole number.
                    raw = values[0].strip().replace(",", ".") if q.type is QuestionType.NUMBER else values[0].strip()
                    try:
                        number = float(raw)
                    except ValueError:
                        errors.append(AnswerError(field=f"answers.{q.id}", message=ui["bad_number"]))
                    else:
                        answers[q.id] = int(number) if number.is_integer() else number
            case QuestionType.SINGLE_CHOICE | QuestionType.TEXT:
                if values:
                    answers[q.id] = values[0]
            case unknown:
                assert_never(unknown)
    return answers, skills, errors


def _skill_rows(question: Question, draft: Draft, ui: dict[str, str]) -> tuple[list[Any], list[AnswerError]]:
    """The matrix rows filled in (all five fields, whole numbers); a row left empty is not answered."""
    rows: list[Any] = []
    errors: list[AnswerError] = []
    for code in question.skills:
        cells = {f: (draft.get(f"skill.{code}.{f}") or [""])[0].strip() for f in SKILL_FIELDS}
        if not any(cells.values()):
            continue
        if not all(cells.values()):
            errors.append(AnswerError(field=f"skill:{code}", message=ui["skill_incomplete"]))
            continue
        if not all(v.isdigit() for v in cells.values()):
            errors.append(AnswerError(field=f"skill:{code}", message=ui["bad_number"]))
            continue
        rows.append({"skill_code": code, **{f: int(v) for f, v in cells.items()}})
    return rows, errors


def placed_problems(
    template: SurveyTemplate, errors: list[AnswerError], skills: list[Any]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The first problem of each question or skill, by its key on the page, and the page's list of problems as
    (element id to jump to, message naming the question)."""
    shown: dict[str, str] = {}
    listed: list[tuple[str, str]] = []
    for error in errors:
        key, anchor = _error_anchor(error.field, skills)
        if key not in shown:
            shown[key] = error.message
            listed.append(
                (anchor, error.message if error.names_question else f"{_label_of(template, key)}: {error.message}")
            )
    return shown, listed


def _error_anchor(field: str, skills: list[Any]) -> tuple[str, str]:
    """Map a validation error's field to (error key on the page, element id to jump to)."""
    if field.startswith("skill:"):
        code = field.removeprefix("skill:")
        return field, f"skill-{_anchor(code)}"
    match = re.match(r"skills\[(\d+)\]", field)
    if match and int(match.group(1)) < len(skills):
        code = skills[int(match.group(1))]["skill_code"]
        return f"skill:{code}", f"skill-{_anchor(code)}"
    question_id = field.removeprefix("answers.").split(".")[0]
    return question_id, f"q-{question_id}"


def _label_of(template: SurveyTemplate, key: str) -> str:
    if key.startswith("skill:"):
        return template.label_of(key.removeprefix("skill:"))
    question = template.question(key)
    return question.text if question else key
