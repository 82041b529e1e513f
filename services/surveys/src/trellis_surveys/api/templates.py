"""Templates: the built-in themes, and a cluster's copies it adapts and publishes (published = immutable).

Built-in templates are reference data any reader sees; a cluster's templates are read by its readers and
changed by its managers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, status
from pydantic import AfterValidator, ValidationError

from trellis_common.app import Runtime, not_found
from trellis_common.auth import Reader, Writer
from trellis_common.text import INT4_MAX, check_storable
from trellis_surveys.api.directory import require_cluster
from trellis_surveys.domain.templates import SurveyTemplate, TemplateStatus, adapt
from trellis_surveys.repositories.templates import (
    get_template,
    list_templates,
    next_version,
    publish,
    save_draft,
    template_id_taken,
)
from trellis_surveys.schemas import TemplateCopyIn

router = APIRouter(tags=["templates"])
Version = Annotated[int, Path(ge=1, le=INT4_MAX)]


def _as_json(stored_template: SurveyTemplate, status_: TemplateStatus, cluster_id: str | None) -> dict[str, Any]:
    return {
        **stored_template.model_dump(mode="json", by_alias=True, exclude_none=True),
        "status": status_,
        "cluster_id": cluster_id,
    }


def _invalid(exc: ValidationError) -> HTTPException:
    return HTTPException(
        422,
        detail=[{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()],
    )


@router.get(
    "/templates",
    summary="Built-in templates, and a cluster's own when cluster_id is given (404 for a cluster out of reach)",
)
async def templates_index(runtime: Runtime, scope: Reader, cluster_id: str | None = None) -> list[dict[str, Any]]:
    async with runtime.db.sessions() as session:
        if cluster_id is not None:
            await require_cluster(session, scope, cluster_id)
        return [t.summary() for t in await list_templates(session, scope, cluster_id)]


@router.get("/templates/{template_id}", summary="A template version with its questions (the newest by default)")
async def template_detail(
    template_id: str, runtime: Runtime, scope: Reader, version: Annotated[int | None, Query(ge=1, le=INT4_MAX)] = None
) -> dict[str, Any]:
    async with runtime.db.sessions() as session:
        stored = await get_template(session, scope, template_id, version)
    if stored is None:
        raise not_found("template", template_id if version is None else f"{template_id}@{version}")
    return _as_json(stored.template, stored.status, stored.cluster_id)


@router.post(
    "/clusters/{cluster_id}/templates",
    status_code=status.HTTP_201_CREATED,
    summary="Copy a template into the cluster as a draft to adapt",
)
async def copy_template(cluster_id: str, body: TemplateCopyIn, runtime: Runtime, scope: Writer) -> dict[str, Any]:
    async with runtime.unit_of_work() as uow:
        await require_cluster(uow.session, scope, cluster_id)
        source = await get_template(uow.session, scope, body.source_template_id, body.source_version)
        if source is None:
            raise not_found("template", body.source_template_id)
        if await template_id_taken(uow.session, body.template_id):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"template_id: {body.template_id!r} is taken")
        copy = adapt(source.template, new_id=body.template_id, title=body.title)
        await save_draft(uow.session, scope, copy, cluster_id, uow.now)
    return _as_json(copy, TemplateStatus.DRAFT, cluster_id)


@router.put(
    "/clusters/{cluster_id}/templates/{template_id}",
    summary="Adapt a cluster template: edits its draft, or starts a new draft version when the newest is published",
)
async def adapt_template(
    cluster_id: str,
    template_id: str,
    runtime: Runtime,
    scope: Writer,
    definition: Annotated[dict[str, Any], Body(), AfterValidator(check_storable)],
) -> dict[str, Any]:
    async with runtime.unit_of_work() as uow:
        current = await get_template(uow.session, scope, template_id)
        if current is None or current.cluster_id != cluster_id:
            raise not_found("cluster template", template_id)
        version = current.template.version
        if current.status is TemplateStatus.PUBLISHED:
            version = await next_version(uow.session, template_id)
        try:
            changed = adapt(
                current.template,
                new_id=template_id,
                version=version,
                **{k: v for k, v in definition.items() if k not in {"id", "version", "based_on"}},
            )
        except ValidationError as exc:
            raise _invalid(exc) from None
        # A copy keeps pointing at what it was first based on.
        changed = changed.model_copy(update={"based_on": current.template.based_on})
        await save_draft(uow.session, scope, changed, cluster_id, uow.now)
    return _as_json(changed, TemplateStatus.DRAFT, cluster_id)


@router.post(
    "/clusters/{cluster_id}/templates/{template_id}/versions/{version}/publish",
    summary="Publish a draft version; from then on it never changes and campaigns can use it",
)
async def publish_template(
    cluster_id: str, template_id: str, version: Version, runtime: Runtime, scope: Writer
) -> dict[str, Any]:
    async with runtime.unit_of_work() as uow:
        stored = await get_template(uow.session, scope, template_id, version)
        if stored is None or stored.cluster_id != cluster_id:
            raise not_found("cluster template", f"{template_id}@{version}")
        if stored.status is TemplateStatus.PUBLISHED:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"{template_id}@{version} is already published")
        await publish(uow.session, scope, template_id, version, uow.now)
    return _as_json(stored.template, TemplateStatus.PUBLISHED, cluster_id)
