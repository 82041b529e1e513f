"""The audit log: every successful change made through a service's API (who, what, when), and the route
platform admins query it with. Reads and refused requests are not recorded; the request log has those."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel

from trellis_common.auth import Admin, Principal
from trellis_common.logging import get_logger
from trellis_common.repositories.audit import audit_entries, record_change
from trellis_common.runtime import ServiceRuntime

log = get_logger(__name__)
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def record(runtime: ServiceRuntime, request: Request, status: int, correlation_id: str | None) -> None:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or request.method not in CHANGES or status >= 400:
        return  # anonymous member pages (signed links) and failed attempts are in the request log only
    try:
        async with runtime.db.sessions() as session, session.begin():
            await record_change(
                session,
                at=runtime.clock.now(),
                actor=principal.subject[:256],
                roles=",".join(sorted(principal.roles))[:200],
                method=request.method,
                path=request.url.path[:500],
                status=status,
                correlation_id=correlation_id,
            )
    except Exception as exc:  # the change is done; a lost audit row must not turn it into an error
        log.error("audit_record_failed", path=request.url.path, error=repr(exc))


class AuditEntry(BaseModel):
    id: int
    at: AwareDatetime
    actor: str
    roles: str
    method: str
    path: str
    status: int
    correlation_id: str | None


def audit_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/audit", response_model=list[AuditEntry], summary="Changes made through this API (platform admins)")
    async def list_audit(
        _admin: Admin,
        actor: Annotated[str | None, Query(max_length=256)] = None,
        since: AwareDatetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        async with runtime.db.sessions() as session:
            return await audit_entries(session, actor=actor, since=since, limit=limit, offset=offset)

    return router
