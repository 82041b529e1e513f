"""What the console reads from the person's token to choose a page: roles and clusters, unverified.

The console only routes and hides buttons with them; the services verify the token on every call, so a forged
claim gains nothing but a page of errors. Where the provider puts them is configured as for the services
(e.g. Keycloak's ``realm_access.roles``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from trellis_common.auth import ALL_CLUSTERS, Role, claim_at, claim_strings


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


def read_claims(token: str, roles_claim: str = "roles", clusters_claim: str = "clusters") -> Claims:
    try:
        body = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return Claims(frozenset(), ())
    roles, clusters = claim_strings(claim_at(body, roles_claim)), claim_strings(claim_at(body, clusters_claim))
    return Claims(frozenset(roles), tuple(c for c in clusters if c != ALL_CLUSTERS))
