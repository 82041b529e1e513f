"""The signed links in match emails that let a member accept or decline a proposal with one click.

Matchmaking signs them (it owns the outcome) and puts them on each proposal of its
``matchmaking.partners.matched`` events, as surveys puts the survey link on its invitations; notifications only
renders them. The token names the match and when it was issued, signed for this purpose alone; it is not one-time
(the page it opens records an outcome idempotently), and it stops working ``reply_link_max_age_days`` after issue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from trellis_common.tokens import TokenError, TokenSigner
from trellis_matchmaking.settings import MatchmakingSettings

REPLY_PURPOSE = "matchmaking.reply.v1"
ReplyLink = Callable[[str], str]  # match id → the link


def _signer(settings: MatchmakingSettings) -> TokenSigner:
    return TokenSigner(settings.reply_signing_secret, REPLY_PURPOSE)


def reply_links(settings: MatchmakingSettings, issued_at: datetime) -> ReplyLink:
    """Links for proposals announced at ``issued_at`` (one signer for a whole announcement)."""
    signer = _signer(settings)
    return lambda match_id: f"{settings.public_base_url}/reply/{signer.dumps({'m': match_id}, issued_at)}"


def match_of(settings: MatchmakingSettings, token: str, now: datetime) -> str | None:
    """The match a reply token names, or None when it is not ours, was tampered with or has expired."""
    try:
        payload = _signer(settings).loads(token, now, settings.reply_link_max_age)
    except TokenError:
        return None
    return payload.get("m") or None
