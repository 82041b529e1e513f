"""Sign-in with the organisation's OpenID Connect provider: the authorization code flow with PKCE.

Authlib builds the protocol's requests (authorization URL, PKCE challenge, token request); the console sends
them with its own HTTP client, and checks the ID token with the same key handling as the services
(``trellis_common.auth.KeySource``: the issuer's JWKS found through discovery, refetched when keys rotate).
The access token the provider issues is what the console sends to the services, so their rules decide.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from trellis_common.auth import LEEWAY_S, AuthError, KeySource, claim_at
from trellis_common.logging import get_logger

log = get_logger(__name__)

# Asymmetric algorithms only: never 'none', never an HMAC keyed with something public.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
DISCOVERY_RETRY_S = 30.0
REFRESH_BEFORE_S = 60  # refresh an access token that has less than this left, so no page call fails on expiry


class SignInFailed(Exception):
    """The provider refused or could not be reached; the message is for the log, never for the page."""


@dataclass(frozen=True)
class PendingSignIn:
    """What the console must remember between sending the browser to the provider and its return."""

    state: str
    nonce: str
    verifier: str  # PKCE code verifier; only its S256 hash travels in the browser's URL
    next: str


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str | None
    name: str | None  # from the ID token, for the header; None when the provider gave no readable name


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str
    name_claim: str


class OidcSignIn:
    def __init__(self, config: OidcConfig, *, timeout_s: float = 10.0) -> None:
        self.config = config
        self._http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._keys = KeySource(issuer=config.issuer)
        self._metadata: dict[str, Any] | None = None
        self._failed_at = -DISCOVERY_RETRY_S

    async def aclose(self) -> None:
        await self._http.aclose()

    async def begin(self, redirect_uri: str, next_path: str) -> tuple[str, PendingSignIn]:
        """The provider's URL to send the browser to, and what to keep until it comes back."""
        metadata = await self._discovery()
        pending = PendingSignIn(
            state=generate_token(32), nonce=generate_token(32), verifier=generate_token(64), next=next_path
        )
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            self.config.client_id,
            "code",
            redirect_uri,
            self.config.scopes,
            pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256",
        )
        return url, pending

    async def finish(self, code: str, pending: PendingSignIn, redirect_uri: str) -> Tokens:
        """Trade the code for tokens (proving the PKCE verifier) and check the ID token it came with."""
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=pending.verifier
        )
        answer = await self._token_request(body)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the provider answered without an ID token (is 'openid' among the scopes?)")
        claims = await self._verified_id_token(id_token)
        if claims.get("nonce") != pending.nonce:
            raise SignInFailed("the ID token's nonce is not the one this sign-in sent")
        return Tokens(access=_access_token(answer), refresh=_refresh_token(answer), name=self._name(claims))

    async def refresh(self, refresh_token: str, name: str | None) -> Tokens:
        body = prepare_token_request("refresh_token", refresh_token=refresh_token, scope=self.config.scopes)
        answer = await self._token_request(body)
        # Providers may rotate the refresh token; without a new one the old one stays valid.
        return Tokens(access=_access_token(answer), refresh=_refresh_token(answer) or refresh_token, name=name)

    async def end_session_url(self, after: str) -> str | None:
        """Where to send the browser so the provider ends its session too (RP-initiated logout), if it can."""
        try:
            metadata = await self._discovery()
        except SignInFailed:
            return None
        endpoint = metadata.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query = httpx.QueryParams(client_id=self.config.client_id, post_logout_redirect_uri=after)
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def _discovery(self) -> dict[str, Any]:
        if self._metadata is not None:
            return self._metadata
        if time.monotonic() - self._failed_at < DISCOVERY_RETRY_S:
            raise SignInFailed("the provider's discovery document could not be loaded a moment ago")
        url = f"{self.config.issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            metadata = response.json()
            for endpoint in ("authorization_endpoint", "token_endpoint"):
                if not isinstance(metadata.get(endpoint), str):
                    raise ValueError(f"no {endpoint}")
        except (httpx.HTTPError, ValueError) as exc:
            self._failed_at = time.monotonic()
            raise SignInFailed(f"discovery at {url} failed: {exc}") from exc
        self._metadata = dict(metadata)
        return self._metadata

    async def _token_request(self, body: str) -> dict[str, Any]:
        metadata = await self._discovery()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.config.client_secret:  # client_secret_basic: both parts form-encoded first (RFC 6749 §2.3.1)
            pair = f"{quote_plus(self.config.client_id)}:{quote_plus(self.config.client_secret)}"
            headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
        else:
            body = f"{body}&{httpx.QueryParams(client_id=self.config.client_id)}"  # a public client names itself
        try:
            response = await self._http.post(metadata["token_endpoint"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SignInFailed(f"token endpoint unreachable: {exc!r}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200 or not isinstance(answer, dict):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise SignInFailed(f"token endpoint answered {response.status_code} ({error or 'no error code'})")
        return answer

    async def _verified_id_token(self, id_token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
            algorithm = header.get("alg")
            if algorithm not in ID_TOKEN_ALGORITHMS:
                raise SignInFailed(f"ID token algorithm {algorithm!r} is not accepted")
            key = await self._keys.key_for(header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[algorithm],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, AuthError) as exc:
            raise SignInFailed(f"ID token rejected: {exc}") from exc
        return claims

    def _name(self, claims: dict[str, Any]) -> str | None:
        for path in (self.config.name_claim, "name", "preferred_username", "email"):
            value = claim_at(claims, path)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None  # the subject is often an opaque id: never shown


def _access_token(answer: dict[str, Any]) -> str:
    token = answer.get("access_token")
    if not isinstance(token, str) or answer.get("token_type", "Bearer").lower() != "bearer":
        raise SignInFailed("the provider answered without a bearer access token")
    return token


def _refresh_token(answer: dict[str, Any]) -> str | None:
    token = answer.get("refresh_token")
    return token if isinstance(token, str) else None


def expires_soon(access_token: str, now: float | None = None) -> bool:
    """Whether the token's ``exp`` (read unverified: the services verify) is within REFRESH_BEFORE_S."""
    try:
        exp = jwt.decode(access_token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return False  # not a JWT we can read: the services' 401 tells us
    if not isinstance(exp, int | float):
        return False
    return exp - (time.time() if now is None else now) < REFRESH_BEFORE_S
