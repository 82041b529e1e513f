"""The session cookie and the forms' CSRF tokens, both signed with the console's secret (itsdangerous).

The cookie holds the person's bearer token, so it is HttpOnly (scripts never see it), SameSite=Lax (other
sites' forms do not carry it) and Secure outside dev. Every session, signed in or not, has a random CSRF value;
a form carries it signed with a different salt, and a POST is accepted only when both agree.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "trellis_console"
_SESSION_SALT = "trellis-console-session"
_CSRF_SALT = "trellis-console-csrf"


@dataclass(frozen=True)
class Session:
    csrf: str
    token: str | None = None
    name: str | None = None
    language: str | None = None  # chosen with ?lang=, kept across pages

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def signed_out(self) -> Session:
        return Session(csrf=secrets.token_urlsafe(24), language=self.language)

    def signed_in_as(self, token: str, name: str) -> Session:
        # A new CSRF value at sign-in: one learnt before cannot be used in the signed-in session.
        return replace(self, token=token, name=name, csrf=secrets.token_urlsafe(24))


def new_session() -> Session:
    return Session(csrf=secrets.token_urlsafe(24))


class SessionSigner:
    def __init__(self, secret: str, max_age_s: int) -> None:
        self._sessions = URLSafeTimedSerializer(secret, salt=_SESSION_SALT)
        self._csrf = URLSafeTimedSerializer(secret, salt=_CSRF_SALT)
        self.max_age_s = max_age_s

    def dump(self, session: Session) -> str:
        body: dict[str, Any] = {"c": session.csrf, "l": session.language}
        if session.token is not None:
            body.update(t=session.token, n=session.name or "")
        return self._sessions.dumps(body)

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
        token, name, language = body.get("t"), body.get("n"), body.get("l")
        if token is not None and not isinstance(token, str):
            return None
        return Session(
            csrf=body["c"],
            token=token,
            name=name if isinstance(name, str) else None,
            language=language if isinstance(language, str) else None,
        )

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
