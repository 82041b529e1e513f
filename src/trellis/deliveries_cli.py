"""``trellis deliveries resend``: send failed emails again through the notifications API, as the person whose
token it carries (a cluster manager for their clusters, a platform admin for all), with a dry run and a
progress bar. Each failed delivery is sent once more however often it runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.progress import Progress

from trellis.http_answers import refusal_detail

deliveries_app = typer.Typer(help="The notifications service's email deliveries", no_args_is_help=True)
CHUNK = 50  # deliveries per request: the bar moves, and an interruption leaves the rest failed, not half done


class Refused(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")


async def _post(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post("/deliveries/resend", json=body)
    if answer.status_code != 200:
        raise Refused(answer.status_code, refusal_detail(answer))
    found: dict[str, Any] = answer.json()
    return found


async def resend(
    url: str,
    token: str,
    narrowed: dict[str, Any],
    *,
    dry_run: bool,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[int, bool]:
    """Send the failed deliveries ``narrowed`` picks again, a chunk at a time; how many, and (dry run) whether
    more than one answer's worth match."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=30, transport=transport) as client:
        done = 0
        while True:
            listed = await _post(client, {**narrowed, "dry_run": True})
            ids: list[str] = listed["delivery_ids"]
            if dry_run or not ids:
                return (len(ids), bool(listed["more"])) if dry_run else (done, False)
            total = done + len(ids)
            for start in range(0, len(ids), CHUNK):
                sent = await _post(client, {**narrowed, "delivery_ids": ids[start : start + CHUNK]})
                done += len(sent["delivery_ids"])
                on_progress(done, total)
            if not listed["more"]:
                return done, False


@deliveries_app.command("resend")
def resend_command(
    notifications: Annotated[
        str, typer.Option(envvar="TRELLIS_NOTIFICATIONS_URL", help="The notifications API's base URL")
    ] = "http://127.0.0.1:8000/notifications",
    token: Annotated[
        str | None, typer.Option(envvar="TRELLIS_TOKEN", help="Bearer token (a cluster manager's)", show_default=False)
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="Only this cluster's (its id)")] = None,
    template: Annotated[str | None, typer.Option(help="Only this template's, e.g. matches")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only emails created at or after this time (UTC)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say how many would be sent, change nothing")] = False,
) -> None:
    """Send failed emails again (after a relay misconfiguration is fixed): same content and Message-ID."""
    if not token:
        typer.echo("the notifications API needs a bearer token: --token or TRELLIS_TOKEN", err=True)
        raise typer.Exit(2)
    narrowed: dict[str, Any] = {"cluster_id": cluster, "template": template}
    if since is not None:
        narrowed["failed_since"] = (since if since.tzinfo else since.replace(tzinfo=UTC)).isoformat()
    narrowed = {key: value for key, value in narrowed.items() if value is not None}
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("sending failed emails again", total=None)
            count, more = asyncio.run(
                resend(
                    notifications,
                    token,
                    narrowed,
                    dry_run=dry_run,
                    on_progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
            )
    except (Refused, httpx.HTTPError) as exc:
        typer.echo(f"deliveries resend: {exc}", err=True)
        raise typer.Exit(1) from None
    if dry_run:
        typer.echo(f"{count}{'+' if more else ''} failed email(s) would be sent again (dry run: nothing changed)")
    else:
        typer.echo(f"{count} failed email(s) sent again")
