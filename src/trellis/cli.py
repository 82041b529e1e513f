"""``trellis``: run everything embedded, run the demo, manage Kafka topics, integrate other systems.

Each command lives in its own module, imported only when that command runs: ``trellis tail`` answers within a
second because it does not load the embedded platform, FastAPI or SQLAlchemy that other commands need.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import typer
from typer._click import Command, Context  # the click this typer vendors; its group's methods take these
from typer.core import TyperGroup

# name -> "module:attribute", a command function or a Typer of subcommands; listed in this order by --help.
COMMANDS = {
    "embedded": "trellis.embedded_cli:embedded",
    "demo": "trellis.embedded_cli:demo",
    "up": "trellis.distributed:up",
    "down": "trellis.distributed:down",
    "topics": "trellis_common.topics:app",
    "validate": "trellis.integrator:validate_command",
    "emit": "trellis.integrator:emit_command",
    "tail": "trellis.tail_cli:tail_command",
    "dlq": "trellis.integrator:dlq_app",
    "ids": "trellis.ids_cli:ids_app",
    "auth": "trellis.auth_cli:auth_app",
    "deliveries": "trellis.deliveries_cli:deliveries_app",
    "privacy": "trellis.privacy_cli:privacy_app",
    "mailsink": "trellis.mailsink_cli:mailsink",
    "settings-doc": "trellis.settings_doc:settings_doc_command",
}


def _load(name: str) -> Command:
    module, attribute = COMMANDS[name].split(":")
    target: Any = getattr(import_module(module), attribute)
    holder = typer.Typer(add_completion=False)  # completion is the root's option, not every command's
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
        return typer.main.get_group(holder).commands[name]
    holder.command(name)(target)
    return typer.main.get_command(holder)


class LazyCommands(TyperGroup):
    """The root group: knows its commands by name and imports one only when it is asked for."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        return _load(cmd_name) if cmd_name in COMMANDS else None


app = typer.Typer(cls=LazyCommands, no_args_is_help=True)


@app.callback()
def trellis() -> None:
    """Trellis: capacity building for industry clusters"""


if __name__ == "__main__":
    app()
