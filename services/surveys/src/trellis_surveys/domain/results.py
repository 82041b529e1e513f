"""Counting answers per question for a campaign's results."""

from __future__ import annotations

from collections import Counter
from typing import Any

from trellis_surveys.domain.templates import QuestionType, SurveyTemplate


def question_counts(
    template: SurveyTemplate, responses: list[tuple[dict[str, Any], list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """Per question: how many answered it, and per choice (or scale point, or skill) how often it was given."""
    summary: list[dict[str, Any]] = []
    for question in template.questions:
        counts: Counter[str] = Counter()
        answered = 0
        for answers, skills in responses:
            if question.type is QuestionType.SKILL_MATRIX:
                if skills:
                    answered += 1
                    counts.update(s["skill_code"] for s in skills)
                continue
            value = answers.get(question.id)
            if value is None:
                continue
            answered += 1
            if question.type in (QuestionType.MULTI_CHOICE,):
                counts.update(str(v) for v in value)
            elif question.type in (QuestionType.SINGLE_CHOICE, QuestionType.LIKERT, QuestionType.RATING):
                counts[str(value)] += 1
        summary.append(
            {
                "question_id": question.id,
                "type": question.type,
                "answered": answered,
                "counts": dict(sorted(counts.items())),
            }
        )
    return summary
