"""Retry backoff, delivery identity, audiences, SMTP error classification and settings."""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from trellis_notifications.domain.deliveries import (
    Audience,
    AudienceKind,
    delivery_id_for,
    retry_delay,
)
from trellis_notifications.sender import Verdict, classify_smtp_error, describe, redact
from trellis_notifications.settings import NotificationsSettings


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [retry_delay(n, base_s=1.0, max_s=600.0).total_seconds() for n in range(1, 13)]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]


def test_backoff_with_a_production_base() -> None:
    assert retry_delay(1, base_s=30, max_s=600) == timedelta(seconds=30)
    assert retry_delay(5, base_s=30, max_s=600) == timedelta(seconds=480)
    assert retry_delay(6, base_s=30, max_s=600) == timedelta(minutes=10)


def test_backoff_needs_an_attempt_first() -> None:
    with pytest.raises(ValueError):
        retry_delay(0, base_s=1, max_s=600)


def test_backoff_survives_absurd_attempt_counts() -> None:
    assert retry_delay(10_000, base_s=1, max_s=600) == timedelta(minutes=10)


@given(
    attempts=st.integers(min_value=1, max_value=500),
    base=st.floats(min_value=0.001, max_value=3600),
    cap=st.floats(min_value=0.001, max_value=86400),
)
def test_backoff_is_monotonic_positive_and_capped(attempts: int, base: float, cap: float) -> None:
    delay = retry_delay(attempts, base, cap)
    following = retry_delay(attempts + 1, base, cap)
    assert timedelta(0) < delay <= following
    assert delay.total_seconds() <= cap + 1e-6
    assert delay.total_seconds() >= min(base, cap) - 1e-6


def test_delivery_ids_are_stable_per_event_recipient_and_template() -> None:
    first = delivery_id_for("event-1", "contact-1", "matches")
    assert first == delivery_id_for("event-1", "contact-1", "matches")
    assert first != delivery_id_for("event-1", "contact-2", "matches")
    assert first != delivery_id_for("event-1", "contact-1", "review_reminder")
    assert len(first) == 36


@given(kind=st.sampled_from(list(AudienceKind)), ident=st.text(min_size=1, max_size=128))
def test_audience_placeholders_round_trip(kind: AudienceKind, ident: str) -> None:
    audience = Audience(kind, ident)
    assert Audience.parse(audience.placeholder) == audience


@pytest.mark.parametrize("placeholder", ["contact-1", "member:", "team:x", ""])
def test_a_contact_id_is_not_an_audience(placeholder: str) -> None:
    with pytest.raises(ValueError):
        Audience.parse(placeholder)


def refused(*codes: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(code, "no", f"r{i}@example.org") for i, code in enumerate(codes)]
    )


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (aiosmtplib.SMTPDataError(550, "5.1.1 mailbox unavailable"), Verdict.PERMANENT),
        (aiosmtplib.SMTPDataError(554, "5.7.1 rejected as spam"), Verdict.PERMANENT),
        (aiosmtplib.SMTPSenderRefused(553, "sender not allowed", "notifications@trellis.example"), Verdict.PERMANENT),
        (refused(550), Verdict.PERMANENT),
        (refused(451), Verdict.TRANSIENT),
        (refused(550, 451), Verdict.TRANSIENT),
        (aiosmtplib.SMTPDataError(451, "4.3.0 try again later"), Verdict.TRANSIENT),
        (aiosmtplib.SMTPResponseException(421, "service not available"), Verdict.TRANSIENT),
        (aiosmtplib.SMTPServerDisconnected("connection lost"), Verdict.TRANSIENT),
        (aiosmtplib.SMTPConnectError("connection refused"), Verdict.TRANSIENT),
        (aiosmtplib.SMTPReadTimeoutError("timed out"), Verdict.TRANSIENT),
        (TimeoutError(), Verdict.TRANSIENT),
        (ConnectionResetError(), Verdict.TRANSIENT),
        (aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server"), Verdict.PERMANENT),
    ],
)
def test_smtp_errors_are_classified_by_reply_code(error: BaseException, verdict: Verdict) -> None:
    assert classify_smtp_error(error) is verdict


def test_error_descriptions_quote_the_reply() -> None:
    assert describe(aiosmtplib.SMTPDataError(550, "5.1.1 mailbox unavailable")) == "550 5.1.1 mailbox unavailable"
    assert describe(refused(550)) == "550 no"
    assert describe(TimeoutError("slow")) == "TimeoutError: slow"


def test_errors_are_redacted_of_the_recipient_address() -> None:
    error = "550 5.1.1 <Anna.Schmidt@Member.example>: Recipient address rejected (anna.schmidt@member.example)"
    assert redact(error, "anna.schmidt@member.example") == (
        "550 5.1.1 <<recipient>>: Recipient address rejected (<recipient>)"
    )
    assert redact("421 busy", "anna@member.example") == "421 busy"
    assert redact("421 busy", None) == "421 busy"


def test_settings_refuse_two_tls_modes() -> None:
    with pytest.raises(ValidationError, match="exclude each other"):
        NotificationsSettings(smtp_starttls=True, smtp_use_tls=True)


@pytest.mark.parametrize("mail_from", ["not an address", "Trellis <a@b.example>\r\nBcc: x@evil.example"])
def test_settings_refuse_a_bad_sender(mail_from: str) -> None:
    with pytest.raises(ValidationError, match="mail_from"):
        NotificationsSettings(mail_from=mail_from)


@pytest.mark.parametrize("domain", ["trellis example", "a@b", "<x>", ""])
def test_settings_refuse_a_bad_message_id_domain(domain: str) -> None:
    with pytest.raises(ValidationError, match="mail_domain"):
        NotificationsSettings(mail_domain=domain)


def test_settings_sender_address() -> None:
    settings = NotificationsSettings(mail_from="Cluster Office <office@cluster.example>")
    assert settings.sender_address.addr_spec == "office@cluster.example"
    assert settings.sender_address.display_name == "Cluster Office"
