"""Towards the relay: connection reuse, a relay restart between batches, the send rate, STARTTLS with a
login, and a certificate that does not verify. These are about SMTP, not the database: SQLite only."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.notifications.harness import (
    Harness,
    SmtpServer,
    eventually,
    invitation,
    matched,
    member,
    running_service,
)
from trellis_common.events import ContactRole

TEN = [(f"contact-{i}", f"Person {i}", "en", ContactRole.MEMBER_CONTACT) for i in range(10)]


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/notifications.db"


async def two_batches(service: Harness) -> None:
    """One email, then another once the first was sent: two batches of the sender."""
    await service.publish(member())
    await service.all_consumed()
    await service.publish(matched())
    await service.emails(1)
    await service.publish(invitation("contact-1"))
    await service.emails(2)


async def test_one_connection_serves_batch_after_batch(tmp_path: Path, smtp: SmtpServer) -> None:
    async with running_service(sqlite_url(tmp_path), smtp, smtp_idle_close_s=30) as service:
        await two_batches(service)
    assert smtp.handler.sessions == 1


async def test_without_reuse_each_batch_connects_anew(tmp_path: Path, smtp: SmtpServer) -> None:
    async with running_service(sqlite_url(tmp_path), smtp, smtp_idle_close_s=0) as service:
        await two_batches(service)
    assert smtp.handler.sessions == 2


async def test_a_relay_restart_between_batches_costs_no_attempt(tmp_path: Path, smtp: SmtpServer) -> None:
    async with running_service(sqlite_url(tmp_path), smtp, smtp_idle_close_s=30) as service:
        await service.publish(member())
        await service.all_consumed()
        await service.publish(matched())
        await service.emails(1)
        smtp.stop()  # drops the connection the sender keeps open
        smtp.start()
        await service.publish(invitation("contact-1"))
        mails = await service.emails(2)
        assert [m.message["Subject"] for m in mails][1] == "Survey invitation: Digital skills check 2026"
        assert [r["attempts"] for r in await service.deliveries()] == [1, 1]
    assert smtp.handler.sessions == 2


async def test_the_send_rate_is_limited(tmp_path: Path, smtp: SmtpServer) -> None:
    rate = 10.0
    async with running_service(sqlite_url(tmp_path), smtp, smtp_rate_per_s=rate, smtp_rate_burst=1) as service:
        await service.publish(member(people=TEN))
        await service.all_consumed()
        await service.publish(matched())
        mails = await service.emails(10)
    times = sorted(m.at for m in mails)
    # The first goes at once, each further one waits for its token: 9 / rate = 0.9 s in all. Connecting
    # before the first message can use up part of the second one's wait, hence the margin.
    assert times[-1] - times[0] >= 9 / rate * 0.7


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def submission_relay(tls_context: ssl.SSLContext) -> Any:
    """Like a port-587 submission relay: STARTTLS first, then AUTH, then mail."""
    server = SmtpServer(tls_context=tls_context, login=("trellis", "s3cret-relay-password"))
    server.start()
    yield server
    server.stop()


async def test_starttls_and_login(tmp_path: Path, submission_relay: SmtpServer) -> None:
    async with running_service(
        sqlite_url(tmp_path),
        submission_relay,
        smtp_starttls=True,
        smtp_validate_certs=False,  # self-signed in this test only
        smtp_username="trellis",
        smtp_password="s3cret-relay-password",
    ) as service:
        await service.publish(member())
        await service.all_consumed()
        await service.publish(matched())
        [mail] = await service.emails(1)
    assert mail.rcpt_tos == ["contact-1@member.example"]


async def test_implicit_tls(tmp_path: Path, tls_context: ssl.SSLContext) -> None:
    relay = SmtpServer(tls_context=tls_context, implicit_tls=True)
    relay.start()
    try:
        async with running_service(
            sqlite_url(tmp_path), relay, smtp_use_tls=True, smtp_starttls=False, smtp_validate_certs=False
        ) as service:
            await service.publish(member())
            await service.all_consumed()
            await service.publish(matched())
            [mail] = await service.emails(1)
        assert mail.rcpt_tos == ["contact-1@member.example"]
    finally:
        relay.stop()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"smtp_password": "wrong"}, "535"),  # the relay refuses the login
        ({"smtp_password": "s3cret-relay-password", "smtp_validate_certs": True}, "CERTIFICATE_VERIFY_FAILED"),
        ({"smtp_starttls": False, "smtp_password": "s3cret-relay-password"}, "STARTTLS"),
    ],
)
async def test_a_relay_we_cannot_use_is_retried_not_failed(
    tmp_path: Path, submission_relay: SmtpServer, overrides: dict[str, Any], error: str
) -> None:
    settings: dict[str, Any] = {
        "smtp_starttls": True,
        "smtp_validate_certs": False,
        "smtp_username": "trellis",
        **overrides,
    }
    async with running_service(sqlite_url(tmp_path), submission_relay, **settings) as service:
        await service.publish(member())
        await service.all_consumed()
        await service.publish(matched())

        async def deferred() -> list[dict[str, Any]]:
            return [r for r in await service.deliveries(status="pending") if r["attempts"] == 1]

        [row] = await eventually(deferred, "the first attempt to be deferred")
    assert row["last_error"].startswith("cannot connect to the SMTP relay")
    assert error in row["last_error"]
    assert submission_relay.handler.messages() == []
