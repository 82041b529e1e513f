"""``trellis ids``: an integrating system finds the ids its events carry (cluster_id, member_id) by name, from the
surveys directory that issues them, as far as its token reaches."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from tests.support.prefix import serving
from tests.support.processes import free_port
from trellis.demo import CLUSTER, run_demo
from trellis.embedded import DEMO_FILE, build_embedded
from trellis_common.auth import Role

ENV = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}


async def test_cluster_and_member_ids_are_found_by_name(tmp_path: Path) -> None:
    port = free_port()
    platform = build_embedded(tmp_path / "data", public_url=f"http://127.0.0.1:{port}")
    async with serving(platform.app, port) as url:
        async with httpx.AsyncClient(base_url=url, headers=platform.admin_headers(), timeout=30) as admin:
            report = await run_demo(admin, record=tmp_path / "data" / DEMO_FILE)
        token = platform.auth_keys.mint(
            subject="crm", roles=[Role.INTEGRATION], clusters=[report.cluster_id], ttl=timedelta(hours=1)
        )
        stranger = platform.auth_keys.mint(
            subject="other-crm", roles=[Role.INTEGRATION], clusters=["another-cluster"], ttl=timedelta(hours=1)
        )

        def ids(*arguments: str, bearer: str = token) -> subprocess.CompletedProcess[str]:
            """The command as a person runs it (its own process: the served platform's log lines stay out)."""
            options = ["--surveys", f"{url}/surveys", "--token", bearer]
            command = [str(Path(sys.executable).parent / "trellis"), "ids", *arguments, *options]
            return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=ENV)

        clusters = await asyncio.to_thread(ids, "clusters", "danube")
        assert clusters.returncode == 0, clusters.stderr
        assert clusters.stdout.splitlines() == [f"{report.cluster_id}  {CLUSTER['name']}"]
        members = await asyncio.to_thread(ids, "members", "huber", "--cluster", report.cluster_id)
        assert members.returncode == 0, members.stderr
        [line] = members.stdout.splitlines()
        member_id, name = line.split("  ", 1)
        assert name == "Präzisionsteile Huber GmbH" and len(member_id) == 36

        unseen = await asyncio.to_thread(ids, "clusters", bearer=stranger)
        assert unseen.returncode == 0 and unseen.stdout == "", "another cluster's token sees none of them"
        refused = await asyncio.to_thread(ids, "members", "--cluster", report.cluster_id, bearer=stranger)
        assert refused.returncode == 1 and refused.stderr.startswith("ids: 404"), refused.stderr
        missing = await asyncio.to_thread(ids, "clusters", bearer="")
        assert missing.returncode == 2 and "bearer token" in missing.stderr
