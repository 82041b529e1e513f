"""One local token issuer for the whole test session: services trust its JWKS, tests mint tokens from it."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from functools import cache
from pathlib import Path

from trellis_common import auth_local

ADMIN_ROLES = ("platform-admin",)


@cache
def keys_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="trellis-test-auth-"))
    auth_local.write(auth_local.generate(), directory)
    return directory


@cache
def keys() -> auth_local.LocalKeys:
    return auth_local.load(keys_dir())


def auth_settings() -> dict[str, str]:
    """Settings overrides that make a service trust the session's issuer."""
    return {"auth_issuer": auth_local.LOCAL_ISSUER, "auth_jwks_file": str(keys_dir() / auth_local.JWKS_FILE)}


def auth_env() -> dict[str, str]:
    return {f"TRELLIS_{name.upper()}": value for name, value in auth_settings().items()}


def token(*roles: str, clusters: tuple[str, ...] = (), subject: str = "tester") -> str:
    return keys().mint(subject=subject, roles=roles, clusters=clusters, ttl=timedelta(hours=12))


def bearer(*roles: str, clusters: tuple[str, ...] = (), subject: str = "tester") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles, clusters=clusters, subject=subject)}"}


def admin() -> dict[str, str]:
    """Headers of a platform admin: what tests that are not about authorisation call the APIs with."""
    return bearer(*ADMIN_ROLES, subject="test-admin")
