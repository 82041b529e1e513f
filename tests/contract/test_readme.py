"""The README's configuration table is generated from the settings classes: docs match the code."""

from __future__ import annotations

from pathlib import Path

from trellis.embedded import SERVICES
from trellis.settings_doc import render_into

README = Path(__file__).resolve().parents[2] / "README.md"


def test_configuration_table_matches_the_settings_classes() -> None:
    assert README.read_text("utf-8") == render_into(README, SERVICES), "run `trellis settings-doc`"
