"""Signed unsubscribe tokens: only ours, only for their purpose, only for so long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from trellis_common.tokens import TokenError, TokenSigner

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
YEAR = timedelta(days=365)
SIGNER = TokenSigner("a-secret-of-at-least-16-chars", "notifications.unsubscribe.v1")


def test_a_token_round_trips() -> None:
    token = SIGNER.dumps({"c": "contact-1", "k": "matches"}, NOW)
    assert SIGNER.loads(token, NOW + timedelta(days=30), YEAR) == {"c": "contact-1", "k": "matches"}
    assert all(ch.isalnum() or ch in "-_." for ch in token)  # URL-safe as it is


def test_the_same_payload_and_moment_give_the_same_token() -> None:
    payload = {"c": "contact-1", "k": "matches"}
    assert SIGNER.dumps(payload, NOW) == SIGNER.dumps(dict(reversed(payload.items())), NOW)


def test_another_purpose_or_secret_does_not_verify() -> None:
    token = SIGNER.dumps({"c": "contact-1", "k": "matches"}, NOW)
    with pytest.raises(TokenError, match="signature"):
        TokenSigner("a-secret-of-at-least-16-chars", "surveys.link.v1").loads(token, NOW, YEAR)
    with pytest.raises(TokenError, match="signature"):
        TokenSigner("another-secret-of-16-chars", "notifications.unsubscribe.v1").loads(token, NOW, YEAR)


def test_a_tampered_payload_does_not_verify() -> None:
    token = SIGNER.dumps({"c": "contact-1", "k": "matches"}, NOW)
    forged_body = SIGNER.dumps({"c": "contact-2", "k": "matches"}, NOW).split(".")[0]
    with pytest.raises(TokenError, match="signature"):
        SIGNER.loads(".".join([forged_body, *token.split(".")[1:]]), NOW, YEAR)


def test_an_old_token_expires_and_a_future_one_is_refused() -> None:
    token = SIGNER.dumps({"c": "contact-1", "k": "matches"}, NOW)
    assert SIGNER.loads(token, NOW + YEAR, YEAR)
    with pytest.raises(TokenError, match="expired"):
        SIGNER.loads(token, NOW + YEAR + timedelta(seconds=1), YEAR)
    with pytest.raises(TokenError, match="not valid yet"):
        SIGNER.loads(token, NOW - timedelta(hours=1), YEAR)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "..", "not-a-token", "a.b.c"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.loads(token, NOW, YEAR)


@given(st.text(max_size=200))
def test_any_string_is_either_a_token_or_a_token_error(token: str) -> None:
    try:
        SIGNER.loads(token, NOW, YEAR)
    except TokenError:
        return
    raise AssertionError(f"an arbitrary string verified: {token!r}")


def test_an_empty_secret_or_purpose_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner("", "x")
    with pytest.raises(ValueError):
        TokenSigner("secret", "")


def test_tokens_are_the_librarys_uncompressed_ones_and_its_compressed_ones_still_load() -> None:
    """Tokens are made without trying to compress them: the same bytes the library makes when compressing does
    not pay (every payload of ours), and a long payload the library compressed before still verifies."""
    library = URLSafeSerializer("secret", salt="trellis-token|unsubscribe")
    ours = TokenSigner("secret", "unsubscribe")
    assert ours.dumps({"c": "contact-1"}, NOW) == library.dumps({"p": {"c": "contact-1"}, "t": int(NOW.timestamp())})
    compressed = library.dumps({"p": {"c": "x" * 300}, "t": int(NOW.timestamp())})
    assert compressed.startswith(".")  # what the library made of a long payload
    assert ours.loads(compressed, NOW, timedelta(days=1)) == {"c": "x" * 300}
