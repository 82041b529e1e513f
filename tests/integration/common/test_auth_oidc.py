"""Keys from a real HTTP issuer: OIDC discovery, the JWKS endpoint, and a key rotation picked up on its own."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from trellis_common import auth, auth_local
from trellis_common.auth import AuthError, Role, TokenVerifier
from trellis_common.settings import ServiceSettings


class Issuer:
    """A minimal OIDC provider: discovery document and JWKS, with keys that can be rotated."""

    def __init__(self) -> None:
        self.keys = [auth_local.generate()]
        self.jwks_requests = 0
        self.app = FastAPI()
        self.url = ""

        @self.app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {"issuer": self.url, "jwks_uri": f"{self.url}/certs"}

        @self.app.get("/certs")
        async def certs() -> dict[str, Any]:
            self.jwks_requests += 1
            return {"keys": [k.jwks()["keys"][0] for k in self.keys]}

    def mint(self, key: auth_local.LocalKeys, **claims: Any) -> str:
        return key.mint(subject="crm", roles=["integration"], clusters=["c1"], issuer=self.url, **claims)


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    provider = Issuer()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(provider.app, host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "the issuer did not start"
            await asyncio.sleep(0.01)
        yield provider
    finally:
        server.should_exit = True
        await serving


async def test_keys_are_discovered_from_the_issuer(issuer: Issuer) -> None:
    verifier = TokenVerifier(ServiceSettings(auth_issuer=issuer.url))
    principal = await verifier.verify(issuer.mint(issuer.keys[0]))
    assert principal.subject == "crm" and principal.may(Role.INTEGRATION, "c1")
    await verifier.verify(issuer.mint(issuer.keys[0]))
    assert issuer.jwks_requests == 1, "keys are cached between requests"


async def test_a_rotated_key_is_fetched_when_a_token_names_it(issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(ServiceSettings(auth_issuer=issuer.url, auth_jwks_url=f"{issuer.url}/certs"))
    await verifier.verify(issuer.mint(issuer.keys[0]))
    rotated = auth_local.generate()
    issuer.keys.append(rotated)
    monkeypatch.setattr(auth, "JWKS_MIN_REFRESH_S", 0.0)  # the refetch throttle is what is not under test here
    assert (await verifier.verify(issuer.mint(rotated))).subject == "crm"
    assert issuer.jwks_requests == 2
    with pytest.raises(AuthError, match="unknown key"):
        await verifier.verify(issuer.mint(auth_local.generate()))


async def test_an_unreachable_issuer_is_an_auth_error_not_a_crash() -> None:
    verifier = TokenVerifier(ServiceSettings(auth_issuer="http://127.0.0.1:9"))
    with pytest.raises(AuthError, match="cannot be loaded"):
        await verifier.verify(auth_local.generate().mint(subject="a", roles=[], issuer="http://127.0.0.1:9"))


async def test_made_up_key_ids_do_not_make_every_request_a_fetch(issuer: Issuer) -> None:
    verifier = TokenVerifier(ServiceSettings(auth_issuer=issuer.url))
    await verifier.verify(issuer.mint(issuer.keys[0]))
    for _ in range(5):
        with pytest.raises(AuthError, match="unknown key"):
            await verifier.verify(issuer.mint(auth_local.generate()))
    assert issuer.jwks_requests == 1, "within the refetch floor the cached keys answer"
