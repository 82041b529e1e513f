"""``trellis embedded`` and ``trellis demo``: the console and the six services in one process (SQLite, in-process
bus, mail sink), kept serving or run through the demo scenario once."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn

from trellis.demo import CLUSTER, SIGN_IN_PEOPLE, render, run_demo
from trellis.embedded import AUTH_DIR, DEMO_FILE, build_embedded
from trellis_common import heap
from trellis_common.logging import configure_logging


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _serve(data_dir: Path, host: str, port: int, smtp_port: int, demo: bool, stay: bool) -> None:
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    base_url = f"http://{public_host}:{port}"
    if stay:  # before the services' start-up lines; `trellis demo` exits after its report: no console to visit
        typer.echo(console_banner(base_url))
    platform = build_embedded(data_dir, smtp_port=smtp_port, fast=True, public_url=base_url)
    server = uvicorn.Server(uvicorn.Config(platform.app, host=host, port=port, log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving  # surfaces the start-up error
            return
        await asyncio.sleep(0.05)
    heap.settle_after_start()
    try:
        if demo:
            async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=platform.admin_headers()) as client:
                report = await run_demo(client, record=data_dir / DEMO_FILE)
            typer.echo(render(report, base_url))
        else:
            typer.echo(f"Trellis embedded at {base_url} (mail sink SMTP on 127.0.0.1:{platform.mail.port})")
            keys = data_dir / AUTH_DIR
            typer.echo(f"Bearer tokens: trellis auth token --keys {keys} --role integration --cluster '*'")
        if stay:
            typer.echo("\nPress Ctrl+C to stop.")
            await serving
    finally:
        server.should_exit = True
        await serving


DEMO_ROLES = {
    "manager": f"manager of {CLUSTER['name']}",
    "viewer": f"viewer of {CLUSTER['name']}",
    "admin": "platform admin: every cluster",
}


def console_banner(base_url: str) -> str:
    """What a newcomer needs first: where the console is and whom to sign in as (a button each there)."""
    width = max(len(name) for name in SIGN_IN_PEOPLE.values())
    people = [f"  {SIGN_IN_PEOPLE[key]:<{width}}  {role}" for key, role in DEMO_ROLES.items()]
    return "\n".join([f"Manager console: {base_url}/", "Sign in there as one of the demo people:", *people, ""])


def embedded(
    port: Annotated[int, typer.Option(help="HTTP port for the console and all six APIs")] = 8000,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Where the SQLite files live")] = Path(".embedded"),
    smtp_port: Annotated[int, typer.Option(help="Port of the local mail sink (0 = any free port)")] = 0,
    demo: Annotated[bool, typer.Option(help="Seed demo data and print what happened")] = True,
    reset: Annotated[bool, typer.Option(help="Start from empty databases (and an empty mail sink)")] = True,
    log_level: Annotated[str, typer.Option(help="Console log level: requests and events show at INFO")] = "INFO",
) -> None:
    """Run the console and the six services in one process (SQLite, in-process bus, mail sink) and keep serving."""
    configure_logging(log_level, json=False)  # one readable line per request, event and email
    if reset:
        shutil.rmtree(data_dir, ignore_errors=True)
    asyncio.run(_serve(data_dir, host, port, smtp_port, demo, stay=True))


def demo(data_dir: Annotated[Path, typer.Option()] = Path(".embedded/demo")) -> None:
    """Run the demo scenario embedded, print gaps, matches, emails and the next review date, then exit."""
    configure_logging("WARNING")
    shutil.rmtree(data_dir, ignore_errors=True)
    asyncio.run(_serve(data_dir, "127.0.0.1", _free_port(), 0, demo=True, stay=False))
