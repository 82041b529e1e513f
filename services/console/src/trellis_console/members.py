"""The members pages: the searchable list, a member's page (contacts, gaps with their trend, matches, emails),
adding and editing a member, and the CSV import with its row-by-row report. Reads and writes go to the
surveys, skills, matchmaking and notifications APIs with the person's own token."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from trellis_common.events import ContactRole, MemberType, SizeClass
from trellis_common.skill_labels import skill_label
from trellis_console.backends import Rejected
from trellis_console.context import Console, form_text, page_number, pager
from trellis_console.imports import IMPORT_MAX_BYTES, CsvImport, send_csv
from trellis_console.labels import countries, country_name, language_name, sector_name
from trellis_console.messages import Messages
from trellis_console.pages import root
from trellis_console.wording import worded

PAGE_SIZE = 50
CONTACT_ROWS_FREE = 2  # empty contact rows a form offers beside the existing ones (no script adds rows)
MEMBER_ROLES = ("decision_maker", "influencer", "peer", "recommender", "mission", "saboteur", "other")
LANGUAGE_CODES = ("en", "de", "fr", "it", "es", "pl", "nl", "pt", "cs", "sv", "da", "fi", "el", "hu", "ro", "bg",
                  "sk", "sl", "hr", "lt", "lv", "et", "ga", "mt")  # fmt: skip


@dataclass
class MemberForm:
    """What the person typed, kept to show the form again with the service's objections."""

    values: dict[str, str] = field(default_factory=dict)
    contacts: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # by form field name; "" for the form as a whole


def members_routes(console: Console) -> APIRouter:
    router = APIRouter()
    pages, backends = console.pages, console.backends

    @router.get("/clusters/{cluster_id}/members")
    async def member_list(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        language = pages.language(request)
        chosen = _filters(request)
        page = page_number(request.query_params.get("page"))
        params: dict[str, Any] = {**chosen, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
        cluster, found = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}/members", params),
        )
        rows = [_member_row(item, language) for item in found["items"]]
        here = f"{root(request)}/clusters/{cluster_id}/members"
        return pages.render(
            request,
            "members.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            rows=rows,
            total=int(found["total"]),
            chosen=chosen,
            **pager(here, chosen, page, int(found["total"]), PAGE_SIZE),
            member_types=[(m.value, f"mt_{m.value}") for m in MemberType],
            size_classes=[(s.value, f"sc_{s.value}") for s in SizeClass],
            countries=countries(language),
            may_write=person.claims.may_write(cluster_id),
        )

    @router.get("/members/{member_id}")
    async def member_page(request: Request, member_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        language = pages.language(request)
        member = await backends.get(person.token, "surveys", f"/members/{member_id}")
        assessments, matches, emails = await asyncio.gather(
            backends.optional(person.token, "skills", f"/members/{member_id}/assessments", {"limit": 1}),
            backends.optional(person.token, "matchmaking", "/matches", {"member_id": member_id, "limit": 50}),
            backends.optional(person.token, "notifications", "/deliveries", {"member_id": member_id, "limit": 50}),
        )
        return pages.render(
            request,
            "member.html",
            member=member,
            about=_about(member, language),
            contacts=[_contact_row(c, language) for c in member["contacts"]],
            assessment=_latest_gaps(assessments, language),
            assessments_known=assessments is not None,
            matches=None if matches is None else [_match_row(m, language) for m in matches["items"]],
            emails=None if emails is None else emails["items"],
            may_write=person.claims.may_write(str(member["cluster_id"])),
            saved=request.query_params.get("saved") == "1",
        )

    @router.get("/clusters/{cluster_id}/members/new")
    async def new_member(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        cluster = await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")
        form = MemberForm(values={"member_type": MemberType.SME.value})
        return _render_form(request, console, cluster_id, str(cluster["name"]), None, form)

    @router.post("/clusters/{cluster_id}/members/new")
    async def create_member(request: Request, cluster_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        form, body, rows = _read_form(submitted, {})
        try:
            created = await backends.request(
                person.token, "surveys", "POST", f"/clusters/{cluster_id}/members", json=body
            )
        except Rejected as exc:
            form.errors = _form_errors(exc, rows, Messages(pages.language(request)))
            cluster = await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")
            return _render_form(request, console, cluster_id, str(cluster["name"]), None, form, status=422)
        return pages.redirect(request, f"{root(request)}/members/{created['id']}?saved=1")

    @router.get("/members/{member_id}/edit")
    async def edit_member(request: Request, member_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        member = await backends.get(person.token, "surveys", f"/members/{member_id}")
        if not person.claims.may_write(str(member["cluster_id"])):
            return console.refused(request, person, str(member["cluster_id"]))
        form = _form_of(member)
        return _render_form(
            request, console, str(member["cluster_id"]), str(member.get("cluster_name") or ""), member, form
        )

    @router.post("/members/{member_id}/edit")
    async def save_member(request: Request, member_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        member = await backends.get(person.token, "surveys", f"/members/{member_id}")
        cluster_id = str(member["cluster_id"])
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        form, body, rows = _read_form(submitted, member)
        try:
            await backends.request(person.token, "surveys", "PUT", f"/members/{member_id}", json=body)
        except Rejected as exc:
            form.errors = _form_errors(exc, rows, Messages(pages.language(request)))
            name = str(member.get("cluster_name") or "")
            return _render_form(request, console, cluster_id, name, member, form, status=422)
        return pages.redirect(request, f"{root(request)}/members/{member_id}?saved=1")

    @router.get("/clusters/{cluster_id}/members/import")
    async def import_page(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        cluster = await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")
        return pages.render(request, "csv_import.html", cluster_id=cluster_id, cluster_name=cluster["name"])

    @router.post("/clusters/{cluster_id}/members/import")
    async def import_file(request: Request, cluster_id: str) -> Response:
        posted = await console.posted(request, max_part_size=IMPORT_MAX_BYTES + 1)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        cluster = await backends.get(person.token, "surveys", f"/clusters/{cluster_id}")
        spec = CsvImport(
            service="surveys",
            path=f"/clusters/{cluster_id}/members/import",
            here=f"{root(request)}/clusters/{cluster_id}/members/import",
            page={"cluster_id": cluster_id, "cluster_name": cluster["name"]},
            problem=lambda exc: _import_problem(exc, Messages(pages.language(request))),
            imported=lambda report: int(report["imported"]),
        )
        return await send_csv(request, console, person, submitted, spec)

    return router


def _filters(request: Request) -> dict[str, str]:
    """The list's filters the surveys API understands; anything else in the query is ignored, not an error."""
    query = request.query_params
    chosen: dict[str, str] = {}
    q = (query.get("q") or "").strip()[:100]
    if q:
        chosen["q"] = q
    if query.get("member_type") in {m.value for m in MemberType}:
        chosen["member_type"] = str(query["member_type"])
    if query.get("size_class") in {s.value for s in SizeClass}:
        chosen["size_class"] = str(query["size_class"])
    country = (query.get("country") or "").upper()
    if len(country) == 2 and country.isalpha():
        chosen["country"] = country
    return chosen


def _member_row(member: dict[str, Any], language: str) -> dict[str, Any]:
    return {
        "id": member["id"],
        "name": member["name"],
        "type": f"mt_{member['member_type']}",
        "size": f"sc_{member['size_class']}" if member.get("size_class") else None,
        "country": country_name(member.get("country"), language),
        "sector": sector_name(member.get("sector"), language),
        "contacts": len(member.get("contacts") or []),
    }


def _about(member: dict[str, Any], language: str) -> list[tuple[str, str | None, bool]]:
    """Label key, shown value (None reads "not given") and whether the value is a message key to translate."""
    role = member.get("member_role")
    spoken = ", ".join(language_name(code, language) for code in member.get("languages") or [])
    return [
        ("field_type", f"mt_{member['member_type']}", True),
        ("field_size", f"sc_{member['size_class']}" if member.get("size_class") else None, True),
        ("field_country", country_name(member.get("country"), language) or None, False),
        ("region", member.get("region") or None, False),
        ("col_sector", sector_name(member.get("sector"), language) or None, False),
        ("languages_spoken", spoken or None, False),
        ("member_role", f"mr_{role}" if role else None, True),
    ]


def _contact_row(contact: dict[str, Any], language: str) -> dict[str, str]:
    return {
        "name": str(contact["name"]),
        "email": str(contact["email"]),
        "language": language_name(str(contact["language"]), language),
        "role": f"cr_{contact['role']}",
    }


def _latest_gaps(assessments: list[dict[str, Any]] | None, language: str) -> dict[str, Any] | None:
    if not assessments:
        return None
    latest = assessments[0]
    gaps = sorted(latest["gaps"], key=lambda g: -float(g.get("priority") or 0))
    return {
        "date": str(latest["assessed_at"])[:10],
        "gaps": [
            {
                "skill": skill_label(str(g["skill_code"]), language),
                "levels": int(g["level_gap"]),
                "people": int(g["headcount_gap"]),
                "trend": f"trend_{g['trend']}",
            }
            for g in gaps
            if int(g["level_gap"]) > 0 or int(g["headcount_gap"]) > 0
        ],
    }


def _match_row(match: dict[str, Any], language: str) -> dict[str, str]:
    return {
        "skill": skill_label(str(match["skill_code"]), language),
        "offer": str(match["offer_title"]),
        "partner": str(match["partner_name"]),
        "period": str(match["period"]),
        "status": f"ms_{match['status']}",
    }


def _form_of(member: dict[str, Any]) -> MemberForm:
    values = {
        key: str(member.get(key) or "")
        for key in ("name", "member_type", "size_class", "country", "region", "sector", "member_role")
    }
    values["languages"] = " ".join(member.get("languages") or [])
    contacts = [
        {key: str(contact.get(key) or "") for key in ("name", "email", "language", "role")}
        for contact in member.get("contacts") or []
    ]
    return MemberForm(values=values, contacts=contacts)


def _read_form(submitted: FormData, existing: dict[str, Any]) -> tuple[MemberForm, dict[str, Any], list[int]]:
    """The form as typed, the surveys API body, and for each contact sent the form row it came from."""
    keys = ("name", "member_type", "size_class", "country", "region", "sector", "member_role", "languages")
    values = {key: form_text(submitted, key) for key in keys}
    contacts: list[dict[str, str]] = []
    index = 0
    while f"contact_name_{index}" in submitted and index < 50:
        contacts.append(
            {k: form_text(submitted, f"contact_{k}_{index}") for k in ("name", "email", "language", "role")}
        )
        index += 1
    sent = [i for i, c in enumerate(contacts) if c["name"] or c["email"]]
    body: dict[str, Any] = {
        "name": values["name"],
        "member_type": values["member_type"] or MemberType.SME.value,
        "size_class": values["size_class"] or None,
        "country": values["country"].upper() or None,
        "region": values["region"] or None,
        "sector": values["sector"] or None,
        "member_role": values["member_role"] or None,
        "languages": [code.lower() for code in values["languages"].replace(",", " ").split()],
        "contacts": [
            {
                "name": contacts[i]["name"],
                "email": contacts[i]["email"],
                "language": contacts[i]["language"] or "en",
                "role": contacts[i]["role"] or ContactRole.MEMBER_CONTACT.value,
            }
            for i in sent
        ],
        # What the form does not show stays as it was (the API replaces the whole member).
        **{key: existing.get(key) or [] for key in ("jobs_to_be_done", "pain_points", "ambitions")},
    }
    return MemberForm(values=values, contacts=contacts), body, sent


def _form_errors(rejected: Rejected, rows: list[int], t: Messages) -> dict[str, str]:
    """The service's objections by the form's field names (``contacts.1.email`` → the row it came from), worded
    in the page's language."""
    errors: dict[str, str] = {}
    for path, problem in rejected.field_errors().items():
        message = worded(t, problem.kind, problem.message, problem.context, path)
        parts = path.split(".")
        if len(parts) >= 3 and parts[0] == "contacts" and parts[1].isdigit() and int(parts[1]) < len(rows):
            errors.setdefault(f"contact_{parts[2]}_{rows[int(parts[1])]}", message)
        elif parts[0] in ("name", "member_type", "size_class", "country", "region", "sector", "member_role"):
            errors.setdefault(parts[0], message)
        elif parts[0] == "languages":
            errors.setdefault("languages", message)
        else:
            errors.setdefault("", message)
    return errors


def _render_form(
    request: Request,
    console: Console,
    cluster_id: str,
    cluster_name: str,
    member: dict[str, Any] | None,
    form: MemberForm,
    status: int = 200,
) -> Response:
    language = console.pages.language(request)
    kept = list(form.contacts)
    while kept and not (kept[-1]["name"] or kept[-1]["email"]):
        kept.pop()  # the empty rows sent back are offered again below, not on top
    blank = {"name": "", "email": "", "language": "", "role": ""}
    rows = [*kept, *(dict(blank) for _ in range(CONTACT_ROWS_FREE))]
    return console.pages.render(
        request,
        "member_form.html",
        status=status,
        cluster_id=cluster_id,
        cluster_name=cluster_name,
        member=member,
        form=form,
        contact_rows=rows,
        member_types=[(m.value, f"mt_{m.value}") for m in MemberType],
        size_classes=[(s.value, f"sc_{s.value}") for s in SizeClass],
        member_roles=[(r, f"mr_{r}") for r in MEMBER_ROLES],
        contact_roles=[(r.value, f"cr_{r.value}") for r in ContactRole],
        language_choices=sorted(
            ((c, language_name(c, language)) for c in LANGUAGE_CODES), key=lambda x: x[1].casefold()
        ),
        countries=countries(language),
        here=f"{root(request)}{request.url.path.removeprefix(root(request))}",
    )


def _import_problem(rejected: Rejected, t: Messages) -> dict[str, Any]:
    if rejected.status == 413:
        return {"too_large": True}
    body = rejected.body if isinstance(rejected.body, dict) else {}
    if "errors" in body:
        return {
            "report": [
                {
                    "row": int(e["row"]),
                    "column": str(e["field"]),
                    "message": worded(
                        t, str(e.get("kind", "")), str(e["message"]), e.get("context") or {}, str(e["field"])
                    ),
                }
                for e in body["errors"]
            ],
            "bad_rows": len(body.get("bad_rows") or []),
            "rows_checked": int(body.get("rows_checked") or 0),
        }
    problems = rejected.field_errors()
    found = problems.get("file") or next(iter(problems.values()), None)
    # The file's layout (encoding, columns) is explained by the service in English: shown as it is.
    return {"file_problem": found.message.removeprefix("file:").strip() if found else ""}
