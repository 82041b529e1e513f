"""Where templates live: the built-in themes as package data, a cluster's adapted copies in its table.

Built-in templates are reference data every caller may read; a cluster's templates are found only within the
caller's ``Scope`` (outside it they do not exist, as for any other object of another cluster).
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_surveys.domain.templates import SurveyTemplate, TemplateStatus
from trellis_surveys.models import survey_templates


@functools.cache
def builtin_templates() -> dict[tuple[str, int], SurveyTemplate]:
    """Every version of every shipped template; a shipped version is published and never changes."""
    found: dict[tuple[str, int], SurveyTemplate] = {}
    folder = resources.files("trellis_surveys") / "data" / "templates"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            template = SurveyTemplate.model_validate(json.loads(entry.read_text(encoding="utf-8")))
            found[(template.id, template.version)] = template
    return found


def builtin_ids() -> set[str]:
    return {template_id for template_id, _ in builtin_templates()}


class StoredTemplate:
    def __init__(self, template: SurveyTemplate, status: TemplateStatus, cluster_id: str | None) -> None:
        self.template = template
        self.status = status
        self.cluster_id = cluster_id

    def summary(self) -> dict[str, Any]:
        t = self.template
        return {
            "id": t.id,
            "version": t.version,
            "theme": t.theme,
            "title": t.title,
            "status": self.status,
            "cluster_id": self.cluster_id,
            "based_on": t.based_on,
            "questions": len(t.questions),
        }


async def get_template(
    session: AsyncSession, scope: Scope, template_id: str, version: int | None = None, *, published: bool = False
) -> StoredTemplate | None:
    """A template version (the newest, or newest published, when ``version`` is None)."""
    shipped = builtin_templates()
    if template_id in builtin_ids():
        wanted = version or max(v for t, v in shipped if t == template_id)
        found = shipped.get((template_id, wanted))
        return StoredTemplate(found, TemplateStatus.PUBLISHED, None) if found else None
    query = select(survey_templates).where(
        survey_templates.c.id == template_id, scope.clause(survey_templates.c.cluster_id)
    )
    if version is not None:
        query = query.where(survey_templates.c.version == version)
    if published:
        query = query.where(survey_templates.c.status == TemplateStatus.PUBLISHED)
    row = (await session.execute(query.order_by(survey_templates.c.version.desc()).limit(1))).mappings().first()
    if row is None:
        return None
    return StoredTemplate(
        SurveyTemplate.model_validate(row["definition"]), TemplateStatus(row["status"]), row["cluster_id"]
    )


async def list_templates(session: AsyncSession, scope: Scope, cluster_id: str | None) -> list[StoredTemplate]:
    """The built-in templates, and the cluster's own when ``cluster_id`` is given (and in scope)."""
    listed = [StoredTemplate(t, TemplateStatus.PUBLISHED, None) for t in builtin_templates().values()]
    if cluster_id is not None:
        rows = (
            await session.execute(
                select(survey_templates)
                .where(survey_templates.c.cluster_id == cluster_id, scope.clause(survey_templates.c.cluster_id))
                .order_by(survey_templates.c.id, survey_templates.c.version)
            )
        ).mappings()
        listed += [
            StoredTemplate(SurveyTemplate.model_validate(r["definition"]), TemplateStatus(r["status"]), r["cluster_id"])
            for r in rows
        ]
    return listed


async def template_id_taken(session: AsyncSession, template_id: str) -> bool:
    """Template ids are global (built-in and every cluster's), so a new id is checked across all clusters."""
    if template_id in builtin_ids():
        return True
    return await session.scalar(select(survey_templates.c.id).where(survey_templates.c.id == template_id)) is not None


async def next_version(session: AsyncSession, template_id: str) -> int:
    latest = await session.scalar(
        select(func.max(survey_templates.c.version)).where(survey_templates.c.id == template_id)
    )
    return int(latest or 0) + 1


async def save_draft(
    session: AsyncSession, scope: Scope, template: SurveyTemplate, cluster_id: str, now: datetime
) -> None:
    """Write a draft: replaces the draft of that version, or adds the version (published rows never change)."""
    if not scope.allows(cluster_id):
        raise PermissionError(f"cluster {cluster_id!r} is outside the caller's scope")
    exists = await session.scalar(
        select(survey_templates.c.status).where(
            survey_templates.c.id == template.id, survey_templates.c.version == template.version
        )
    )
    definition = template.model_dump(mode="json", by_alias=True, exclude_none=True)
    if exists is None:
        await session.execute(
            insert(survey_templates).values(
                id=template.id,
                version=template.version,
                cluster_id=cluster_id,
                status=TemplateStatus.DRAFT,
                definition=definition,
                created_at=now,
            )
        )
        return
    if exists != TemplateStatus.DRAFT:
        raise ValueError(f"{template.key} is published and cannot change")
    await session.execute(
        update(survey_templates)
        .where(
            survey_templates.c.id == template.id,
            survey_templates.c.version == template.version,
            survey_templates.c.status == TemplateStatus.DRAFT,
            survey_templates.c.cluster_id == cluster_id,
        )
        .values(definition=definition)
    )


async def publish(session: AsyncSession, scope: Scope, template_id: str, version: int, now: datetime) -> bool:
    result = await session.execute(
        update(survey_templates)
        .where(
            survey_templates.c.id == template_id,
            survey_templates.c.version == version,
            survey_templates.c.status == TemplateStatus.DRAFT,
            scope.clause(survey_templates.c.cluster_id),
        )
        .values(status=TemplateStatus.PUBLISHED, published_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
