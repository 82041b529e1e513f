"""``trellis embedded`` as a newcomer runs it, as its own process: the demo is seeded once however often the
platform restarts with ``--no-reset``, the emails it sent are still in the mail sink after a restart, a reset
starts over, and the console shows requests and events as readable lines. (One test: each start costs a few
seconds of migrations and the demo.)"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support.polling import eventually
from tests.support.processes import free_port
from trellis.demo import CLUSTER, SIGN_IN_PEOPLE

READY = "Press Ctrl+C to stop."


async def run_embedded(data_dir: Path, log: Path, *options: str) -> list[dict[str, Any]]:
    """Start ``trellis embedded``, wait for the demo's report, read the mail sink's JSON, stop it (Ctrl+C)."""
    port = free_port()
    command = [sys.executable, "-m", "trellis.cli", "embedded", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("wb") as out:
        process = subprocess.Popen([*command, *options], stdout=out, stderr=subprocess.STDOUT)
    try:

        async def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"trellis embedded exited with {process.returncode}:\n{log.read_text()}")
            return READY in log.read_text(errors="replace")

        await eventually(ready, timeout=120, interval=0.2, what="the demo report of trellis embedded")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            mail: list[dict[str, Any]] = (await client.get("/mail/api/messages")).json()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) in (0, 128 + signal.SIGINT), log.read_text()  # uvicorn re-raises Ctrl+C
        return mail
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def seeded(data_dir: Path) -> dict[str, int]:
    return {
        "clusters": count(data_dir / "surveys.db", "clusters"),
        "members": count(data_dir / "surveys.db", "members"),
        "responses": count(data_dir / "surveys.db", "responses"),
        "partners": count(data_dir / "matchmaking.db", "partners"),
    }


ONCE = {"clusters": 1, "members": 4, "responses": 3, "partners": 4}


async def test_restarts_with_no_reset_seed_the_demo_once_keep_the_mail_and_log_readably(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first_mail = await run_embedded(data_dir, tmp_path / "first.log", "--no-reset")
    assert seeded(data_dir) == ONCE
    assert len(first_mail) == 3, [m["subject"] for m in first_mail]

    first = (tmp_path / "first.log").read_text()
    head = first.splitlines()[:5]  # before the services' start-up lines and the demo's report
    assert re.fullmatch(r"Manager console: http://127\.0\.0\.1:\d+/", head[0]), head
    for line, (role, name) in zip(head[2:], SIGN_IN_PEOPLE.items(), strict=True):
        assert line.strip().startswith(name) and role in line, (line, head)
    assert "manager of " + CLUSTER["name"] in head[2], head

    second_mail = await run_embedded(data_dir, tmp_path / "second.log", "--no-reset")
    assert seeded(data_dir) == ONCE, "a restart with --no-reset seeded the demo again"
    assert second_mail == first_mail, "the mail sink lost or gained emails across the restart"
    second = (tmp_path / "second.log").read_text()
    assert "nothing seeded twice" in second and "Emails sent: 3" in second
    assert len(json.loads((data_dir / "demo.json").read_text())["responses"]) == ONCE["responses"]

    reset_mail = await run_embedded(data_dir, tmp_path / "reset.log")
    assert seeded(data_dir) == ONCE
    assert len(reset_mail) == 3
    assert {m["message_id"] for m in reset_mail}.isdisjoint(m["message_id"] for m in first_mail), "not reset"

    # The console of the first start: what happened, one readable line each (JSON stays for the services).
    lines = (tmp_path / "first.log").read_text().splitlines()
    assert not [line for line in lines if line.startswith("{")], "JSON log lines on the embedded console"

    def shown(pattern: str) -> bool:
        return any(pattern in line for line in lines)

    assert shown(" surveys       POST /surveys/clusters 201 (")
    assert shown(" surveys       published surveys.response.completed.v1  event=")
    assert shown(" skills        handled surveys.response.completed.v1 (processed)  event=")
    assert shown(" notifications handled matchmaking.partners.matched.v1 (processed)")
    assert shown(" mail sink     mail_received  mail_id=1 ")
    assert shown(" mail sink     GET /mail/api/messages 200 (")
