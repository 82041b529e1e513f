"""The short chaos run of CI: ``scripts/chaos`` with a fixed seed for three minutes, every kind of fault, and the
checker's verdict. It runs on a broker and a PostgreSQL of its own (it restarts them), in this test's own folder
and ports, so it meets neither the suite's infrastructure nor another chaos run. ``scripts/test`` runs it beside
the rest of the suite on one more worker (``pytest --chaos``): its load is paced, so it mostly waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from loopkit.nemesis import KINDS  # noqa: E402 - the harness lives beside the benchmarks

SEED = 19  # its schedule has every kind of fault in three minutes, and the clock passes a review date
pytestmark = [pytest.mark.chaos, pytest.mark.kafka, pytest.mark.postgres]


@pytest.mark.timeout(900)  # three minutes of faults, its own broker and PostgreSQL, nine processes, settling
def test_three_minutes_of_faults_lose_and_double_nothing(tmp_path: Path) -> None:
    figures_path = tmp_path / "chaos.json"
    environment = os.environ | {
        "TRELLIS_CHAOS_INFRA_DIR": str(tmp_path / "infra"),
        **{
            f"TRELLIS_CHAOS_{name}_PORT": str(free_port())
            for name in ("PG", "KAFKA", "KAFKA_CONTROLLER", "KAFKA_SASL", "KAFKA_PROXY")
        },
    }
    command = [
        str(ROOT / "scripts" / "chaos"),
        *("--seed", str(SEED), "--minutes", "3", "--members", "300"),
        *("--json-out", str(figures_path)),
    ]
    # Its own process group: on a timeout the whole run is stopped (SIGTERM lets scripts/chaos stop its broker and
    # PostgreSQL), not only the shell.
    run = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment, start_new_session=True
    )
    try:
        output, _ = run.communicate(timeout=840)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
        pytest.fail(f"the chaos run did not end in 14 minutes:\n{output[-6000:]}")
    report = output[-8000:]
    assert figures_path.exists(), report
    figures = json.loads(figures_path.read_text())
    assert run.returncode == 0, report
    assert set(figures["faults"]) == set(KINDS), f"every kind of fault happened: {figures['faults']}\n{report}"
    assert figures["settled"] and figures["responses"] == 300, report
    assert figures["reviews: reminders fired"] > 0 and figures["digests: sent"] > 0, report
    for check in ("assessed: lost", "assessed: doubled", "matched: lost", "matched: doubled", "emails: lost"):
        assert figures[check] == 0, f"{check}: {figures[check]}\n{report}"
