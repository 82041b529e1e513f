"""Email content from Jinja2 templates, in the contact's language with English as the fallback.

Templates live in ``trellis_notifications/templates/<language>/<template>.{subject.txt,txt,html}``. HTML is
autoescaped; plain text and subjects are not (they are never interpreted as markup). Undefined variables
are errors, so a template that names a field the event lacks fails loudly instead of mailing a blank.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trellis_notifications.domain.deliveries import EmailTemplate
from trellis_notifications.domain.message import single_line

DEFAULT_LANGUAGE = "en"
SUPPORTED_LANGUAGES = frozenset({"en", "de"})

_MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
    "de": (
        "Januar", "Februar", "März", "April", "Mai", "Juni",
        "Juli", "August", "September", "Oktober", "November", "Dezember",
    ),
}  # fmt: skip

# Display names of the codes events carry (offer formats, delivery modes, survey themes).
_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "training": "training",
        "masterclass": "masterclass",
        "coaching": "coaching",
        "mentoring": "mentoring",
        "job_shadowing": "job shadowing",
        "worker_exchange": "temporary worker exchange",
        "on_the_job_training": "on-the-job training",
        "advisory": "advisory",
        "online": "online",
        "on_site": "on site",
        "hybrid": "hybrid",
        "green": "green transition",
        "digital": "digital skills",
        "internationalisation": "internationalisation",
    },
    "de": {
        "training": "Schulung",
        "masterclass": "Masterclass",
        "coaching": "Coaching",
        "mentoring": "Mentoring",
        "job_shadowing": "Job-Shadowing",
        "worker_exchange": "befristeter Personalaustausch",
        "on_the_job_training": "Training am Arbeitsplatz",
        "advisory": "Beratung",
        "online": "online",
        "on_site": "vor Ort",
        "hybrid": "hybrid",
        "green": "grüner Wandel",
        "digital": "digitale Kompetenzen",
        "internationalisation": "Internationalisierung",
    },
}


def choose_language(preferred: str | None) -> str:
    """``de``, ``de-AT`` and ``DE_de`` all mean German; anything we have no templates for gets English."""
    primary = (preferred or "").replace("_", "-").split("-")[0].strip().lower()
    return primary if primary in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _day(language: str) -> Callable[[date], str]:
    months = _MONTHS[language]

    def day(value: date) -> str:
        if language == "de":
            return f"{value.day}. {months[value.month - 1]} {value.year}"
        return f"{value.day} {months[value.month - 1]} {value.year}"

    return day


def _moment(language: str) -> Callable[[datetime], str]:
    day = _day(language)

    def moment(value: datetime) -> str:
        utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return f"{day(utc.date())}, {utc:%H:%M} UTC"

    return moment


def _label(language: str) -> Callable[[str], str]:
    labels = _LABELS[language]

    def label(code: str) -> str:
        return labels.get(str(code), str(code).replace("_", " "))

    return label


def _percent(language: str) -> Callable[[float], str]:
    def percent(score: float) -> str:
        value = round(score * 100)
        return f"{value} %" if language == "de" else f"{value}%"

    return percent


class TemplateRenderer:
    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment(
            loader=PackageLoader("trellis_notifications", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, template: EmailTemplate, language: str | None, **context: Any) -> RenderedEmail:
        lang = choose_language(language)
        helpers = {
            "lang": lang,
            "day": _day(lang),
            "moment": _moment(lang),
            "label": _label(lang),
            "percent": _percent(lang),
        }
        values = {**context, **helpers}
        subject = single_line(self.environment.get_template(f"{lang}/{template.value}.subject.txt").render(values))
        values["subject"] = subject
        text = self.environment.get_template(f"{lang}/{template.value}.txt").render(values).strip() + "\n"
        html = self.environment.get_template(f"{lang}/{template.value}.html").render(values)
        return RenderedEmail(subject=subject, text=text, html=html)


@functools.cache
def default_renderer() -> TemplateRenderer:
    """One renderer per process: Jinja caches compiled templates on it."""
    return TemplateRenderer()


def is_web_link(link: str) -> bool:
    """Only http(s) links go into an email: a ``javascript:`` or ``data:`` link would be an attack."""
    parts = urlsplit(link.strip())
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not any(ch.isspace() for ch in link.strip())
