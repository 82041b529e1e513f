"""The matches page: a period's proposals grouped by member or by offer, each with its status and, for
managers, the outcomes it may still take (accepted, declined, completed); the pooled opportunities, each with
a "contact the partner" email that writes out the pooled demand."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trellis_common.skill_labels import skill_label
from trellis_console.backends import Rejected
from trellis_console.context import Console, form_text, page_number, pager
from trellis_console.messages import Messages
from trellis_console.pages import root

PAGE_SIZE = 100
POOLS_SHOWN = 20  # the largest pools of the period
STATUSES = ("proposed", "accepted", "declined", "completed", "released")
# What a manager may record next, as the matchmaking service allows it (it refuses anything else with 409).
NEXT_OUTCOMES = {"proposed": ("accepted", "declined", "completed"), "accepted": ("completed", "declined")}


@dataclass(frozen=True)
class Group:
    heading: str
    subheading: str
    link: str | None  # the member's page, when grouped by member
    rows: list[dict[str, Any]]


def matches_routes(console: Console) -> APIRouter:
    router = APIRouter()
    pages, backends = console.pages, console.backends

    @router.get("/clusters/{cluster_id}/matches")
    async def match_list(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        language = pages.language(request)
        query = request.query_params
        cluster, latest = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.get(person.token, "matchmaking", "/matches", {"cluster_id": cluster_id, "limit": 1}),
        )
        newest = str(latest["items"][0]["period"]) if latest["items"] else None
        period = _period(query.get("period")) or newest
        status = query.get("status") if query.get("status") in STATUSES else None
        by = "offer" if query.get("by") == "offer" else "member"
        page = page_number(query.get("page"))
        chosen = {k: v for k, v in {"period": period, "status": status, "by": by}.items() if v}
        params: dict[str, Any] = {"cluster_id": cluster_id, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
        params.update({k: v for k, v in {"period": period, "status": status}.items() if v})
        found, pools = await asyncio.gather(
            backends.get(person.token, "matchmaking", "/matches", params),
            backends.optional(
                person.token, "matchmaking", f"/clusters/{cluster_id}/pools", {"period": period, "limit": POOLS_SHOWN}
            )
            if period
            else _nothing(),
        )
        rows = [_row(m, language) for m in found["items"]]
        here = f"{root(request)}/clusters/{cluster_id}/matches"
        t = Messages(language)
        return pages.render(
            request,
            "matches.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            period=period,
            chosen=chosen,
            statuses=STATUSES,
            groups=_grouped(rows, by, root(request)),
            total=int(found["total"]),
            **pager(here, chosen, page, int(found["total"]), PAGE_SIZE),
            pools=None
            if pools is None
            else [_pool(p, str(cluster["name"]), str(p.get("contact") or ""), language, t) for p in pools],
            may_write=person.claims.may_write(cluster_id),
            back=f"{here}?{urlencode(chosen)}",
            recorded=query.get("recorded") in STATUSES and query.get("recorded"),
            refused=query.get("refused") == "1",
        )

    @router.post("/matches/{match_id}/outcome")
    async def record_outcome(request: Request, match_id: str) -> Response:
        posted = await console.posted(request)
        if isinstance(posted, Response):
            return posted
        person, submitted = posted
        match = await backends.get(person.token, "matchmaking", f"/matches/{match_id}")
        cluster_id = str(match["cluster_id"])
        if not person.claims.may_write(cluster_id):
            return console.refused(request, person, cluster_id)
        outcome = form_text(submitted, "outcome")
        back = form_text(submitted, "back")
        back = (
            back
            if back.startswith(f"{root(request)}/clusters/{cluster_id}/matches")
            else (f"{root(request)}/clusters/{cluster_id}/matches")
        )
        separator = "&" if "?" in back else "?"
        try:
            await backends.request(
                person.token,
                "matchmaking",
                "POST",
                f"/matches/{match_id}/outcome",
                json={"outcome": outcome, "recorded_by": "cluster_manager"},
            )
        except Rejected:  # 409: it changed meanwhile (the member answered by email); 422: not an outcome
            return pages.redirect(request, f"{back}{separator}refused=1")
        return pages.redirect(request, f"{back}{separator}recorded={quote(outcome)}")

    return router


async def _nothing() -> None:
    return None


def _period(raw: str | None) -> str | None:
    """A period as the matchmaking service names them (2026-Q4, 2026-H2, 2026-12 or 2026); anything else: none."""
    if not raw or len(raw) > 7 or not raw[:4].isdigit():
        return None
    return raw


def _row(match: dict[str, Any], language: str) -> dict[str, Any]:
    return {
        "id": match["id"],
        "member_id": match["member_id"],
        "member": match.get("member_name") or "",
        "skill": skill_label(str(match["skill_code"]), language),
        "offer": str(match["offer_title"]),
        "partner": str(match["partner_name"]),
        "status": str(match["status"]),
        "next": NEXT_OUTCOMES.get(str(match["status"]), ()),
    }


def _grouped(rows: Iterable[dict[str, Any]], by: str, base: str) -> list[Group]:
    groups: dict[str, Group] = {}
    for row in rows:
        if by == "offer":
            key = f"{row['offer']}\x00{row['partner']}"
            group = groups.setdefault(key, Group(row["offer"], row["partner"], None, []))
        else:
            link = f"{base}/members/{row['member_id']}"
            group = groups.setdefault(row["member_id"], Group(row["member"], "", link, []))
        group.rows.append(row)
    return sorted(groups.values(), key=lambda g: g.heading.casefold())


def _pool(pool: dict[str, Any], cluster: str, contact: str, language: str, t: Messages) -> dict[str, Any]:
    members = [name for name in pool.get("member_names") or [] if name]
    skill = skill_label(str(pool["skill_code"]), language)
    subject = t("pool_mail_subject", cluster=cluster, offer=pool["offer_title"])
    body = t(
        "pool_mail_body",
        partner=pool["partner_name"],
        cluster=cluster,
        count=pool["member_count"],
        offer=pool["offer_title"],
        skill=skill,
        period=pool["period"],
        members="\n".join(f"- {name}" for name in members),
    )
    return {
        "offer": pool["offer_title"],
        "partner": pool["partner_name"],
        "skill": skill,
        "members": members,
        "count": int(pool["member_count"]),
        "seats": int(pool["seats"]),
        "accepted": int(pool.get("accepted") or 0),
        # The partner's contact when it is an address; else the manager fills in the recipient.
        "mailto": f"mailto:{quote(contact, safe='@') if '@' in contact else ''}"
        f"?subject={quote(subject)}&body={quote(body)}",
    }
