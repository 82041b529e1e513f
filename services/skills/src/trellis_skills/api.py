"""REST API of the skills service: the taxonomy, members' assessments, the cluster's skills profile and
heatmap, and supply figures reported by other systems.

Access (docs/skills.md): the taxonomy for any role; reads for readers, filtered by their scope in the repository
(another cluster's objects answer 404 like unknown ones); supply reports from managers and integrations.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from trellis_common.app import ClusterId, CorrelationId, Runtime, not_found
from trellis_common.auth import Reader, Scope
from trellis_common.events import SupplyReported, SupplyScope
from trellis_common.parking import is_known_cluster
from trellis_common.repositories.names import Names, names_of
from trellis_common.settings import narrowed
from trellis_common.skill_labels import preferred_language, skill_label
from trellis_common.text import INT4_MAX
from trellis_skills import repository
from trellis_skills.access import Reporter, RoleHolder, check_may_report
from trellis_skills.domain.imbalance import ImbalanceType
from trellis_skills.domain.supply import report_problems
from trellis_skills.domain.taxonomy import load_taxonomy
from trellis_skills.heatmap import Heatmap, HeatmapRow, render_png, render_svg, sorted_rows
from trellis_skills.heatmap_words import WORDS
from trellis_skills.models import NAMES
from trellis_skills.repository import HeatmapAxis
from trellis_skills.schemas import (
    AssessmentOut,
    ClusterProfileOut,
    ImbalanceThresholds,
    SkillBalanceOut,
    SkillOut,
    SupplyReportIn,
    SupplyReportOut,
    SupplyReportPage,
    TaxonomyOut,
)
from trellis_skills.settings import SkillsSettings

router = APIRouter()
Framework = Literal["digcomp", "greencomp", "greenwork", "intl"]


@router.get("/taxonomy", response_model=TaxonomyOut, tags=["taxonomy"])
async def list_taxonomy(
    _: RoleHolder,
    q: Annotated[str | None, Query(max_length=100, description="Text to look for in code, label or area")] = None,
    framework: Framework | None = None,
) -> dict[str, Any]:
    taxonomy = load_taxonomy()
    items = taxonomy.search(q, framework)
    return {"version": taxonomy.version, "count": len(items), "items": [vars(e) for e in items]}


@router.get("/taxonomy/{code}", response_model=SkillOut, tags=["taxonomy"])
async def get_skill(code: str, _: RoleHolder) -> dict[str, Any]:
    entry = load_taxonomy().get(code)
    if entry is None:
        raise not_found("skill", code)
    return vars(entry)


@router.get(
    "/members/{member_id}/assessments",
    response_model=list[AssessmentOut],
    tags=["assessments"],
    summary="The member's assessments, newest first (404 when none is in the caller's clusters)",
)
async def member_assessments(
    member_id: str, runtime: Runtime, scope: Reader, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[dict[str, Any]]:
    async with runtime.db.sessions() as session:
        found = await repository.member_assessments(session, scope, member_id, limit)
    if not found:
        # The same answer for an unknown member and for one assessed only in other clusters: no probing.
        raise not_found("member", member_id)
    return found


@router.get("/assessments/{assessment_id}", response_model=AssessmentOut, tags=["assessments"])
async def get_assessment(assessment_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        row = await repository.get_assessment(session, scope, assessment_id)
    if row is None:
        raise not_found("assessment", assessment_id)
    return row


async def _profile(runtime: Runtime, scope: Scope, cluster_id: str) -> repository.ClusterProfile:
    rules = narrowed(runtime.settings, SkillsSettings).imbalance_rules()
    async with runtime.db.sessions() as session:
        profile = await repository.cluster_profile(session, scope, cluster_id, rules)
    if profile is None:
        raise HTTPException(404, f"nothing is known about cluster {cluster_id!r} yet: no completed responses")
    return profile


@router.get(
    "/clusters/{cluster_id}/profile",
    response_model=ClusterProfileOut,
    tags=["cluster skills profile"],
    summary="Demand and supply per skill, classified as shortage, gap, surplus, obsolescence or balanced",
)
async def cluster_profile(
    cluster_id: ClusterId,
    runtime: Runtime,
    scope: Reader,
    framework: Framework | None = None,
    imbalance: Annotated[list[ImbalanceType] | None, Query(description="Only these types (repeatable)")] = None,
) -> ClusterProfileOut:
    profile = await _profile(runtime, scope, cluster_id)
    settings = narrowed(runtime.settings, SkillsSettings)
    rules = settings.imbalance_rules()
    taxonomy = load_taxonomy()
    order = list(ImbalanceType)
    items: list[SkillBalanceOut] = []
    for balance in sorted(profile.skills, key=lambda b: (order.index(b.imbalance), b.skill_code)):
        entry = taxonomy.get(balance.skill_code)
        if framework is not None and (entry is None or entry.framework != framework):
            continue
        if imbalance and balance.imbalance not in imbalance:
            continue
        fields = vars(balance)
        items.append(
            SkillBalanceOut(
                **{**fields, "actions": list(balance.actions), "sources": list(balance.sources)},
                skill_label=skill_label(balance.skill_code),
                framework=entry.framework if entry else None,
                area=entry.area if entry else None,
            )
        )
    return ClusterProfileOut(
        cluster_id=cluster_id,
        computed_at=runtime.clock.now(),
        members=profile.members,
        taxonomy_version=taxonomy.version,
        thresholds=ImbalanceThresholds(**vars(rules)),
        rules=rules.rules(),
        counts={kind: sum(1 for b in profile.skills if b.imbalance is kind) for kind in ImbalanceType},
        skills=items,
    )


async def cluster_heatmap(
    runtime: Runtime,
    scope: Scope,
    cluster_id: str,
    by: HeatmapAxis,
    framework: Framework | None,
    limit: int | None,
    language: str = "en",
) -> Heatmap:
    profile = await _profile(runtime, scope, cluster_id)
    settings = narrowed(runtime.settings, SkillsSettings)
    async with runtime.db.sessions() as session:
        data = await repository.heatmap_data(session, scope, cluster_id, by, limit or settings.heatmap_max_columns)
        members = data.columns if by is HeatmapAxis.MEMBER else []
        names = await names_of(session, NAMES, member_ids=members, cluster_ids=[cluster_id])
    taxonomy = load_taxonomy()
    say = WORDS[language]
    rows = []
    for balance in profile.skills:
        entry = taxonomy.get(balance.skill_code)
        if framework is not None and (entry is None or entry.framework != framework):
            continue
        rows.append(HeatmapRow(balance.skill_code, skill_label(balance.skill_code, language), balance.imbalance))
    heading, plural = say[f"axis.{by.value}"], say[f"axis.{by.value}.plural"]
    cluster = names.cluster(cluster_id)
    return Heatmap(
        title=say["title_named"].format(cluster=cluster) if cluster else say["title"],
        subtitle=say["subtitle"].format(
            heading=heading, shown=len(data.columns), total=data.total_columns, plural=plural
        ),
        column_heading=heading,
        columns_name=plural,
        rows=sorted_rows(rows),
        columns=data.columns,
        cells={key: (cell.value, cell.answers) for key, cell in data.cells.items()},
        column_labels=member_labels(members, names, say["unnamed_member"]),
        words=say,
    )


def member_labels(
    member_ids: list[str], names: Names, unnamed_wording: str = WORDS["en"]["unnamed_member"]
) -> dict[str, str]:
    """Each member column's name; one whose name is not known yet reads as a numbered member organisation."""
    labels: dict[str, str] = {}
    unnamed = 0
    for member_id in member_ids:
        name = names.member(member_id)
        if name is None:
            unnamed += 1
            name = unnamed_wording.format(number=unnamed)
        labels[member_id] = name
    return labels


# An SVG served on its own is a document; it has no scripts, and the policy says it must not run any.
_IMAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


HeatmapBy = Annotated[HeatmapAxis, Query(description="Columns: members, or members grouped by an attribute")]
HeatmapLanguage = Annotated[
    str | None,
    Query(
        max_length=35,
        description="Language of the words and skill labels (en, de, fr; e.g. de-AT counts as de); else the "
        "Accept-Language header's first language we ship, else English",
    ),
]
HeatmapLimit = Annotated[
    int | None, Query(ge=1, le=500, description="Most columns; TRELLIS_HEATMAP_MAX_COLUMNS by default")
]


@router.get(
    "/clusters/{cluster_id}/heatmap.svg",
    tags=["cluster skills profile"],
    summary="Skills × members (or areas) coloured by gap, as SVG",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def heatmap_svg(
    cluster_id: ClusterId,
    request: Request,
    runtime: Runtime,
    scope: Reader,
    by: HeatmapBy = HeatmapAxis.MEMBER,
    framework: Framework | None = None,
    limit: HeatmapLimit = None,
    lang: HeatmapLanguage = None,
) -> Response:
    language = preferred_language(lang, request.headers.get("accept-language", ""), WORDS)
    heatmap = await cluster_heatmap(runtime, scope, cluster_id, by, framework, limit, language)
    return Response(render_svg(heatmap), media_type="image/svg+xml; charset=utf-8", headers=_IMAGE_HEADERS)


@router.get(
    "/clusters/{cluster_id}/heatmap.png",
    tags=["cluster skills profile"],
    summary="The same picture as PNG, with its text drawn (title and description also in its metadata)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def heatmap_png(
    cluster_id: ClusterId,
    request: Request,
    runtime: Runtime,
    scope: Reader,
    by: HeatmapBy = HeatmapAxis.MEMBER,
    framework: Framework | None = None,
    limit: HeatmapLimit = None,
    lang: HeatmapLanguage = None,
) -> Response:
    language = preferred_language(lang, request.headers.get("accept-language", ""), WORDS)
    heatmap = await cluster_heatmap(runtime, scope, cluster_id, by, framework, limit, language)
    # Drawing takes a moment of CPU: off the event loop.
    return Response(await asyncio.to_thread(render_png, heatmap), media_type="image/png", headers=_IMAGE_HEADERS)


@router.post(
    "/supply-reports",
    response_model=SupplyReportOut,
    status_code=status.HTTP_201_CREATED,
    tags=["supply"],
    summary="Record supply figures for a cluster or region (200 when the same report was recorded before)",
    description="For cluster managers and integrating systems, for their clusters; region figures count for "
    "every cluster with a member in the region and need a platform-wide caller.",
    responses={
        200: {"model": SupplyReportOut, "description": "The same report was recorded before"},
        403: {"description": "The caller may not report figures for this cluster or region"},
        409: {"description": "The report id was recorded with other figures"},
    },
)
async def post_supply_report(
    body: SupplyReportIn, runtime: Runtime, correlation: CorrelationId, response: Response, scope: Reporter
) -> dict[str, Any]:
    settings = narrowed(runtime.settings, SkillsSettings)
    now = runtime.clock.now()
    report = SupplyReported.model_validate({**body.model_dump(), "reported_at": now})
    check_may_report(scope, report)
    problems = report_problems(report, load_taxonomy(), settings.max_headcount, now.date())
    if problems:
        raise HTTPException(
            422,  # what request validation answers, so clients see one kind of error for bad input
            detail=[{"type": "value_error", "loc": ["body", *p.loc], "msg": p.message} for p in problems],
        )
    async with runtime.unit_of_work(correlation_id=correlation) as uow:
        if report.scope is SupplyScope.CLUSTER and not await is_known_cluster(uow.session, NAMES, report.scope_id):
            raise HTTPException(
                422,
                detail=[
                    {
                        "type": "value_error",
                        "loc": ["body", "scope_id"],
                        "msg": f"unknown cluster {report.scope_id!r}: no member of it was published by surveys",
                    }
                ],
            )
        outcome = await repository.record_supply_report(uow.session, scope, report, via="api", now=now)
        if outcome == "created":
            # One log of every report, whoever sent it; our own consumer recognises it and does nothing.
            uow.emit(report)
        stored = await repository.get_supply_report(uow.session, scope, report.report_id)
    if outcome == "conflict":
        raise HTTPException(
            409, f"supply report {report.report_id!r} was recorded with other figures; use a new report_id"
        )
    assert stored is not None
    if outcome == "duplicate":
        response.status_code = status.HTTP_200_OK
    return stored


@router.get(
    "/supply-reports",
    response_model=SupplyReportPage,
    tags=["supply"],
    summary="Reports of the caller's clusters and region reports, newest first",
)
async def list_supply_reports(
    runtime: Runtime,
    visible: Reader,
    scope: SupplyScope | None = None,
    scope_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        items, total = await repository.list_supply_reports(
            session, visible, kind=scope, scope_id=scope_id, limit=limit, offset=offset
        )
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/supply-reports/{report_id}", response_model=SupplyReportOut, tags=["supply"])
async def get_supply_report(report_id: str, runtime: Runtime, scope: Reader) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        stored = await repository.get_supply_report(session, scope, report_id)
    if stored is None:
        raise not_found("supply report", report_id)
    return stored
