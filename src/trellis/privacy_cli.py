"""``trellis privacy export``: answer a right-of-access request (GDPR Art. 15) for one contact.

Each service that holds personal data about contacts serves ``GET /privacy/contacts/{contact_id}`` to platform
admins (today surveys and notifications; the others keep no names or addresses). This command asks every
service it is given and writes one JSON document::

    trellis privacy export 3f2c… --url surveys=https://surveys.example --url notifications=https://… \\
        --token "$ADMIN_TOKEN" --output contact.json

The document holds ``contact_id``, ``exported_at``, ``found`` (whether any service holds something) and,
per service, what it answered (or the error it gave). The exit status is 1 when a service could not answer.
Erasure is not a command: ``DELETE /members/{member_id}/contacts/{contact_id}`` on surveys erases a contact
and ``DELETE /members/{member_id}`` a member, and every service follows by event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

privacy_app = typer.Typer(help="Right of access: export what Trellis holds about a contact", no_args_is_help=True)


def parse_urls(pairs: list[str]) -> dict[str, str]:
    """``service=url`` pairs into a mapping (the URL without a trailing slash)."""
    urls: dict[str, str] = {}
    for pair in pairs:
        service, sep, url = pair.partition("=")
        if not sep or not service.strip() or not url.strip():
            raise typer.BadParameter(f"{pair!r}: expected service=url, e.g. surveys=http://127.0.0.1:8001")
        urls[service.strip()] = url.strip().rstrip("/")
    return urls


async def collect(
    contact_id: str,
    urls: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    """Ask each service for what it holds about ``contact_id``; one JSON-ready document."""
    services: dict[str, Any] = {}
    async with httpx.AsyncClient(headers=dict(headers), timeout=30, transport=transport) as client:
        for service, base in urls.items():
            try:
                response = await client.get(f"{base}/privacy/contacts/{contact_id}")
            except httpx.HTTPError as exc:
                services[service] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            if response.status_code != 200:
                services[service] = {"error": f"HTTP {response.status_code}: {response.text[:500]}"}
            else:
                services[service] = response.json()
    return {
        "contact_id": contact_id,
        "exported_at": datetime.now(UTC).isoformat(),
        "found": any(isinstance(s, dict) and s.get("found") for s in services.values()),
        "services": services,
    }


def failed_services(document: Mapping[str, Any]) -> list[str]:
    return [name for name, answer in document["services"].items() if "error" in answer]


@privacy_app.command("export")
def export(
    contact_id: Annotated[str, typer.Argument(help="The contact's id (as in the surveys directory)")],
    url: Annotated[
        list[str], typer.Option("--url", help="service=base URL of a service holding personal data; repeat")
    ],
    token: Annotated[
        str, typer.Option(envvar="TRELLIS_TOKEN", help="A platform-admin bearer token (or TRELLIS_TOKEN)")
    ],
    output: Annotated[Path | None, typer.Option(help="Write the JSON here instead of standard output")] = None,
) -> None:
    """Collect everything the given services hold about a contact into one JSON document."""
    document = asyncio.run(collect(contact_id, parse_urls(url), {"Authorization": f"Bearer {token}"}))
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", "utf-8")
        typer.echo(f"wrote {output}", err=True)
    failed = failed_services(document)
    if failed:
        typer.echo(f"no answer from: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
