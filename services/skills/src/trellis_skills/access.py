"""Who may call what in the skills service (see docs/skills.md, "Access").

Reads use ``Reader`` and repositories filter by its scope; the taxonomy is reference data any role may read;
supply figures come from cluster managers and integrating systems (``Reporter``). Region figures count for
every cluster with a member in the region, so only a platform-wide caller may report them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException

from trellis_common.auth import Caller, Principal, Role, Scope, scope_for
from trellis_common.events import SupplyReported, SupplyScope
from trellis_skills.repository import may_report


async def any_role(caller: Caller) -> Principal:
    """Reference data: any verified caller holding a Trellis role, whatever its clusters."""
    if not caller.roles:
        raise HTTPException(status_code=403, detail="reading the taxonomy needs a Trellis role")
    return caller


RoleHolder = Annotated[Principal, Depends(any_role)]
Reporter = Annotated[Scope, Depends(scope_for(Role.CLUSTER_MANAGER, Role.INTEGRATION))]


def check_may_report(scope: Scope, report: SupplyReported) -> None:
    """403 before anything is stored when the figures are for clusters the caller does not manage.

    A 403 here tells nothing about other clusters: skills accepts figures for any cluster id in the scope,
    so the answer depends on the token only, never on what is stored.
    """
    if may_report(scope, report):
        return
    if report.scope is SupplyScope.REGION:
        detail = (
            "region figures count for every cluster with a member in the region: they need a platform-wide "
            'scope (an integration token for clusters "*") or the platform-admin role'
        )
    else:
        detail = f"you may not report figures for cluster {report.scope_id!r}"
    raise HTTPException(status_code=403, detail=detail)
