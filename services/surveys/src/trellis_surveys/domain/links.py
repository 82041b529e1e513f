"""Signed, expiring survey links and the form token bound to them (itsdangerous).

The link token is an itsdangerous signature over the invitation id and the moment the link expires, salted
with a *purpose*, so a token signed for one purpose is worthless for another. Expiry is carried in the
payload and checked against the caller's clock rather than the signer's wall clock, which keeps the rule
testable with the service's injectable clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer

INVITATION_PURPOSE = "survey-invitation"
FORM_PURPOSE = "survey-form"


class LinkProblem(StrEnum):
    FORGED = "forged"
    EXPIRED = "expired"


class BadLink(Exception):
    def __init__(self, problem: LinkProblem, invitation_id: str | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.invitation_id = invitation_id


@dataclass(frozen=True)
class LinkClaims:
    invitation_id: str
    expires_at: datetime


class LinkSigner:
    def __init__(self, secret: str, purpose: str = INVITATION_PURPOSE) -> None:
        if not secret:
            raise ValueError("a link secret is required")
        self._serializer = URLSafeSerializer(secret, salt=f"trellis-surveys:{purpose}")

    def sign(self, invitation_id: str, expires_at: datetime) -> str:
        return str(self._serializer.dumps({"i": invitation_id, "e": int(expires_at.timestamp())}))

    def verify(self, token: str, now: datetime) -> LinkClaims:
        """The claims of a genuine, unexpired token; ``BadLink`` otherwise."""
        try:
            body = self._serializer.loads(token)
            claims = LinkClaims(str(body["i"]), datetime.fromtimestamp(int(body["e"]), UTC))
        except (BadSignature, ValueError, KeyError, TypeError) as exc:
            raise BadLink(LinkProblem.FORGED) from exc
        if now >= claims.expires_at:
            raise BadLink(LinkProblem.EXPIRED, claims.invitation_id)
        return claims


def form_token(secret: str, link_token: str) -> str:
    """CSRF token for the answering form: only a page served for this link can post to it."""
    return str(URLSafeSerializer(secret, salt=f"trellis-surveys:{FORM_PURPOSE}").dumps(link_token))


def form_token_valid(secret: str, link_token: str, candidate: str) -> bool:
    try:
        bound = URLSafeSerializer(secret, salt=f"trellis-surveys:{FORM_PURPOSE}").loads(candidate or "")
    except BadSignature:
        return False
    return bool(bound == link_token)
