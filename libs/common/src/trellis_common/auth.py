"""Who is calling: OAuth2/OIDC bearer tokens checked against the issuer's JWKS (PyJWT does the cryptography).

A cluster plugs in Keycloak, Entra ID or any OIDC provider by naming its issuer; development uses a local key
written by ``trellis auth keygen``. A token carries roles and the cluster ids they apply to.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from trellis_common.logging import get_logger
from trellis_common.repositories.scopes import in_scope
from trellis_common.settings import ServiceSettings

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

log = get_logger(__name__)

ALL_CLUSTERS = "*"
LEEWAY_S = 30  # clock skew between the issuer and us
JWKS_TTL_S = 600.0
JWKS_MIN_REFRESH_S = 30.0  # an unknown kid refetches the keys, but not more often than this


class Role(StrEnum):
    PLATFORM_ADMIN = "platform-admin"
    CLUSTER_MANAGER = "cluster-manager"
    CLUSTER_VIEWER = "cluster-viewer"
    INTEGRATION = "integration"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    clusters: frozenset[str]

    def may(self, role: Role, cluster_id: str | None = None) -> bool:
        """Whether the caller holds ``role`` for ``cluster_id`` (``None``: for the whole platform)."""
        if Role.PLATFORM_ADMIN in self.roles:
            return True
        if role not in self.roles:
            return False
        if ALL_CLUSTERS in self.clusters:
            return True
        return cluster_id is not None and cluster_id in self.clusters


READ_ROLES = (Role.CLUSTER_VIEWER, Role.CLUSTER_MANAGER, Role.INTEGRATION)
WRITE_ROLES = (Role.CLUSTER_MANAGER,)


@dataclass(frozen=True)
class Scope:
    """The clusters a request may touch: ``clusters is None`` means all of them (platform-wide callers).

    Repositories take a scope and filter every query by it, so a route cannot forget to: an object outside the
    scope is simply not found (404), which also keeps other clusters' ids from being probed.
    """

    subject: str
    clusters: frozenset[str] | None

    @classmethod
    def everything(cls, subject: str = "system") -> Scope:
        """For work the service does on its own (event handlers, schedules), never for a request."""
        return cls(subject, None)

    @classmethod
    def of(cls, principal: Principal, roles: tuple[Role, ...]) -> Scope:
        if Role.PLATFORM_ADMIN in principal.roles:
            return cls(principal.subject, None)
        if not principal.roles.intersection(roles):
            return cls(principal.subject, frozenset())
        if ALL_CLUSTERS in principal.clusters:
            return cls(principal.subject, None)
        return cls(principal.subject, principal.clusters - {ALL_CLUSTERS})

    @property
    def platform_wide(self) -> bool:
        return self.clusters is None

    def allows(self, cluster_id: str | None) -> bool:
        """``None`` stands for platform-wide data (e.g. the partner directory): only platform-wide scopes."""
        if self.clusters is None:
            return True
        return cluster_id is not None and cluster_id in self.clusters

    def clause(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """A WHERE condition keeping rows of the scope's clusters (built by the repositories' scope filter)."""
        return in_scope(self, column)


class AuthError(Exception):
    """The token is missing or not acceptable; the message says why (it goes to the caller)."""


# What a missing, unreachable or malformed JWKS or discovery document raises.
_LOAD_ERRORS = (OSError, ValueError, TypeError, KeyError, AttributeError, httpx.HTTPError, jwt.PyJWKSetError)


class KeySource:
    """The issuer's signing keys: from a JWKS URL (cached, refetched on an unknown kid) or a local file."""

    def __init__(self, *, url: str | None = None, file: str | None = None, issuer: str | None = None) -> None:
        self._url, self._file, self._issuer = url, file, issuer
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._attempted_at = -JWKS_MIN_REFRESH_S
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        if not self._keys or time.monotonic() - self._fetched_at > JWKS_TTL_S:
            await self._refresh(unknown_kid=False)
        key = self._pick(kid)
        if key is None:
            await self._refresh(unknown_kid=True)  # the issuer may have rotated its keys
            key = self._pick(kid)
        if key is None:
            raise AuthError("token signed with an unknown key")
        return key

    def _pick(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, *, unknown_kid: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            fresh = self._keys and now - self._fetched_at <= JWKS_TTL_S
            # At most one fetch per JWKS_MIN_REFRESH_S, successful or not: tokens with made-up kids, or an issuer
            # that is down, must not turn every request into a fetch. Requests that waited here find it done.
            if (fresh and not unknown_kid) or now - self._attempted_at < JWKS_MIN_REFRESH_S:
                if not self._keys:
                    raise AuthError("the token issuer's keys cannot be loaded; try again later")
                return
            self._attempted_at = now
            try:
                document = await self._load()
                keys = jwt.PyJWKSet.from_dict(document).keys
            except _LOAD_ERRORS as exc:
                log.warning("jwks_unavailable", error=str(exc))
                if not self._keys:
                    raise AuthError("the token issuer's keys cannot be loaded; try again later") from exc
                return
            self._keys = {key.key_id or str(index): key for index, key in enumerate(keys)}
            self._fetched_at = time.monotonic()

    async def _load(self) -> dict[str, Any]:
        if self._file:
            text = await asyncio.to_thread(Path(self._file).read_text, "utf-8")
            loaded: dict[str, Any] = json.loads(text)
            return loaded
        async with httpx.AsyncClient(timeout=10) as client:
            url = self._url
            if url is None:
                discovery = f"{(self._issuer or '').rstrip('/')}/.well-known/openid-configuration"
                url = str((await _get_json(client, discovery))["jwks_uri"])
            return await _get_json(client, url)


async def _get_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        if not settings.auth_issuer:
            raise ValueError("authentication needs TRELLIS_AUTH_ISSUER (and a JWKS URL, file or OIDC discovery)")
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.algorithms = list(settings.auth_algorithms)
        self.roles_claim = settings.auth_roles_claim
        self.clusters_claim = settings.auth_clusters_claim
        self.keys = KeySource(url=settings.auth_jwks_url, file=settings.auth_jwks_file, issuer=settings.auth_issuer)

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed bearer token") from exc
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:  # never 'none', never an HMAC keyed with a public key
            raise AuthError(f"token algorithm {algorithm!r} is not accepted")
        key = await self.keys.key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(f"token is not for this audience (expected {self.audience!r})") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("token is from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        return self.principal(claims)

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        roles = frozenset(Role(name) for name in claim_strings(claim_at(claims, self.roles_claim)) if name in set(Role))
        return Principal(str(claims["sub"]), roles, frozenset(claim_strings(claim_at(claims, self.clusters_claim))))


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by dotted path, e.g. Keycloak's ``realm_access.roles``."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def claim_strings(value: Any) -> list[str]:
    """A claim that may be a space-separated string (OAuth scopes) or a list, as a list of strings."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _unauthorised(reason: str) -> HTTPException:
    # The reason may quote the token's own header: it goes in the JSON body, never into a response header.
    return HTTPException(status_code=401, detail=reason, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


# Declares the scheme in the OpenAPI document (components.securitySchemes.bearer, and `security` on every
# operation that depends on it, so Swagger UI offers "Authorize"); it never refuses: ``authenticate`` does.
bearer_token = HTTPBearer(scheme_name="bearer", bearerFormat="JWT", auto_error=False)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_token)]
) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    verifier: TokenVerifier | None = getattr(request.app.state, "verifier", None)
    if verifier is None:
        raise HTTPException(status_code=503, detail="authentication is not configured on this service")
    if credentials is None:  # no Authorization header, another scheme, or no token after "Bearer"
        raise HTTPException(
            status_code=401,
            detail="a bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        principal = await verifier.verify(credentials.credentials)
    except AuthError as exc:
        raise _unauthorised(str(exc)) from exc
    request.state.principal = principal  # for the audit log
    return principal


Caller = Annotated[Principal, Depends(authenticate)]


async def read_scope(caller: Caller) -> Scope:
    """FastAPI dependency: the clusters the caller may read; 403 when it may read none."""
    scope = Scope.of(caller, READ_ROLES)
    if scope.clusters is not None and not scope.clusters:
        raise HTTPException(status_code=403, detail="reading needs a viewer, manager or integration role on a cluster")
    return scope


async def write_scope(caller: Caller) -> Scope:
    """FastAPI dependency: the clusters the caller may change; 403 when it manages none (e.g. a viewer)."""
    scope = Scope.of(caller, WRITE_ROLES)
    if scope.clusters is not None and not scope.clusters:
        raise HTTPException(status_code=403, detail="changes need the cluster-manager role")
    return scope


async def admin_scope(caller: Caller) -> Scope:
    """FastAPI dependency: platform-wide changes (e.g. the partner directory) are for platform admins only."""
    if Role.PLATFORM_ADMIN not in caller.roles:
        raise HTTPException(status_code=403, detail="this needs the platform-admin role")
    return Scope(caller.subject, None)


def scope_for(*roles: Role) -> Callable[[Principal], Awaitable[Scope]]:
    """A dependency for a route other roles may use too, e.g. ``Depends(scope_for(CLUSTER_MANAGER, INTEGRATION))``
    for figures a manager or an integrating system may post."""

    async def dependency(caller: Caller) -> Scope:
        scope = Scope.of(caller, roles)
        if scope.clusters is not None and not scope.clusters:
            raise HTTPException(status_code=403, detail=f"this needs one of the roles {', '.join(roles)}")
        return scope

    return dependency


Reader = Annotated[Scope, Depends(read_scope)]
Writer = Annotated[Scope, Depends(write_scope)]
Admin = Annotated[Scope, Depends(admin_scope)]
