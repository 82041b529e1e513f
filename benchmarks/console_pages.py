"""Server time of every console page at a realistic size: 5,000 members, 200 offers, 20,000 matches.

    .venv/bin/python benchmarks/console_pages.py                  # defaults: a few minutes on 2 cores
    .venv/bin/python benchmarks/console_pages.py --members 1000 --matches 4000 --rounds 10 --json

The platform runs embedded (one process, SQLite, in-process bus), seeded as a cluster would be: the demo
cluster and its people, ``--members`` members through the surveys CSV import (their names reach the other
services on the bus), ``--offers`` offers through the partner CSV import, and ``--matches`` matches of the current
period written straight into matchmaking's table (running the whole loop for 20,000 gaps would take longer
than the figure is worth; the pages read the same rows either way). Then the demo manager signs in and each
page is fetched ``--rounds`` times through the console, in process: the time is the server's, from request
to last byte, with no network. The table gives p50 and p95 per page; the target is p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, insert, select

from trellis.demo import SIGN_IN_PEOPLE, run_demo
from trellis.embedded import DEMO_FILE, EmbeddedPlatform, build_embedded
from trellis_common.db import outbox
from trellis_common.logging import configure_logging
from trellis_common.settings import narrowed
from trellis_matchmaking.matching.solving import current_period
from trellis_matchmaking.models import NAMES, matches, offers
from trellis_matchmaking.settings import MatchmakingSettings

SKILLS = ("digcomp:1.3", "digcomp:2.1", "digcomp:3.4", "digcomp:4.2", "digcomp:5.2", "greencomp:2.1")
TARGET_P95_MS = 300.0


def members_csv(count: int) -> bytes:
    rows = ["name,member_type,size_class,country,sector,contact_name,contact_email,contact_language"]
    for i in range(count):
        rows.append(f"Benchmark Member {i:05d} GmbH,sme,small,AT,C25,Contact {i},member{i}@bench.example,de")
    return ("\n".join(rows) + "\n").encode()


def partners_csv(count: int) -> bytes:
    rows = ["partner_name,partner_type,partner_country,offer_title,skill_codes,format,delivery,seats"]
    for i in range(count):
        skills = ";".join(random.sample(SKILLS, 2))
        rows.append(f"Benchmark Academy {i // 10:03d},training_provider,AT,Course {i:03d},{skills},training,online,200")
    return ("\n".join(rows) + "\n").encode()


async def wait_for(what: str, check: Any, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def settled(platform: EmbeddedPlatform) -> bool:
    """Nothing in flight: every consumer has caught up and every outbox row is published."""
    for runtime in platform.runtimes.values():
        consumer = runtime.consumer.bus_consumer if runtime.consumer is not None else None
        if consumer is not None and any((await consumer.lag()).values()):
            return False
        async with runtime.db.sessions() as session:
            unsent = await session.scalar(select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))
        if unsent:
            return False
    return True


async def run(args: argparse.Namespace) -> dict[str, Any]:
    random.seed(args.seed)
    data_dir = Path(tempfile.mkdtemp(prefix="trellis-console-bench-"))
    platform = build_embedded(data_dir)
    async with LifespanManager(platform.app, startup_timeout=120, shutdown_timeout=120):
        transport = httpx.ASGITransport(app=platform.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://trellis", headers=platform.admin_headers(), timeout=600
        ) as admin:
            report = await run_demo(admin, record=data_dir / DEMO_FILE)
            cluster_id = report.cluster_id
            started = time.perf_counter()
            imported = await admin.post(
                f"/surveys/clusters/{cluster_id}/members/import",
                files={"file": ("members.csv", members_csv(args.members), "text/csv")},
            )
            assert imported.status_code == 201, imported.text[:500]
            partners = await admin.post(
                "/matchmaking/partners/import",
                params={"owner_cluster_id": cluster_id},
                files={"file": ("partners.csv", partners_csv(args.offers), "text/csv")},
            )
            assert partners.status_code == 201, partners.text[:500]
            member_ids = list(imported.json()["member_ids"])
        runtime = platform.runtimes["matchmaking"]

        async def names_arrived() -> bool:
            async with runtime.db.sessions() as session:
                known = await session.scalar(select(func.count()).select_from(NAMES.members))
            return bool(int(known or 0) >= args.members)

        await wait_for("the members' names in matchmaking", names_arrived)
        # The pages are timed on a quiet platform: every service has consumed the 5,000 member events and
        # published its outbox (else the figure is the background work's, not the page's).
        await wait_for("every service to catch up", lambda: settled(platform))
        period = current_period(narrowed(runtime.settings, MatchmakingSettings), datetime.now(UTC))
        async with runtime.unit_of_work() as uow:
            offer_rows = (await uow.session.execute(select(offers))).mappings().all()
            now = datetime.now(UTC)
            rows = []
            for i in range(args.matches):
                offer = offer_rows[i % len(offer_rows)]
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "period": period,
                        "status": random.choice(("proposed", "proposed", "accepted", "declined", "completed")),
                        "cluster_id": cluster_id,
                        "member_id": member_ids[i % len(member_ids)],
                        "assessment_id": str(uuid.uuid4()),
                        "skill_code": random.choice(SKILLS),
                        "priority": random.random() * 10,
                        "offer_id": offer["id"],
                        "partner_id": offer["partner_id"],
                        "partner_name": "Benchmark Academy",
                        "partner_type": "training_provider",
                        "offer_title": offer["title"],
                        "format": "training",
                        "delivery": "online",
                        "score": random.random(),
                        "explanation": [],
                        "created_at": now - timedelta(minutes=random.randint(0, 60 * 24 * 30)),  # over a month
                        "updated_at": now,
                    }
                )
            for start in range(0, len(rows), 1000):
                await uow.session.execute(insert(matches), rows[start : start + 1000])
        seeded_s = time.perf_counter() - started

        async with httpx.AsyncClient(transport=transport, base_url="http://trellis", follow_redirects=True) as person:
            page = await person.get("/")
            form = next(f for f in page.text.split("<form")[1:] if SIGN_IN_PEOPLE["manager"] in f)
            home = await person.post("/signin", data=dict(re.findall(r'name="(\w+)" value="([^"]*)"', form)))
            assert home.url.path == f"/clusters/{cluster_id}", home.url
            members_page = await person.get(f"/clusters/{cluster_id}/members")
            member_id = re.findall(r'href="/members/([^"/]+)"', members_page.text)[0]
            strategies = await person.get(f"/clusters/{cluster_id}/strategy")
            strategy_id = re.findall(r'href="/strategies/([^"/]+)"', strategies.text)[0]
            paths = {
                "home": f"/clusters/{cluster_id}",
                "members": f"/clusters/{cluster_id}/members",
                "members, search": f"/clusters/{cluster_id}/members?q=00042",
                "members, page 50": f"/clusters/{cluster_id}/members?page=50",
                "member": f"/members/{member_id}",
                "member, edit": f"/members/{member_id}/edit",
                "surveys": f"/clusters/{cluster_id}/campaigns",
                "survey, launch form": f"/clusters/{cluster_id}/campaigns/new",
                "skills": f"/clusters/{cluster_id}/skills",
                "matches by member": f"/clusters/{cluster_id}/matches",
                "matches by offer": f"/clusters/{cluster_id}/matches?by=offer",
                "matches, accepted, page 20": f"/clusters/{cluster_id}/matches?status=accepted&page=20",
                "partners": f"/clusters/{cluster_id}/partners",
                "strategy": f"/strategies/{strategy_id}",
                "emails": f"/clusters/{cluster_id}/emails",
            }
            timings: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(args.rounds):
                for name, path in paths.items():
                    began = time.perf_counter()
                    answer = await person.get(path)
                    timings[name].append((time.perf_counter() - began) * 1000)
                    assert answer.status_code == 200, (name, answer.status_code)
    figures = {
        name: {"p50_ms": round(statistics.median(values), 1), "p95_ms": round(_p95(values), 1)}
        for name, values in timings.items()
    }
    return {
        "members": args.members,
        "offers": args.offers,
        "matches": args.matches,
        "rounds": args.rounds,
        "seeding_s": round(seeded_s, 1),
        "pages": figures,
        "target_p95_ms": TARGET_P95_MS,
        "over_target": [name for name, f in figures.items() if f["p95_ms"] >= TARGET_P95_MS],
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--offers", type=int, default=200)
    parser.add_argument("--matches", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=20, help="fetches of each page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING")  # a request log line per fetch would drown the table
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"console pages, embedded (SQLite): {result['members']} members, {result['offers']} offers, "
        f"{result['matches']} matches; {result['rounds']} fetches each (seeded in {result['seeding_s']} s)"
    )
    print(f"{'page':<30} {'p50 ms':>8} {'p95 ms':>8}")
    for name, figure in result["pages"].items():
        flag = "  over target" if figure["p95_ms"] >= TARGET_P95_MS else ""
        print(f"{name:<30} {figure['p50_ms']:>8} {figure['p95_ms']:>8}{flag}")
    print(f"target: p95 < {TARGET_P95_MS:.0f} ms on every page; over: {', '.join(result['over_target']) or 'none'}")


if __name__ == "__main__":
    main()
