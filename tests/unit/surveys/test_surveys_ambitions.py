"""Questions that fill the member context: the internationalisation survey's target countries and sectors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from trellis_surveys.answering_form import localised
from trellis_surveys.domain.ambitions import ContextField
from trellis_surveys.domain.answers import validate_response
from trellis_surveys.domain.templates import SurveyTemplate
from trellis_surveys.repositories.templates import builtin_templates

INTL = builtin_templates()[("internationalisation-readiness", 2)]
ASKED = {"value_chain_disrupted": 2, "support_wanted": ["partner_search"]}


def test_the_internationalisation_survey_asks_target_countries_and_sectors_as_codes_with_names() -> None:
    countries, sectors = INTL.question("target_countries"), INTL.question("target_sectors")
    assert countries is not None and countries.member_context is ContextField.TARGET_COUNTRIES
    assert sectors is not None and sectors.member_context is ContextField.TARGET_SECTORS
    values = [o.value for o in countries.options]
    assert {"CZ", "DE", "PL", "CH", "GB", "NO", "US", "CN", "JP", "IN", "BR"} <= set(values)
    assert [o.value for o in sectors.options] == [chr(c) for c in range(ord("A"), ord("S") + 1)]
    for language, czechia, manufacturing in (
        ("en", "Czechia", "Manufacturing"),
        ("de", "Tschechien", "Verarbeitendes Gewerbe"),
        ("fr", "Tchéquie", "Industrie manufacturière"),
    ):
        shown = localised(INTL, language)
        names = {q.id: {o.value: o.label for o in q.options} for q in shown.questions}
        assert names["target_countries"]["CZ"] == czechia and names["target_sectors"]["C"] == manufacturing
    # Version 1 stays as it was published: a running campaign's questions never change under it.
    assert builtin_templates()[("internationalisation-readiness", 1)].question("target_countries") is None


def test_chosen_countries_and_sectors_fill_the_member_context() -> None:
    answers = {**ASKED, "international_ambition": "explore", "target_countries": ["CZ", "SK"], "target_sectors": ["C"]}
    validated, errors = validate_response(INTL, answers)
    assert errors == [] and validated is not None
    assert INTL.context_answers(validated.answers) == {
        ContextField.TARGET_COUNTRIES: ["CZ", "SK"],
        ContextField.TARGET_SECTORS: ["C"],
    }


def test_no_ambition_means_no_targets() -> None:
    answers = {**ASKED, "international_ambition": "none", "target_countries": ["CZ"]}
    validated, errors = validate_response(INTL, answers)
    assert errors == [] and validated is not None
    assert INTL.context_answers(validated.answers) == {}


def _with(question: dict[str, Any], *more: dict[str, Any]) -> SurveyTemplate:
    data = INTL.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["questions"] = [*data["questions"], question, *more]
    return SurveyTemplate.model_validate(data)


def _feeding(field: str, qid: str = "markets", **changes: Any) -> dict[str, Any]:
    options = [{"value": "CZ", "label": "Czechia"}, {"value": "PL", "label": "Poland"}]
    return {"id": qid, "type": "multi_choice", "text": "Where?", "member_context": field, "options": options} | changes


def _options(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, label in pairs]


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        (_feeding("target_countries", type="text", options=[]), "only a choice question"),
        (_feeding("target_countries", options=_options(("cz", "Czechia"), ("PL", "Poland"))), "ISO 3166-1"),
        (_feeding("target_countries", options=_options(("CZ", "CZ"), ("PL", "Poland"))), "a name, not its code"),
        (_feeding("target_sectors", options=_options(("C", "Manufacturing"), ("Z9", "Other"))), "NACE"),
        (_feeding("favourite_colour"), "member_context"),
    ],
)
def test_a_question_feeding_the_member_context_is_checked_when_the_template_loads(
    question: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        _with(question)


def test_one_question_per_member_context_field() -> None:
    with pytest.raises(ValidationError, match="already asked"):
        _with(_feeding("target_countries"))
    sectors = [{"value": "C28", "label": "Machinery"}, {"value": "C28.4", "label": "Machine tools"}]
    data = INTL.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["questions"] = [q for q in data["questions"] if q["id"] != "target_sectors"]
    data["questions"].append(_feeding("target_sectors", qid="divisions", options=sectors, type="single_choice"))
    adapted = SurveyTemplate.model_validate(data)
    assert adapted.context_answers({"divisions": "C28.4"}) == {ContextField.TARGET_SECTORS: ["C28.4"]}
