"""``trellis-console serve``: the console as its own process (distributed mode)."""

from __future__ import annotations

import typer
import uvicorn

from trellis_common.logging import configure_logging
from trellis_console.app import create_console
from trellis_console.settings import ConsoleSettings

cli = typer.Typer(help="Trellis manager console", no_args_is_help=True)


@cli.command()
def serve(log_level: str = "INFO") -> None:
    """Serve the console; it reaches the services at the TRELLIS_CONSOLE_*_URL addresses."""
    configure_logging(log_level)
    settings = ConsoleSettings()
    app = create_console(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


@cli.command()
def version() -> None:
    """Print the version (a second command keeps ``serve`` a subcommand)."""
    typer.echo("trellis-console 0.1.0")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
