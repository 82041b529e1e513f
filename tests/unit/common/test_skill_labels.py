"""Skill labels: the taxonomy's names in each shipped language, English as the fallback, never a code."""

from __future__ import annotations

import re

import pytest

from trellis_common import skill_labels
from trellis_common.skill_labels import (
    LabelSet,
    is_listed,
    label_set,
    preferred_language,
    shipped_languages,
    skill_label,
)
from trellis_common.skill_scales import FRAMEWORK_SCALE

CODE = re.compile(rf"\b({'|'.join(FRAMEWORK_SCALE)}):")  # a code of any framework of the taxonomy


def test_english_german_and_french_are_shipped() -> None:
    assert {"en", "de", "fr"} <= shipped_languages()


@pytest.mark.parametrize(
    ("code", "language", "label"),
    [
        ("digcomp:4.2", "en", "Protecting personal data and privacy"),
        ("digcomp:4.2", "de", "Schützen personenbezogener Daten und der Privatsphäre"),
        ("greencomp:2.1", "de", "Systemisches Denken"),
        ("greenwork:life-cycle-assessment", "en", "Life-cycle assessment"),
        ("greenwork:life-cycle-assessment", "de", "Ökobilanzierung (Lebenszyklusanalyse)"),
        ("greenwork:sustainability-reporting", "fr", "Reporting de durabilité (CSRD, ESRS)"),
        ("intl:trade-fairs", "en", "Trade fair and trade mission participation"),
    ],
)
def test_a_code_reads_as_its_label(code: str, language: str, label: str) -> None:
    assert skill_label(code, language) == label


@pytest.mark.parametrize("tag", ["de-AT", "DE_de", "de", " de "])
def test_regional_and_oddly_written_tags_mean_their_language(tag: str) -> None:
    assert skill_label("digcomp:3.4", tag) == "Programmieren"


@pytest.mark.parametrize("tag", ["it", "pt-BR", "", None, "xx"])
def test_a_language_not_shipped_falls_back_to_english(tag: str | None) -> None:
    assert skill_label("digcomp:3.4", tag) == "Programming"


def test_a_label_missing_in_a_language_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    partial = LabelSet("it", "una competenza fuori tassonomia", {"digcomp:3.4": "Programmazione"})
    real = skill_labels.label_set
    monkeypatch.setattr(skill_labels, "label_set", lambda language: partial if language == "it" else real(language))
    assert skill_label("digcomp:3.4", "it") == "Programmazione"
    assert skill_label("digcomp:5.2", "it") == "Identifying needs and technological responses"
    # Unknown everywhere: the language's own wording, not English's and not the code.
    assert skill_label("digcomp:9.9", "it") == "una competenza fuori tassonomia"


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_an_unknown_code_never_shows_as_a_code(language: str) -> None:
    label = skill_label("digcomp:9.9", language)
    assert label and not CODE.search(label) and "9.9" not in label
    assert not is_listed("digcomp:9.9")


def test_every_shipped_language_names_only_codes_english_knows() -> None:
    english = label_set("en")
    assert english is not None and len(english.labels) == 54
    for language in shipped_languages():
        labels = label_set(language)
        assert labels is not None and labels.language == language
        assert set(labels.labels) <= set(english.labels), language
        assert all(label.strip() and not CODE.search(label) for label in labels.labels.values())
        assert labels.unlisted.strip()


def test_german_labels_every_skill_of_the_taxonomy() -> None:
    english, german = label_set("en"), label_set("de")
    assert english is not None and german is not None
    assert set(german.labels) == set(english.labels)


def test_a_page_speaks_the_asked_language_else_the_browsers_else_english() -> None:
    shipped = ("en", "de", "fr")
    assert preferred_language("de-AT", "fr", shipped) == "de", "the link's lang comes first"
    assert preferred_language("it", "it-IT, fr;q=0.8, de;q=0.5", shipped) == "fr", "then the browser's first we ship"
    assert preferred_language(None, "", shipped) == "en"
    assert preferred_language("", "pt, es", shipped) == "en"
