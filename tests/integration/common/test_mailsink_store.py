"""The mail sink keeps what it receives as bytes and parses a message only when somebody looks at it (embedded
mode sends every email of the loop through it); what it kept reads the same after a restart."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from tests.support.polling import eventually
from trellis.mailsink import MailSink


def _send(port: int, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "notify@trellis.example", "anna@member.example", subject
    message.set_content("A training partner for your gap.")
    message.add_alternative("<p>A training partner for your gap.</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message)


async def test_messages_are_parsed_when_looked_at_and_survive_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "mail.db"
    sink = MailSink(store=store)
    sink.start()
    try:
        _send(sink.port, "Zwei Partnervorschläge für Ihre Kompetenzlücken")

        async def received() -> bool:
            return len(sink.messages) == 1

        await eventually(received, timeout=10, what="the email in the sink")
        (mail,) = sink.messages
        assert "message" not in vars(mail)  # received and stored, not parsed yet
        assert mail.subject == "Zwei Partnervorschläge für Ihre Kompetenzlücken"
        assert "message" in vars(mail)  # parsed once, then kept
        assert mail.text().strip() == "A training partner for your gap."
        html = mail.html()
        assert html is not None and "<p>A training partner" in html
        assert mail.recipients == ["anna@member.example"]
        raw = mail.raw
    finally:
        sink.stop()

    again = MailSink(store=store)
    again.start()
    try:
        (kept,) = again.messages
        assert (kept.id, kept.raw, kept.recipients) == (1, raw, ["anna@member.example"])
        assert kept.summary()["subject"] == "Zwei Partnervorschläge für Ihre Kompetenzlücken"
    finally:
        again.stop()
