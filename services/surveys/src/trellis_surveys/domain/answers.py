"""Answers to a survey template: checking a response against its questions, conditions and skill matrix.

What an answer can be wrong with is worded in English here (the API's words); the answering form passes the
same messages in the member's language. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_never

from pydantic import Field

from trellis_surveys.domain.templates import Question, QuestionType, Strict, SurveyTemplate

MAX_HEADCOUNT = 1_000_000


class SkillRow(Strict):
    """One skill-matrix row as answered: supply (current level, people having) against demand."""

    skill_code: str
    current_level: int
    required_level: int
    headcount_having: int
    headcount_needed: int
    importance: int


class AnswerError(Strict):
    field: str
    message: str
    # The message names the question itself ("'Employees' is required"): a form shows it without a label first.
    names_question: bool = Field(False, exclude=True)


# What an answer can be wrong with, in English: the API's words. The survey form shows them in the member's
# language (``trellis_surveys.answering_texts.ANSWER_MESSAGES``, same keys and placeholders). Mistakes only a
# client of the API can make (an unknown question, a malformed skill row) are worded in English only.
ANSWER_MESSAGES: dict[str, str] = {
    "likert": "must be a whole number from 1 (strongly disagree) to 5 (strongly agree)",
    "rating": "must be a whole number from {low} to {high}",
    "one_of": "must be one of: {allowed}",
    "option_list": "must be a list of option values",
    "unknown_options": "unknown option(s) {unknown}; allowed: {allowed}",
    "chosen_twice": "each option may be chosen once",
    "too_few_choices": "choose at least {count}",
    "too_many_choices": "choose at most {count}",
    "number": "must be a number",
    "whole_number": "must be a whole number",
    "too_small": "must be at least {limit}",
    "too_large": "must be at most {limit}",
    "text": "must be text",
    "too_long": "must be at most {count} characters",
    "required": "'{question}' is required",
    "matrix_required": "'{question}' needs at least one skill row",
    "skill_field_required": "is required",
    "out_of_range": "must be from {low} to {high}, not {value}",
}
Messages = Mapping[str, str]


class ValidatedResponse(Strict):
    answers: dict[str, Any]
    skills: list[SkillRow]
    taxonomy_codes: list[str]


SKILL_FIELDS: tuple[str, ...] = (
    "current_level",
    "required_level",
    "headcount_having",
    "headcount_needed",
    "importance",
)


def active_questions(template: SurveyTemplate, answers: dict[str, Any]) -> list[Question]:
    """The questions whose conditions hold for these answers (conditions only look back, so one pass)."""
    active: list[Question] = []
    shown: set[str] = set()
    for question in template.questions:
        condition = question.show_if
        if condition is None or (condition.question in shown and condition.holds(answers.get(condition.question))):
            active.append(question)
            shown.add(question.id)
    return active


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_answer(question: Question, value: Any, field: str, say: Messages) -> tuple[Any, list[AnswerError]]:
    def bad(code: str, **params: Any) -> tuple[Any, list[AnswerError]]:
        return None, [AnswerError(field=field, message=say[code].format(**params))]

    match question.type:
        case QuestionType.LIKERT:
            if not _is_int(value) or not 1 <= value <= 5:
                return bad("likert")
            return value, []
        case QuestionType.RATING:
            if not _is_int(value) or not question.scale_min <= value <= question.scale_max:
                return bad("rating", low=question.scale_min, high=question.scale_max)
            return value, []
        case QuestionType.SINGLE_CHOICE:
            if not isinstance(value, str) or value not in question.choice_values():
                return bad("one_of", allowed=", ".join(question.choice_values()))
            return value, []
        case QuestionType.MULTI_CHOICE:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return bad("option_list")
            unknown = [v for v in value if v not in question.choice_values()]
            if unknown:
                return bad("unknown_options", unknown=", ".join(unknown), allowed=", ".join(question.choice_values()))
            if len(set(value)) != len(value):
                return bad("chosen_twice")
            if question.min_choices is not None and len(value) < question.min_choices:
                return bad("too_few_choices", count=question.min_choices)
            if question.max_choices is not None and len(value) > question.max_choices:
                return bad("too_many_choices", count=question.max_choices)
            return value, []
        case QuestionType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return bad("number")
            if question.integer and not float(value).is_integer():
                return bad("whole_number")
            if question.minimum is not None and value < question.minimum:
                return bad("too_small", limit=f"{question.minimum:g}")
            if question.maximum is not None and value > question.maximum:
                return bad("too_large", limit=f"{question.maximum:g}")
            return (int(value) if question.integer else value), []
        case QuestionType.TEXT:
            if not isinstance(value, str):
                return bad("text")
            if len(value) > question.max_length:
                return bad("too_long", count=question.max_length)
            return value.strip(), []
        case QuestionType.SKILL_MATRIX:
            raise AssertionError("skill matrices are checked separately (their rows travel as skills)")
        case unknown:
            assert_never(unknown)


def _check_skill_rows(
    question: Question, rows: list[Any], field: str, say: Messages
) -> tuple[list[SkillRow], list[AnswerError]]:
    errors: list[AnswerError] = []
    checked: list[SkillRow] = []
    seen: set[str] = set()
    low, high = question.levels.min, question.levels.max
    for index, row in enumerate(rows):
        where = f"{field}[{index}]"
        if not isinstance(row, dict):
            errors.append(AnswerError(field=where, message="must be an object with skill_code and levels"))
            continue
        unknown_keys = sorted(set(row) - {"skill_code", *SKILL_FIELDS})
        if unknown_keys:
            errors.append(AnswerError(field=f"{where}.{unknown_keys[0]}", message="is not a skill-matrix field"))
        code = row.get("skill_code")
        if not isinstance(code, str) or code not in question.skills:
            errors.append(
                AnswerError(field=f"{where}.skill_code", message=f"{code!r} is not a skill of this survey's matrix")
            )
            continue
        if code in seen:
            errors.append(AnswerError(field=f"{where}.skill_code", message=f"{code} is answered twice"))
            continue
        seen.add(code)
        row_errors = []
        limits = {
            "current_level": (low, high),
            "required_level": (low, high),
            "headcount_having": (0, MAX_HEADCOUNT),
            "headcount_needed": (0, MAX_HEADCOUNT),
            "importance": (1, 5),
        }
        for name, (lowest, highest) in limits.items():
            value = row.get(name)
            if value is None:
                row_errors.append(AnswerError(field=f"{where}.{name}", message=say["skill_field_required"]))
            elif not _is_int(value):
                row_errors.append(AnswerError(field=f"{where}.{name}", message=say["whole_number"]))
            elif not lowest <= value <= highest:
                message = say["out_of_range"].format(low=lowest, high=highest, value=value)
                row_errors.append(AnswerError(field=f"{where}.{name}", message=message))
        errors.extend(row_errors)
        if not row_errors:
            checked.append(SkillRow.model_validate({"skill_code": code, **{k: row[k] for k in SKILL_FIELDS}}))
    return checked, errors


def validate_response(
    template: SurveyTemplate,
    answers: dict[str, Any],
    skills: list[Any] | None = None,
    *,
    messages: Messages | None = None,
) -> tuple[ValidatedResponse | None, list[AnswerError]]:
    """Check a response against its template; answers to questions whose condition fails are dropped.

    ``skills`` are the skill-matrix rows (they travel as ``skills``, not inside ``answers``). Errors name the
    field as ``answers.<question>`` or ``skills[<row>].<field>``, worded from ``messages`` (English by default).
    """
    say = {**ANSWER_MESSAGES, **(messages or {})}
    errors: list[AnswerError] = []
    for question_id in answers:
        question = template.question(question_id)
        if question is None:
            errors.append(AnswerError(field=f"answers.{question_id}", message="is not a question of this survey"))
        elif question.type is QuestionType.SKILL_MATRIX:
            errors.append(AnswerError(field=f"answers.{question_id}", message="skill-matrix rows are sent as 'skills'"))
    matrix = template.skill_matrix
    rows = skills or []
    if rows and matrix is None:
        errors.append(AnswerError(field="skills", message="this survey has no skill matrix"))
    clean: dict[str, Any] = {}
    checked_skills: list[SkillRow] = []
    for question in active_questions(template, answers):
        if question.type is QuestionType.SKILL_MATRIX:
            checked_skills, row_errors = _check_skill_rows(question, rows, "skills", say)
            errors.extend(row_errors)
            if question.required and not rows:
                message = say["matrix_required"].format(question=question.text)
                errors.append(AnswerError(field="skills", message=message, names_question=True))
            continue
        value = answers.get(question.id)
        field = f"answers.{question.id}"
        if value is None or value == "" or value == []:
            if question.required:
                message = say["required"].format(question=question.text)
                errors.append(AnswerError(field=field, message=message, names_question=True))
            continue
        checked, answer_errors = _check_answer(question, value, field, say)
        errors.extend(answer_errors)
        if not answer_errors:
            clean[question.id] = checked
    if errors:
        return None, errors
    codes = [row.skill_code for row in checked_skills]
    for question_id, value in clean.items():
        question = template.question(question_id)
        assert question is not None
        chosen = value if isinstance(value, list) else [value]
        codes.extend(o.taxonomy_code for o in question.options if o.taxonomy_code and o.value in chosen)
    return ValidatedResponse(answers=clean, skills=checked_skills, taxonomy_codes=list(dict.fromkeys(codes))), []
