"""Retry backoff, delivery identity, audiences, SMTP error classification and settings."""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from trellis_common.events import ContactRole, ReminderKind
from trellis_notifications.domain.deliveries import (
    Audience,
    AudienceKind,
    delivery_id_for,
    retry_delay,
)
from trellis_notifications.handlers import is_escalation
from trellis_notifications.samples import SAMPLE_REVIEW
from trellis_notifications.settings import NotificationsSettings
from trellis_notifications.workers.smtp import Verdict, classify_smtp_error, describe, is_hard_bounce, redact


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


@pytest.mark.parametrize("environment", ["test", "prod"])
def test_outside_dev_the_unsubscribe_secret_is_required(environment: str) -> None:
    database = "postgresql+asyncpg://db/notifications"  # outside dev it is named too
    with pytest.raises(ValidationError, match="TRELLIS_UNSUBSCRIBE_SECRET must be set"):
        NotificationsSettings(environment=environment, database_url=database)
    with pytest.raises(ValidationError, match="TRELLIS_UNSUBSCRIBE_SECRET must be set"):
        NotificationsSettings(environment=environment, database_url=database, unsubscribe_secret="")
    settings = NotificationsSettings(environment=environment, database_url=database, unsubscribe_secret="s" * 32)
    assert settings.signing_secret == "s" * 32


def test_in_dev_a_fixed_development_secret_is_used() -> None:
    assert NotificationsSettings(environment="dev").signing_secret


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        NotificationsSettings(unsubscribe_secret="s" * 31)


@pytest.mark.parametrize(
    "url", ["ftp://trellis.example", "trellis.example", "https://trellis.example/?a=1", "https://x/#f", "https://a b"]
)
def test_the_public_base_url_must_be_a_plain_web_url(url: str) -> None:
    with pytest.raises(ValidationError, match="public_base_url"):
        NotificationsSettings(public_base_url=url)


def test_the_public_base_url_loses_its_trailing_slash() -> None:
    assert NotificationsSettings(public_base_url="https://t.example/notifications/").public_base_url == (
        "https://t.example/notifications"
    )


def test_the_digest_time_zone_must_exist() -> None:
    with pytest.raises(ValidationError, match="digest_timezone"):
        NotificationsSettings(digest_timezone="Mars/Olympus_Mons")
    assert NotificationsSettings(digest_timezone="Europe/Vienna").digest_zone.key == "Europe/Vienna"


@pytest.mark.parametrize(
    ("error", "bounce"),
    [
        (refused(550), True),
        (refused(550, 553), True),
        (refused(450), False),
        (refused(550, 450), False),
        (aiosmtplib.SMTPDataError(550, "5.7.1 spam"), False),  # refused the content, not the mailbox
        (aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@y.example"), True),
        (TimeoutError(), False),
    ],
)
def test_only_a_5xx_to_rcpt_is_a_hard_bounce(error: BaseException, bounce: bool) -> None:
    assert is_hard_bounce(error) is bounce


@pytest.mark.parametrize(
    ("changes", "escalates"),
    [
        ({}, False),
        ({"kind": ReminderKind.UPCOMING, "lead_days": 14}, False),
        ({"kind": ReminderKind.OVERDUE}, True),  # a producer that only says "overdue"
        ({"escalation": True}, True),
        ({"recipients_role": ContactRole.BOARD_MEMBER}, True),
        ({"recipients_role": ContactRole.CLUSTER_MANAGER}, False),
    ],
)
def test_which_review_email_escalates_to_the_board(changes: dict[str, object], escalates: bool) -> None:
    review = SAMPLE_REVIEW.model_copy(update={"kind": ReminderKind.DUE, **changes})
    assert is_escalation(review) is escalates
