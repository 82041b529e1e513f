"""Builds the MIME message for one delivery: headers that cannot be injected, a text and an HTML part."""

from __future__ import annotations

import email.policy
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

# Characters that end a header line somewhere along the mail chain, or that no header may carry.
_LINE_BREAKING = re.compile(r"[\r\n\0\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")


def single_line(value: str) -> str:
    """Header text on one line: line breaks become spaces, so nothing can start a header of its own."""
    return _SPACES.sub(" ", _LINE_BREAKING.sub(" ", value)).strip()


@dataclass(frozen=True)
class OutgoingEmail:
    sender: Address
    to_address: str
    to_name: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    date: datetime


def build_message(mail: OutgoingEmail) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML preferred by capable clients).

    Addresses are set as ``Address`` objects rather than ``formataddr`` strings: the string form is parsed
    again by the header registry, and a non-ASCII display name such as ``Ünï <x@evil.example>`` comes back
    as a different address.
    """
    if _LINE_BREAKING.search(mail.to_address) or _LINE_BREAKING.search(mail.message_id):
        raise ValueError("recipient address and Message-ID must be single-line")
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = mail.sender
    message["To"] = Address(display_name=single_line(mail.to_name), addr_spec=mail.to_address)
    message["Subject"] = single_line(mail.subject)
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders must not answer
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    # A boundary derived from the content instead of a random one: a resend is the same bytes.
    digest = hashlib.sha256("\0".join((mail.message_id, mail.text_body, mail.html_body)).encode()).hexdigest()
    boundary = f"=_trellis_{digest[:40]}"
    if boundary not in mail.text_body and boundary not in mail.html_body:
        message.set_boundary(boundary)
    return message
