"""Signed, expiring survey links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_surveys.domain.links import (
    BadLink,
    LinkProblem,
    LinkSigner,
    form_token,
    form_token_valid,
)

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CLOSE = NOW + timedelta(days=28)


def test_a_genuine_link_names_its_invitation_until_it_expires() -> None:
    signer = LinkSigner("s" * 40)
    token = signer.sign("inv-1", CLOSE)
    claims = signer.verify(token, NOW)
    assert claims.invitation_id == "inv-1" and claims.expires_at == CLOSE
    with pytest.raises(BadLink) as expired:
        signer.verify(token, CLOSE)
    assert expired.value.problem is LinkProblem.EXPIRED and expired.value.invitation_id == "inv-1"


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-2] + "AA", lambda t: "x" + t, lambda t: t.split(".")[0], lambda t: "", lambda t: "a.b.c"]
)
def test_a_changed_link_is_forged(mangle: object) -> None:
    token = LinkSigner("s" * 40).sign("inv-1", CLOSE)
    with pytest.raises(BadLink) as forged:
        LinkSigner("s" * 40).verify(mangle(token), NOW)  # type: ignore[operator]
    assert forged.value.problem is LinkProblem.FORGED


def test_another_secret_or_purpose_does_not_verify() -> None:
    token = LinkSigner("s" * 40).sign("inv-1", CLOSE)
    for other in (LinkSigner("t" * 40), LinkSigner("s" * 40, purpose="something-else")):
        with pytest.raises(BadLink):
            other.verify(token, NOW)


def test_the_form_token_is_bound_to_its_link() -> None:
    token = form_token("s" * 40, "link-a")
    assert form_token_valid("s" * 40, "link-a", token)
    assert not form_token_valid("s" * 40, "link-b", token)
    assert not form_token_valid("s" * 40, "link-a", "")


@given(st.text(min_size=1, max_size=80), st.integers(min_value=1, max_value=10**6))
def test_any_invitation_id_round_trips(invitation_id: str, seconds: int) -> None:
    signer = LinkSigner("k" * 32)
    expires = NOW + timedelta(seconds=seconds)
    assert signer.verify(signer.sign(invitation_id, expires), NOW).invitation_id == invitation_id
