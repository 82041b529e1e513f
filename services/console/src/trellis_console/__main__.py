"""``trellis-console serve``: the console as its own process (distributed mode)."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from trellis_common import auth_local
from trellis_common.logging import configure_logging
from trellis_console.app import create_console
from trellis_console.settings import ConsoleSettings
from trellis_console.signin import LocalPerson, LocalSignIn

cli = typer.Typer(help="Trellis manager console", no_args_is_help=True)


def local_admin(settings: ConsoleSettings) -> LocalSignIn | None:
    """On one machine (``trellis up``), the local issuer's platform admin signs in with a button."""
    if not settings.local_issuer_keys:
        return None
    keys = auth_local.load(Path(settings.local_issuer_keys))
    admin = LocalPerson(key="admin", name="Platform admin (this machine)", role="admin")
    return LocalSignIn(keys=keys, people=lambda: [admin], demo=False)


@cli.command()
def serve(log_level: str = "INFO") -> None:
    """Serve the console; it reaches the services at the TRELLIS_CONSOLE_*_URL addresses."""
    configure_logging(log_level)
    settings = ConsoleSettings()
    app = create_console(settings, local_sign_in=local_admin(settings))
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


@cli.command()
def version() -> None:
    """Print the version (a second command keeps ``serve`` a subcommand)."""
    typer.echo("trellis-console 0.1.0")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
