"""The skills page: the cluster's heatmap (skills × members, names on both axes, in the page's language) and
its profile: per skill the imbalance type with the numbers behind it (people needed and available, members
in need, the level gap), the proposed actions, and which needs are falling since the previous answers."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trellis_common.skill_labels import skill_label
from trellis_console.context import Console

FRAMEWORKS = ("digcomp", "greencomp", "greenwork", "intl")
IMBALANCES = ("shortage", "gap", "obsolescence", "surplus", "balanced")


def skills_routes(console: Console) -> APIRouter:
    router = APIRouter()
    pages, backends = console.pages, console.backends

    @router.get("/clusters/{cluster_id}/skills")
    async def skills_page(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        language = pages.language(request)
        framework = request.query_params.get("framework")
        framework = framework if framework in FRAMEWORKS else None
        params = {"framework": framework} if framework else None
        cluster, profile = await asyncio.gather(
            backends.get(person.token, "surveys", f"/clusters/{cluster_id}"),
            backends.optional(person.token, "skills", f"/clusters/{cluster_id}/profile", params),
        )
        rows = [_row(s, language) for s in profile["skills"]] if profile else None
        return pages.render(
            request,
            "skills.html",
            cluster_id=cluster_id,
            cluster_name=cluster["name"],
            profile=profile,
            rows=rows,
            counts={kind: int((profile or {}).get("counts", {}).get(kind) or 0) for kind in IMBALANCES},
            frameworks=FRAMEWORKS,
            framework=framework,
        )

    @router.get("/clusters/{cluster_id}/skills/heatmap.svg")
    async def heatmap(request: Request, cluster_id: str) -> Response:
        person = await console.person(request)
        if person is None:
            return pages.to_sign_in(request)
        framework = request.query_params.get("framework")
        params = {"lang": pages.language(request)}
        if framework in FRAMEWORKS:
            params["framework"] = str(framework)
        svg = await backends.text(person.token, "skills", f"/clusters/{cluster_id}/heatmap.svg", params)
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    return router


def _row(skill: dict[str, Any], language: str) -> dict[str, Any]:
    return {
        "skill": skill_label(str(skill["skill_code"]), language),
        "imbalance": str(skill["imbalance"]),
        "demand": int(skill["demand"]),
        "supply": int(skill["supply"]),
        "demanding": int(skill["demanding_members"]),
        "members": int(skill["members"]),
        "declining": int(skill.get("declining_members") or 0),
        "level_gap": skill.get("level_gap"),
        "actions": [str(action) for action in skill.get("actions") or []],
    }
