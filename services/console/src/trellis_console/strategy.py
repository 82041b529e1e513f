"""The strategy pages: the cluster's strategies with their next review; a strategy with its objectives, KPIs
and their progress chart, a measurement added to a KPI, the agenda of the next review, and the review
recorded (notes, decisions, the phase it moves to), after which the next review date moves."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trellis_common.skill_labels import skill_label
from trellis_console.backends import Rejected
from trellis_console.context import Console, form_text
from trellis_console.messages import Messages
from trellis_console.pages import root
from trellis_console.wording import worded

PHASES = ("diagnostics", "choice", "action")
AGENDA_SIZE = 20


def strategy_routes(console: Console) -> APIRouter:
    router = APIRouter()
    pages, backends = console.pages, console.backends

    @router.get("/clusters/{cluster_id}/strategy")
    async def strategy_list(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        cluster, found = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.get(person.token, "strategy", f"/clusters/{cluster_id}/strategies"),
        )
        today = datetime.now(UTC).date()
        return pages.render(
            request,
            "strategies.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            strategies=[{**s, "overdue": _overdue(s, today)} for s in found["items"]],
            may_write=person.claims.may_write(cluster_id),
        )

    @router.get("/strategies/{strategy_id}")
    async def strategy_page(request: Request, strategy_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        strategy = await backends.get(person.token, "strategy", f"/strategies/{strategy_id}")
        return await _render(request, console, person.token, strategy, {}, {})

    @router.post("/strategies/{strategy_id}/reviews")
    async def record_review(request: Request, strategy_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        strategy = await backends.get(person.token, "strategy", f"/strategies/{strategy_id}")
        cluster_id = str(strategy["cluster_id"])
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        t = Messages(pages.language(request))
        values = {key: form_text(submitted, key) for key in ("held_on", "notes", "decisions", "phase")}
        timezone = str((strategy.get("schedule") or {}).get("timezone") or "UTC")
        body, errors = _review_body(values, timezone, t)
        if not errors:
            try:
                await backends.request(
                    person.token, "strategy", "POST", f"/strategies/{strategy_id}/reviews", json=body
                )
            except Rejected as exc:
                fields = {"held_at": "held_on", "notes": "notes", "decisions": "decisions", "phase": "phase"}
                errors = _errors(exc, t, fields)
            else:
                return pages.redirect(request, f"{root(request)}/strategies/{strategy_id}?reviewed=1")
        return await _render(request, console, person.token, strategy, {"review": values}, errors, status=422)

    @router.post("/strategies/{strategy_id}/kpis/{kpi_id}/measurements")
    async def add_measurement(request: Request, strategy_id: str, kpi_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        strategy = await backends.get(person.token, "strategy", f"/strategies/{strategy_id}")
        cluster_id = str(strategy["cluster_id"])
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        t = Messages(pages.language(request))
        values = {key: form_text(submitted, key) for key in ("value", "measured_on", "note")}
        body: dict[str, Any] = {"note": values["note"] or None}
        errors: dict[str, str] = {}
        try:
            body["value"] = float(values["value"].replace(",", "."))
        except ValueError:
            errors[f"value_{kpi_id}"] = t("err_number")
        if values["measured_on"]:
            try:
                body["measured_on"] = date.fromisoformat(values["measured_on"]).isoformat()
            except ValueError:
                errors[f"measured_on_{kpi_id}"] = t("err_date")
        if not errors:
            try:
                await backends.request(
                    person.token,
                    "strategy",
                    "POST",
                    f"/strategies/{strategy_id}/kpis/{kpi_id}/measurements",
                    json=body,
                )
            except Rejected as exc:
                fields = {"value": f"value_{kpi_id}", "measured_on": f"measured_on_{kpi_id}", "note": f"value_{kpi_id}"}
                errors = _errors(exc, t, fields)
            else:
                return pages.redirect(request, f"{root(request)}/strategies/{strategy_id}?measured=1#kpis-h")
        typed = {"measurement": {**values, "kpi_id": kpi_id}}
        return await _render(request, console, person.token, strategy, typed, errors, status=422)

    return router


async def _render(
    request: Request,
    console: Console,
    token: str,
    strategy: dict[str, Any],
    typed: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    cluster_id = str(strategy["cluster_id"])
    cluster, agenda = await asyncio.gather(
        console.backends.get(token, "surveys", f"/clusters/{cluster_id}"),
        console.backends.optional(
            token, "strategy", f"/clusters/{cluster_id}/actions", {"strategy_id": strategy["id"], "limit": AGENDA_SIZE}
        ),
    )
    objectives = {o["id"]: o for o in strategy.get("objectives", [])}
    kpis_by_objective: dict[str | None, list[dict[str, Any]]] = {}
    for kpi in strategy.get("kpis", []):
        kpis_by_objective.setdefault(
            kpi.get("objective_id") if kpi.get("objective_id") in objectives else None, []
        ).append(kpi)
    person = await console.person(request)
    query = request.query_params
    t = Messages(console.pages.language(request))
    return console.pages.render(
        request,
        "strategy.html",
        status=status,
        cluster_id=cluster_id,
        cluster_name=cluster["name"],
        strategy=strategy,
        overdue=_overdue(strategy, datetime.now(UTC).date()),
        objectives=list(objectives.values()),
        kpis_by_objective=kpis_by_objective,
        agenda=None if agenda is None else [_agenda_item(a, t) for a in agenda["items"]],
        agenda_total=None if agenda is None else agenda["total"],
        # The guide's diagnostics → choice → action, one step forward at a time (back is always allowed).
        phases=PHASES[: PHASES.index(strategy["phase"]) + 2] if strategy["phase"] in PHASES else PHASES,
        typed=typed,
        errors=errors,
        may_write=person is not None and person.claims.may_write(cluster_id),
        reviewed=query.get("reviewed") == "1",
        measured=query.get("measured") == "1",
        today=datetime.now(UTC).date().isoformat(),
    )


def _overdue(strategy: dict[str, Any], today: date) -> bool:
    schedule = strategy.get("schedule") or {}
    due = schedule.get("next_due_date")
    return bool(due) and date.fromisoformat(str(due)[:10]) < today


def _review_body(values: dict[str, str], timezone: str, t: Messages) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "notes": values["notes"] or None,
        "decisions": [line.strip() for line in values["decisions"].splitlines() if line.strip()],
    }
    if values["phase"] in PHASES:
        body["phase"] = values["phase"]
    if values["held_on"]:
        try:
            day = date.fromisoformat(values["held_on"])
            zone = ZoneInfo(timezone)
        except (ValueError, ZoneInfoNotFoundError):
            errors["held_on"] = t("err_date")
        else:
            if day > datetime.now(zone).date():
                errors["held_on"] = t("err_review_ahead")
            held = datetime.combine(day, time(12, 0), tzinfo=zone)
            # A review held today is recorded as of now: noon may still be ahead, and the service refuses the future.
            body["held_at"] = min(held, datetime.now(UTC)).isoformat()
    return body, errors


def _errors(rejected: Rejected, t: Messages, fields: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for path, problem in rejected.field_errors().items():
        field = fields.get(path.split(".")[0], "")
        errors.setdefault(field, worded(t, problem.kind, problem.message, problem.context, path))
    return errors


def _agenda_item(action: dict[str, Any], t: Messages) -> str:
    """An agenda action in the page's language from its facts; the service's English words when it has none."""
    facts = action.get("facts")
    if not facts:
        return str(action["text"])
    skill = skill_label(str(facts["skill_code"]), t.language)
    if facts["kind"] == "pooled_offer":
        return t(
            "agenda_pooled",
            count=facts.get("member_count") or 0,
            skill=skill,
            offer=facts.get("offer_title") or "",
            partner=facts["partner_name"],
        )
    return t(
        "agenda_member_partner",
        member=facts.get("member_name") or t("a_member"),
        partner=facts["partner_name"],
        skill=skill,
    )
