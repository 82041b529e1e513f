"""``trellis auth keygen|token``: a local token issuer for development, embedded mode and tests.

Production uses the cluster's OIDC provider (TRELLIS_AUTH_ISSUER); these commands are not needed there.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from trellis_common import auth_local
from trellis_common.auth import Role

auth_app = typer.Typer(help="Local bearer tokens for development (production uses your OIDC provider)")

Keys = Annotated[Path, typer.Option("--keys", help="Directory of the local issuer's keys")]


@auth_app.command("keygen")
def keygen(keys: Keys = Path(".trellis/auth"), force: Annotated[bool, typer.Option()] = False) -> None:
    """Write a new signing key (private.jwk.json, owner-only) and its public JWKS; print the service settings."""
    if (keys / auth_local.PRIVATE_FILE).exists() and not force:
        typer.echo(f"{keys / auth_local.PRIVATE_FILE} exists; --force replaces it (tokens it signed stop working)")
        raise typer.Exit(1)
    _private, public = auth_local.write(auth_local.generate(), keys)
    typer.echo(f"TRELLIS_AUTH_ISSUER={auth_local.LOCAL_ISSUER}")
    typer.echo(f"TRELLIS_AUTH_JWKS_FILE={public.resolve()}")


@auth_app.command("token")
def token(
    role: Annotated[list[Role], typer.Option("--role", help="Repeat for several roles")],
    cluster: Annotated[list[str] | None, typer.Option("--cluster", help="Cluster id the roles apply to; * = all")] = (
        None
    ),
    subject: Annotated[str, typer.Option(help="Who the token is for (sub)")] = "local-user",
    keys: Keys = Path(".trellis/auth"),
    audience: Annotated[str, typer.Option()] = "trellis",
    ttl_minutes: Annotated[int, typer.Option(min=1, max=24 * 60)] = 60,
) -> None:
    """Print a bearer token signed by the local key."""
    if not (keys / auth_local.PRIVATE_FILE).exists():
        typer.echo(f"no key in {keys}: run `trellis auth keygen --keys {keys}` first", err=True)
        raise typer.Exit(1)
    minted = auth_local.load(keys).mint(
        subject=subject,
        roles=[r.value for r in role],
        clusters=cluster or [],
        audience=audience,
        ttl=timedelta(minutes=ttl_minutes),
    )
    typer.echo(minted)
