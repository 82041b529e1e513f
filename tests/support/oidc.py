"""A real OpenID Connect provider as its own process (mock-oauth2-server, whose jars ``scripts/infra up`` fetches):
the authorization code flow with PKCE, signed JWT access tokens, refresh tokens, RP-initiated logout, and a login
form where the test types who signs in and their claims."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.polling import eventually
from tests.support.processes import free_port

ISSUER_ID = "trellis"
CONSOLE_CLIENT = "trellis-console"
ADMIN_CLIENT = "test-admin"  # client credentials grant: a platform admin's token for seeding data
API_AUDIENCE = "trellis"  # what the services check (TRELLIS_AUTH_AUDIENCE's default)
MAIN_CLASS = "no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt"


def _config() -> dict[str, Any]:
    audience = {"aud": [API_AUDIENCE, CONSOLE_CLIENT], "azp": CONSOLE_CLIENT}
    return {
        "interactiveLogin": True,
        "httpServer": "NettyWrapper",
        "tokenCallbacks": [
            {
                "issuerId": ISSUER_ID,
                "tokenExpiry": 3600,
                # The first mapping that matches wins: the seeding client, then everyone else (the console).
                "requestMappings": [
                    {
                        "requestParam": "client_id",
                        "match": ADMIN_CLIENT,
                        "claims": {**audience, "sub": "test-admin", "roles": ["platform-admin"]},
                    },
                    {"requestParam": "client_id", "match": "*", "claims": audience},
                ],
            }
        ],
    }


class OidcServer:
    def __init__(self, libs: str, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.process = subprocess.Popen(
            ["java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", f"{libs}/*", MAIN_CLASS],
            env={**os.environ, "SERVER_PORT": str(self.port), "JSON_CONFIG": json.dumps(_config())},
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ISSUER_ID}"

    async def wait_ready(self, timeout: float = 60) -> None:
        async with httpx.AsyncClient(timeout=2) as client:

            async def ready() -> bool:
                if self.process.poll() is not None:
                    log = self.log_path.read_text(errors="replace")[-3000:]
                    raise AssertionError(f"the OIDC provider exited with {self.process.returncode}:\n{log}")
                try:
                    found = await client.get(f"{self.issuer}/.well-known/openid-configuration")
                except httpx.TransportError:
                    return False
                return found.status_code == 200

            await eventually(ready, timeout=timeout, interval=0.1, what="the OIDC provider to answer")

    async def admin_token(self) -> str:
        """A platform admin's access token (client credentials), as an integrating system would hold."""
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{self.issuer}/token",
                data={"grant_type": "client_credentials", "client_id": ADMIN_CLIENT, "client_secret": "unused"},
            )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token

    def service_env(self) -> dict[str, str]:
        """Environment that makes a service trust this provider's tokens instead of the local test issuer."""
        return {
            "TRELLIS_AUTH_ISSUER": self.issuer,
            "TRELLIS_AUTH_JWKS_URL": f"{self.issuer}/jwks",
            "TRELLIS_AUTH_JWKS_FILE": "",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def oidc_server_libs() -> str:
    libs = os.environ.get("TRELLIS_TEST_OIDC_SERVER_LIBS")
    if not libs or not Path(libs).is_dir():
        pytest.fail("TRELLIS_TEST_OIDC_SERVER_LIBS is not set or missing: run the suite with scripts/test")
    return libs
