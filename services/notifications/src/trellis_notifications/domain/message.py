"""Builds the MIME message for one delivery: headers that cannot be injected, a text and an HTML part,
optional attachments, and the RFC 8058 one-click unsubscribe headers."""

from __future__ import annotations

import binascii
import copy
import email.policy
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import base64mime
from email.contentmanager import ContentManager, raw_data_manager
from email.header import Header
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, MIMEPart
from email.policy import Policy
from email.utils import format_datetime
from typing import Any

# Characters that end a header line somewhere along the mail chain, or that no header may carry.
_LINE_BREAKING = re.compile(r"[\r\n\0\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"\s+")
# What may appear inside <…> of List-Unsubscribe: printable ASCII URL characters, nothing that ends the bracket.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
ONE_CLICK = "List-Unsubscribe=One-Click"


def single_line(value: str) -> str:
    """Header text on one line: line breaks become spaces, so nothing can start a header of its own."""
    return _SPACES.sub(" ", _LINE_BREAKING.sub(" ", value)).strip()


class _FoldedOnce(BaseHeader):
    """The base of our header classes: a header's folded form is kept once made. Headers are immutable, and the
    registry below hands one header object to every message that sets the same value (the MIME headers, a
    template's subject), so each is folded once rather than once per email."""

    def fold(self, *, policy: Policy) -> str:
        kept: tuple[Policy, str] | None = self.__dict__.get("_folded")
        # The generator folds a message's parts with a copy of its policy (``clone(linesep=…)``): the same
        # settings, another object. A policy is its class's defaults and the settings it was made with.
        if kept is not None and (
            kept[0] is policy or (type(kept[0]) is type(policy) and vars(kept[0]) == vars(policy))
        ):
            return kept[1]
        folded = self.refold(policy=policy)
        self.__dict__["_folded"] = (policy, folded)
        return folded

    def refold(self, *, policy: Policy) -> str:
        """The folding itself (a header class with its own overrides this, not ``fold``)."""
        return super().fold(policy=policy)


class _UrlListHeader(UnstructuredHeader, _FoldedOnce):
    """``List-Unsubscribe: <https://…>`` kept as it is.

    The default folding turns a URL longer than a line into RFC 2047 encoded words, which no mail provider
    reads back as a URL. The value is a validated ASCII URL well under the 998-character line limit.
    """

    max_count = 1

    def refold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


class _SubjectHeader(UnstructuredHeader, _FoldedOnce):
    """The subject, folded so that it reads back exactly as it was written.

    The default folding has two faults: it moves a subject that fits on a line of its own to the next line
    (parsers then read a leading space), and when it splits non-ASCII text into several RFC 2047 encoded
    words it can leave a space *between* two of them, where decoders drop it. ASCII subjects are folded
    between words after the label; anything else becomes encoded words that carry their spaces inside.
    """

    max_count = 1

    def refold(self, *, policy: Policy) -> str:
        value = str(self)
        limit = policy.max_line_length or 78
        words = value.split(" ")
        if not value.isascii() or "=?" in value or any(len(word) > limit - 2 for word in words):
            encoded = Header(value, "utf-8", header_name=self.name).encode(linesep=policy.linesep, maxlinelen=limit)
            return f"{self.name}: {encoded}{policy.linesep}"
        lines, current = [], f"{self.name}:"
        for word in words:
            if len(current) + 1 + len(word) > limit and current != f"{self.name}:":
                lines.append(current)
                current = ""
            current = f"{current} {word}"
        lines.append(current)
        return policy.linesep.join(lines) + policy.linesep


class _Registry(HeaderRegistry):
    """The standard registry, doing each piece of work once instead of once per header set.

    ``HeaderRegistry`` builds a new class (``type(...)``) on every lookup, and a message looks a name up twice
    per header it sets; and it parses a value again each time one is set, though most values repeat from
    message to message (``MIME-Version: 1.0``, ``Content-Type: text/plain; charset="utf-8"``, the subject of
    a template). Together that was most of the cost of building a message. Header objects depend on nothing
    but their name and value and are never changed after they are made, so sharing them builds the very
    same message. Line breaks are refused before the factory is called (``header_store_parse``).
    """

    # Headers whose values repeat from email to email. Not To (the recipient: personal data, kept nowhere but in
    # the delivery row), nor Message-ID and List-Unsubscribe, which are new for every email.
    _SHARED = frozenset(
        {
            "from",
            "subject",
            "date",
            "auto-submitted",
            "list-unsubscribe-post",
            "mime-version",
            "content-type",
            "content-transfer-encoding",
            "content-disposition",
        }
    )
    _LIMIT = 512  # values kept; the unique ones (boundaries in Content-Type) make it start over now and then

    def __init__(self) -> None:
        super().__init__(base_class=_FoldedOnce)
        self._classes: dict[str, type[BaseHeader]] = {}
        self._headers: dict[tuple[str, ...], BaseHeader] = {}

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._classes.clear()
        self._headers.clear()

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            made = self._classes[key] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value: Any) -> BaseHeader:
        key: tuple[str, ...]
        if name.lower() not in self._SHARED:
            return super().__call__(name, value)
        if type(value) is str:
            key = (name, value)
        elif type(value) is Address:  # the sender: the same for every email of a cluster
            key = (name, value.display_name, value.username, value.domain)
        else:
            return super().__call__(name, value)
        header = self._headers.get(key)
        if header is None:
            if len(self._headers) >= self._LIMIT:
                self._headers.clear()
            header = self._headers[key] = super().__call__(name, value)
        return header


_BASE64_LINE_BYTES = 57  # what one 76-character line of base64 encodes


def base64_length(size: int) -> int:
    """The length of ``base64mime.body_encode`` of ``size`` bytes with one-character line ends, without encoding
    them: only the choice between it and quoted-printable needs it, and that encoding was a quarter of the cost
    of building an email."""
    lines, rest = divmod(size, _BASE64_LINE_BYTES)
    return lines * 77 + (4 * -(-rest // 3) + 1 if rest else 0)


def _set_text(part: MIMEPart, text: str, subtype: str = "plain") -> None:
    """A UTF-8 text part encoded as the standard library's text handler chooses (7bit when every line is short
    ASCII, else the shorter of quoted-printable and base64), but quoted-printable by ``binascii``'s C encoder:
    the library's pure-Python one was the largest single cost of building an email."""
    lines = text.encode("utf-8").splitlines()
    body = b"\n".join(lines) + b"\n"
    if body.isascii() and max((len(line) for line in lines), default=0) <= (part.policy.max_line_length or 78):
        cte, payload = "7bit", body.decode("ascii")
    else:
        quoted = binascii.b2a_qp(body, istext=True)
        canonical_length = len(body) + len(lines)  # the text in canonical form: CRLF line ends
        if len(quoted) <= base64_length(canonical_length):
            cte, payload = "quoted-printable", quoted.decode("ascii")
        else:  # mostly non-Latin text: base64 is smaller
            cte, payload = "base64", base64mime.body_encode(b"\r\n".join(lines) + b"\r\n", eol="\n")
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(payload)


def _content_manager() -> ContentManager:
    manager: ContentManager = copy.deepcopy(raw_data_manager)  # the library's, for reading and attachments
    manager.add_set_handler(str, _set_text)
    return manager


def _policy(registry_class: type[HeaderRegistry] = _Registry) -> Policy:
    registry = registry_class()
    registry.map_to_type("list-unsubscribe", _UrlListHeader)
    registry.map_to_type("subject", _SubjectHeader)
    policy: Policy = email.policy.SMTP.clone(header_factory=registry, content_manager=_CONTENT)
    return policy


_CONTENT = _content_manager()


_POLICY = _policy()


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    content: bytes
    params: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": f"{self.maintype}/{self.subtype}",
            "params": [list(p) for p in self.params],
            "content": self.content.decode("utf-8"),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Attachment:
        maintype, _, subtype = str(value["content_type"]).partition("/")
        return cls(
            filename=str(value["filename"]),
            maintype=maintype,
            subtype=subtype,
            content=str(value["content"]).encode("utf-8"),
            params=tuple((str(k), str(v)) for k, v in value.get("params", [])),
        )


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
    unsubscribe_url: str | None = None
    attachments: tuple[Attachment, ...] = ()


def _boundary(seed: str, level: str, *bodies: str) -> str:
    digest = hashlib.sha256("\0".join((seed, level, *bodies)).encode()).hexdigest()
    return f"=_trellis_{level}_{digest[:36]}"


def build_message(mail: OutgoingEmail) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML preferred by capable clients), wrapped in
    multipart/mixed when there are attachments.

    Addresses are set as ``Address`` objects rather than ``formataddr`` strings: the string form is parsed
    again by the header registry, and a non-ASCII display name such as ``Ünï <x@evil.example>`` comes back
    as a different address.
    """
    if _LINE_BREAKING.search(mail.to_address) or _LINE_BREAKING.search(mail.message_id):
        raise ValueError("recipient address and Message-ID must be single-line")
    url = mail.unsubscribe_url
    if url is not None and (len(url) > 900 or not _URL.fullmatch(url)):
        raise ValueError("the unsubscribe URL must be a single http(s) URL of printable ASCII")
    message = EmailMessage(policy=_POLICY)
    message["From"] = mail.sender
    message["To"] = Address(display_name=single_line(mail.to_name), addr_spec=mail.to_address)
    message["Subject"] = single_line(mail.subject)
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders must not answer
    if url is not None:
        message["List-Unsubscribe"] = f"<{url}>"
        message["List-Unsubscribe-Post"] = ONE_CLICK  # RFC 8058: a POST to the URL unsubscribes, no page needed
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    bodies = (mail.text_body, mail.html_body)
    for attachment in mail.attachments:
        if not _FILENAME.fullmatch(attachment.filename):
            raise ValueError(f"attachment file name {attachment.filename!r} is not a plain file name")
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
            params=dict(attachment.params),
        )
    # Boundaries derived from the content instead of random ones: a resend is the same bytes.
    texts = (*bodies, *(a.content.decode("utf-8", "replace") for a in mail.attachments))
    alternative = next(iter(message.iter_parts())) if mail.attachments else message
    for part, level in ((alternative, "alt"), (message, "mixed")):
        if level == "mixed" and not mail.attachments:
            continue
        boundary = _boundary(mail.message_id, level, *texts)
        if not any(boundary in text for text in texts):
            part.set_boundary(boundary)
    return message
