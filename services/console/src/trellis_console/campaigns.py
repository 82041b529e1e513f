"""The campaign pages: the cluster's campaigns with their response rates, launching one (template, audience,
deadline, reminders), a campaign's progress with "remind now" and "close now", its results as charts by
question with the CSV download, and a template's preview in each language."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trellis_common.events import MemberType
from trellis_common.likert import LIKERT_POINTS, likert_label
from trellis_common.skill_labels import skill_label
from trellis_console.backends import Rejected
from trellis_console.context import Console, Person, form_text
from trellis_console.labels import countries, country_name, sector_name
from trellis_console.messages import LANGUAGES, Messages
from trellis_console.pages import root
from trellis_console.wording import worded

MAX_REMINDERS = 10  # the surveys API's bound


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    share: float  # of those who answered the question, 0–1


def campaigns_routes(console: Console) -> APIRouter:
    router = APIRouter()
    pages, backends = console.pages, console.backends

    @router.get("/clusters/{cluster_id}/campaigns")
    async def campaign_list(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        cluster, found = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}/campaigns"),
        )
        now = datetime.now(UTC)
        rows = sorted(found, key=lambda c: str(c["launched_at"]), reverse=True)
        return pages.render(
            request,
            "campaigns.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            campaigns=[{**c, "open": _closes(c) > now} for c in rows],
            may_write=person.claims.may_write(cluster_id),
        )

    @router.get("/clusters/{cluster_id}/campaigns/new")
    async def new_campaign(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        return await _launch_form(request, console, person, cluster_id, {}, {})

    @router.post("/clusters/{cluster_id}/campaigns/new")
    async def launch(request: Request, cluster_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        cluster = await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")
        values = {
            key: form_text(submitted, key)
            for key in ("template", "title", "member_type", "country", "closes_on", "remind_after_days", "reminders")
        }
        body, errors = _launch_body(values, str(cluster.get("timezone") or "UTC"), Messages(pages.language(request)))
        if not errors:
            try:
                launched = await backends.request(
                    person.token, "surveys", "POST", f"/clusters/{cluster_id}/campaigns", json=body
                )
            except Rejected as exc:
                errors = _launch_errors(exc, Messages(pages.language(request)))
            else:
                return pages.redirect(request, f"{root(request)}/campaigns/{launched['id']}?launched=1")
        return await _launch_form(request, console, person, cluster_id, values, errors, status=422)

    @router.get("/campaigns/{campaign_id}")
    async def campaign_page(request: Request, campaign_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        language = pages.language(request)
        campaign = await backends.get(person.token, "surveys", f"/campaigns/{campaign_id}")
        cluster_id = str(campaign["cluster_id"])
        cluster, results, template = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.optional(person.token, "surveys", f"/campaigns/{campaign_id}/results"),
            backends.optional(
                person.token,
                "surveys",
                f"/templates/{campaign['template_id']}",
                {"version": campaign["template_version"]},
            ),
        )
        query = request.query_params
        return pages.render(
            request,
            "campaign.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            campaign=campaign,
            open=_closes(campaign) > datetime.now(UTC),
            charts=_charts(results, template, language) if results and template else None,
            may_write=person.claims.may_write(cluster_id),
            launched=query.get("launched") == "1",
            closed_now=query.get("closed") == "1",
            reminded=_int(query.get("reminded")),
            used_up=_int(query.get("used_up")),
        )

    @router.post("/campaigns/{campaign_id}/remind")
    async def remind(request: Request, campaign_id: str) -> Response:
        return await _act(request, console, campaign_id, "reminders")

    @router.post("/campaigns/{campaign_id}/close")
    async def close(request: Request, campaign_id: str) -> Response:
        return await _act(request, console, campaign_id, "close")

    @router.get("/campaigns/{campaign_id}/results.csv")
    async def results_csv(request: Request, campaign_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        content = await backends.text(person.token, "surveys", f"/campaigns/{campaign_id}/results", {"format": "csv"})
        disposition = f'attachment; filename="campaign-{campaign_id}.csv"'
        return Response(content, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})

    @router.get("/clusters/{cluster_id}/templates/{template_id}")
    async def template_preview(request: Request, cluster_id: str, template_id: str) -> Response:
        """The questions as members read them, in the language chosen with ``in=`` (the page's by default)."""
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        language = pages.language(request)
        shown = request.query_params.get("in") or language
        shown = shown if shown in LANGUAGES else language
        version = _int(request.query_params.get("version"))
        params = {"version": version} if version else None
        cluster, template = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.get(person.token, "surveys", f"/templates/{template_id}", params),
        )
        return pages.render(
            request,
            "template_preview.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            survey=template,
            shown=shown,
            words=Messages(shown),  # the words inside the preview are in the preview's language
            preview=_preview(template, shown),
        )

    return router


async def _act(request: Request, console: Console, campaign_id: str, action: str) -> Response:
    """Remind now or close now: POST to surveys, then back to the campaign page saying what happened."""
    pages, backends = console.pages, console.backends
    posted = await console.posted(request)
    if isinstance(posted, Response):
        return posted
    person, _form = posted
    campaign = await backends.get(person.token, "surveys", f"/campaigns/{campaign_id}")
    if not person.claims.may_write(str(campaign["cluster_id"])):
        return console.refused(request, person, str(campaign["cluster_id"]))
    here = f"{root(request)}/campaigns/{campaign_id}"
    try:
        answer = await backends.request(person.token, "surveys", "POST", f"/campaigns/{campaign_id}/{action}")
    except Rejected as exc:
        if exc.status == 409:  # closed meanwhile (another manager, or the deadline): the page shows it
            return pages.redirect(request, here)
        raise
    if action == "close":
        return pages.redirect(request, f"{here}?closed=1")
    return pages.redirect(request, f"{here}?reminded={answer['scheduled']}&used_up={answer['reminders_used_up']}")


async def _launch_form(
    request: Request,
    console: Console,
    person: Person,
    cluster_id: str,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    backends, language = console.backends, console.pages.language(request)
    cluster, templates = await asyncio.gather(
        backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
        backends.get(person.token, "surveys", "/templates", {"cluster_id": cluster_id}),
    )
    # One entry per template (its versions are listed separately), titled in the page's language.
    ids = list(dict.fromkeys(t["id"] for t in templates if t.get("status", "published") == "published"))
    details = await asyncio.gather(*(backends.get(person.token, "surveys", f"/templates/{i}") for i in ids))
    return console.pages.render(
        request,
        "campaign_form.html",
        status=status,
        cluster_id=cluster_id,
        cluster_name=cluster["name"],
        templates=[(t["id"], _template_title(t, language)) for t in details],
        values=values,
        errors=errors,
        member_types=[(m.value, f"mt_{m.value}") for m in MemberType],
        countries=countries(language),
        max_reminders=MAX_REMINDERS,
    )


def _launch_body(values: dict[str, str], timezone: str, t: Messages) -> tuple[dict[str, Any], dict[str, str]]:
    """The surveys API body, or what the person must fix first (in their language)."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"template_id": values["template"]}
    if not values["template"]:
        errors["template"] = t("err_missing")
    if values["title"]:
        body["title"] = values["title"]
    if values["member_type"]:
        body["member_type"] = values["member_type"]
    if values["country"]:
        body["country"] = values["country"]
    if values["closes_on"]:
        try:
            day = date.fromisoformat(values["closes_on"])
            zone = ZoneInfo(timezone)
        except (ValueError, ZoneInfoNotFoundError):
            errors["closes_on"] = t("err_date")
        else:
            # The last minute of that day where the cluster is, so "closes on 30 June" holds for its members.
            body["closes_at"] = datetime.combine(day, time(23, 59), tzinfo=zone).isoformat()
    if values["remind_after_days"]:
        try:
            days = float(values["remind_after_days"].replace(",", "."))
        except ValueError:
            errors["remind_after_days"] = t("err_number")
        else:
            if not 0 < days <= 90:
                errors["remind_after_days"] = t("err_between", low="0.5", high="90")
            body["reminder_after_hours"] = days * 24
    if values["reminders"]:
        if not values["reminders"].isdigit() or int(values["reminders"]) > MAX_REMINDERS:
            errors["reminders"] = t("err_between", low="0", high=str(MAX_REMINDERS))
        else:
            body["max_reminders"] = int(values["reminders"])
    return body, errors


_FORM_FIELD = {
    "template_id": "template",
    "template_version": "template",
    "title": "title",
    "member_type": "member_type",
    "country": "country",
    "member_ids": "member_type",  # "no contacts to invite": the audience chosen is empty
    "closes_at": "closes_on",
    "reminder_after_hours": "remind_after_days",
    "max_reminders": "reminders",
}


def _launch_errors(rejected: Rejected, t: Messages) -> dict[str, str]:
    errors: dict[str, str] = {}
    for path, problem in rejected.field_errors().items():
        field = _FORM_FIELD.get(path.split(".")[0], "")
        message = t("err_no_audience") if path == "member_ids" else problem.message
        if path == "closes_at" and "future" in problem.message:
            message = t("err_future")
        errors.setdefault(field, worded(t, problem.kind, message, problem.context, path))
    return errors


def _charts(results: dict[str, Any], template: dict[str, Any], language: str) -> list[dict[str, Any]]:
    """Per question with countable answers: its text and one bar per choice, in the page's language."""
    questions = {q["id"]: q for q in template.get("questions", [])}
    translation = template.get("translations", {}).get(language, {})
    charts = []
    for summary in results.get("questions", []):
        question = questions.get(summary["question_id"])
        counts: dict[str, int] = summary.get("counts") or {}
        if question is None or not counts:
            continue
        answered = max(int(summary.get("answered") or 0), 1)
        scaled = question.get("type") in ("likert", "rating")
        # A scale reads in its own order, every point of a likert scale shown (1 to 5, none chosen: 0); choices
        # by how often they were chosen.
        if question.get("type") == "likert":
            counts = {str(point): counts.get(str(point), 0) for point in range(1, LIKERT_POINTS + 1)} | counts
        ordered = sorted(counts.items(), key=lambda vc: _number(vc[0])) if scaled else list(counts.items())
        bars = [
            Bar(_choice_label(question, value, translation, language), count, count / answered)
            for value, count in ordered
        ]
        if not scaled:
            bars.sort(key=lambda b: -b.count)
        text = translation.get("questions", {}).get(question["id"]) or question.get("text") or question["id"]
        charts.append({"text": text, "answered": int(summary.get("answered") or 0), "bars": bars})
    return charts


def _number(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _choice_label(question: dict[str, Any], value: str, translation: dict[str, Any], language: str) -> str:
    if question.get("type") == "skill_matrix":
        return skill_label(value, language)
    if question.get("type") == "likert":
        return f"{value} – {likert_label(value, language) or value}"
    translated = translation.get("options", {}).get(f"{question['id']}.{value}")
    if translated:
        return str(translated)
    for option in question.get("options") or []:
        if str(option.get("value")) == value:
            return str(option.get("label") or value)
    if len(value) == 2 and value.isalpha() and value.isupper():
        return country_name(value, language)
    return sector_name(value, language) if len(value) == 1 and value.isalpha() else value


def _preview(template: dict[str, Any], language: str) -> dict[str, Any]:
    translation = template.get("translations", {}).get(language, {}) if language != template.get("language") else {}
    sections: list[dict[str, Any]] = []
    for question in template.get("questions", []):
        section = question.get("section") or ""
        title = translation.get("sections", {}).get(section, section)
        if not sections or sections[-1]["key"] != section:
            sections.append({"key": section, "title": title, "questions": []})
        options = [
            translation.get("options", {}).get(f"{question['id']}.{o['value']}") or o.get("label") or o["value"]
            for o in question.get("options") or []
        ]
        skills = [skill_label(str(code), language) for code in question.get("skills") or []]
        sections[-1]["questions"].append(
            {
                "text": translation.get("questions", {}).get(question["id"]) or question.get("text") or "",
                "help": translation.get("help", {}).get(question["id"]) or question.get("help"),
                "required": bool(question.get("required")),
                "options": options,
                "skills": skills,
            }
        )
    return {
        "title": translation.get("title") or template.get("title"),
        "intro": translation.get("intro") or template.get("intro"),
        "sections": sections,
    }


def _template_title(template: dict[str, Any], language: str) -> str:
    translated = template.get("translations", {}).get(language, {}).get("title")
    return str(translated or template.get("title") or template["id"])


def _closes(campaign: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(campaign["closes_at"]).replace("Z", "+00:00"))


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 9 else None
