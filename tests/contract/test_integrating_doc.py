"""Every example in docs/integrating.md runs as written against the real broker, and shows what it prints."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.kafka import read_all
from trellis_common.envelope import from_kafka

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrating.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text("utf-8")) if lang == language]


def _env(kafka_bootstrap: str, topic_prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TRELLIS_TOPIC_PREFIX": topic_prefix,
        "COLUMNS": "200",
    }


def _sessions(block: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each ``$ `` line of a console block."""
    sessions: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            sessions.append((line[2:], []))
        elif sessions:
            sessions[-1][1].append(line)
    return sessions


def test_the_golden_example_shown_is_the_committed_one() -> None:
    shown = [json.loads(block) for block in _blocks("json")]
    committed = json.loads((ROOT / "contracts" / "examples" / "skills.supply.reported.v1.json").read_text())
    assert shown == [committed]


def test_console_examples_print_what_the_doc_shows(kafka_bootstrap: str, topic_prefix: str) -> None:
    env = _env(kafka_bootstrap, topic_prefix)
    commands = [session for block in _blocks("console") for session in _sessions(block)]
    assert len(commands) >= 6
    python = f"{sys.executable} -m"
    for command, expected in commands:
        script = command.replace("python -m", python, 1)
        done = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        printed = done.stdout.splitlines()
        for line in expected:
            assert line.replace("${TRELLIS_TOPIC_PREFIX}", topic_prefix) in printed, (command, done.stdout)
        if command.startswith("trellis tail"):
            assert json.loads(done.stdout)["event"]["id"] == "e9b3d2f8-6a41-4c07-9e5d-3b8f1a2c6d90"


def test_python_examples_publish_events_trellis_reads(kafka_bootstrap: str, topic_prefix: str) -> None:
    blocks = _blocks("python")
    assert len(blocks) == 2
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", block],
            cwd=ROOT,
            env=_env(kafka_bootstrap, topic_prefix),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    records = asyncio.run(read_all(kafka_bootstrap, f"{topic_prefix}skills.supply.reported.v1"))
    events = [from_kafka(r.headers, r.value) for r in records]
    assert sorted(e.data["report_id"] for e in events if e.data) == ["ams-noe-2026-02", "ams-noe-2026-03"]
    assert all(r.key == b"AT12" for r in records)
