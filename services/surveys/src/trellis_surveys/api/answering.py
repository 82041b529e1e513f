"""The answering form members reach through their signed link: server-rendered HTML, no JavaScript needed.

GET shows the form (prefilled from a saved draft); POST either saves the draft (no checks, so a member can
stop half-way) or submits it: the answers are checked against the template and, when valid, recorded and
published. Links that are forged, expired or closed get a page that says so, never an error trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse

from trellis_common.app import Runtime, page_path
from trellis_common.auth import Scope
from trellis_common.http_guards import LINK_PAGE_HEADERS
from trellis_common.logging import get_logger
from trellis_common.rate_limit import PublicLimit
from trellis_common.settings import narrowed
from trellis_common.skill_labels import primary_language
from trellis_surveys.answering_form import (
    Draft,
    form_questions,
    localised,
    placed_problems,
    posted_fields,
    read_answers,
)
from trellis_surveys.answering_texts import ANSWER_MESSAGES, UI, local_time, ui_for
from trellis_surveys.campaigns import signer
from trellis_surveys.domain.answers import validate_response
from trellis_surveys.domain.links import BadLink, LinkProblem, form_token, form_token_valid
from trellis_surveys.domain.templates import SurveyTemplate, survey_title
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

_pages = jinja2.Environment(
    loader=jinja2.PackageLoader("trellis_surveys", "web"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def _page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_pages.get_template(name).render(**context), status_code=status_code, headers=LINK_PAGE_HEADERS)


def _message(language: str, key: str, status_code: int, *extra: str) -> HTMLResponse:
    ui = ui_for(language)
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


def _form_page(
    request: Request,
    opened: Opened,
    settings: SurveysSettings,
    token: str,
    draft: Draft,
    errors: dict[str, str],
    error_list: list[tuple[str, str]],
    notice: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    language = opened.language
    template = localised(opened.template, language)
    ui = ui_for(language)
    return _page(
        "form.html",
        status_code,
        lang=language,
        page_title=template.title,
        title=survey_title(opened.campaign["title"], opened.template, language),
        intro=template.intro,
        ui=ui,
        questions=form_questions(template, language, ui, draft, errors),
        errors=errors,
        error_list=error_list,
        notice=notice,
        # Under the root path: embedded mode mounts this app at /surveys, a proxy may strip a prefix.
        action=page_path(request, "answer_submit", token=token),
        csrf=form_token(settings.survey_link_secret.get_secret_value(), token),
    )


@router.get("/answer/{token}", response_class=HTMLResponse)
async def answer_form(token: str, request: Request, runtime: Runtime, _limit: PublicLimit) -> HTMLResponse:
    opened = await _open(runtime, token)
    if isinstance(opened, HTMLResponse):
        return opened
    inv = opened.invitation
    async with runtime.unit_of_work() as uow:
        if inv["opened_at"] is None:
            await mark_opened(uow.session, inv["id"], uow.now)
    notice = ui_for(opened.language)["resubmitted"] if inv["completed_at"] else None
    settings = narrowed(runtime.settings, SurveysSettings)
    return _form_page(request, opened, settings, token, inv["draft"] or {}, {}, [], notice)


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
    draft = await posted_fields(request)
    ui = ui_for(opened.language)
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
        return _form_page(request, opened, settings, token, draft, {}, [], ui["saved"])
    # The member's language: messages quote the questions as the member read them (answers are the same).
    shown_template = localised(opened.template, opened.language)
    answers, skills, errors = read_answers(shown_template, draft, ui)
    validated = None
    if not errors:
        validated, errors = validate_response(
            shown_template, answers, skills, messages=ANSWER_MESSAGES.get(opened.language)
        )
    if validated is None:
        shown, listed = placed_problems(shown_template, errors, skills)
        return _form_page(request, opened, settings, token, draft, shown, listed, None, 422)
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
