"""Display names of the skill taxonomy's codes (``digcomp:4.2`` → "Protecting personal data and privacy").

Every renderer shows a label, never the code: emails, the heatmap, the review agenda. The labels are data, one
file per language in ``data/skill_labels/<language>.json`` (``{"language", "unlisted", "labels": {code:
label}}``); adding a language is adding its file. English is the source: a language without a label for a code,
or a language not shipped at all, falls back to English, and a code that English does not know either (none of
the taxonomy's, which skills refuses) reads as that language's ``unlisted`` wording rather than as a code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

SOURCE_LANGUAGE = "en"
_FOLDER = "data/skill_labels"


@dataclass(frozen=True)
class LabelSet:
    language: str
    unlisted: str
    labels: dict[str, str]


def primary_language(tag: str | None) -> str:
    """``de``, ``de-AT`` and ``DE_de`` all mean ``de``; nothing means English."""
    primary = (tag or "").replace("_", "-").split("-")[0].strip().lower()
    return primary or SOURCE_LANGUAGE


def preferred_language(asked: str | None, accept_language: str, available: Iterable[str]) -> str:
    """What a page is shown in: the language ``asked`` for (a link's ``lang``), else the first of the browser's
    ``Accept-Language`` that is ``available``, else English. Tags count by their primary language (de-AT: de)."""
    shipped = set(available)
    for tag in [asked or "", *(part.split(";")[0] for part in accept_language.split(","))]:
        if tag.strip() and (language := primary_language(tag)) in shipped:
            return language
    return SOURCE_LANGUAGE


@cache
def shipped_languages() -> frozenset[str]:
    folder = resources.files("trellis_common").joinpath(_FOLDER)
    return frozenset(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def label_set(language: str) -> LabelSet | None:
    if language not in shipped_languages():
        return None
    raw = json.loads(resources.files("trellis_common").joinpath(f"{_FOLDER}/{language}.json").read_text("utf-8"))
    return LabelSet(language, str(raw["unlisted"]), {str(k): str(v) for k, v in raw["labels"].items()})


def _chain(language: str | None) -> list[LabelSet]:
    found = [label_set(primary_language(language)), label_set(SOURCE_LANGUAGE)]
    return [s for s in found if s is not None]


def skill_label(code: str, language: str | None = SOURCE_LANGUAGE) -> str:
    """The label of ``code`` in ``language``, else in English, else the language's wording for an unlisted skill."""
    chain = _chain(language)
    for labels in chain:
        label = labels.labels.get(code)
        if label:
            return label
    return chain[0].unlisted


def is_listed(code: str) -> bool:
    """Whether the taxonomy (its English source) knows ``code``."""
    source = label_set(SOURCE_LANGUAGE)
    return source is not None and code in source.labels
