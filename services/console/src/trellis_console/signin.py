"""Sign-in with the platform's local token issuer (development and embedded mode only): pick a demo person.

With an external OIDC issuer configured this is switched off (the authorization code flow comes later).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from trellis_common.auth import Role
from trellis_common.auth_local import LocalKeys

PersonRole = Literal["manager", "viewer", "admin"]
_ROLES: dict[PersonRole, Role] = {
    "manager": Role.CLUSTER_MANAGER,
    "viewer": Role.CLUSTER_VIEWER,
    "admin": Role.PLATFORM_ADMIN,
}


@dataclass(frozen=True)
class LocalPerson:
    key: str  # what the sign-in form posts
    name: str
    role: PersonRole
    cluster_id: str | None = None  # managers and viewers hold one cluster
    cluster_name: str | None = None


@dataclass(frozen=True)
class LocalSignIn:
    keys: LocalKeys
    people: Callable[[], Sequence[LocalPerson]]  # asked at each sign-in: the demo cluster may appear later
    ttl: timedelta = timedelta(hours=8)
    demo: bool = True  # embedded mode: the demo's manager and viewer join the list once the demo has run

    def person(self, key: str) -> LocalPerson | None:
        return next((p for p in self.people() if p.key == key), None)

    def mint(self, person: LocalPerson) -> str:
        clusters = [person.cluster_id] if person.cluster_id else []
        return self.keys.mint(
            subject=f"local:{person.key}", roles=[_ROLES[person.role]], clusters=clusters, ttl=self.ttl
        )
