"""``trellis ids clusters|members``: the ids an integrating system puts in its events (``cluster_id``,
``member_id``), looked up by name in the surveys directory, which issues them, as the token's holder may see."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import typer

from trellis.http_answers import refusal_detail

ids_app = typer.Typer(help="Look up cluster and member ids by name (the surveys directory issues them)")
Surveys = Annotated[str, typer.Option(envvar="TRELLIS_SURVEYS_URL", help="The surveys API's base URL")]
Token = Annotated[str | None, typer.Option(envvar="TRELLIS_TOKEN", help="Bearer token", show_default=False)]
PAGE = 200


async def listed(
    url: str, token: str, path: str, name: str | None, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[dict[str, Any]]:
    """Every item of a directory list whose name contains ``name`` (all, without it), page after page."""
    headers = {"Authorization": f"Bearer {token}"}
    found: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=30, transport=transport) as api:
        while True:
            params: dict[str, Any] = {"limit": PAGE, "offset": len(found)} | ({"q": name} if name else {})
            answer = await api.get(path, params=params)
            if answer.status_code != 200:
                raise LookupError(f"{answer.status_code} from {path}: {refusal_detail(answer)}")
            page = answer.json()
            found.extend(page["items"])
            if not page["items"] or len(found) >= int(page["total"]):
                return found


def _print(rows: list[dict[str, Any]], what: str) -> None:
    for row in rows:
        typer.echo(f"{row['id']}  {row['name']}")
    typer.echo(f"{len(rows)} {what}", err=True)


def _run(surveys: str, token: str | None, path: str, name: str | None, what: str) -> None:
    if not token:
        typer.echo("the surveys API needs a bearer token: --token or TRELLIS_TOKEN", err=True)
        raise typer.Exit(2)
    try:
        rows = asyncio.run(listed(surveys, token, path, name))
    except (LookupError, httpx.HTTPError) as exc:
        typer.echo(f"ids: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(rows, what)


@ids_app.command("clusters")
def cluster_ids(
    name: Annotated[str | None, typer.Argument(help="Part of the cluster's name")] = None,
    surveys: Surveys = "http://127.0.0.1:8000/surveys",
    token: Token = None,
) -> None:
    """Each cluster the token may see: its id, then its name."""
    _run(surveys, token, "/clusters", name, "cluster(s)")


@ids_app.command("members")
def member_ids(
    cluster: Annotated[str, typer.Option(help="The cluster's id (trellis ids clusters)")],
    name: Annotated[str | None, typer.Argument(help="Part of the member's name")] = None,
    surveys: Surveys = "http://127.0.0.1:8000/surveys",
    token: Token = None,
) -> None:
    """Each member of the cluster: its id, then its name."""
    _run(surveys, token, f"/clusters/{cluster}/members", name, "member(s)")
