"""The page behind the accept/decline links of a match email, in the member's language.

A GET only shows: the offer, and the question (or, once answered, the answer and when it was given); link
scanners and mail previews GET, so nothing changes until the member presses a button, which POSTs. The POST
records the outcome as the API does (declining frees the seat for the waiting list) and redirects to the GET, so
a reload sends nothing twice; opening the link again shows the same page and records nothing. The signed token
is the authorisation: it names one match, which is all these routes can read or change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trellis_common.app import Runtime, page_path
from trellis_common.auth import Scope
from trellis_common.dates import long_date
from trellis_common.http_guards import LINK_PAGE_HEADERS
from trellis_common.logging import get_logger
from trellis_common.rate_limit import PublicLimit
from trellis_common.repositories.names import names_of
from trellis_common.settings import narrowed
from trellis_common.skill_labels import preferred_language, skill_label
from trellis_matchmaking.domain.outcomes import MatchStatus, Outcome, OutcomeNotAllowed
from trellis_matchmaking.models import NAMES
from trellis_matchmaking.outcome_recording import record_outcome
from trellis_matchmaking.reply_links import match_of
from trellis_matchmaking.reply_texts import TEXTS
from trellis_matchmaking.repositories import outcomes
from trellis_matchmaking.settings import MatchmakingSettings

log = get_logger(__name__)
router = APIRouter(tags=["replies"])

Answer = Literal["accepted", "declined"]
_ANSWERS: tuple[Answer, ...] = ("accepted", "declined")
_CSS: dict[Answer, str] = {"accepted": "accept", "declined": "decline"}
_pages = jinja2.Environment(
    loader=jinja2.PackageLoader("trellis_matchmaking", "web"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def page_language(request: Request) -> str:
    """The ``lang`` the email put on the link, else the browser's first language we ship, else English."""
    return preferred_language(request.query_params.get("lang"), request.headers.get("accept-language", ""), TEXTS)


@dataclass(frozen=True)
class Choice:
    value: Answer
    label: str
    css: str


def _link_scope(match_id: str) -> Scope:
    return Scope.everything(f"reply-link:{match_id}")


def _settings(runtime: Runtime) -> MatchmakingSettings:
    return narrowed(runtime.settings, MatchmakingSettings)


async def _view(runtime: Runtime, match_id: str, language: str) -> dict[str, Any] | None:
    """What the page shows of the match: its status, the offer in words, the names, the cluster's brand."""
    async with runtime.db.sessions() as session:
        row = await outcomes.match_row(session, _link_scope(match_id), match_id)
        if row is None:
            return None
        names = await names_of(session, NAMES, member_ids=[row.member_id], cluster_ids=[row.cluster_id])
    t = TEXTS[language]
    member = names.member(row.member_id)
    return {
        "status": MatchStatus(row.status),
        "outcome_at": row.outcome_at,
        "partner": row.partner_name,
        "cluster": names.cluster(row.cluster_id) or t["unnamed_cluster"],
        "offer": {
            "title": row.offer_title,
            "by": t["by"].format(partner=row.partner_name),
            "skill": t["for_skill"].format(skill=skill_label(row.skill_code, language)),
            "member": t["for_member"].format(member=member) if member else "",
        },
    }


def _render(
    request: Request,
    token: str,
    language: str,
    view: dict[str, Any] | None,
    *,
    asked: Answer | None = None,
    refused: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    t = TEXTS[language]
    context: dict[str, Any] = {
        "lang": language,
        "t": t,
        "offer": None,
        "refused": t["refused"] if refused else "",
        "state_line": "",
        "paragraphs": [],
        "choices": [],
        "action": f"{page_path(request, 'reply_answer', token=token)}?lang={language}",
    }
    if view is None:
        days = _settings(request.app.state.runtime).reply_link_max_age_days
        context |= {
            "heading": t["invalid_heading"],
            "cluster": t["unnamed_cluster"],
            "paragraphs": [t["invalid_next"].format(days=days)],
            "footer": t["footer_unknown"],
        }
        return _respond(context, 400)
    partner, when = view["partner"], view["outcome_at"]
    status = view["status"]
    context |= {
        "offer": view["offer"],
        "cluster": view["cluster"],
        "footer": t["footer"].format(cluster=view["cluster"]),
    }
    if status is MatchStatus.PROPOSED:
        asked = asked or "accepted"
        first: Answer = asked
        second: Answer = "declined" if asked == "accepted" else "accepted"
        context |= {
            "heading": t[f"ask_{asked}"],
            "paragraphs": [t[f"effect_{asked}"].format(partner=partner)],
            "choices": [
                Choice(first, t[f"button_{first}"], f"primary {_CSS[first]}"),
                Choice(second, t[f"button_{second}"], f"secondary {_CSS[second]}"),
            ],
        }
    elif status is MatchStatus.ACCEPTED:
        context |= {
            "heading": t["accepted_heading"],
            "state_line": t["accepted_on"].format(date=long_date(when, language)) if when else "",
            "paragraphs": [t["accepted_next"].format(partner=partner), t["withdraw"]],
            "choices": [Choice("declined", t["withdraw_button"], "secondary decline")],
        }
    elif status is MatchStatus.DECLINED:
        context |= {
            "heading": t["declined_heading"],
            "state_line": t["declined_on"].format(date=long_date(when, language)) if when else "",
            "paragraphs": [t["declined_next"]],
        }
    elif status is MatchStatus.COMPLETED:
        context |= {"heading": t["completed_heading"], "paragraphs": [t["completed_next"]]}
    else:
        context |= {"heading": t["released_heading"], "paragraphs": [t["released_next"]]}
    return _respond(context, status_code)


def _respond(context: dict[str, Any], status_code: int) -> HTMLResponse:
    html = _pages.get_template("reply.html").render(**context)
    return HTMLResponse(html, status_code=status_code, headers=LINK_PAGE_HEADERS)


@router.get(
    "/reply/{token}",
    name="reply_page",
    response_class=HTMLResponse,
    summary="The page behind a match email's accept/decline link: shows the offer and asks (a GET changes nothing)",
    responses={400: {"description": "The link is not valid (tampered with, incomplete or too old)"}},
)
async def reply_page(
    token: str, request: Request, runtime: Runtime, _limit: PublicLimit, answer: Answer | None = None
) -> HTMLResponse:
    language = page_language(request)
    match_id = match_of(_settings(runtime), token, runtime.clock.now())
    view = None if match_id is None else await _view(runtime, match_id, language)
    return _render(request, token, language, view, asked=answer)


@router.post(
    "/reply/{token}",
    name="reply_answer",
    response_class=HTMLResponse,
    status_code=303,
    summary="Record the member's answer (form field answer=accepted|declined), then show the page again",
    responses={
        400: {"description": "The link is not valid, or the answer is neither accepted nor declined"},
        409: {"description": "The answer does not follow from the proposal's status (e.g. accepting a declined one)"},
    },
)
async def reply_answer(
    token: str, request: Request, runtime: Runtime, _limit: PublicLimit, answer: str = Form("")
) -> Response:
    language = page_language(request)
    match_id = match_of(_settings(runtime), token, runtime.clock.now())
    if match_id is None or answer not in _ANSWERS:
        log.info("match_reply_refused", reason="invalid token" if match_id is None else "invalid answer")
        view = None if match_id is None else await _view(runtime, match_id, language)
        return _render(request, token, language, view, status_code=400)
    try:
        async with runtime.unit_of_work() as uow:
            recorded = await record_outcome(
                runtime, uow, _link_scope(match_id), match_id, Outcome(answer), recorded_by="member"
            )
    except OutcomeNotAllowed:
        log.info("match_reply_refused", match_id=match_id, answer=answer, reason="not allowed")
        return _render(
            request, token, language, await _view(runtime, match_id, language), refused=True, status_code=409
        )
    if recorded is None:  # erased since the email went out
        return _render(request, token, language, None)
    log.info("match_reply", match_id=match_id, answer=answer, changed=recorded.changed)
    target = f"{page_path(request, 'reply_page', token=token)}?lang={language}"
    return RedirectResponse(target, status_code=303, headers=LINK_PAGE_HEADERS)
