"""The answering form members reach through their signed link: server-rendered HTML, no JavaScript needed.

GET shows the form (prefilled from a saved draft); POST either saves the draft (no checks, so a member can
stop half-way) or submits it: the answers are checked against the template and, when valid, recorded and
published. Links that are forged, expired or closed get a page that says so, never an error trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse

from trellis_common.app import Runtime, page_path
from trellis_common.auth import Scope
from trellis_common.dates import long_date
from trellis_common.http_guards import LINK_PAGE_HEADERS
from trellis_common.likert import LIKERT_SCALE
from trellis_common.logging import get_logger
from trellis_common.rate_limit import PublicLimit
from trellis_common.settings import narrowed
from trellis_common.skill_labels import is_listed, primary_language, skill_label
from trellis_surveys.campaigns import signer
from trellis_surveys.domain.links import BadLink, LinkProblem, form_token, form_token_valid
from trellis_surveys.domain.templates import (
    SKILL_FIELDS,
    AnswerError,
    Question,
    QuestionType,
    SurveyTemplate,
    survey_title,
    validate_response,
)
from trellis_surveys.privacy import is_erased
from trellis_surveys.recording import record_response
from trellis_surveys.repositories.campaigns import linked_campaign
from trellis_surveys.repositories.directory import cluster_timezone, load_member
from trellis_surveys.repositories.invitations import find_invitation, mark_completed, mark_opened, save_answers_draft
from trellis_surveys.repositories.templates import get_template
from trellis_surveys.settings import SurveysSettings

router = APIRouter(tags=["answering"], include_in_schema=False)
# No bearer token here: the signed link is the credential, and it names one invitation (hence one cluster).
LINK_SCOPE = Scope.everything("survey-link")
log = get_logger(__name__)
Draft = dict[str, list[str]]

_pages = jinja2.Environment(
    loader=jinja2.PackageLoader("trellis_surveys", "web"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)

UI: dict[str, dict[str, str]] = {
    "en": {
        "problems": "There is a problem",
        "required_note": "Questions marked * must be answered. You can save and come back to this page later "
        "through the same link.",
        "submit": "Submit answers",
        "save": "Save and continue later",
        "saved": "Your answers are saved. Come back through the same link to continue.",
        "thanks_title": "Thank you",
        "thanks": "Your answers are recorded. You can change them through the same link until {close}.",
        "next_steps": "What happens next: your cluster analyses the answers of all its members. If collaboration "
        "partners can help with your needs, you will receive their proposals by email; if none fits yet, your "
        "cluster manager sees your needs and can follow up.",
        "resubmitted": "You already submitted this survey. Submitting again replaces your answers.",
        "current_level": "Level of your staff today",
        "required_level": "Level you need",
        "headcount_having": "Staff who have it today",
        "headcount_needed": "Staff you need at that level, in total",
        "importance": "Importance (1 low – 5 critical)",
        "only_if": "Answer only if you answered “{answer}” to “{question}”.",
        "only_if_min": "Answer only if you answered {answer} or more to “{question}”.",
        "forged_title": "This link does not work",
        "forged": "The link is incomplete or was changed. Open it again from your invitation email, or ask your "
        "cluster manager for a new invitation.",
        "expired_title": "This survey has closed",
        "expired": "The link has expired because the survey closed. Thank you for your interest; your cluster "
        "manager can tell you about the next survey.",
        "session_title": "Please try again",
        "session": "The form could not be accepted because it did not come from this survey page. Open the link "
        "from your invitation again and resubmit.",
        "bad_number": "must be a whole number",
        "skill_incomplete": "fill in all five fields for this skill, or leave them all empty",
    },
    "de": {
        "problems": "Es gibt ein Problem",
        "required_note": "Fragen mit * müssen beantwortet werden. Sie können speichern und später über denselben "
        "Link weitermachen.",
        "submit": "Antworten absenden",
        "save": "Speichern und später fortfahren",
        "saved": "Ihre Antworten sind gespeichert. Über denselben Link können Sie später weitermachen.",
        "thanks_title": "Vielen Dank",
        "thanks": "Ihre Antworten sind erfasst. Bis {close} können Sie sie über denselben Link ändern.",
        "next_steps": "Wie es weitergeht: Ihr Cluster wertet die Antworten aller Mitglieder aus. Wenn "
        "Kooperationspartner bei Ihrem Bedarf helfen können, erhalten Sie deren Vorschläge per E-Mail; passt noch "
        "keiner, sieht Ihr Clustermanagement Ihren Bedarf und kann auf Sie zukommen.",
        "resubmitted": "Sie haben diese Umfrage bereits abgeschickt. Erneutes Absenden ersetzt Ihre Antworten.",
        "current_level": "Heutiges Niveau Ihrer Beschäftigten",
        "required_level": "Benötigtes Niveau",
        "headcount_having": "Beschäftigte, die es heute haben",
        "headcount_needed": "Benötigte Beschäftigte auf diesem Niveau, insgesamt",
        "importance": "Bedeutung (1 gering – 5 entscheidend)",
        "only_if": "Nur beantworten, wenn Sie bei „{question}“ „{answer}“ gewählt haben.",
        "only_if_min": "Nur beantworten, wenn Sie bei „{question}“ {answer} oder mehr gewählt haben.",
        "forged_title": "Dieser Link funktioniert nicht",
        "forged": "Der Link ist unvollständig oder wurde verändert. Öffnen Sie ihn erneut aus Ihrer Einladung oder "
        "bitten Sie Ihr Clustermanagement um eine neue Einladung.",
        "expired_title": "Diese Umfrage ist geschlossen",
        "expired": "Der Link ist abgelaufen, weil die Umfrage geschlossen wurde.",
        "session_title": "Bitte erneut versuchen",
        "session": "Das Formular kam nicht von dieser Umfrageseite. Öffnen Sie den Link aus Ihrer Einladung erneut.",
        "bad_number": "muss eine ganze Zahl sein",
        "skill_incomplete": "füllen Sie alle fünf Felder für diese Kompetenz aus oder lassen Sie alle leer",
    },
    "fr": {
        "problems": "Un problème est survenu",
        "required_note": "Les questions marquées d’un * sont obligatoires. Vous pouvez enregistrer et revenir plus "
        "tard sur cette page grâce au même lien.",
        "submit": "Envoyer les réponses",
        "save": "Enregistrer et continuer plus tard",
        "saved": "Vos réponses sont enregistrées. Revenez par le même lien pour continuer.",
        "thanks_title": "Merci",
        "thanks": "Vos réponses sont enregistrées. Vous pouvez les modifier grâce au même lien jusqu’au {close}.",
        "next_steps": "La suite : votre cluster analyse les réponses de tous ses membres. Si des partenaires "
        "peuvent répondre à vos besoins, vous recevrez leurs propositions par e-mail ; si aucun ne convient encore, "
        "la direction de votre cluster voit vos besoins et pourra revenir vers vous.",
        "resubmitted": "Vous avez déjà répondu à cette enquête. Un nouvel envoi remplacera vos réponses.",
        "current_level": "Niveau actuel de votre personnel",
        "required_level": "Niveau dont vous avez besoin",
        "headcount_having": "Personnel qui la possède aujourd’hui",
        "headcount_needed": "Personnel nécessaire à ce niveau, au total",
        "importance": "Importance (1 faible – 5 essentielle)",
        "only_if": "À remplir uniquement si vous avez répondu « {answer} » à « {question} ».",
        "only_if_min": "À remplir uniquement si vous avez répondu {answer} ou plus à « {question} ».",
        "forged_title": "Ce lien ne fonctionne pas",
        "forged": "Le lien est incomplet ou a été modifié. Ouvrez-le à nouveau depuis votre e-mail d’invitation, ou "
        "demandez une nouvelle invitation à la direction de votre cluster.",
        "expired_title": "Cette enquête est close",
        "expired": "Le lien a expiré car l’enquête est close. Merci de votre intérêt ; la direction de votre cluster "
        "pourra vous informer de la prochaine enquête.",
        "session_title": "Veuillez réessayer",
        "session": "Le formulaire n’a pas pu être accepté, car il ne provenait pas de cette page d’enquête. Ouvrez à "
        "nouveau le lien de votre invitation et renvoyez vos réponses.",
        "bad_number": "doit être un nombre entier",
        "skill_incomplete": "remplissez les cinq champs pour cette compétence, ou laissez-les tous vides",
    },
}


# The validation messages of ``domain.templates.ANSWER_MESSAGES`` in the other languages a member may read the form
# in (same keys, same placeholders; English comes from there).
ANSWER_MESSAGES: dict[str, dict[str, str]] = {
    "de": {
        "likert": "muss eine ganze Zahl von 1 (stimme gar nicht zu) bis 5 (stimme voll zu) sein",
        "rating": "muss eine ganze Zahl von {low} bis {high} sein",
        "one_of": "muss eine dieser Optionen sein: {allowed}",
        "option_list": "muss eine Liste von Optionen sein",
        "unknown_options": "unbekannte Option(en) {unknown}; erlaubt: {allowed}",
        "chosen_twice": "jede Option darf nur einmal gewählt werden",
        "too_few_choices": "wählen Sie mindestens {count}",
        "too_many_choices": "wählen Sie höchstens {count}",
        "number": "muss eine Zahl sein",
        "whole_number": "muss eine ganze Zahl sein",
        "too_small": "muss mindestens {limit} sein",
        "too_large": "darf höchstens {limit} sein",
        "text": "muss ein Text sein",
        "too_long": "darf höchstens {count} Zeichen lang sein",
        "required": "„{question}“ muss beantwortet werden",
        "matrix_required": "„{question}“ braucht mindestens eine Kompetenz",
        "skill_field_required": "muss ausgefüllt werden",
        "out_of_range": "muss zwischen {low} und {high} liegen, nicht {value}",
    },
    "fr": {
        "likert": "doit être un nombre entier de 1 (pas du tout d’accord) à 5 (tout à fait d’accord)",
        "rating": "doit être un nombre entier de {low} à {high}",
        "one_of": "doit être l’une de ces options : {allowed}",
        "option_list": "doit être une liste d’options",
        "unknown_options": "option(s) inconnue(s) {unknown} ; autorisées : {allowed}",
        "chosen_twice": "chaque option ne peut être choisie qu’une fois",
        "too_few_choices": "choisissez-en au moins {count}",
        "too_many_choices": "choisissez-en au plus {count}",
        "number": "doit être un nombre",
        "whole_number": "doit être un nombre entier",
        "too_small": "doit être au moins {limit}",
        "too_large": "doit être au plus {limit}",
        "text": "doit être un texte",
        "too_long": "ne doit pas dépasser {count} caractères",
        "required": "« {question} » doit être renseigné",
        "matrix_required": "« {question} » demande au moins une compétence",
        "skill_field_required": "doit être renseigné",
        "out_of_range": "doit être compris entre {low} et {high}, pas {value}",
    },
}


def local_time(moment: datetime, timezone: str, language: str) -> str:
    """A moment as a member reads it: the cluster's local time, the month in words, the zone's abbreviation."""
    local = moment.astimezone(ZoneInfo(timezone))
    day, clock, zone = long_date(local.date(), language), local.strftime("%H:%M"), local.strftime("%Z")
    if language == "de":
        return f"{day}, {clock} Uhr {zone}"
    if language == "fr":
        return f"{day} à {clock} {zone}"
    return f"{day}, {clock} {zone}"


def _ui(language: str) -> dict[str, str]:
    return UI.get(language, UI["en"])


def localised(template: SurveyTemplate, language: str) -> SurveyTemplate:
    """``template`` as a member reading ``language`` sees it: its translation, the shared skill labels."""
    codes = [t.code for t in template.taxonomy if is_listed(t.code)]
    return template.localised(language, {code: skill_label(code, language) for code in codes})


def _page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_pages.get_template(name).render(**context), status_code=status_code, headers=LINK_PAGE_HEADERS)


def _message(language: str, key: str, status_code: int, *extra: str) -> HTMLResponse:
    ui = _ui(language)
    return _page(
        "message.html",
        status_code,
        lang=language,
        page_title=ui[f"{key}_title"],
        heading=ui[f"{key}_title"],
        paragraphs=[ui[key], *extra],
    )


@dataclass
class Opened:
    invitation: dict[str, Any]
    campaign: dict[str, Any]
    template: SurveyTemplate
    language: str
    timezone: str  # the cluster's: dates on pages are the member's local time, not UTC


async def _open(runtime: Runtime, token: str) -> Opened | HTMLResponse:
    settings = narrowed(runtime.settings, SurveysSettings)
    now = runtime.clock.now()
    try:
        claims = signer(settings).verify(token, now)
    except BadLink as exc:
        log.info("survey_link_refused", problem=exc.problem.value, invitation_id=exc.invitation_id)
        if exc.problem is LinkProblem.EXPIRED:
            return _message("en", "expired", status.HTTP_410_GONE)
        return _message("en", "forged", status.HTTP_404_NOT_FOUND)
    async with runtime.db.sessions() as session:
        invitation = await find_invitation(session, claims.invitation_id)
        if invitation is None or is_erased(invitation["contact_id"]):  # deleted or erased since the link went out
            return _message("en", "forged", status.HTTP_404_NOT_FOUND)
        campaign = await linked_campaign(session, invitation["campaign_id"])
        stored = await get_template(session, LINK_SCOPE, campaign["template_id"], campaign["template_version"])
        timezone = await cluster_timezone(session, campaign["cluster_id"])
    assert stored is not None
    spoken = primary_language(invitation["language"])
    language = spoken if spoken in UI else "en"
    if now >= campaign["closes_at"]:
        return _message(language, "expired", status.HTTP_410_GONE)
    return Opened(invitation, campaign, stored.template, language, timezone or "UTC")


def _anchor(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", code)


def _condition_text(template: SurveyTemplate, question: Question, ui: dict[str, str]) -> str | None:
    condition = question.show_if
    if condition is None:
        return None
    source = template.question(condition.question)
    assert source is not None
    labels = dict(_choices(source, template.language))
    if condition.at_least is not None:
        return ui["only_if_min"].format(answer=f"{condition.at_least:g}", question=source.text)
    wanted = [str(condition.equals)] if condition.equals is not None else (condition.any_of or [])
    answer = " / ".join(labels.get(w, w) for w in wanted)
    return ui["only_if"].format(answer=answer, question=source.text)


def _choices(question: Question, language: str | None) -> list[tuple[str, str]]:
    if question.type is QuestionType.LIKERT:
        scale = LIKERT_SCALE.get(language or "en", LIKERT_SCALE["en"])
        return [(str(n), f"{n} – {label}") for n, label in enumerate(scale, start=1)]
    if question.type is QuestionType.RATING:
        low, high = question.scale_labels or ("", "")
        return [
            (
                str(n),
                f"{n}"
                + (f" – {low}" if n == question.scale_min and low else "")
                + (f" – {high}" if n == question.scale_max and high else ""),
            )
            for n in range(question.scale_min, question.scale_max + 1)
        ]
    return [(o.value, o.label) for o in question.options]


def _form_context(
    request: Request,
    opened: Opened,
    settings: SurveysSettings,
    token: str,
    draft: Draft,
    errors: dict[str, str],
    error_list: list[tuple[str, str]],
    notice: str | None,
) -> dict[str, Any]:
    language = opened.language
    template = localised(opened.template, language)
    ui = _ui(language)
    questions: list[dict[str, Any]] = []
    for q in template.questions:
        item: dict[str, Any] = {
            "id": q.id,
            "type": q.type.value,
            "text": q.text,
            "help": q.help,
            "section": q.section,
            "required": q.required,
            "unit": q.unit,
            "max_length": q.max_length,
            "condition": _condition_text(template, q, ui),
            "choices": _choices(q, language),
            "current": draft.get(f"q.{q.id}", []),
        }
        if q.type is QuestionType.SKILL_MATRIX:
            level_options = [
                (str(n), q.levels.labels.get(str(n), str(n))) for n in range(q.levels.min, q.levels.max + 1)
            ]
            importance = [(str(n), str(n)) for n in range(1, 6)]
            item["skills"] = [
                {
                    "code": code,
                    "anchor": _anchor(code),
                    "error": errors.get(f"skill:{code}"),
                    "label": template.label_of(code),
                    "fields": [
                        {
                            "name": f"skill.{code}.{f}",
                            "id": f"skill-{_anchor(code)}-{f}",
                            "label": ui[f],
                            "value": (draft.get(f"skill.{code}.{f}") or [""])[0],
                            "options": level_options
                            if f.endswith("_level")
                            else importance
                            if f == "importance"
                            else None,
                        }
                        for f in SKILL_FIELDS
                    ],
                }
                for code in q.skills
            ]
        questions.append(item)
    return {
        "lang": language,
        "page_title": template.title,
        "title": survey_title(opened.campaign["title"], opened.template, language),
        "intro": template.intro,
        "ui": ui,
        "questions": questions,
        "errors": errors,
        "error_list": error_list,
        "notice": notice,
        # Under the root path: embedded mode mounts this app at /surveys, a proxy may strip a prefix.
        "action": page_path(request, "answer_submit", token=token),
        "csrf": form_token(settings.survey_link_secret.get_secret_value(), token),
    }


def _parse(
    template: SurveyTemplate, draft: Draft, ui: dict[str, str]
) -> tuple[dict[str, Any], list[Any], list[AnswerError]]:
    """Form values to typed answers and skill rows; values that are not numbers are errors here already."""
    answers: dict[str, Any] = {}
    skills: list[Any] = []
    errors: list[AnswerError] = []
    for q in template.questions:
        values = [v for v in draft.get(f"q.{q.id}", []) if v.strip()]
        if q.type is QuestionType.SKILL_MATRIX:
            for code in q.skills:
                cells = {f: (draft.get(f"skill.{code}.{f}") or [""])[0].strip() for f in SKILL_FIELDS}
                if not any(cells.values()):
                    continue
                if not all(cells.values()):
                    errors.append(AnswerError(field=f"skill:{code}", message=ui["skill_incomplete"]))
                    continue
                if not all(v.isdigit() for v in cells.values()):
                    errors.append(AnswerError(field=f"skill:{code}", message=ui["bad_number"]))
                    continue
                skills.append({"skill_code": code, **{f: int(v) for f, v in cells.items()}})
            continue
        if not values:
            continue
        if q.type is QuestionType.MULTI_CHOICE:
            answers[q.id] = values
        elif q.type in (QuestionType.LIKERT, QuestionType.RATING, QuestionType.NUMBER):
            raw = values[0].strip().replace(",", ".") if q.type is QuestionType.NUMBER else values[0].strip()
            try:
                number = float(raw)
            except ValueError:
                errors.append(AnswerError(field=f"answers.{q.id}", message=ui["bad_number"]))
                continue
            answers[q.id] = int(number) if number.is_integer() else number
        else:
            answers[q.id] = values[0]
    return answers, skills, errors


def _error_anchor(field: str, skills: list[Any]) -> tuple[str, str]:
    """Map a validation error's field to (error key on the page, element id to jump to)."""
    if field.startswith("skill:"):
        code = field.removeprefix("skill:")
        return field, f"skill-{_anchor(code)}"
    match = re.match(r"skills\[(\d+)\]", field)
    if match and int(match.group(1)) < len(skills):
        code = skills[int(match.group(1))]["skill_code"]
        return f"skill:{code}", f"skill-{_anchor(code)}"
    question_id = field.removeprefix("answers.").split(".")[0]
    return question_id, f"q-{question_id}"


async def _form_values(request: Request) -> Draft:
    form = await request.form()
    draft: Draft = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and (key.startswith("q.") or key.startswith("skill.")):
            draft.setdefault(key, []).append(value[:10_000])
    return draft


@router.get("/answer/{token}", response_class=HTMLResponse)
async def answer_form(token: str, request: Request, runtime: Runtime, _limit: PublicLimit) -> HTMLResponse:
    opened = await _open(runtime, token)
    if isinstance(opened, HTMLResponse):
        return opened
    inv = opened.invitation
    async with runtime.unit_of_work() as uow:
        if inv["opened_at"] is None:
            await mark_opened(uow.session, inv["id"], uow.now)
    notice = _ui(opened.language)["resubmitted"] if inv["completed_at"] else None
    settings = narrowed(runtime.settings, SurveysSettings)
    return _page("form.html", **_form_context(request, opened, settings, token, inv["draft"] or {}, {}, [], notice))


@router.post("/answer/{token}", response_class=HTMLResponse)
async def answer_submit(token: str, request: Request, runtime: Runtime, _limit: PublicLimit) -> HTMLResponse:
    opened = await _open(runtime, token)
    if isinstance(opened, HTMLResponse):
        return opened
    settings = narrowed(runtime.settings, SurveysSettings)
    form = await request.form()
    csrf = form.get("csrf")
    if not isinstance(csrf, str) or not form_token_valid(settings.survey_link_secret.get_secret_value(), token, csrf):
        return _message(opened.language, "session", status.HTTP_403_FORBIDDEN)
    draft = await _form_values(request)
    ui = _ui(opened.language)
    inv = opened.invitation
    if form.get("action") != "submit":
        async with runtime.unit_of_work() as uow:
            await save_answers_draft(
                uow.session,
                inv["id"],
                draft,
                now=uow.now,
                started_at=inv["started_at"] or uow.now,
                opened_at=inv["opened_at"] or uow.now,
            )
        return _page("form.html", **_form_context(request, opened, settings, token, draft, {}, [], ui["saved"]))
    # The member's language: messages quote the questions as the member read them (answers are the same).
    shown_template = localised(opened.template, opened.language)
    answers, skills, errors = _parse(shown_template, draft, ui)
    validated = None
    if not errors:
        validated, errors = validate_response(
            shown_template, answers, skills, messages=ANSWER_MESSAGES.get(opened.language)
        )
    if validated is None:
        shown: dict[str, str] = {}
        listed: list[tuple[str, str]] = []
        for error in errors:
            key, anchor = _error_anchor(error.field, skills)
            if key not in shown:
                shown[key] = error.message
                listed.append(
                    (
                        anchor,
                        error.message if error.names_question else f"{_label_of(shown_template, key)}: {error.message}",
                    )
                )
        context = _form_context(request, opened, settings, token, draft, shown, listed, None)
        return _page("form.html", 422, **context)
    async with runtime.unit_of_work() as uow:
        member = await load_member(uow.session, LINK_SCOPE, inv["member_id"])
        if member is None:
            return _message(opened.language, "forged", status.HTTP_404_NOT_FOUND)
        now: datetime = uow.now
        await record_response(
            uow, member, opened.template, validated, campaign_id=inv["campaign_id"], invitation_id=inv["id"]
        )
        started, opened_at = inv["started_at"] or now, inv["opened_at"] or now
        await mark_completed(uow.session, inv["id"], draft, now=now, started_at=started, opened_at=opened_at)
    close = local_time(opened.campaign["closes_at"], opened.timezone, opened.language)
    return _page(
        "message.html",
        lang=opened.language,
        page_title=ui["thanks_title"],
        heading=ui["thanks_title"],
        paragraphs=[ui["thanks"].format(close=close), ui["next_steps"]],
    )


def _label_of(template: SurveyTemplate, key: str) -> str:
    if key.startswith("skill:"):
        return template.label_of(key.removeprefix("skill:"))
    question = template.question(key)
    return question.text if question else key
