"""The loop at the speed of its bus: every stage, the whole chain, latency and cost, in one run.

    scripts/infra up && eval "$(scripts/infra env)"
    .venv/bin/python benchmarks/loop.py                 # defaults finish in a few minutes on 2 cores
    .venv/bin/python benchmarks/loop.py --members 500 --json

What one run measures, on this machine, one after the other:

1. **The limit**: raw aiokafka moving records through four hops in one process (idempotent producer,
   acks=all, offsets committed per batch), then the same with one PostgreSQL insert per record and hop,
   committed per batch. Nothing built on this bus and database can go faster.
2. **Each stage** of the platform (services as processes on Kafka + PostgreSQL + an SMTP sink), draining a
   backlog of its input topic with the stages after it stopped: skills (responses → gaps), matchmaking
   (gaps → matches), notifications (matches → emails at the sink), strategy (matches → its projection).
   A stage's rate is taken between its first and its last output, so process start-up is not counted.
3. **End to end**, a burst: ``--members`` responses of another cluster put on Kafka at once, everything
   running; the clock stops when every member's email has reached the sink.
4. **Latency** at a steady rate (``--steady-rate`` responses per second for ``--steady-seconds``): from the
   response put on Kafka to the member's email at the sink, p50 and p99.
5. **Embedded mode**: the same burst in one process (SQLite, in-process bus, mail sink).

It also prints the CPU seconds each service spent on the burst, and beside them PostgreSQL's, the broker's, its
own (producer and SMTP sink) and the whole machine's against what its cores could give; and how many emails
each member got.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from loopkit.embedded import measure_embedded
from loopkit.limit import measure_limit
from loopkit.machine import MachineCpu
from loopkit.platform import Platform, asyncpg_dsn
from loopkit.report import print_table
from loopkit.workload import (
    Cluster,
    Producer,
    group_lag,
    percentile,
    rate_between,
    response_event,
    seed_cluster,
    seed_partners,
    topic_stamps,
)

from trellis_common.catalogue import BY_TYPE, spec_for_model
from trellis_common.events import GapsAssessed, PartnersMatched


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=2000, help="members per cluster; responses per burst")
    parser.add_argument("--offers", type=int, default=200, help="partner offers in the directory")
    parser.add_argument("--seats", type=int, default=100, help="seats per offer and period")
    parser.add_argument("--steady-rate", type=float, default=50.0, help="responses per second for the latency run")
    parser.add_argument("--steady-seconds", type=float, default=20.0, help="how long the latency run lasts")
    parser.add_argument("--limit-events", type=int, default=10000, help="records through the limit chains")
    parser.add_argument("--phase-timeout", type=float, default=600.0, help="give up on a phase after this long")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["limit", "project", "stages", "burst", "embedded"],
        help="leave a part out (stages and burst are parts of the project run)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON to this file")
    return parser.parse_args()


def _infra() -> tuple[str, str]:
    try:
        return os.environ["TRELLIS_TEST_DATABASE_URL"], os.environ["TRELLIS_TEST_KAFKA_BOOTSTRAP"]
    except KeyError:
        sys.exit('Start the infrastructure first: scripts/infra up && eval "$(scripts/infra env)"')


async def _wait(what: str, check: Any, within_s: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {within_s:.0f} s")
        await asyncio.sleep(interval)


def _first_arrivals(platform: Platform, group: str, members: int) -> list[float]:
    arrivals = platform.sink.snapshot()
    out = []
    for i in range(members):
        times = arrivals.get(Cluster.address(group, i))
        if times:
            out.append(min(times))
    return out


def _emails_per_member(platform: Platform, group: str, members: int) -> dict[str, int]:
    arrivals = platform.sink.snapshot()
    counts = [len(arrivals.get(Cluster.address(group, i), ())) for i in range(members)]
    return {
        "members": members,
        "emails": sum(counts),
        "without_email": sum(1 for c in counts if c == 0),
        "with_more_than_one": sum(1 for c in counts if c > 1),
        "most_to_one_member": max(counts, default=0),
    }


async def _settle(platform: Platform, what: str, within_s: float) -> bool:
    """Wait until nothing is left to do; False (and the run goes on) when that does not happen in time."""
    try:
        await _wait(what, lambda: _settled(platform), within_s, interval=0.5)
        return True
    except TimeoutError:
        return False


def _consumed_types(service: str) -> set[str]:
    """The event types a service's consumer reads (its handlers and, where it has them, batch handlers)."""
    definition = importlib.import_module(f"trellis_{service}.service").DEFINITION
    return {*definition.handlers, *getattr(definition, "batch_handlers", {})}


async def _settled(platform: Platform) -> bool:
    """Every consumer group caught up on everything it reads and no email waiting to be sent."""
    prefix = platform.prefix
    for service in ("skills", "matchmaking", "strategy", "notifications"):
        topics = sorted({BY_TYPE[t].topic(prefix) for t in _consumed_types(service)})
        if await group_lag(platform.bootstrap, f"{prefix}trellis-{service}", topics):
            return False
    waiting = await platform.scalar(
        "notifications", "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')"
    )
    return not waiting


async def measure_project(args: argparse.Namespace, pg_url: str, bootstrap: str) -> dict[str, Any]:
    rng = random.Random(args.seed)
    platform = Platform(pg_url, bootstrap)
    await platform.prepare()
    figures: dict[str, Any] = {"logs": str(platform.log_dir)}
    timeout = args.phase_timeout
    try:
        steady_members = int(args.steady_rate * args.steady_seconds)
        await platform.start("surveys", "notifications", "matchmaking")
        async with platform.client("surveys") as surveys, platform.client("matchmaking") as matchmaking:
            stage = await seed_cluster(surveys, "stage", args.members)
            burst = await seed_cluster(surveys, "burst", args.members)
            steady = await seed_cluster(surveys, "steady", steady_members)
            await seed_partners(matchmaking, args.offers, args.seats, rng)
        members_total = 2 * args.members + steady_members

        async def contacts_known() -> bool:
            return bool(await platform.scalar("notifications", "SELECT count(*) FROM contacts") >= members_total)

        await _wait("the contact directory in notifications", contacts_known, timeout)
        platform.stop("notifications", "matchmaking")

        if "stages" in args.skip:
            await platform.start("skills", "matchmaking", "notifications", "strategy")
            # Warm up instead: consumer groups joined and connections open, as after the stages.
            warm = stage.member_ids[:20]
            async with Producer(bootstrap, platform.prefix) as producer:
                await producer.burst([(m, response_event(stage, m, rng)) for m in warm])
            await _wait(
                "the warm-up responses to be emailed",
                lambda: _all_arrived(platform, "stage", len(warm)),
                timeout,
            )
            await _settle(platform, "the warm-up to settle", timeout)
        else:
            # --- each stage draining a backlog, the stages after it stopped -----------------------------------
            events = [(m, response_event(stage, m, rng)) for m in stage.member_ids]
            async with Producer(bootstrap, platform.prefix) as producer:
                await producer.burst(events)
            stages: dict[str, dict[str, float]] = {}
            gaps_topic = spec_for_model(GapsAssessed).topic(platform.prefix)
            matched_topic = spec_for_model(PartnersMatched).topic(platform.prefix)

            cpu = platform.cpu()
            await platform.start("skills")
            gaps = await topic_stamps(bootstrap, gaps_topic, wanted=args.members, within_s=timeout)
            stages["skills"] = {"events": len(gaps), "rate": rate_between([t for t, _ in gaps])}
            stages["skills"]["cpu_s"] = platform.cpu()["skills"] - cpu["skills"]

            cpu = platform.cpu()
            await platform.start("matchmaking")

            async def assessed() -> list[tuple[float, dict[str, object]]] | None:
                found = await topic_stamps(bootstrap, matched_topic, wanted=args.members, within_s=5)
                firsts = [item for item in found if item[1].get("reason") == "assessment"]
                return found if len(firsts) >= len(gaps) else None

            try:
                matched = await _wait("matchmaking to drain its backlog", assessed, timeout, interval=1.0)
            except TimeoutError:
                matched = await topic_stamps(bootstrap, matched_topic, wanted=args.members, within_s=5)
            firsts = [t for t, data in matched if data.get("reason") == "assessment"]
            stages["matchmaking"] = {
                "events": len(firsts),
                "rate": rate_between(firsts),
                "rematch_events": sum(1 for _, data in matched if data.get("reason") != "assessment"),
                "cpu_s": platform.cpu()["matchmaking"] - cpu["matchmaking"],
            }

            cpu = platform.cpu()
            await platform.start("notifications")

            async def all_mailed() -> bool:
                return len(_first_arrivals(platform, "stage", args.members)) >= len(firsts)

            with contextlib.suppress(TimeoutError):
                await _wait("notifications to drain its backlog", all_mailed, timeout)
            arrivals = sorted(t for times in platform.sink.snapshot().values() for t in times)
            stages["notifications"] = {
                "events": len(arrivals),
                "rate": rate_between(arrivals),
                "cpu_s": platform.cpu()["notifications"] - cpu["notifications"],
            }

            cpu = platform.cpu()
            strategy_group = f"{platform.prefix}trellis-strategy"
            backlog = await group_lag(bootstrap, strategy_group, [matched_topic])
            platform.services["strategy"].start()
            first_progress: tuple[float, int] | None = None  # when the first batch was committed, and what was left
            deadline = time.monotonic() + timeout
            left = backlog
            while left and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # sampling the group's progress
                left = await group_lag(bootstrap, strategy_group, [matched_topic])
                if first_progress is None and left < backlog:
                    first_progress = (time.monotonic(), left)
            # From its first committed batch to its last, as the other stages (start-up is not counted).
            rate = 0.0
            if first_progress is not None and time.monotonic() > first_progress[0]:
                rate = (first_progress[1] - left) / (time.monotonic() - first_progress[0])
            stages["strategy"] = {
                "events": backlog - left,
                "rate": rate,
                "cpu_s": platform.cpu()["strategy"] - cpu["strategy"],
            }
            await platform.services["strategy"].wait_ready()
            figures["stages"] = stages
            figures["settled_stage"] = await _settle(platform, "the stage runs to settle", timeout)
            figures["emails_stage"] = _emails_per_member(platform, "stage", args.members)

        if "burst" not in args.skip:
            # --- end to end: a burst with everything running ----------------------------------------------------
            events = [(m, response_event(burst, m, rng)) for m in burst.member_ids]
            machine = await MachineCpu.find(asyncpg_dsn(pg_url), bootstrap)
            around = machine.snapshot()
            cpu = platform.cpu()
            started_wall = time.time()
            async with Producer(bootstrap, platform.prefix) as producer:
                await producer.burst(events)
            with contextlib.suppress(TimeoutError):
                await _wait(
                    "an email to every member of the burst",
                    lambda: _all_arrived(platform, "burst", args.members),
                    timeout,
                )
            firsts_burst = _first_arrivals(platform, "burst", args.members)
            done = max(firsts_burst) if firsts_burst else time.time()
            spent = platform.cpu()
            besides = machine.spent(around, machine.snapshot())
            figures["burst"] = {
                "responses": args.members,
                "emailed": len(firsts_burst),
                "seconds": done - started_wall,
                "rate": len(firsts_burst) / (done - started_wall) if firsts_burst else 0.0,
                "cpu_s": {name: round(spent[name] - cpu[name], 1) for name in spent},
                "cpu_besides_s": besides,
            }
            figures["settled_burst"] = await _settle(platform, "the burst to settle", timeout)
            figures["emails_burst"] = _emails_per_member(platform, "burst", args.members)

        # --- latency at a steady rate ----------------------------------------------------------------------
        events = [(m, response_event(steady, m, rng)) for m in steady.member_ids]
        async with Producer(bootstrap, platform.prefix) as producer:
            sent_at = await producer.paced(events, args.steady_rate)
        with contextlib.suppress(TimeoutError):
            await _wait(
                "an email to every member of the steady run",
                lambda: _all_arrived(platform, "steady", steady_members),
                timeout,
            )
        arrivals_by = platform.sink.snapshot()
        latencies = []
        for i, member_id in enumerate(steady.member_ids):
            times = arrivals_by.get(Cluster.address("steady", i))
            if times:
                latencies.append(min(times) - sent_at[member_id])
        figures["steady"] = {
            "rate": args.steady_rate,
            "responses": steady_members,
            "emailed": len(latencies),
            "p50_s": percentile(latencies, 0.5),
            "p99_s": percentile(latencies, 0.99),
            "max_s": max(latencies, default=float("nan")),
            "hops": await _hops(platform, steady, sent_at, arrivals_by),
        }
        figures["settled_steady"] = await _settle(platform, "the steady run to settle", timeout)
        figures["emails_steady"] = _emails_per_member(platform, "steady", steady_members)
    finally:
        await platform.close()
    return figures


async def _hops(
    platform: Platform, cluster: Cluster, sent_at: dict[str, float], arrivals: dict[str, list[float]]
) -> dict[str, dict[str, float]]:
    """Where the latency goes: p50/p99 of each hop, from the record times of the events in between."""
    members = set(cluster.member_ids)
    bootstrap, prefix = platform.bootstrap, platform.prefix
    stamps: dict[str, dict[str, float]] = {"gaps": {}, "matched": {}}
    for name, model in (("gaps", GapsAssessed), ("matched", PartnersMatched)):
        topic = spec_for_model(model).topic(prefix)
        for stamp, data in await topic_stamps(bootstrap, topic, wanted=0, within_s=5):
            member_id = str(data.get("member_id", ""))
            if member_id in members and member_id not in stamps[name]:
                stamps[name][member_id] = stamp
    emailed = {
        m: min(arrivals[Cluster.address(cluster.group, i)])
        for i, m in enumerate(cluster.member_ids)
        if arrivals.get(Cluster.address(cluster.group, i))
    }
    legs = {
        "response → gaps event (skills)": (sent_at, stamps["gaps"]),
        "gaps → matched event (matchmaking)": (stamps["gaps"], stamps["matched"]),
        "matched → email at the sink (notifications)": (stamps["matched"], emailed),
    }
    out = {}
    for leg, (start, end) in legs.items():
        spans = [end[m] - start[m] for m in members if m in start and m in end]
        out[leg] = {"p50_s": percentile(spans, 0.5), "p99_s": percentile(spans, 0.99)}
    return out


async def _all_arrived(platform: Platform, group: str, members: int) -> bool:
    return len(_first_arrivals(platform, group, members)) >= members


async def main() -> None:
    args = _arguments()
    logging.basicConfig(level=logging.ERROR)  # aiokafka's retries while new topics get their leaders
    pg_url, bootstrap = _infra()
    results: dict[str, Any] = {"members": args.members, "offers": args.offers, "seats": args.seats}
    payload = response_event(Cluster("c", []), "m", random.Random(1)).model_dump_json().encode()
    if "limit" not in args.skip:
        plain = await measure_limit(bootstrap, None, args.limit_events, payload)
        with_db = await measure_limit(bootstrap, asyncpg_dsn(pg_url), args.limit_events, payload)
        results["limit"] = {"kafka": plain.rate, "kafka_db": with_db.rate}
    if "project" not in args.skip:
        results["project"] = await measure_project(args, pg_url, bootstrap)
    if "embedded" not in args.skip:
        results["embedded"] = await measure_embedded(args.members, args.offers, args.seats, args.seed)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    asyncio.run(main())
