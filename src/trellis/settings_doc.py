"""The README's configuration table, generated from the settings classes so the docs match the code."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic.fields import FieldInfo

from trellis_common.runtime import ServiceDefinition
from trellis_common.settings import ServiceSettings

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def _row(name: str, field: FieldInfo, scope: str) -> str:
    default = field.get_default(call_default_factory=True)
    shown = "" if default in (None, "") else f"`{default}`"
    return f"| `TRELLIS_{name.upper()}` | {scope} | {shown} | {field.description or ''} |"


def settings_table(services: tuple[ServiceDefinition, ...]) -> str:
    rows = ["| variable | service | default | meaning |", "|---|---|---|---|"]
    rows += [_row(name, field, "all") for name, field in ServiceSettings.model_fields.items()]
    for definition in services:
        cls = definition.settings_class
        rows += [
            _row(name, field, definition.name)
            for name, field in cls.model_fields.items()
            if name not in ServiceSettings.model_fields
        ]
    return "\n".join(rows)


def render_into(readme: Path, services: tuple[ServiceDefinition, ...]) -> str:
    text = readme.read_text("utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(f"{START}\n{settings_table(services)}\n{END}", text)
