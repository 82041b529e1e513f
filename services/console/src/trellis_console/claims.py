"""What the console reads from the person's token to choose a page: roles and clusters, unverified.

The console only routes and hides buttons with them; the services verify the token on every call, so a forged
claim gains nothing but a page of errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from trellis_common.auth import ALL_CLUSTERS, Role


@dataclass(frozen=True)
class Claims:
    roles: frozenset[str]
    clusters: tuple[str, ...]

    @property
    def platform_admin(self) -> bool:
        return Role.PLATFORM_ADMIN in self.roles

    def may_write(self, cluster_id: str) -> bool:
        if self.platform_admin:
            return True
        return Role.CLUSTER_MANAGER in self.roles and (cluster_id in self.clusters or ALL_CLUSTERS in self.clusters)


def read_claims(token: str) -> Claims:
    try:
        body = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return Claims(frozenset(), ())
    roles, clusters = body.get("roles"), body.get("clusters")
    roles = roles if isinstance(roles, list) else []
    clusters = clusters if isinstance(clusters, list) else []
    return Claims(frozenset(str(r) for r in roles), tuple(str(c) for c in clusters if c != ALL_CLUSTERS))
