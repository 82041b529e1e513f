"""``trellis mailsink`` (also ``python -m trellis.mailsink``): the local SMTP sink on its own, for a distributed
setup on one machine: the notifications service sends to it, and its web viewer shows what arrived."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI

from trellis.mailsink import MailSink
from trellis.mailview import mail_router
from trellis_common.logging import configure_logging


def viewer_app(sink: MailSink) -> FastAPI:
    app = FastAPI(title="Trellis mail sink", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(mail_router(sink))
    return app


async def _serve(sink: MailSink, host: str, http_port: int) -> None:
    config = uvicorn.Config(viewer_app(sink), host=host, port=http_port, log_config=None, access_log=False)
    await uvicorn.Server(config).serve()


def mailsink(
    smtp_port: Annotated[int, typer.Option(help="Where the services send (TRELLIS_SMTP_PORT)")] = 1025,
    http_port: Annotated[int, typer.Option(help="The web viewer's port: /mail, and /mail/api/messages as JSON")] = 8025,
    host: Annotated[str, typer.Option(help="Address to listen on, for both")] = "127.0.0.1",
    store: Annotated[
        Path | None, typer.Option(help="A SQLite file that keeps the mail across restarts (default: in memory)")
    ] = None,
    json_logs: Annotated[bool, typer.Option("--json/--text", help="Log lines as JSON or as readable text")] = False,
) -> None:
    """Receive every email on SMTP (no TLS, no authentication: for one machine) and show them on the web."""
    configure_logging("INFO", json=json_logs)
    sink = MailSink(host, smtp_port, store=store)
    try:
        sink.start()
    except (OSError, RuntimeError) as failed:  # aiosmtpd reports a taken port as a RuntimeError from its thread
        typer.echo(f"cannot listen for SMTP on {host}:{smtp_port}: {failed}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Mail sink: SMTP on {host}:{sink.port}; the mail at http://{host}:{http_port}/mail (Ctrl+C stops)")
    try:
        asyncio.run(_serve(sink, host, http_port))
    except KeyboardInterrupt:  # Ctrl+C is how it is meant to stop
        pass
    finally:
        sink.stop()


def main() -> None:
    typer.run(mailsink)
