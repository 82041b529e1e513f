"""Every people-facing text ships complete in English, German and French.

English is the source: whatever English has (an email or page template, a form string, a survey template's
question, option, section or level, a skill label), German and French have too, non-empty. Emails and pages
are rendered in each language with sample data, and a German or French rendering must not fall back to
English wording.
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from pydantic import BaseModel

from trellis_common import dates
from trellis_common.likert import LIKERT_SCALE
from trellis_common.skill_labels import label_set, shipped_languages
from trellis_matchmaking.domain.partners import Delivery, OfferFormat
from trellis_matchmaking.reply_texts import TEXTS as REPLY_PAGE
from trellis_notifications.domain import rendering
from trellis_notifications.domain.deliveries import EmailTemplate
from trellis_notifications.domain.rendering import SUPPORTED_LANGUAGES, TemplateRenderer
from trellis_notifications.samples import SAMPLE_CLUSTER, SAMPLE_MEMBER, SAMPLE_NAME, sample_context
from trellis_skills.heatmap_words import WORDS as HEATMAP
from trellis_surveys.answering_form import localised
from trellis_surveys.answering_texts import ANSWER_MESSAGES, UI
from trellis_surveys.domain import answers as survey_answers
from trellis_surveys.domain.templates import SurveyTemplate
from trellis_surveys.repositories.templates import builtin_templates

LANGUAGES = ("en", "de", "fr")
TRANSLATED = ("de", "fr")
RENDERER = TemplateRenderer()
# Words of the English templates that no German or French sentence contains; sample data is removed first.
ENGLISH = re.compile(r"\b(the|your|you|and|with|for|this|from|Hello|Dear|Unsubscribe|Reminder|Survey)\b")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _sample_strings(value: Any) -> Iterator[str]:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _sample_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _sample_strings(item)


def _without_samples(text: str, context: dict[str, Any]) -> str:
    samples = {*_sample_strings(context), SAMPLE_CLUSTER, SAMPLE_MEMBER, SAMPLE_NAME}
    for sample in sorted(samples, key=len, reverse=True):
        if len(sample) > 2:
            text = text.replace(sample, " ")
    return re.sub(r"https?://\S+", " ", text)


def test_the_three_working_languages_are_supported_everywhere() -> None:
    assert set(LANGUAGES) == SUPPORTED_LANGUAGES == set(UI) == set(LIKERT_SCALE) == set(REPLY_PAGE) == set(HEATMAP)
    assert set(LANGUAGES) <= shipped_languages()


# ------------------------------------------------------------------------------------------ emails and pages


def _template_files(folder: str) -> set[str]:
    root = resources.files("trellis_notifications").joinpath("templates", *folder.split("/"))
    return {p.name for p in root.iterdir() if p.is_file()}


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("folder", ["{}", "pages/{}"])
def test_every_english_template_file_exists_in_each_language(folder: str, language: str) -> None:
    assert _template_files(folder.format(language)) == _template_files(folder.format("en"))


@pytest.mark.parametrize("table", ["rendering._LABELS", "rendering._UNNAMED_CLUSTER", "dates.MONTHS"])
def test_rendering_tables_have_every_language_and_key(table: str) -> None:
    module, name = table.split(".")
    values: dict[str, Any] = getattr({"rendering": rendering, "dates": dates}[module], name)
    assert set(values) == set(LANGUAGES)
    for language in TRANSLATED:
        if isinstance(values["en"], dict):
            assert set(values[language]) == set(values["en"])
            assert all(v.strip() for v in values[language].values())
        elif isinstance(values["en"], str):
            assert values[language].strip()
        else:
            assert len(values[language]) == len(values["en"]) and all(values[language])


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", list(EmailTemplate))
def test_every_email_renders_in_each_language_without_english(template: EmailTemplate, language: str) -> None:
    context = sample_context(template)
    footers = [
        {"unsubscribe_url": "https://trellis.example.org/u/x"},
        {"on_behalf_of": "Eva Steiner"},
        {"cluster_name": SAMPLE_CLUSTER, "member_name": SAMPLE_MEMBER, "recipient_name": SAMPLE_NAME},
        {},
    ]
    for extra in footers:
        mail = RENDERER.render(template, language, **context, **extra)
        assert mail.subject.strip() and mail.text.strip() and f'lang="{language}"' in mail.html
        if language != "en":
            english = RENDERER.render(template, "en", **context, **extra)
            assert mail.subject != english.subject and mail.text != english.text
            for part in (mail.subject, mail.text):
                found = ENGLISH.findall(_without_samples(part, context))
                assert not found, f"{template.value} ({language}) has English words {found}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_calendar_entry_is_translated(language: str) -> None:
    context = sample_context(EmailTemplate.REVIEW_REMINDER)
    summary, description = RENDERER.calendar_texts(language, **context)
    assert not ENGLISH.findall(_without_samples(f"{summary}\n{description}", context))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("state", ["confirm", "done", "invalid"])
def test_the_unsubscribe_page_renders_in_each_language(state: str, language: str) -> None:
    page = RENDERER.render_page("unsubscribe", language, state=state, category="matches", max_age_days=90)
    assert f'lang="{language}"' in page and "<h1" in page
    if language != "en":
        english = RENDERER.render_page("unsubscribe", "en", state=state, category="matches", max_age_days=90)
        assert page != english
        body = re.sub(r"<[^>]+>", " ", page.split("<body", 1)[1])
        assert not ENGLISH.findall(body.replace("One-Click", " ").replace("List-Unsubscribe", " "))


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_accept_decline_page_is_complete(language: str) -> None:
    assert set(REPLY_PAGE[language]) == set(REPLY_PAGE["en"])
    for key, text in REPLY_PAGE[language].items():
        assert text.strip() and text != REPLY_PAGE["en"][key], key
        assert _fields(text) == _fields(REPLY_PAGE["en"][key]), key
        assert not ENGLISH.findall(text), f"{key} ({language}) has English words {ENGLISH.findall(text)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_offer_format_and_delivery_has_a_label(language: str) -> None:
    """Emails name an offer's format and delivery in the reader's language: each one matchmaking knows."""
    labels: dict[str, dict[str, str]] = rendering._LABELS
    missing = [value for value in [*OfferFormat, *Delivery] if not labels[language].get(value.value, "").strip()]
    assert not missing, f"{language} lacks labels for {missing}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_heatmap_words_are_complete(language: str) -> None:
    assert set(HEATMAP[language]) == set(HEATMAP["en"])
    for key, text in HEATMAP[language].items():
        assert text.strip() and _fields(text) == _fields(HEATMAP["en"][key]), key
        assert not ENGLISH.findall(text), f"{key} ({language}) has English words"


# ------------------------------------------------------------------------------------------ the survey form


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_form_strings_are_complete(language: str) -> None:
    assert set(UI[language]) == set(UI["en"])
    for key, text in UI[language].items():
        assert text.strip(), key
        assert _fields(text) == _fields(UI["en"][key]), key
    assert len(LIKERT_SCALE[language]) == len(LIKERT_SCALE["en"]) and all(LIKERT_SCALE[language])


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_answer_checks_speak_the_members_language(language: str) -> None:
    english = survey_answers.ANSWER_MESSAGES
    assert set(ANSWER_MESSAGES[language]) == set(english)
    for key, text in ANSWER_MESSAGES[language].items():
        assert text.strip() and _fields(text) == _fields(english[key]), key
        assert not ENGLISH.findall(text), f"{key} ({language}) has English words"
    # The form's checks, as a member submitting an empty and a wrong answer reads them.
    shown = localised(builtin_templates()[("digital-skills", 1)], language)
    _, errors = survey_answers.validate_response(shown, {"employees": -3}, [], messages=ANSWER_MESSAGES[language])
    messages = " ".join(error.message for error in errors)
    assert errors and not ENGLISH.findall(messages) and "must" not in messages, messages


def _shipped() -> list[SurveyTemplate]:
    return list(builtin_templates().values())


@pytest.mark.parametrize("language", TRANSLATED)
@pytest.mark.parametrize("template", _shipped(), ids=lambda t: t.key)
def test_every_text_of_a_shipped_survey_template_is_translated(template: SurveyTemplate, language: str) -> None:
    tr = template.translations.get(language)
    assert tr is not None, f"{template.key} has no {language} translation"
    missing: list[str] = [name for name in ("title", "intro") if not (getattr(tr, name) or "").strip()]
    shared = label_set(language)
    for q in template.questions:
        wanted = {
            f"questions.{q.id}": tr.questions.get(q.id),
            **({f"help.{q.id}": tr.help.get(q.id)} if q.help else {}),
            **({f"units.{q.id}": tr.units.get(q.id)} if q.unit else {}),
            **({f"sections.{q.section}": tr.sections.get(q.section)} if q.section else {}),
            **{f"options.{q.id}.{o.value}": tr.options.get(f"{q.id}.{o.value}") for o in q.options},
            **{f"levels.{q.id}.{n}": tr.levels.get(f"{q.id}.{n}") for n in q.levels.labels},
        }
        if q.scale_labels:
            ends = tr.scale_labels.get(q.id)
            wanted[f"scale_labels.{q.id}"] = " ".join(ends) if ends and all(e.strip() for e in ends) else None
        missing += [key for key, text in wanted.items() if not (text or "").strip()]
    for entry in template.taxonomy:
        if not (tr.skills.get(entry.code) or (shared and shared.labels.get(entry.code))):
            missing.append(f"skills.{entry.code}")
    assert not missing, f"{template.key} lacks {language} for {missing}"
    # And nothing of the English survives localisation except words that are the same in both languages.
    shown = localised(template, language)
    assert shown.title != template.title and shown.intro != template.intro


# ------------------------------------------------------------------------------------------ skill labels


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_skill_label_is_translated(language: str) -> None:
    english, labels = label_set("en"), label_set(language)
    assert english is not None and labels is not None and labels.unlisted.strip()
    assert set(labels.labels) == set(english.labels)
    assert all(text.strip() for text in labels.labels.values())
