"""The README's configuration table, generated from the settings classes so the docs match the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from trellis.embedded import SERVICES
from trellis_common.runtime import ServiceDefinition
from trellis_common.settings import ServiceSettings
from trellis_console.settings import ConsoleSettings

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def required(field: FieldInfo) -> str:
    """ "always", "outside dev" or "" as the field's marker says (trellis_common.settings.REQUIRED_*)."""
    extra = field.json_schema_extra
    return str(extra.get("required", "")) if isinstance(extra, dict) else ""


def _row(variable: str, field: FieldInfo, scope: str) -> str:
    default = field.get_default(call_default_factory=True)
    shown = "" if default in (None, "") or isinstance(default, SecretStr) else f"`{default}`"
    needed = required(field)
    return f"| `{variable}` | {scope} | {f'**{needed}**' if needed else ''} | {shown} | {field.description or ''} |"


def _own(name: str, field: FieldInfo) -> bool:
    """A service's own setting, or a shared one it redefines (another default, meaning or requirement)."""
    shared = ServiceSettings.model_fields.get(name)
    if shared is None:
        return True
    return (field.default, field.description, required(field)) != (shared.default, shared.description, required(shared))


def settings_table(services: tuple[ServiceDefinition, ...]) -> str:
    rows = ["| variable | service | required | default | meaning |", "|---|---|---|---|---|"]
    rows += [_row(f"TRELLIS_{name.upper()}", field, "all") for name, field in ServiceSettings.model_fields.items()]
    for definition in services:
        cls = definition.settings_class
        rows += [
            _row(f"TRELLIS_{name.upper()}", field, definition.name)
            for name, field in cls.model_fields.items()
            if _own(name, field)
        ]
    console = ConsoleSettings.model_fields.items()
    rows += [_row(f"TRELLIS_CONSOLE_{name.upper()}", field, "console") for name, field in console]
    return "\n".join(rows)


def render_into(readme: Path, services: tuple[ServiceDefinition, ...]) -> str:
    text = readme.read_text("utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(f"{START}\n{settings_table(services)}\n{END}", text)


def settings_doc_command(readme: Annotated[Path, typer.Option()] = Path("README.md")) -> None:
    """Rewrite the README's configuration table from the settings classes."""
    readme.write_text(render_into(readme, SERVICES), "utf-8")
    typer.echo(f"updated the configuration table in {readme}")
