"""Survey templates as data: question types, validation rules, conditions and taxonomy codes.

A template is a versioned document (the built-in ones ship as JSON inside the package); this module checks
that a template is well formed (``domain.answers`` checks that a set of answers fits it). No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, assert_never

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trellis_common.events import SurveyTheme
from trellis_surveys.domain.ambitions import ContextField, code_problem

QuestionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
TaxonomyCode = Annotated[str, Field(pattern=r"^(digcomp|greencomp|greenwork|intl|esco):[A-Za-z0-9.\-/_]{1,120}$")]
TemplateId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")]


class QuestionType(StrEnum):
    """What a question asks for. Every place that treats one type differently is a ``match`` ending in
    ``assert_never``, so a new type makes mypy list each place to fill (and ``web/form.html`` draws the field
    of each widget that ``answering_form.widget`` names)."""

    LIKERT = "likert"
    RATING = "rating"
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    NUMBER = "number"
    TEXT = "text"
    SKILL_MATRIX = "skill_matrix"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(Strict):
    # Upper case and dots: an option may be a country (CZ) or NACE code (C28.4) that feeds the member context.
    value: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    label: str = Field(min_length=1, max_length=300)
    taxonomy_code: TaxonomyCode | None = None


class Condition(Strict):
    """Show a question only when an earlier answer matches: ``equals`` a value, is ``in`` a set, or is ``at_least``."""

    question: QuestionId
    equals: str | int | None = None
    any_of: list[str] | None = Field(None, alias="in")
    at_least: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def one_test(self) -> Condition:
        if sum(x is not None for x in (self.equals, self.any_of, self.at_least)) != 1:
            raise ValueError("a condition needs exactly one of equals, in, at_least")
        return self

    def holds(self, answer: Any) -> bool:
        if answer is None or answer == "" or answer == []:
            return False
        answers = answer if isinstance(answer, list) else [answer]
        if self.equals is not None:
            return any(str(a) == str(self.equals) for a in answers)
        if self.any_of is not None:
            return any(str(a) in self.any_of for a in answers)
        assert self.at_least is not None
        return any(isinstance(a, int | float) and not isinstance(a, bool) and a >= self.at_least for a in answers)


class Levels(Strict):
    min: int = Field(0, ge=0, le=8)
    max: int = Field(8, ge=1, le=8)
    labels: dict[str, str] = Field(default_factory=dict, description="Level (as text) to its name")


class Question(Strict):
    id: QuestionId
    type: QuestionType
    text: str = Field(min_length=1, max_length=500)
    help: str | None = Field(None, max_length=1000)
    section: str | None = Field(None, max_length=120)
    required: bool = False
    show_if: Condition | None = None
    options: list[Option] = Field(default_factory=list, max_length=50)
    min_choices: int | None = Field(None, ge=0)
    max_choices: int | None = Field(None, ge=1)
    scale_min: int = Field(1, ge=0, le=10, description="rating scale bounds")
    scale_max: int = Field(5, ge=1, le=10)
    scale_labels: tuple[str, str] | None = None
    minimum: float | None = Field(None, description="number bounds")
    maximum: float | None = None
    integer: bool = True
    unit: str | None = Field(None, max_length=40)
    max_length: int = Field(2000, ge=1, le=10_000, description="free-text limit")
    skills: list[TaxonomyCode] = Field(default_factory=list, max_length=60, description="skill-matrix rows")
    levels: Levels = Field(default_factory=Levels)
    taxonomy_codes: list[TaxonomyCode] = Field(default_factory=list, max_length=60)
    member_context: ContextField | None = Field(
        None, description="The member_context field of the published response that the chosen option values fill"
    )

    @model_validator(mode="after")
    def consistent(self) -> Question:
        # What the type requires comes first: of several problems, that is the one worth reading first.
        problem = self._type_problem()
        if problem:
            raise ValueError(f"question {self.id}: {problem}")
        if len({o.value for o in self.options}) != len(self.options):
            raise ValueError(f"question {self.id}: option values must be distinct")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"question {self.id}: minimum is above maximum")
        if self.member_context is not None:
            if not self.is_choice:
                raise ValueError(f"question {self.id}: only a choice question can fill the member context")
            for option in self.options:
                problem = code_problem(self.member_context, option.value, option.label)
                if problem:
                    raise ValueError(f"question {self.id}: {problem}")
        return self

    def _type_problem(self) -> str | None:
        """What the question's type requires of its other fields, when they fall short."""
        match self.type:
            case QuestionType.SINGLE_CHOICE | QuestionType.MULTI_CHOICE:
                return "a choice question needs at least two options" if len(self.options) < 2 else None
            case QuestionType.RATING:
                return "scale_min must be below scale_max" if self.scale_min >= self.scale_max else None
            case QuestionType.SKILL_MATRIX:
                if not self.skills:
                    return "a skill matrix lists its skills by taxonomy code"
                if len(set(self.skills)) != len(self.skills):
                    return "each skill appears once in the matrix"
                if self.levels.min >= self.levels.max:
                    return "levels.min must be below levels.max"
                return None
            case QuestionType.LIKERT | QuestionType.NUMBER | QuestionType.TEXT:
                return None
            case unknown:
                assert_never(unknown)

    @property
    def is_choice(self) -> bool:
        """The answer is picked among the question's own options (so they may fill the member context)."""
        match self.type:
            case QuestionType.SINGLE_CHOICE | QuestionType.MULTI_CHOICE:
                return True
            case (
                QuestionType.LIKERT
                | QuestionType.RATING
                | QuestionType.NUMBER
                | QuestionType.TEXT
                | QuestionType.SKILL_MATRIX
            ):
                return False
            case unknown:
                assert_never(unknown)

    @property
    def codes(self) -> list[str]:
        """Every taxonomy code the question carries (matrix rows, option codes and its own codes)."""
        found = [*self.skills, *self.taxonomy_codes, *(o.taxonomy_code for o in self.options if o.taxonomy_code)]
        return list(dict.fromkeys(found))

    @property
    def is_skill_question(self) -> bool:
        return self.type is QuestionType.SKILL_MATRIX or any(o.taxonomy_code for o in self.options)

    def choice_values(self) -> list[str]:
        """What a choice question's answer may be: its options' values."""
        return [o.value for o in self.options]


class TaxonomyEntry(Strict):
    code: TaxonomyCode
    label: str = Field(min_length=1, max_length=300)


class TemplateStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class TemplateTranslation(Strict):
    """Everything a member reads in a template, in one more language; what is missing shows in the source."""

    title: str | None = None
    intro: str | None = None
    sections: dict[str, str] = Field(default_factory=dict, description="section (as written) to translated name")
    questions: dict[str, str] = Field(default_factory=dict, description="question id to translated text")
    help: dict[str, str] = Field(default_factory=dict, description="question id to translated help")
    units: dict[str, str] = Field(default_factory=dict, description="question id to translated unit")
    scale_labels: dict[str, tuple[str, str]] = Field(default_factory=dict, description="rating question id to ends")
    options: dict[str, str] = Field(default_factory=dict, description="'<question>.<value>' to translated label")
    levels: dict[str, str] = Field(default_factory=dict, description="'<question>.<level>' to translated name")
    skills: dict[str, str] = Field(default_factory=dict, description="taxonomy code to translated label")


class SurveyTemplate(Strict):
    """One version of a needs-assessment questionnaire for a theme of the guide."""

    id: TemplateId
    version: int = Field(1, ge=1)
    theme: SurveyTheme
    title: str = Field(min_length=1, max_length=200)
    intro: str = Field("", max_length=4000)
    source: str = Field("", max_length=1000, description="Where in the guide the questions come from")
    based_on: str | None = Field(None, description="'<template id>@<version>' this one was copied from")
    language: str = Field("en", pattern=r"^[a-z]{2}$")
    taxonomy: list[TaxonomyEntry] = Field(default_factory=list, max_length=200)
    questions: list[Question] = Field(min_length=1, max_length=200)
    translations: dict[str, TemplateTranslation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def well_formed(self) -> SurveyTemplate:
        seen: set[str] = set()
        known_codes = {t.code for t in self.taxonomy}
        matrices = 0
        fed: set[ContextField] = set()
        for question in self.questions:
            if question.id in seen:
                raise ValueError(f"question id {question.id} is used twice")
            if question.member_context in fed:
                raise ValueError(f"question {question.id}: member_context.{question.member_context} is already asked")
            if question.member_context is not None:
                fed.add(question.member_context)
            if question.show_if is not None and question.show_if.question not in seen:
                raise ValueError(f"question {question.id}: show_if must refer to an earlier question")
            seen.add(question.id)
            matrices += question.type is QuestionType.SKILL_MATRIX
            unknown = [c for c in question.codes if c not in known_codes]
            if unknown:
                raise ValueError(f"question {question.id}: codes {unknown} are not in the template's taxonomy")
            if question.is_skill_question and not question.codes:
                raise ValueError(f"question {question.id}: a skill question carries taxonomy codes")
        if matrices > 1:
            raise ValueError("a template has at most one skill matrix (it becomes the response's skills)")
        return self

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def skill_matrix(self) -> Question | None:
        return next((q for q in self.questions if q.type is QuestionType.SKILL_MATRIX), None)

    def label_of(self, code: str) -> str:
        return next((t.label for t in self.taxonomy if t.code == code), code)

    def context_answers(self, answers: Mapping[str, Any]) -> dict[ContextField, list[str]]:
        """The member-context fields these (validated) answers fill, each with the chosen codes."""
        filled: dict[ContextField, list[str]] = {}
        for question in self.questions:
            value = answers.get(question.id)
            if question.member_context is not None and value:
                filled[question.member_context] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return filled

    def localised(self, language: str, skill_labels: dict[str, str] | None = None) -> SurveyTemplate:
        """The same template with every text a member reads in ``language`` (ids, values and rules unchanged).

        ``skill_labels`` are the shared taxonomy labels in that language, used where the template's own
        translation does not name a skill. Texts without a translation stay in the template's language.
        """
        translation = self.translations.get(language)
        if language == self.language or (translation is None and not skill_labels):
            return self
        tr = translation or TemplateTranslation()
        shared = skill_labels or {}
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["title"] = tr.title or self.title
        data["intro"] = tr.intro or self.intro
        data["language"] = language
        for entry in data["taxonomy"]:
            entry["label"] = tr.skills.get(entry["code"]) or shared.get(entry["code"]) or entry["label"]
        for question in data["questions"]:
            qid = question["id"]
            question["text"] = tr.questions.get(qid) or question["text"]
            for key, names in (("help", tr.help), ("unit", tr.units)):
                if question.get(key):
                    question[key] = names.get(qid) or question[key]
            if question.get("section"):
                question["section"] = tr.sections.get(question["section"]) or question["section"]
            if qid in tr.scale_labels:
                question["scale_labels"] = list(tr.scale_labels[qid])
            for option in question.get("options", []):
                option["label"] = tr.options.get(f"{qid}.{option['value']}") or option["label"]
            levels = question.get("levels", {}).get("labels", {})
            for level in levels:
                levels[level] = tr.levels.get(f"{qid}.{level}") or levels[level]
        return SurveyTemplate.model_validate(data)


def adapt(
    source: SurveyTemplate, *, new_id: str, title: str | None = None, version: int = 1, **changes: Any
) -> SurveyTemplate:
    """A cluster's own copy of ``source`` (optionally with changed fields), validated as a whole."""
    data = source.model_dump(mode="json", by_alias=True)
    data.update(changes)
    data.update(id=new_id, version=version, based_on=source.key, title=title or data["title"])
    return SurveyTemplate.model_validate(data)


def survey_title(campaign_title: str, template: SurveyTemplate, language: str | None) -> str:
    """What a member sees as the survey's name: a campaign named after its template reads in the member's
    language; a title the cluster chose itself stays as the cluster wrote it."""
    if campaign_title != template.title:
        return campaign_title
    primary = (language or "").replace("_", "-").split("-")[0].strip().lower()
    translation = template.translations.get(primary)
    return translation.title if translation and translation.title else template.title


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63] or "template"
