"""Codes become names in the page's language; a service's objection is worded by its kind, else kept as is."""

from __future__ import annotations

import pytest

from trellis_console.labels import NACE_SECTIONS, countries, country_name, language_name, section_of, sector_name
from trellis_console.messages import CATALOGUE, Messages
from trellis_console.wording import worded


@pytest.mark.parametrize(
    ("code", "section"),
    [("C", "C"), ("c25", "C"), ("C25.1", "C"), ("25.11", "C"), ("01", "A"), ("62.01", "J"), ("96", "S"),
     ("99", None), ("X1", None), ("", None), ("7", None)],
)  # fmt: skip
def test_a_nace_code_belongs_to_its_section(code: str, section: str | None) -> None:
    assert section_of(code) == section


def test_sectors_countries_and_languages_read_as_names_in_each_language() -> None:
    assert sector_name("C25", "en") == "Manufacturing (C25)"
    assert sector_name("C", "de") == "Verarbeitendes Gewerbe"
    assert sector_name("62.01", "fr") == "Information et communication (62.01)"
    assert sector_name("??", "en") == "??", "an unknown code is shown as typed rather than hidden"
    assert (country_name("AT", "en"), country_name("at", "de"), country_name("AT", "fr")) == (
        "Austria",
        "Österreich",
        "Autriche",
    )
    assert (language_name("de", "en"), language_name("en", "fr")) == ("German", "anglais")
    names = dict(countries("de"))
    assert names["DE"] == "Deutschland" and all(len(code) == 2 for code in names)
    assert set(NACE_SECTIONS["de"]) == set(NACE_SECTIONS["en"]) == set(NACE_SECTIONS["fr"])


def test_objections_are_worded_in_the_page_language_by_their_kind() -> None:
    de, fr = Messages("de"), Messages("fr")
    assert worded(de, "missing", "Field required", {}) == "Pflichtangabe."
    assert worded(fr, "value_error", "value is not a valid email address", {}, "contacts.0.email") == (
        "Adresse e-mail non valide."
    )
    assert worded(de, "enum", "Input should be…", {"expected": "'sme' or 'other'"}) == "Erlaubt sind: 'sme', 'other'."
    assert worded(fr, "duplicate_in_file", "the same name is on row 4", {"row": 4}) == (
        "Le même nom figure déjà à la ligne 4."
    )
    assert worded(de, "string_too_long", "too long", {}) == "too long", "without its number: the service's words"
    assert worded(de, "something_new", "the service's reason", {}) == "the service's reason"


@pytest.mark.parametrize(
    ("language", "key", "one", "two"),
    [
        ("en", "campaign_used_up", "1 contact who has not answered", "2 contacts who have not answered"),
        ("de", "import_done", "1 Mitglied importiert.", "2 Mitglieder importiert."),
        ("fr", "emails_failed", "1 e-mail n'a pas pu être remis", "2 e-mails n'ont pas pu être remis"),
    ],
)
def test_a_count_of_one_reads_in_the_singular(language: str, key: str, one: str, two: str) -> None:
    t = Messages(language)
    assert t(key, count=1).startswith(one) and t(key, count=2).startswith(two)


def test_every_singular_form_exists_in_every_language() -> None:
    for language, words in CATALOGUE.items():
        for key in (k for k in CATALOGUE["en"] if k.endswith("_one")):
            assert words.get(key), (language, key)
