"""Tables in the docs that the code defines: the README's configuration (generated from the settings classes) and
the integration guide's dead-letter codes."""

from __future__ import annotations

import re
from pathlib import Path

from trellis.embedded import SERVICES
from trellis.settings_doc import render_into
from trellis_common.errors import DEAD_LETTER_CODES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_configuration_table_matches_the_settings_classes() -> None:
    assert README.read_text("utf-8") == render_into(README, SERVICES), "run `scripts/generate`"


def test_the_dead_letter_codes_are_documented_as_the_consumers_use_them() -> None:
    guide = (ROOT / "docs" / "integrating.md").read_text()
    table = guide.split("<!-- dead-letter-codes:start -->")[1].split("<!-- dead-letter-codes:end -->")[0]
    documented = dict(re.findall(r"^\| `([a-z_.]+)` \| (.+) \|$", table, re.MULTILINE))
    assert documented == DEAD_LETTER_CODES, "docs/integrating.md's dead-letter table is stale"
