"""The session cookie and the forms' CSRF tokens, both signed with the console's secret (itsdangerous).

The cookie holds the person's bearer token (and, with an OIDC provider, its refresh token), so it is HttpOnly
(scripts never see it), SameSite=Lax (other
sites' forms do not carry it) and Secure outside dev. Every session, signed in or not, has a random CSRF value;
a form carries it signed with a different salt, and a POST is accepted only when both agree.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from trellis_console.oidc import PendingSignIn

COOKIE = "trellis_console"
PENDING_COOKIE = "trellis_console_signin"  # between leaving for the OIDC provider and coming back
PENDING_MAX_AGE_S = 600
# Browsers drop a cookie over 4,096 bytes without a word, which would loop people through sign-in.
COOKIE_LIMIT = 4000
_SESSION_SALT = "trellis-console-session"
_CSRF_SALT = "trellis-console-csrf"
_PENDING_SALT = "trellis-console-oidc-pending"


class CookieTooLarge(Exception):
    """The provider's tokens do not fit in a cookie (its access tokens are unusually large)."""


@dataclass(frozen=True)
class Session:
    csrf: str
    token: str | None = None
    name: str | None = None
    language: str | None = None  # chosen with ?lang=, kept across pages
    refresh: str | None = None  # the OIDC refresh token, when the provider gave one

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def signed_out(self) -> Session:
        return Session(csrf=secrets.token_urlsafe(24), language=self.language)

    def signed_in_as(self, token: str, name: str | None, refresh: str | None = None) -> Session:
        # A new CSRF value at sign-in: one learnt before cannot be used in the signed-in session.
        return replace(self, token=token, name=name, refresh=refresh, csrf=secrets.token_urlsafe(24))

    def with_tokens(self, token: str, refresh: str | None) -> Session:
        """The same session after its access token was refreshed (the CSRF value stays: open forms still work)."""
        return replace(self, token=token, refresh=refresh)


def new_session() -> Session:
    return Session(csrf=secrets.token_urlsafe(24))


class SessionSigner:
    def __init__(self, secret: str, max_age_s: int) -> None:
        self._sessions = URLSafeTimedSerializer(secret, salt=_SESSION_SALT)
        self._csrf = URLSafeTimedSerializer(secret, salt=_CSRF_SALT)
        self._pending = URLSafeTimedSerializer(secret, salt=_PENDING_SALT)
        self.max_age_s = max_age_s

    def dump(self, session: Session) -> str:
        body: dict[str, Any] = {"c": session.csrf, "l": session.language}
        if session.token is not None:
            body.update(t=session.token, n=session.name or "")
            if session.refresh is not None:
                body["r"] = session.refresh
        dumped = self._sessions.dumps(body)
        if len(dumped) > COOKIE_LIMIT and "r" in body:
            # Too big with the refresh token: keep the session, sign in again when the access token ends.
            del body["r"]
            dumped = self._sessions.dumps(body)
        if len(dumped) > COOKIE_LIMIT:
            raise CookieTooLarge(len(dumped))
        return dumped

    def load(self, cookie: str | None) -> Session | None:
        """The session in the cookie, or None when there is none or it is tampered with or too old."""
        if not cookie:
            return None
        try:
            body = self._sessions.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("c"), str):
            return None
        token, name, language, refresh = body.get("t"), body.get("n"), body.get("l"), body.get("r")
        if token is not None and not isinstance(token, str):
            return None
        return Session(
            csrf=body["c"],
            token=token,
            name=name if isinstance(name, str) and name else None,
            language=language if isinstance(language, str) else None,
            refresh=refresh if isinstance(refresh, str) else None,
        )

    def dump_pending(self, pending: PendingSignIn) -> str:
        return self._pending.dumps([pending.state, pending.nonce, pending.verifier, pending.next])

    def load_pending(self, cookie: str | None) -> PendingSignIn | None:
        """The sign-in this browser started, or None when there is none, it is tampered with or too old."""
        if not cookie:
            return None
        try:
            body = self._pending.loads(cookie, max_age=PENDING_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(body, list) or len(body) != 4 or not all(isinstance(part, str) for part in body):
            return None
        return PendingSignIn(state=body[0], nonce=body[1], verifier=body[2], next=body[3])

    def csrf_token(self, session: Session) -> str:
        return self._csrf.dumps(session.csrf)

    def csrf_ok(self, session: Session, submitted: str | None) -> bool:
        if not submitted:
            return False
        try:
            value = self._csrf.loads(submitted, max_age=self.max_age_s)
        except BadSignature:
            return False
        return isinstance(value, str) and hmac.compare_digest(value, session.csrf)
