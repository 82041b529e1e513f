"""Counting answers per question for a campaign's results."""

from __future__ import annotations

from collections import Counter
from typing import Any, assert_never

from trellis_surveys.domain.templates import Question, QuestionType, SurveyTemplate


def question_counts(
    template: SurveyTemplate, responses: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """Per question: how many answered it, and per choice (or scale point, or skill) how often it was given."""
    summary: list[dict[str, Any]] = []
    for question in template.questions:
        counts: Counter[str] = Counter()
        answered = 0
        for answers, skills in responses:
            given = _given(question, answers, skills)
            if given is not None:
                answered += 1
                counts.update(given)
        summary.append(
            {
                "question_id": question.id,
                "type": question.type,
                "answered": answered,
                "counts": dict(sorted(counts.items())),
            }
        )
    return summary


def _given(question: Question, answers: dict[str, Any], skills: list[dict[str, Any]]) -> list[str] | None:
    """What one response gave to ``question``, as the values to count (none for numbers and text), or
    ``None`` when it did not answer it."""
    match question.type:
        case QuestionType.SKILL_MATRIX:
            return [s["skill_code"] for s in skills] if skills else None
        case QuestionType.MULTI_CHOICE:
            value = answers.get(question.id)
            return None if value is None else [str(v) for v in value]
        case QuestionType.SINGLE_CHOICE | QuestionType.LIKERT | QuestionType.RATING:
            value = answers.get(question.id)
            return None if value is None else [str(value)]
        case QuestionType.NUMBER | QuestionType.TEXT:
            return None if answers.get(question.id) is None else []
        case unknown:
            assert_never(unknown)
