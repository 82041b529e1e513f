"""A local token issuer for development, embedded mode and tests: one EC P-256 key, tokens signed ES256.

Production verifies tokens of the cluster's OIDC provider instead; nothing here is needed there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

LOCAL_ISSUER = "trellis-local"
PRIVATE_FILE = "private.jwk.json"
JWKS_FILE = "jwks.json"


@dataclass(frozen=True)
class LocalKeys:
    private_jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        return str(self.private_jwk["kid"])

    def jwks(self) -> dict[str, Any]:
        public = {k: v for k, v in self.private_jwk.items() if k != "d"}
        return {"keys": [public]}

    def mint(
        self,
        *,
        subject: str,
        roles: Iterable[str],
        clusters: Iterable[str] = (),
        issuer: str = LOCAL_ISSUER,
        audience: str = "trellis",
        ttl: timedelta = timedelta(hours=1),
        now: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        issued = now or datetime.now().astimezone()
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "iat": int(issued.timestamp()),
            "exp": int((issued + ttl).timestamp()),
            "jti": str(uuid.uuid4()),
            "roles": list(roles),
            "clusters": list(clusters),
            **(extra or {}),
        }
        key = jwt.PyJWK(self.private_jwk, algorithm="ES256").key
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": self.kid})


def generate() -> LocalKeys:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key, as_dict=True)
    jwk.update(kid=_thumbprint(jwk), alg="ES256", use="sig")
    return LocalKeys(jwk)


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 key thumbprint: a stable kid derived from the public key."""
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def write(keys: LocalKeys, directory: Path) -> tuple[Path, Path]:
    """Private key readable by the owner only; the JWKS is what services read (TRELLIS_AUTH_JWKS_FILE)."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / PRIVATE_FILE, directory / JWKS_FILE
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(keys.private_jwk, handle)
    public.write_text(json.dumps(keys.jwks(), indent=2), "utf-8")
    return private, public


def load(directory: Path) -> LocalKeys:
    return LocalKeys(json.loads((directory / PRIVATE_FILE).read_text("utf-8")))


def load_or_generate(directory: Path) -> LocalKeys:
    if (directory / PRIVATE_FILE).exists():
        return load(directory)
    keys = generate()
    write(keys, directory)
    return keys
