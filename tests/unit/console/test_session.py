"""The console's session cookie and CSRF tokens: what one secret signs, another cannot read or forge."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import ValidationError

from trellis_console.session import Session, SessionSigner, new_session
from trellis_console.settings import ConsoleSettings

SECRET = "s" * 32


def test_a_session_survives_the_round_trip_through_its_cookie() -> None:
    signer = SessionSigner(SECRET, 3600)
    session = new_session().signed_in_as("a.b.c", "Eva Steiner")
    assert signer.load(signer.dump(session)) == session


def test_signing_in_changes_the_csrf_value_and_signing_out_keeps_only_the_language() -> None:
    before = Session(csrf="before", language="de")
    signed_in = before.signed_in_as("token", "Eva")
    assert signed_in.csrf != before.csrf and signed_in.signed_in
    signed_out = signed_in.signed_out()
    assert not signed_out.signed_in and signed_out.name is None and signed_out.language == "de"
    assert signed_out.csrf != signed_in.csrf


def test_a_tampered_foreign_or_expired_cookie_is_no_session() -> None:
    signer = SessionSigner(SECRET, 3600)
    cookie = signer.dump(new_session().signed_in_as("token", "Eva"))
    assert signer.load(cookie[:-2] + ("xx" if not cookie.endswith("xx") else "yy")) is None
    assert SessionSigner("t" * 32, 3600).load(cookie) is None
    assert signer.load(None) is None and signer.load("") is None
    forged = URLSafeTimedSerializer(SECRET, salt="another-salt").dumps({"c": "x", "t": "token"})
    assert signer.load(forged) is None
    assert SessionSigner(SECRET, -1).load(cookie) is None, "older than the session's maximum age"


def test_a_csrf_token_is_good_for_its_own_session_only() -> None:
    signer = SessionSigner(SECRET, 3600)
    mine, theirs = new_session(), new_session()
    token = signer.csrf_token(mine)
    assert signer.csrf_ok(mine, token)
    assert not signer.csrf_ok(theirs, token)
    assert not signer.csrf_ok(mine, None) and not signer.csrf_ok(mine, "")
    assert not signer.csrf_ok(mine, mine.csrf), "the bare value is not a signed token"
    assert not SessionSigner("t" * 32, 3600).csrf_ok(mine, token)


def test_the_session_cookie_and_the_csrf_token_are_not_interchangeable() -> None:
    signer = SessionSigner(SECRET, 3600)
    session = new_session()
    assert signer.load(signer.csrf_token(session)) is None
    assert not signer.csrf_ok(session, signer.dump(session))


def test_outside_dev_the_console_needs_a_long_session_secret() -> None:
    with pytest.raises(ValidationError, match="TRELLIS_CONSOLE_SESSION_SECRET must be set"):
        ConsoleSettings.model_validate({"environment": "prod"})
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ConsoleSettings.model_validate({"environment": "prod", "session_secret": "short"})
    settings = ConsoleSettings.model_validate({"environment": "prod", "session_secret": SECRET})
    assert settings.secure_cookie, "the session cookie travels over HTTPS only outside dev"
    assert not ConsoleSettings.model_validate({"environment": "dev"}).secure_cookie
