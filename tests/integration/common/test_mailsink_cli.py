"""``python -m trellis.mailsink`` runs the SMTP sink with its web viewer until stopped, as an operator starts it
beside services run as processes; a taken port is one clear line, not a traceback."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage

import httpx

from tests.support.polling import eventually
from tests.support.processes import free_port


def _sink(smtp_port: int, http_port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "trellis.mailsink", "--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


async def test_the_sink_receives_mail_and_shows_it_until_stopped() -> None:
    smtp_port, http_port = free_port(), free_port()
    sink = _sink(smtp_port, http_port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as viewer:

            async def listed() -> list[dict[str, object]] | None:
                try:
                    answer = await viewer.get("/mail/api/messages")
                except httpx.TransportError:
                    return None
                return list(answer.json()) if answer.status_code == 200 else None

            async def empty() -> bool:
                return await listed() == []

            await eventually(empty, timeout=30, what="the sink's viewer, with no mail yet")
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "notify@trellis.example", "ops@x.example", "Hello"
            message.set_content("A match for you.")
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
                client.send_message(message)

            async def arrived() -> list[dict[str, object]] | None:
                found = await listed()
                return found or None

            (mail,) = await eventually(arrived, timeout=10, what="the email in the sink")
            assert (mail["to"], mail["subject"]) == (["ops@x.example"], "Hello")
            page = await viewer.get("/mail")
            assert page.status_code == 200 and "Hello" in page.text
    finally:
        sink.send_signal(signal.SIGINT)
        output, _ = sink.communicate(timeout=30)
    assert sink.returncode == 0, output
    assert f"Mail sink: SMTP on 127.0.0.1:{smtp_port}" in output.splitlines()[0], output


def test_a_taken_port_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sink = _sink(port, free_port())
        output, _ = sink.communicate(timeout=30)
    assert sink.returncode == 2, output
    assert output.strip().startswith(f"cannot listen for SMTP on 127.0.0.1:{port}"), output
    assert "Traceback" not in output, output
