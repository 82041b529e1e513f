"""Message building: headers, both parts, deterministic Message-ID, no header injection."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email import base64mime
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from unittest.mock import patch

import pytest
from aiosmtplib.email import flatten_message
from hypothesis import given
from hypothesis import strategies as st

from trellis_notifications.domain import message as message_module
from trellis_notifications.domain.deliveries import message_id_for
from trellis_notifications.domain.message import Attachment, OutgoingEmail, build_message, single_line

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


# ------------------------------------------------------------------ RFC 8058 headers and attachments

UNSUBSCRIBE = (
    "https://trellis.example.org/notifications/unsubscribe/"
    "eyJjIjoiY29udGFjdC0xMjM0NTY3ODkwIiwiayI6Im1hdGNoZXMifQ.Z3xYAA.3q2-7wVu1gHk_Jr0aN9c4pM8Lx6yT2bQe5sWdFgHiJk"
)
ICS = Attachment(
    "strategy-review.ics",
    "text",
    "calendar",
    "BEGIN:VCALENDAR\r\nSUMMARY:Strategieüberprüfung\r\nEND:VCALENDAR\r\n".encode(),
    (("method", "PUBLISH"), ("charset", "utf-8")),
)


def test_one_click_unsubscribe_headers_are_on_one_line_and_not_encoded() -> None:
    raw = bytes(build_message(outgoing(unsubscribe_url=UNSUBSCRIBE)))
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE}>\r\n".encode() in raw  # a long URL, still verbatim
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    received = parsed(build_message(outgoing(unsubscribe_url=UNSUBSCRIBE)))
    assert received["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"


def test_no_unsubscribe_headers_without_a_url() -> None:
    received = parsed(build_message(outgoing()))
    assert received["List-Unsubscribe"] is None and received["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize(
    "url",
    [
        "https://trellis.example/u/x>\r\nBcc: victim@evil.example",
        "https://trellis.example/u/x>, <mailto:victim@evil.example",
        "javascript:alert(1)",
        "https://trellis.example/u/ünï",
        "https://trellis.example/u/" + "x" * 1000,
    ],
)
def test_an_unsubscribe_url_that_could_inject_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsubscribe URL"):
        build_message(outgoing(unsubscribe_url=url))


def test_attachments_make_a_mixed_message_around_the_alternative() -> None:
    received = parsed(build_message(outgoing(unsubscribe_url=UNSUBSCRIBE, attachments=(ICS,))))
    assert received.get_content_type() == "multipart/mixed"
    alternative, attachment = list(received.iter_parts())
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "strategy-review.ics"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_payload(decode=True) == ICS.content  # CRLF kept: base64 carries the bytes as they are
    body = received.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content() == "Hello Anna,\n\nplain text.\n"


def test_a_message_with_an_attachment_is_the_same_bytes_every_time() -> None:
    first = bytes(build_message(outgoing(attachments=(ICS,))))
    assert first == bytes(build_message(outgoing(attachments=(ICS,))))
    assert b"=_trellis_mixed_" in first and b"=_trellis_alt_" in first


def test_an_attachment_name_that_is_not_a_plain_file_name_is_refused() -> None:
    hostile = Attachment('x"; name="evil.exe', "text", "calendar", b"x")
    with pytest.raises(ValueError, match="file name"):
        build_message(outgoing(attachments=(hostile,)))


def test_attachments_survive_their_json_form() -> None:
    assert Attachment.from_json(ICS.to_json()) == ICS


@given(name=st.text(max_size=80), subject=st.text(max_size=200))
def test_with_unsubscribe_headers_any_name_and_subject_give_exactly_the_expected_headers(
    name: str, subject: str
) -> None:
    received = parsed(build_message(outgoing(to_name=name, subject=subject, unsubscribe_url=UNSUBSCRIBE)))
    assert sorted(received.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
            "Content-Type",
        ]
    )
    assert received["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"


@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzÄäöüß:,0123456789-", min_size=1, max_size=14), max_size=25
    ).map(" ".join)
)
def test_subjects_of_words_read_back_exactly_without_a_leading_space(subject: str) -> None:
    raw = bytes(build_message(outgoing(subject=subject)))
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
    assert parsed(build_message(outgoing(subject=subject)))["Subject"] == subject


def test_a_subject_that_fits_a_line_of_its_own_stays_after_the_label() -> None:
    subject = "Escalation: strategy review overdue since 31 March 2026: Aviation skills 2030"
    raw = bytes(build_message(outgoing(subject=subject)))
    assert b"\r\nSubject: Escalation: strategy" in raw
    assert parsed(build_message(outgoing(subject=subject)))["Subject"] == subject


@given(
    name=st.text(max_size=80), subject=st.text(max_size=200), sender=st.sampled_from(["", "Clüster Nörd", "Trellis"])
)
def test_headers_shared_between_messages_build_the_bytes_of_headers_made_anew(
    name: str, subject: str, sender: str
) -> None:
    """The service's registry hands one header object, folded once, to every message that sets the same value;
    the messages must be exactly those the standard registry builds with headers made for each of them."""
    mail = outgoing(
        sender=Address(display_name=sender, addr_spec="notifications@trellis.example"),
        to_name=name,
        subject=subject,
        unsubscribe_url=UNSUBSCRIBE,
        attachments=(ICS,),
    )
    shared = [build_message(mail) for _ in range(2)]  # the second one of headers made for the first
    with patch.object(message_module, "_POLICY", message_module._policy(HeaderRegistry)):
        anew = build_message(mail)
    for message in shared:
        assert bytes(message) == bytes(anew)
        assert flatten_message(message) == flatten_message(anew)  # as the SMTP client sends it
        assert flatten_message(message, utf8=True) == flatten_message(anew, utf8=True)  # folded for SMTPUTF8


_BODY_TEXT = st.lists(
    st.one_of(
        st.sampled_from([" ", "\t", "\n", "\r\n", "=", ".", "From ", "ä", "€", "Ω", "日本", "a" * 90]),
        st.text(st.characters(codec="utf-8"), max_size=20),
    ),
    max_size=40,
).map("".join)


@given(text=_BODY_TEXT, subtype=st.sampled_from(["plain", "html"]))
def test_a_text_part_reads_back_as_the_standard_librarys_does(text: str, subtype: str) -> None:
    """Bodies are encoded by ``binascii`` rather than the library's own quoted-printable encoder: whatever the
    text, a mailbox must read back exactly what it reads back from the library's encoding, and no line on the
    wire may pass the length the library keeps to."""
    ours = EmailMessage(policy=message_module._POLICY)
    ours.set_content(text, subtype=subtype)
    theirs = EmailMessage(policy=email.policy.SMTP)
    theirs.set_content(text, subtype=subtype)
    assert ours["Content-Type"].content_type == theirs["Content-Type"].content_type
    assert ours["Content-Type"].params["charset"] == "utf-8"
    read_back = [email.message_from_bytes(bytes(m), policy=email.policy.default) for m in (ours, theirs)]
    assert read_back[0].get_content() == read_back[1].get_content()
    assert all(len(line) <= 78 for line in bytes(ours).split(b"\r\n"))


@given(size=st.integers(min_value=0, max_value=20_000))
def test_the_base64_length_is_that_of_the_encoding(size: int) -> None:
    """The choice between quoted-printable and base64 counts base64's length instead of encoding: the count must
    be the encoding's, line ends included, or a body could go out in the longer of the two."""
    encoded = base64mime.body_encode(bytes(range(256)) * (size // 256) + bytes(size % 256), eol="\n")
    assert message_module.base64_length(size) == len(encoded)
