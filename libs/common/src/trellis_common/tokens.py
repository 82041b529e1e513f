"""Signed, timestamped tokens for links in emails and pages (unsubscribe, accept or decline a match), with itsdangerous.

The payload and its issue time are signed together, salted with a *purpose*: a token made for one purpose
never verifies for another, and changing the secret voids every token. The age is checked against the
caller's clock (the service's injectable clock), not the signer's wall clock. Tokens are not secret (they
travel in URLs) and not one-time: they only serve idempotent actions, so a replay does nothing new.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer


class TokenError(ValueError):
    """The token is malformed, tampered with, made for another purpose, or too old."""


class _UrlSafe(URLSafeSerializer):
    """URL-safe tokens without the attempt to compress each one: our payloads are a few dozen bytes, which zlib
    never shortens, and the attempt cost more than the signature (a match event signs a link per proposal). The
    tokens are those the library makes when compression does not pay; compressed ones still load."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


class TokenSigner:
    def __init__(self, secret: str, purpose: str) -> None:
        if not secret:
            raise ValueError("a token secret must not be empty")
        if not purpose:
            raise ValueError("a token purpose must not be empty")
        self._serializer = _UrlSafe(secret, salt=f"trellis-token|{purpose}")

    def dumps(self, payload: dict[str, str], issued_at: datetime) -> str:
        # Sorted, so the same payload gives the same token: a resent email is byte-identical.
        return str(self._serializer.dumps({"p": dict(sorted(payload.items())), "t": int(issued_at.timestamp())}))

    def loads(self, token: str, now: datetime, max_age: timedelta) -> dict[str, str]:
        """The payload, if the token is ours, for this purpose, and not older than ``max_age``."""
        try:
            body = self._serializer.loads(token)
        except BadSignature as exc:
            raise TokenError("token signature does not match") from exc
        if not isinstance(body, dict) or not isinstance(body.get("t"), int):
            raise TokenError("token body is not ours")
        age_s = now.timestamp() - body["t"]
        if age_s > max_age.total_seconds():
            raise TokenError("token has expired")
        if age_s < -300:  # a token from the future: clocks disagree by more than they should
            raise TokenError("token is not valid yet")
        payload = body.get("p")
        if not isinstance(payload, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in payload.items()
        ):
            raise TokenError("token payload must be an object of strings")
        return payload
