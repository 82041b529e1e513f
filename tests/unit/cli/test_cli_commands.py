"""The ``trellis`` command line: every command is reachable by name, and a quick command loads only what it uses."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from typer.testing import CliRunner

from trellis.cli import COMMANDS, app

# What only other commands need: the embedded platform, the web framework, the database layer, HTTP clients.
HEAVY = ("sqlalchemy", "fastapi", "uvicorn", "httpx", "trellis.embedded", "trellis_console")


def test_every_command_answers_its_help() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(app, [name, "--help"], prog_name="trellis")
        assert result.exit_code == 0, f"{name}: {result.output}"
        assert f"trellis {name}" in " ".join(result.output.split()), f"{name}'s usage line names the command"


def test_the_root_help_lists_every_command_in_order() -> None:
    output = CliRunner().invoke(app, ["--help"]).output
    listed = re.findall(r"^│ ([a-z][a-z-]*) ", output, flags=re.MULTILINE)  # a command's name opens its line
    assert listed == list(COMMANDS), output


def _modules_loaded_by(command: str) -> set[str]:
    probe = (
        "import json, sys\n"
        "from trellis.cli import app\n"
        "from typer.testing import CliRunner\n"
        f"CliRunner().invoke(app, [{command!r}, '--help'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_tail_loads_neither_the_platform_nor_the_database_layer() -> None:
    loaded = _modules_loaded_by("tail")
    assert "aiokafka" in loaded, "the probe did load the tail command"
    assert not [name for name in HEAVY if name in loaded]


def test_embedded_does_load_the_platform() -> None:
    """The other side of the test above: the probe sees a command's imports, so its emptiness means something."""
    loaded = _modules_loaded_by("embedded")
    assert {"fastapi", "sqlalchemy", "trellis.embedded"} <= loaded
