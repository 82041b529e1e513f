"""The command line every service gets: ``serve`` (API + consumer + relay + workers) and ``migrate``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from trellis_common.app import create_app
from trellis_common.command_errors import run_or_exit
from trellis_common.logging import configure_logging
from trellis_common.migrations import upgrade
from trellis_common.runtime import ServiceDefinition
from trellis_common.settings import MigrationSettings, ServiceSettings

S = TypeVar("S", bound=BaseSettings)


def load_settings(definition: ServiceDefinition) -> ServiceSettings:
    """The service's settings, or a one-line-per-problem message naming the variables and exit status 2."""
    return _settings(definition, lambda: definition.settings_class(service_name=definition.name))


def _settings(definition: ServiceDefinition, read: Callable[[], S]) -> S:
    try:
        return read()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            typer.echo(f"{definition.name}: {f'TRELLIS_{field.upper()}: ' if field else ''}{message}", err=True)
        raise typer.Exit(2) from None


def service_cli(definition: ServiceDefinition) -> typer.Typer:
    app = typer.Typer(help=f"Trellis {definition.name} service", no_args_is_help=True)

    @app.command()
    def serve() -> None:
        """Run the HTTP API with the event consumer, outbox relay and workers."""
        settings = load_settings(definition)
        configure_logging(settings.log_level, json=settings.log_json)
        api = create_app(definition, settings, settle_heap=True)
        # uvicorn turns SIGTERM into a graceful lifespan shutdown: consumer, relay and workers stop cleanly.
        uvicorn.run(
            api,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=settings.http_forwarded_allow_ips,
            root_path=settings.http_root_path,  # the prefix a proxy stripped: links and form actions carry it
        )

    @app.command()
    def migrate() -> None:
        """Apply this service's database migrations (run once per release, e.g. as a Kubernetes Job)."""
        settings = _settings(definition, MigrationSettings)  # the database alone: no Kafka, issuer or secrets
        configure_logging(settings.log_level, json=settings.log_json)
        run_or_exit(upgrade(definition, settings.database_url), f"{definition.name} migrate")
        typer.echo(f"{definition.name}: migrations applied")

    return app
