"""Every word the console shows, in English, German and French; pages pick one with ``?lang=`` or the browser's
Accept-Language (``trellis_common.skill_labels.preferred_language``).

The catalogues are one module per language (``en.py``, ``de.py``, ``fr.py``); this module holds what pages
use: the language list, the catalogue and ``Messages``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from trellis_console.messages import de, en, fr

LANGUAGES = ("en", "de", "fr")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français"}

CATALOGUE: Mapping[str, Mapping[str, str]] = {"en": en.WORDS, "de": de.WORDS, "fr": fr.WORDS}

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}
_DATE_FORMATS = {"en": "{day} {month} {year}", "de": "{day}. {month} {year}", "fr": "{day} {month} {year}"}


class Messages:
    """The words of one language: ``t("key", name=...)`` in templates."""

    def __init__(self, language: str) -> None:
        self.language = language if language in CATALOGUE else "en"
        self._words = CATALOGUE[self.language]

    def __call__(self, key: str, **values: object) -> str:
        if 1 in (values.get("count"), values.get("days")) and f"{key}_one" in en.WORDS:
            key = f"{key}_one"
        text = self._words.get(key) or en.WORDS[key]
        return text.format(**values) if values else text

    def date(self, iso: str) -> str:
        """An ISO date (``2027-03-07``) as people write it: 7 March 2027, 7. März 2027, 7 mars 2027."""
        try:
            day = date.fromisoformat(iso[:10])
        except ValueError:
            return iso
        month = _MONTHS[self.language].split()[day.month - 1]
        return _DATE_FORMATS[self.language].format(day=day.day, month=month, year=day.year)
