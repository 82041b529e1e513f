"""Message building: headers, both parts, deterministic Message-ID, no header injection."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_notifications.domain.deliveries import message_id_for
from trellis_notifications.domain.message import OutgoingEmail, build_message, single_line

SENDER = Address(display_name="Trellis", addr_spec="notifications@trellis.example")
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def outgoing(**overrides: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "sender": SENDER,
        "to_address": "anna@member.example",
        "to_name": "Anna Schmidt",
        "subject": "3 collaboration partner proposals for your skill gaps",
        "text_body": "Hello Anna,\n\nplain text.\n",
        "html_body": "<p>Hello Anna,</p>",
        "message_id": message_id_for("event-1", "contact-1", "matches", "trellis.example"),
        "date": WHEN,
    }
    values.update(overrides)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def parsed(message: EmailMessage) -> EmailMessage:
    """What a mailbox sees: the message serialised for SMTP, stored with local line endings, parsed back."""
    result = email.message_from_bytes(bytes(message).replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


def test_headers_and_both_parts() -> None:
    received = parsed(build_message(outgoing()))
    assert received["From"].addresses[0].addr_spec == "notifications@trellis.example"
    assert received["From"].addresses[0].display_name == "Trellis"
    assert received["To"].addresses[0].addr_spec == "anna@member.example"
    assert received["To"].addresses[0].display_name == "Anna Schmidt"
    assert received["Subject"] == "3 collaboration partner proposals for your skill gaps"
    assert received["Message-ID"] == outgoing().message_id
    assert received["Date"].datetime == WHEN
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in received.iter_parts()]
    assert parts == ["text/plain", "text/html"]  # plain first: clients show the last part they understand
    text_part = received.get_body(preferencelist=("plain",))
    html_part = received.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    assert text_part.get_content() == "Hello Anna,\n\nplain text.\n"
    assert html_part.get_content().strip() == "<p>Hello Anna,</p>"


def test_lines_end_in_crlf_on_the_wire() -> None:
    raw = bytes(build_message(outgoing()))
    assert b"\r\n" in raw
    assert re.search(rb"[^\r]\n", raw) is None


def test_non_ascii_names_and_subjects_are_encoded() -> None:
    received = parsed(build_message(outgoing(to_name="Jürgen Müller", subject="Strategieüberprüfung heute fällig")))
    assert received["To"].addresses[0].display_name == "Jürgen Müller"
    assert received["Subject"] == "Strategieüberprüfung heute fällig"
    assert bytes(build_message(outgoing(to_name="Jürgen Müller"))).isascii()


def test_message_id_is_deterministic_and_names_the_domain() -> None:
    first = message_id_for("event-1", "contact-1", "matches", "trellis.example")
    assert first == message_id_for("event-1", "contact-1", "matches", "trellis.example")
    assert re.fullmatch(r"<[0-9a-f]{32}@trellis\.example>", first)
    others = {
        message_id_for("event-2", "contact-1", "matches", "trellis.example"),
        message_id_for("event-1", "contact-2", "matches", "trellis.example"),
        message_id_for("event-1", "contact-1", "review_reminder", "trellis.example"),
    }
    assert first not in others and len(others) == 3


def test_the_same_delivery_builds_the_same_bytes() -> None:
    assert bytes(build_message(outgoing())) == bytes(build_message(outgoing()))


@pytest.mark.parametrize(
    "field",
    ["to_name", "subject"],
)
@pytest.mark.parametrize(
    "attack",
    [
        "Anna\r\nBcc: victim@evil.example",
        "Anna\nBcc: victim@evil.example",
        "Anna\rBcc: victim@evil.example",
        "Anna\r\n\r\n<html>injected body</html>",
        "Anna\x00\r\nX-Injected: 1",
        "Anna\u2028Bcc: victim@evil.example",
    ],
)
def test_line_breaks_cannot_inject_headers(field: str, attack: str) -> None:
    received = parsed(build_message(outgoing(**{field: attack})))
    assert received["Bcc"] is None
    assert received["X-Injected"] is None
    assert [a.addr_spec for a in received["To"].addresses] == ["anna@member.example"]
    assert received.get_content_type() == "multipart/alternative"
    assert "injected body" not in (received.get_body(preferencelist=("plain",)) or received).get_content()


def test_a_display_name_holding_an_address_stays_a_name() -> None:
    # formataddr() + re-parsing would turn this into a second, attacker-chosen address.
    received = parsed(build_message(outgoing(to_name="Ünïcödé <victim@evil.example>")))
    assert [a.addr_spec for a in received["To"].addresses] == ["anna@member.example"]
    assert received["To"].addresses[0].display_name == "Ünïcödé <victim@evil.example>"


def test_a_recipient_address_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError):
        build_message(outgoing(to_address="anna@member.example\r\nBcc: victim@evil.example"))


@given(name=st.text(max_size=80), subject=st.text(max_size=200))
def test_any_name_and_subject_give_exactly_the_expected_headers(name: str, subject: str) -> None:
    received = parsed(build_message(outgoing(to_name=name, subject=subject)))
    assert sorted(received.keys()) == sorted(
        ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type"]
    )
    assert [a.addr_spec for a in received["To"].addresses] == ["anna@member.example"]
    assert received["Subject"] == single_line(subject)


@given(st.text())
def test_single_line_has_no_line_breaks(value: str) -> None:
    line = single_line(value)
    assert not any(ch in line for ch in "\r\n\0\u2028\u2029\x85")
    assert line == line.strip()
