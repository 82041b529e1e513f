"""Bearer tokens: what a verifier accepts and what it refuses, with keys from a local JWKS file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from trellis_common import auth_local
from trellis_common.auth import AuthError, Principal, Role, TokenVerifier
from trellis_common.settings import ServiceSettings


@pytest.fixture
def keys(tmp_path: Path) -> auth_local.LocalKeys:
    return auth_local.load_or_generate(tmp_path)


@pytest.fixture
def verifier(tmp_path: Path, keys: auth_local.LocalKeys) -> TokenVerifier:
    return TokenVerifier(
        ServiceSettings(auth_issuer=auth_local.LOCAL_ISSUER, auth_jwks_file=str(tmp_path / auth_local.JWKS_FILE))
    )


async def test_a_valid_token_gives_its_subject_roles_and_clusters(
    verifier: TokenVerifier, keys: auth_local.LocalKeys
) -> None:
    token = keys.mint(subject="ana", roles=["cluster-manager", "astronaut"], clusters=["c1", "c2"])
    principal = await verifier.verify(token)
    assert principal == Principal("ana", frozenset({Role.CLUSTER_MANAGER}), frozenset({"c1", "c2"}))


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        (lambda k: k.mint(subject="a", roles=[], ttl=timedelta(minutes=-5)), "expired"),
        (lambda k: k.mint(subject="a", roles=[], audience="billing"), "audience"),
        (lambda k: k.mint(subject="a", roles=[], issuer="https://evil.example"), "issuer"),
        (lambda k: auth_local.generate().mint(subject="a", roles=[]), "unknown key"),
        (lambda k: _resigned_with_other_key_same_kid(k), "invalid token"),
        (lambda k: _unsigned(k), "algorithm 'none'"),
        (lambda k: _hmac_with_public_key(k), "algorithm 'HS256'"),
        (lambda k: k.mint(subject="a", roles=[], extra={"exp": None}), "invalid token"),
        (lambda k: "a.b", "malformed"),
    ],
    ids=["expired", "audience", "issuer", "unknown-kid", "forged", "alg-none", "hs256-confusion", "no-exp", "garbage"],
)
async def test_refused_tokens_say_why(
    verifier: TokenVerifier, keys: auth_local.LocalKeys, mint: object, reason: str
) -> None:
    token = mint(keys)  # type: ignore[operator]
    with pytest.raises(AuthError, match=reason):
        await verifier.verify(token)


def test_roles_and_clusters_can_come_from_provider_specific_claims(tmp_path: Path) -> None:
    settings = ServiceSettings(
        auth_issuer="https://idp.example/realms/x",
        auth_jwks_file=str(tmp_path / "jwks.json"),
        auth_roles_claim="realm_access.roles",
        auth_clusters_claim="trellis_clusters",
    )
    principal = TokenVerifier(settings).principal(
        {"sub": "svc", "realm_access": {"roles": ["integration", "offline_access"]}, "trellis_clusters": "c1 c2"}
    )
    assert principal == Principal("svc", frozenset({Role.INTEGRATION}), frozenset({"c1", "c2"}))


def test_what_each_role_may_do() -> None:
    manager = Principal("m", frozenset({Role.CLUSTER_MANAGER}), frozenset({"c1"}))
    assert manager.may(Role.CLUSTER_MANAGER, "c1")
    assert not manager.may(Role.CLUSTER_MANAGER, "c2")
    assert not manager.may(Role.CLUSTER_MANAGER, None), "a cluster role does not reach platform-wide data"
    assert not manager.may(Role.INTEGRATION, "c1")
    everywhere = Principal("i", frozenset({Role.INTEGRATION}), frozenset({"*"}))
    assert everywhere.may(Role.INTEGRATION, "c9") and everywhere.may(Role.INTEGRATION, None)
    admin = Principal("root", frozenset({Role.PLATFORM_ADMIN}), frozenset())
    assert admin.may(Role.CLUSTER_MANAGER, "c7") and admin.may(Role.INTEGRATION, None)


@pytest.mark.parametrize("algorithms", [["none"], ["HS256"], ["RS256", "HS512"], []])
def test_settings_refuse_unsafe_algorithms(algorithms: list[str]) -> None:
    with pytest.raises(ValidationError, match="refused"):
        ServiceSettings(auth_algorithms=algorithms)


def test_a_verifier_needs_an_issuer() -> None:
    with pytest.raises(ValueError, match="TRELLIS_AUTH_ISSUER"):
        TokenVerifier(ServiceSettings())


def _claims(keys: auth_local.LocalKeys) -> dict[str, object]:
    return jwt.decode(keys.mint(subject="a", roles=["platform-admin"]), options={"verify_signature": False})


def _resigned_with_other_key_same_kid(keys: auth_local.LocalKeys) -> str:
    other = auth_local.generate()
    forged = auth_local.LocalKeys({**other.private_jwk, "kid": keys.kid})
    return forged.mint(subject="a", roles=["platform-admin"])


def _b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _unsigned(keys: auth_local.LocalKeys) -> str:
    return f"{_b64({'alg': 'none', 'kid': keys.kid})}.{_b64(_claims(keys))}."


def _hmac_with_public_key(keys: auth_local.LocalKeys) -> str:
    """The classic key-confusion forgery: an HMAC keyed with the (public) verification key."""
    public = json.dumps(keys.jwks()["keys"][0]).encode()
    signing_input = f"{_b64({'alg': 'HS256', 'kid': keys.kid})}.{_b64(_claims(keys))}"
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
