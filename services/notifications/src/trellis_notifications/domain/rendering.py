"""Email content from Jinja2 templates, in the contact's language with English as the fallback.

Templates live in ``trellis_notifications/templates/<language>/<template>.{subject.txt,txt,html}``. HTML is
autoescaped; plain text and subjects are not (they are never interpreted as markup). Undefined variables
are errors, so a template that names a field the event lacks fails loudly instead of mailing a blank.

The HTML is written with classes and one stylesheet (``_layout.html``) and its CSS is inlined into
``style`` attributes after rendering, because many mail clients drop ``<style>`` blocks; only the media
queries for narrow screens stay in a ``<style>`` element (clients that drop it still get a readable,
fluid single-column layout).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trellis_common.dates import long_date
from trellis_common.offer_labels import DELIVERY_MODES, OFFER_FORMATS
from trellis_common.skill_labels import skill_label
from trellis_notifications.domain.deliveries import EmailTemplate
from trellis_notifications.domain.ical import ICS_FILENAME
from trellis_notifications.domain.message import single_line
from trellis_notifications.domain.preferences import TEMPLATE_CATEGORY, Category


class Language(StrEnum):
    """Languages with a full set of templates."""

    EN = "en"
    DE = "de"
    FR = "fr"


DEFAULT_LANGUAGE = Language.EN.value
NBSP = "\u00a0"  # between a number and its unit, a day and its month: never split across lines
SUPPORTED_LANGUAGES = frozenset(language.value for language in Language)

# Display names of the codes events carry: offer formats and delivery modes (shared with the console), survey
# themes, unsubscribe categories, KPI statuses.
_OTHER_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "green": "green transition",
        "digital": "digital skills",
        "internationalisation": "internationalisation",
        "invitations": "survey invitations",
        "reminders": "survey reminders",
        "matches": "partner proposals",
        "digests": "weekly digests of partner proposals",
        "achieved": "achieved",
        "on_track": "on track",
        "behind": "behind",
        "missed": "missed",
        "no_data": "no data",
    },
    "de": {
        "green": "grüner Wandel",
        "digital": "digitale Kompetenzen",
        "internationalisation": "Internationalisierung",
        "invitations": "Umfrageeinladungen",
        "reminders": "Umfrageerinnerungen",
        "matches": "Partnervorschläge",
        "digests": "Wochenübersichten zu Partnervorschlägen",
        "achieved": "erreicht",
        "on_track": "auf Kurs",
        "behind": "im Rückstand",
        "missed": "verfehlt",
        "no_data": "keine Daten",
    },
    "fr": {
        "green": "transition écologique",
        "digital": "compétences numériques",
        "internationalisation": "internationalisation",
        "invitations": "invitations aux enquêtes",
        "reminders": "rappels d’enquête",
        "matches": "propositions de partenaires",
        "digests": "récapitulatifs hebdomadaires des propositions de partenaires",
        "achieved": "atteint",
        "on_track": "en bonne voie",
        "behind": "en retard",
        "missed": "manqué",
        "no_data": "pas de données",
    },
}
_LABELS: dict[str, dict[str, str]] = {
    language: {**OFFER_FORMATS[language], **DELIVERY_MODES[language], **labels}
    for language, labels in _OTHER_LABELS.items()
}


# What an email says for a cluster whose name is not known yet (the header, the signature line).
_UNNAMED_CLUSTER = {"en": "Your cluster", "de": "Ihr Cluster", "fr": "Votre cluster"}


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
    return lambda value: long_date(value, language)


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


def _skill(language: str) -> Callable[[str], str]:
    def skill(code: str) -> str:
        return skill_label(str(code), language)

    return skill


# German and French typography put a (no-break) space between a number and its per cent sign.
_SPACE_BEFORE_PERCENT = frozenset({"de", "fr"})


def _percent(language: str) -> Callable[[float], str]:
    def percent(score: float) -> str:
        value = round(score * 100)
        return f"{value}{NBSP}%" if language in _SPACE_BEFORE_PERCENT else f"{value}%"

    return percent


def _amount(language: str) -> Callable[[float, str], str]:
    def amount(value: float, unit: str) -> str:
        number = f"{value:,.2f}".rstrip("0").rstrip(".")  # 42 → "42", 12.5 → "12.5", 1234.25 → "1,234.25"
        if language == "de":
            number = number.replace(",", " ").replace(".", ",").replace(" ", ".")
        elif language == "fr":  # 1 234,25: a space groups thousands, a comma marks decimals
            number = number.replace(",", NBSP).replace(".", ",")
        if not unit:
            return number
        if unit == "%" and language not in _SPACE_BEFORE_PERCENT:
            return f"{number}%"
        return f"{number}{NBSP}{unit}"

    return amount


def days_overdue(due: date, fired_at: datetime) -> int:
    """Whole days between the due date and the moment the escalation fired (at least 1: it is overdue)."""
    fired_day = (fired_at.astimezone(UTC) if fired_at.tzinfo else fired_at).date()
    return max(1, (fired_day - due).days)


# Inlines the stylesheet; keeps @media rules (they cannot be inlined) and never fetches anything remote.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, minify_css=True)


class TemplateRenderer:
    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment(
            loader=PackageLoader("trellis_notifications", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # The templates ship inside the package and never change under a running process; checking each
            # file's modification time on every use (about ten per email, with the includes) was a tenth of
            # the cost of composing one.
            auto_reload=False,
        )

    def helpers(self, lang: str) -> dict[str, Any]:
        return {
            "lang": lang,
            "day": _day(lang),
            "moment": _moment(lang),
            "label": _label(lang),
            "skill": _skill(lang),
            "percent": _percent(lang),
            "amount": _amount(lang),
            "days_overdue": days_overdue,
            "ics_filename": ICS_FILENAME,
        }

    def render(
        self,
        template: EmailTemplate,
        language: str | None,
        *,
        unsubscribe_url: str | None = None,
        on_behalf_of: str | None = None,
        cluster_name: str | None = None,
        member_name: str | None = None,
        **context: Any,
    ) -> RenderedEmail:
        """Subject, plain text and HTML (CSS inlined) of ``template`` in the contact's language.

        ``unsubscribe_url`` goes into the footer of emails a contact can unsubscribe from; ``on_behalf_of``
        names the manager whose strategy review emails were redirected to this recipient. ``cluster_name``
        brands the email (the cluster sends it, not the platform) and ``member_name`` names the recipient's
        organisation; templates word either neutrally while it is not known.
        """
        lang = choose_language(language)
        category: Category | None = TEMPLATE_CATEGORY[template]
        values = {
            "recipient_name": "",
            **context,
            "template": template.value,
            "category": category.value if category else None,
            "unsubscribe_url": unsubscribe_url,
            "on_behalf_of": on_behalf_of,
            "cluster_name": cluster_name,
            "member_name": member_name,
            "brand": cluster_name or _UNNAMED_CLUSTER[lang],
            **self.helpers(lang),
        }
        subject = single_line(self.environment.get_template(f"{lang}/{template.value}.subject.txt").render(values))
        values["subject"] = subject
        text = self.environment.get_template(f"{lang}/{template.value}.txt").render(values).strip() + "\n"
        html = _INLINER.inline(self.environment.get_template(f"{lang}/{template.value}.html").render(values))
        return RenderedEmail(subject=subject, text=text, html=html)

    def calendar_texts(self, language: str | None, **context: Any) -> tuple[str, str]:
        """Summary and description of the review's calendar entry, in the contact's language."""
        lang = choose_language(language)
        text = self.environment.get_template(f"{lang}/review_event.txt").render({**context, **self.helpers(lang)})
        summary, _, description = text.strip().partition("\n")
        return single_line(summary), description.strip()

    def render_page(self, name: str, language: str | None, **context: Any) -> str:
        """A small server-rendered page (the unsubscribe confirmation), in the contact's language."""
        lang = choose_language(language)
        brand = context.pop("cluster_name", None) or _UNNAMED_CLUSTER[lang]
        page = self.environment.get_template(f"pages/{lang}/{name}.html")
        return page.render({**context, **self.helpers(lang), "brand": brand})


@functools.cache
def default_renderer() -> TemplateRenderer:
    """One renderer per process: Jinja caches compiled templates on it."""
    return TemplateRenderer()


def is_web_link(link: str) -> bool:
    """Only http(s) links go into an email: a ``javascript:`` or ``data:`` link would be an attack."""
    parts = urlsplit(link.strip())
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not any(ch.isspace() for ch in link.strip())
