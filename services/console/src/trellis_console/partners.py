"""The partners pages: the collaboration partners the cluster's members can be matched to (its own, shared
ones and other clusters' opened to it) with their offers and how many seats this period are taken; registering
a partner with its first offer; the CSV import with its row-by-row report."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trellis_common.offer_labels import DELIVERY_MODES, OFFER_FORMATS, PARTNER_TYPES, offer_label
from trellis_common.skill_labels import skill_label
from trellis_console.backends import Rejected
from trellis_console.context import Console, form_text
from trellis_console.imports import IMPORT_MAX_BYTES, CsvImport, send_csv
from trellis_console.labels import countries, country_name
from trellis_console.messages import Messages
from trellis_console.pages import root
from trellis_console.wording import worded

PAGE_SIZE = 200
FIELDS = ("name", "partner_type", "country", "website", "contact", "open")
OFFER_FIELDS = ("title", "format", "delivery", "seats", "max_level", "cost_eur", "offer_countries")


def partners_routes(console: Console) -> APIRouter:
    router = APIRouter()
    pages, backends = console.pages, console.backends

    @router.get("/clusters/{cluster_id}/partners")
    async def partner_list(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        language = pages.language(request)
        cluster, found = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.get(person.token, "matchmaking", "/partners", {"limit": PAGE_SIZE}),
        )
        listed = [_partner(p, cluster_id, language) for p in found["items"]]
        return pages.render(
            request,
            "partners.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            partners=listed,
            total=int(found["total"]),
            may_write=person.claims.may_write(cluster_id),
            saved=request.query_params.get("saved") == "1",
        )

    @router.get("/clusters/{cluster_id}/partners/new")
    async def new_partner(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        return await _form(request, console, person.token, cluster_id, {"open": "yes", "seats": "10"}, {})

    @router.post("/clusters/{cluster_id}/partners/new")
    async def register(request: Request, cluster_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        values = {key: form_text(submitted, key) for key in (*FIELDS, *OFFER_FIELDS)}
        skills = [str(v) for v in submitted.getlist("skills") if isinstance(v, str) and v]
        body, errors = _body(values, skills, cluster_id, Messages(pages.language(request)))
        if not errors:
            try:
                await backends.request(person.token, "matchmaking", "POST", "/partners", json=body)
            except Rejected as exc:
                errors = _errors(exc, Messages(pages.language(request)))
            else:
                return pages.redirect(request, f"{root(request)}/clusters/{cluster_id}/partners?saved=1")
        return await _form(request, console, person.token, cluster_id, {**values, "skills": skills}, errors, 422)

    @router.get("/clusters/{cluster_id}/partners/import")
    async def import_page(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        cluster = await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")
        return pages.render(request, "csv_import.html", **_import_page(cluster_id, cluster["name"]))

    @router.post("/clusters/{cluster_id}/partners/import")
    async def import_file(request: Request, cluster_id: str) -> Response:
        posted = await console.posted(request, max_part_size=IMPORT_MAX_BYTES + 1)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        cluster = await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")
        spec = CsvImport(
            service="matchmaking",
            path="/partners/import",
            here=f"{root(request)}/clusters/{cluster_id}/partners/import",
            page=_import_page(cluster_id, cluster["name"]),
            problem=_import_problem,
            imported=lambda report: {"partners": report["imported_partners"], "offers": report["imported_offers"]},
            params={"owner_cluster_id": cluster_id, "open_to_other_clusters": form_text(submitted, "open") == "yes"},
        )
        return await send_csv(request, console, person, submitted, spec)

    @router.get("/clusters/{cluster_id}/partners/{partner_id}/edit")
    async def edit_partner(request: Request, cluster_id: str, partner_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        partner = await backends.get(person.token, "matchmaking", f"/partners/{partner_id}")
        return await _form(request, console, person.token, cluster_id, _values_of(partner, None), {}, edit=partner)

    @router.post("/clusters/{cluster_id}/partners/{partner_id}/edit")
    async def save_partner(request: Request, cluster_id: str, partner_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        partner = await backends.get(person.token, "matchmaking", f"/partners/{partner_id}")
        values = {key: form_text(submitted, key) for key in FIELDS}
        try:
            await backends.request(
                person.token, "matchmaking", "PATCH", f"/partners/{partner_id}", json=_partner_fields(values)
            )
        except Rejected as exc:
            errors = _errors(exc, Messages(pages.language(request)))
            return await _form(request, console, person.token, cluster_id, values, errors, 422, edit=partner)
        return pages.redirect(request, f"{root(request)}/clusters/{cluster_id}/partners?saved=1")

    @router.get("/clusters/{cluster_id}/partners/{partner_id}/offers/new")
    @router.get("/clusters/{cluster_id}/partners/{partner_id}/offers/{offer_id}/edit")
    async def offer_form(request: Request, cluster_id: str, partner_id: str, offer_id: str | None = None) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        partner = await backends.get(person.token, "matchmaking", f"/partners/{partner_id}")
        offer = await backends.get(person.token, "matchmaking", f"/offers/{offer_id}") if offer_id else None
        values = _values_of(partner, offer) if offer else {"seats": "10", "delivery": "online"}
        return await _form(request, console, person.token, cluster_id, values, {}, edit=partner, offer=offer or {})

    @router.post("/clusters/{cluster_id}/partners/{partner_id}/offers/new")
    @router.post("/clusters/{cluster_id}/partners/{partner_id}/offers/{offer_id}/edit")
    async def save_offer(request: Request, cluster_id: str, partner_id: str, offer_id: str | None = None) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        partner = await backends.get(person.token, "matchmaking", f"/partners/{partner_id}")
        offer = await backends.get(person.token, "matchmaking", f"/offers/{offer_id}") if offer_id else None
        values = {key: form_text(submitted, key) for key in OFFER_FIELDS}
        skills = [str(v) for v in submitted.getlist("skills") if isinstance(v, str) and v]
        t = Messages(pages.language(request))
        body, errors = _offer_body(values, skills, t, kept=offer)
        if not errors:
            method, path = ("PUT", f"/offers/{offer_id}") if offer_id else ("POST", f"/partners/{partner_id}/offers")
            try:
                await backends.request(person.token, "matchmaking", method, path, json=body)
            except Rejected as exc:
                errors = _offer_errors(exc, t)
            else:
                return pages.redirect(request, f"{root(request)}/clusters/{cluster_id}/partners?saved=1")
        typed = {**values, "skills": skills}
        return await _form(
            request, console, person.token, cluster_id, typed, errors, 422, edit=partner, offer=offer or {}
        )

    return router


def _partner(partner: dict[str, Any], cluster_id: str, language: str) -> dict[str, Any]:
    owner = partner.get("owner_cluster_id")
    return {
        "id": partner["id"],
        "name": partner["name"],
        "type": offer_label(PARTNER_TYPES, str(partner["partner_type"]), language),
        "country": country_name(partner.get("country"), language),
        "contact": partner.get("contact") or "",
        "website": partner.get("website") or "",
        "owner": "shared" if owner is None else ("own" if owner == cluster_id else "other"),
        "offers": [
            {
                "id": offer["id"],
                "title": offer["title"],
                "format": offer_label(OFFER_FORMATS, str(offer["format"]), language),
                "delivery": offer_label(DELIVERY_MODES, str(offer["delivery"]), language),
                "skills": [skill_label(str(code), language) for code in offer["skill_codes"]],
                "seats": int(offer["seats"]),
                "taken": int(offer["seats_taken"]),
                "share": min(1.0, int(offer["seats_taken"]) / max(int(offer["seats"]), 1)),
                "period": offer["period"],
            }
            for offer in partner.get("offers") or []
        ],
    }


async def _form(
    request: Request,
    console: Console,
    token: str,
    cluster_id: str,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    *,
    edit: dict[str, Any] | None = None,
    offer: dict[str, Any] | None = None,
) -> Response:
    """The partner form: a new partner with its first offer; ``edit``: that partner's own fields; with ``offer``
    as well (``{}`` for a new one): one offer of it."""
    language = console.pages.language(request)
    cluster, taxonomy = await asyncio.gather(
        console.backends.get(token, "surveys", f"/clusters/{cluster_id}"),
        console.backends.get(token, "skills", "/taxonomy"),
    )
    skills = sorted(
        ((str(s["code"]), skill_label(str(s["code"]), language)) for s in taxonomy["items"]),
        key=lambda item: item[1].casefold(),
    )
    return console.pages.render(
        request,
        "partner_form.html",
        status=status,
        cluster_id=cluster_id,
        cluster_name=cluster["name"],
        values=values,
        errors=errors,
        partner_types=sorted(PARTNER_TYPES[language].items(), key=lambda item: item[1].casefold()),
        formats=sorted(OFFER_FORMATS[language].items(), key=lambda item: item[1].casefold()),
        deliveries=list(DELIVERY_MODES[language].items()),
        skills=skills,
        countries=countries(language),
        edit=edit,
        offer=offer,
        mode="new" if edit is None else ("partner" if offer is None else "offer"),
    )


def _offer_errors(rejected: Rejected, t: Messages) -> dict[str, str]:
    """An offer's objections by field, when the offer is the body itself (PUT, POST of one offer)."""
    errors: dict[str, str] = {}
    for path, problem in rejected.field_errors().items():
        key = path.split(".")[0]
        errors.setdefault(
            _OFFER_FIELD.get(key, key) if key in (*_OFFER_FIELD, *OFFER_FIELDS) else "",
            worded(t, problem.kind, problem.message, problem.context, path),
        )
    return errors


def _body(
    values: dict[str, str], skills: list[str], cluster_id: str, t: Messages
) -> tuple[dict[str, Any], dict[str, str]]:
    body: dict[str, Any] = {**_partner_fields(values), "owner_cluster_id": cluster_id, "offers": []}
    errors: dict[str, str] = {}
    if values["title"] or skills:
        offer, errors = _offer_body(values, skills, t)
        body["offers"].append(offer)
    return body, errors


def _partner_fields(values: dict[str, str]) -> dict[str, Any]:
    return {
        "name": values["name"],
        "partner_type": values["partner_type"],
        "country": values["country"] or None,
        "website": values["website"] or None,
        "contact": values["contact"] or None,
        "open_to_other_clusters": values["open"] == "yes",
    }


def _offer_body(
    values: dict[str, str], skills: list[str], t: Messages, kept: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The offer as the form gives it; ``kept``: the offer's fields the form does not show, unchanged."""
    errors: dict[str, str] = {}
    offer: dict[str, Any] = {
        **{key: value for key, value in (kept or {}).items() if key in _OFFER_KEPT},
        "title": values["title"],
        "skill_codes": skills,
        "format": values["format"],
        "delivery": values["delivery"] or "online",
        "countries": [values["offer_countries"]] if values["offer_countries"] else [],
        "cost_eur": None,
    }
    for key in ("seats", "max_level", "cost_eur"):
        if values[key]:
            if not values[key].isdigit():
                errors[key] = t("err_number")
            else:
                offer[key] = int(values[key])
    return offer, errors


# What an offer has beyond the form's fields: kept as they are when the form replaces the offer.
_OFFER_KEPT = ("regions", "languages", "sectors", "target_markets", "funding", "contact")


def _values_of(partner: dict[str, Any], offer: dict[str, Any] | None) -> dict[str, Any]:
    """A partner (and one of its offers) as the form shows them."""
    values: dict[str, Any] = {
        "name": partner["name"],
        "partner_type": partner["partner_type"],
        "country": partner.get("country") or "",
        "website": partner.get("website") or "",
        "contact": partner.get("contact") or "",
        "open": "yes" if partner.get("open_to_other_clusters", True) else "",
    }
    if offer is not None:
        values.update(
            title=offer["title"],
            skills=list(offer["skill_codes"]),
            format=offer["format"],
            delivery=offer["delivery"],
            offer_countries=(offer.get("countries") or [""])[0],
            seats=str(offer["seats"]),
            max_level=str(offer.get("max_level") or ""),
            cost_eur="" if offer.get("cost_eur") is None else str(offer["cost_eur"]),
        )
    return values


_OFFER_FIELD = {"skill_codes": "skills", "countries": "offer_countries"}


def _errors(rejected: Rejected, t: Messages) -> dict[str, str]:
    errors: dict[str, str] = {}
    for path, problem in rejected.field_errors().items():
        parts = path.split(".")
        if parts[0] == "offers" and len(parts) >= 3:
            field = _OFFER_FIELD.get(parts[2], parts[2])
        else:
            field = parts[0] if parts[0] in FIELDS else ""
        errors.setdefault(field, worded(t, problem.kind, problem.message, problem.context, path))
    return errors


def _import_problem(rejected: Rejected) -> dict[str, Any]:
    if rejected.status == 413:
        return {"too_large": True}
    body = rejected.body if isinstance(rejected.body, dict) else {}
    if "errors" in body:
        return {
            "report": [
                {"row": int(e["row"]), "column": str(e["column"]), "message": str(e["reason"])} for e in body["errors"]
            ],
            "bad_rows": len(body.get("bad_rows") or []),
            "rows_checked": int(body.get("rows_checked") or 0),
        }
    problems = rejected.field_errors()
    found = next(iter(problems.values()), None)
    return {"file_problem": found.message.removeprefix("file:").strip() if found else ""}


def _import_page(cluster_id: str, cluster_name: str) -> dict[str, Any]:
    return {
        "cluster_id": cluster_id,
        "cluster_name": cluster_name,
        "section": "partners",
        "title_key": "import_partners_title",
        "intro_key": "import_partners_intro",
    }
