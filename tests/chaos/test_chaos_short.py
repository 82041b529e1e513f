"""The short chaos run of CI: ``scripts/chaos`` with a fixed seed for three minutes, every kind of fault, and the
checker's verdict. It starts a broker and a PostgreSQL of its own (it restarts them), so it runs on its own after
the rest of the suite: ``scripts/test`` runs it last (``pytest -m chaos``); a plain ``pytest`` leaves it out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from loopkit.nemesis import KINDS  # noqa: E402 - the harness lives beside the benchmarks

SEED = 19  # its schedule has every kind of fault in three minutes, and the clock passes a review date
pytestmark = [pytest.mark.chaos, pytest.mark.kafka, pytest.mark.postgres]


def test_three_minutes_of_faults_lose_and_double_nothing(tmp_path: Path) -> None:
    figures_path = tmp_path / "chaos.json"
    run = subprocess.run(
        [
            str(ROOT / "scripts" / "chaos"),
            *("--seed", str(SEED), "--minutes", "3", "--members", "300"),
            *("--json-out", str(figures_path)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=os.environ.copy(),
    )
    report = run.stdout[-6000:] + run.stderr[-3000:]
    assert figures_path.exists(), report
    figures = json.loads(figures_path.read_text())
    assert run.returncode == 0, report
    assert set(figures["faults"]) == set(KINDS), f"every kind of fault happened: {figures['faults']}\n{report}"
    assert figures["settled"] and figures["responses"] == 300, report
    assert figures["reviews: reminders fired"] > 0 and figures["digests: sent"] > 0, report
    for check in ("assessed: lost", "assessed: doubled", "matched: lost", "matched: doubled", "emails: lost"):
        assert figures[check] == 0, f"{check}: {figures[check]}\n{report}"
