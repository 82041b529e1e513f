"""The README's distributed section, followed literally (its commands parsed from the README): ``trellis up``
runs the distributed topology on one machine from the local Kafka and PostgreSQL (a database per service, topics,
migrations, each service and the console its own process, a mail sink), the loop runs on it to the member's match
email, this machine's admin signs in to the console, and ``trellis down`` stops exactly what ``up`` started."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.conftest import asyncpg_dsn
from tests.e2e.scenario import ok
from tests.support.polling import eventually
from trellis.distributed import SERVICES, database_name
from trellis_common import auth_local
from trellis_common.auth import Role

ROOT = Path(__file__).resolve().parents[2]
CONTACT = "olga@linz-robotics.example"


def _free_block(size: int) -> int:
    """The first of ``size`` consecutive free ports."""
    for first in range(21000, 40000, 50):
        ports = range(first, first + size)
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise AssertionError("no block of free ports")


def readme_commands() -> list[str]:
    """The commands of the README's distributed section, as a person copies them (comments dropped)."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Distributed setup")[1].split("\n## ")[0]
    block = next(b for b in re.findall(r"```bash\n(.*?)```", section, re.S) if "trellis up" in b)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def _run(command: str, *options: str) -> subprocess.CompletedProcess[str]:
    """A README command run from the checkout as written, with this test's options after it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    return subprocess.run(
        [*shlex.split(command), *options], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


async def test_up_runs_every_service_as_a_process_and_down_stops_them(
    tmp_path: Path, kafka_bootstrap: str, pg_admin_url: str
) -> None:
    infra, up, down = readme_commands()
    assert (infra, up, down) == ("scripts/infra up", ".venv/bin/trellis up", ".venv/bin/trellis down")
    assert _run(infra).returncode == 0, "already up: it says so and stays"
    first = _free_block(9)
    state = tmp_path / "state"  # a fresh one: new keys, secrets and logs
    prefix = f"up{uuid.uuid4().hex[:8]}."  # beside anything else on this Kafka and PostgreSQL
    options = ["--state", str(state)]
    started = _run(
        up, *options, "--database", pg_admin_url, "--bootstrap", kafka_bootstrap, "--prefix", prefix,
        "--first-port", str(first), "--smtp-port", str(first + 6), "--mail-port", str(first + 7),
        "--console-port", str(first + 8),
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        printed = started.stdout
        for offset, service in enumerate(SERVICES):
            assert re.search(rf"^{service} +http://127\.0\.0\.1:{first + offset} ", printed, re.MULTILINE), printed
        urls = {name: f"http://127.0.0.1:{first + n}" for n, name in enumerate(("surveys", "skills", "matchmaking"))}
        ingress, mail = f"http://127.0.0.1:{first + 5}", f"http://127.0.0.1:{first + 7}"
        token = auth_local.load(state / "auth").mint(
            subject="up-test", roles=[Role.PLATFORM_ADMIN], clusters=["*"], ttl=timedelta(hours=1)
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as api:
            cluster = await ok(
                await api.post(f"{urls['surveys']}/clusters", json={"name": "Linz Robotics Cluster", "country": "AT"}),
                201,
            )
            member = await ok(
                await api.post(
                    f"{urls['surveys']}/clusters/{cluster['id']}/members",
                    json={
                        "name": "Linz Robotics GmbH",
                        "member_type": "sme",
                        "country": "AT",
                        "contacts": [{"name": "Olga Berger", "email": CONTACT, "language": "en"}],
                    },
                ),
                201,
            )
            offer = {"title": "Data skills for robotics", "skill_codes": ["digcomp:5.2"], "format": "training"}
            await ok(
                await api.post(
                    f"{urls['matchmaking']}/partners",
                    json={
                        "name": "Robotics Academy Linz",
                        "partner_type": "training_provider",
                        "country": "AT",
                        "offers": [offer | {"delivery": "online", "seats": 10}],
                    },
                ),
                201,
            )
            event = json.loads((ROOT / "contracts" / "examples" / "surveys.response.completed.v1.json").read_text())
            event |= {"id": str(uuid.uuid4()), "subject": member["id"], "time": datetime.now(UTC).isoformat()}
            event["data"] |= {"cluster_id": cluster["id"], "member_id": member["id"], "response_id": "up-1"}
            event["data"]["completed_at"] = event["time"]

            async def posted() -> bool:  # the ingress knows the cluster once surveys' member event reached it
                answer = await api.post(
                    f"{ingress}/events",
                    content=json.dumps(event),
                    headers={"content-type": "application/cloudevents+json"},
                )
                return answer.status_code in (200, 202)

            await eventually(posted, timeout=60, what="the ingress to take the response")

            async def emailed() -> list[dict[str, Any]] | None:
                found = (await api.get(f"{mail}/mail/api/messages", params={"to": CONTACT})).json()
                return [m for m in found if "Data skills for robotics" in m["text"]] or None

            [email] = await eventually(emailed, timeout=120, what="the match email in the mail sink")
            assert "Robotics Academy Linz" in email["text"]

        # The console, its own process on the services' APIs: this machine's platform admin signs in with a button.
        console = f"http://127.0.0.1:{first + 8}"
        async with httpx.AsyncClient(base_url=console, follow_redirects=True, timeout=30) as browser:
            page = await browser.get("/")
            assert "Platform admin (this machine)" in page.text, page.text
            fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text.split("<form")[-1]))
            home = await browser.post("/signin", data=fields)
            assert home.status_code == 200 and "Linz Robotics Cluster" in home.text, home.text[:2000]
    finally:
        stopped = _run(down, *options)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.count("stopped ") == 8, stopped.stdout
    for line in started.stdout.splitlines():
        if "(pid " in line:
            pid = int(line.split("(pid ")[1].split(",")[0])
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    again = _run(down, *options)
    assert again.returncode == 0 and "nothing started here" in again.stdout
    connection = await asyncpg.connect(asyncpg_dsn(pg_admin_url))
    try:
        for service in SERVICES:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database_name(prefix, service)}" WITH (FORCE)')
    finally:
        await connection.close()
