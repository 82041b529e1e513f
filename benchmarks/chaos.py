"""Chaos under load: the loop keeps its promises while replicas die and freeze, the mail relay fails, the broker and
PostgreSQL restart and the network between them and the services misbehaves.

    scripts/chaos                        # a 3-minute run with seed 1
    scripts/chaos --seed 7 --minutes 20  # replay a run: the seed fixes the workload and the schedule of faults

What one run does, on this machine:

1. Starts the platform as deployed (``loopkit.platform``): fresh databases and topics, surveys, and **two
   replicas** of each consumer service (skills, matchmaking, strategy, notifications) in one consumer group
   each, so partitions move between them whenever one dies or freezes. An SMTP sink stands in for the relay.
   Every service reaches Kafka, PostgreSQL and the relay through Toxiproxy (``loopkit.network``); the broker
   advertises the proxy's port, so no client goes around it.
2. Seeds one cluster (``--members`` members, each with a contact) and a partner directory, then puts one
   completed survey response per member on Kafka, paced over the run, as another survey tool would. Some
   are sent twice (the same CloudEvent id: a retrying producer), some are malformed (not JSON; data that breaks
   the schema).
3. Meanwhile the nemesis (``loopkit.nemesis``) draws faults from the seed: SIGKILL a replica and start it again
   after a pause; SIGSTOP a replica for longer than the Kafka session timeout (a zombie that wakes after its
   partitions moved), then SIGCONT; the relay answering 451, or gone; the Kafka broker or PostgreSQL stopped
   (cleanly, or killed: SIGKILL, an immediate shutdown) and started again; latency, a stall or a cut on the
   network to Kafka, PostgreSQL or the relay. ``scripts/chaos`` runs on a broker and a PostgreSQL of its own
   (``.infra/chaos``, with PostgreSQL's production durability), so restarting them disturbs nothing else.
4. When the stream is over and the last fault healed, it waits for the loop to settle, then the checker reads
   every service's database, the topics and the sink and prints one table: what was lost, what was doubled; and
   how long the consumers' lag took to come back after each kind of fault.

Exit status 1 when anything was lost or doubled (duplicates of one Message-ID, the documented at-least-once
window of email, are reported on their own line and do not fail the run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).parent))

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from loopkit.faults import FlakySink
from loopkit.nemesis import SESSION_TIMEOUT_S, Nemesis
from loopkit.network import Toxiproxy
from loopkit.platform import Platform, Service, asyncpg_dsn, free_port
from loopkit.recovery import LagWatch, summary
from loopkit.timeline import FAILING as SCHEDULE_FAILING
from loopkit.timeline import (
    PlatformClock,
    check_digests,
    check_schedules,
    choose_digests,
    emails_open,
    reminders_of,
    schedules_behind,
    seed_audience,
)
from loopkit.workload import Cluster, group_lag, response_event, seed_cluster, seed_partners

from trellis_common.bus.base import OutgoingMessage
from trellis_common.bus.kafka import KafkaBus
from trellis_common.catalogue import BY_TYPE, spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.errors import TransientError
from trellis_common.events import PartnersMatched, ResponseCompleted, ReviewDue

CONSUMERS = ("skills", "matchmaking", "strategy", "notifications")


@dataclass
class Run:
    seed: int
    valid: dict[str, CloudEvent] = field(default_factory=dict)  # member id -> its response
    duplicates: int = 0
    malformed: set[str] = field(default_factory=set)  # the ids of the malformed events sent


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="fixes the workload and the faults")
    parser.add_argument("--minutes", type=float, default=3, help="how long responses stream and faults happen")
    parser.add_argument("--members", type=int, default=600, help="members, one response each")
    parser.add_argument("--fault-every", type=float, default=6, help="mean seconds between two faults")
    parser.add_argument("--settle-timeout", type=float, default=300, help="seconds to wait for the loop to settle")
    parser.add_argument("--json-out", type=Path, help="write the checker's figures here as JSON")
    return parser.parse_args()


class Chaos:
    def __init__(self, args: argparse.Namespace, pg_url: str, bootstrap: str) -> None:
        self.args = args
        # The workload's own stream from the seed (the nemesis has another), so their draws never interleave by
        # timing: the same seed gives the same responses and the same schedule of faults.
        self.rng = random.Random(f"{args.seed}:workload")
        self.platform = Platform(pg_url, bootstrap)
        self.sink = FlakySink(self.platform.sink.port)
        self.replicas: dict[str, list[Service]] = {}
        self.run = Run(args.seed)
        self.started = 0.0
        self.lost: dict[str, list[str]] = {}
        self.network = Toxiproxy(free_port(), self.platform.log_dir / "toxiproxy.log")
        self.proxied: list[str] = []  # what the network faults can reach: kafka (when it advertises the proxy)...
        self.clock = PlatformClock(self.platform, self.replicas)
        self.digests: set[str] = set()  # the addresses of members who take matches as a weekly digest
        self.nemesis = Nemesis(
            args.seed, args.fault_every, self.replicas, self.sink, self.network, self.proxied, self.clock
        )

    # --- the platform ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        platform = self.platform
        platform.sink = self.sink  # type: ignore[assignment]  # the flaky sink on the port the services were told
        await asyncio.to_thread(self.network.launch)
        await self.network.wait_ready()
        kafka_port = int(platform.bootstrap.rpartition(":")[2])
        advertised = int(os.environ.get("TRELLIS_KAFKA_ADVERTISED_PORT", kafka_port))
        if advertised != kafka_port:  # the broker sends every client to the proxy (scripts/chaos sets this up)
            await self.network.proxy("kafka", advertised, kafka_port)
            self.proxied.append("kafka")
        await platform.prepare()
        database = urlsplit(platform.pg_admin_url)
        pg_proxy = await self.network.proxy("postgres", free_port(), database.port or 5432)
        smtp_proxy = await self.network.proxy("smtp", free_port(), self.sink.port)
        self.proxied += ["postgres", "smtp"]
        for service in platform.services.values():
            url = urlsplit(service.env["TRELLIS_DATABASE_URL"])
            through = url._replace(netloc=f"{url.netloc.rpartition('@')[0]}@127.0.0.1:{pg_proxy}")
            service.env |= {
                "TRELLIS_DATABASE_URL": urlunsplit(through),
                "TRELLIS_KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_S * 1000),
                "TRELLIS_SEND_LEASE_S": "10",  # a killed sender's claimed emails go out again after this
                "TRELLIS_RETRY_MAX_BACKOFF_S": "2",
            }
            if "TRELLIS_SMTP_PORT" in service.env:
                service.env["TRELLIS_SMTP_PORT"] = str(smtp_proxy)
            if service.name in ("strategy", "notifications"):
                service.env |= PlatformClock.environment()
        for name in CONSUMERS:
            first = platform.services[name]
            second = Service(name, dict(first.env), platform.log_dir / f"{name}-2.log")
            self.replicas[name] = [first, second]
        await platform.start("surveys", "notifications", "matchmaking")
        async with platform.client("surveys") as surveys, platform.client("matchmaking") as matchmaking:
            self.cluster = await seed_cluster(surveys, "chaos", self.args.members)
            await seed_audience(surveys, self.cluster.cluster_id)
            await seed_partners(matchmaking, 60, 100, self.rng)

        async def contacts_known() -> bool:
            count = await platform.scalar("notifications", "SELECT count(*) FROM contacts")
            return bool(count >= self.args.members + 2)  # and the manager and the board member

        await _until("the contact directory in notifications", contacts_known, 120)
        async with platform.client("notifications") as notifications:
            self.digests = await choose_digests(platform, notifications, self.rng)
        for name in CONSUMERS:
            for replica in self.replicas[name]:
                if not replica.running():
                    replica.start()
        for name in CONSUMERS:
            for replica in self.replicas[name]:
                await replica.wait_ready()

    # --- the workload ---------------------------------------------------------------------------------------

    async def stream(self) -> None:
        """One response per member, paced over the run; some twice, some malformed, in a seeded order."""
        topic = spec_for_model(ResponseCompleted).topic(self.platform.prefix)
        producer = KafkaBus(self.platform.bootstrap, "chaos-survey-tool")  # ours: it replaces a broken producer
        await producer.start()
        try:
            members = list(self.cluster.member_ids)
            self.rng.shuffle(members)
            interval = self.args.minutes * 60 / max(1, len(members))
            for i, member_id in enumerate(members):
                delay = self.started + i * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the load generator
                event = response_event(self.cluster, member_id, self.rng)
                self.run.valid[member_id] = event
                headers, value = to_binary(event)
                await _send(producer, topic, value, member_id, headers)
                roll = self.rng.random()
                if roll < 0.05:  # a retrying producer: the very same event again
                    await _send(producer, topic, value, member_id, headers)
                    self.run.duplicates += 1
                elif roll < 0.08:
                    junk, junk_headers = self._malformed(event)
                    await _send(producer, topic, junk, member_id, junk_headers)
                    self.run.malformed.add(f"broken-{event.id}")
        finally:
            await producer.stop()

    def _malformed(self, event: CloudEvent) -> tuple[bytes, list[tuple[str, bytes]]]:
        broken = event.model_copy(update={"id": f"broken-{event.id}"})
        headers, value = to_binary(broken)
        if self.rng.random() < 0.5:
            return b"{not json", headers
        data = dict(broken.data or {})
        data.pop("member_id")  # required by the schema
        headers, value = to_binary(broken.model_copy(update={"data": data}))
        return value or b"", headers

    # --- the checker ----------------------------------------------------------------------------------------

    async def settle(self) -> bool:
        """Every member emailed, every consumer group caught up, every outbox and email sent, every schedule up to
        the clock (or the timeout). The clock jumps a week at the end, so every weekly digest falls due."""
        members = {Cluster.address("chaos", i).lower() for i in range(self.args.members)}

        def quiet(expected: set[str]) -> Any:
            async def check() -> bool:
                arrived = {address for address, times in self.sink.snapshot().items() if times}
                return (
                    expected <= arrived
                    and await self._lag() == 0
                    and sum((await self._unsent()).values()) == 0
                    and await emails_open(self.platform) == 0
                    and await schedules_behind(self.platform, self.clock) == 0
                )

            return check

        try:
            timeout = self.args.settle_timeout
            await _until("the members on email-each to be emailed", quiet(members - self.digests), timeout)
            await self.clock.jump(timedelta(days=8))
            await _until("the loop to settle", quiet(members), timeout, interval=1.0)
        except TimeoutError:
            return False
        return True

    def groups(self) -> dict[str, list[str]]:
        """Each consumer service's group and the topics it reads."""
        out = {}
        for name in CONSUMERS:
            definition = importlib.import_module(f"trellis_{name}.service").DEFINITION
            types = [*definition.handlers, *getattr(definition, "batch_handlers", {})]
            topics = {BY_TYPE[t].topic(self.platform.prefix) for t in types}
            out[f"{self.platform.prefix}trellis-{name}"] = sorted(topics)
        return out

    async def _lag(self) -> int:
        return sum([await group_lag(self.platform.bootstrap, group, topics) for group, topics in self.groups().items()])

    def recoveries(self, watch: LagWatch) -> dict[str, list[float]]:
        """Each fault's recovery read off the lag, grouped by kind."""
        out: dict[str, list[float]] = defaultdict(list)
        for fault in self.nemesis.faults:
            if fault.healed is not None:
                fault.recovered_s = watch.recovered_after(fault.started, fault.healed)
                if fault.recovered_s is not None:
                    out[fault.kind].append(fault.recovered_s)
        return out

    async def _unsent(self) -> dict[str, int]:
        out = {}
        for name in ("surveys", *CONSUMERS):
            out[name] = int(
                await self.platform.scalar(
                    name, "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
                )
            )
        return out

    async def check(self, settled: bool) -> dict[str, Any]:
        platform, valid = self.platform, self.run.valid
        responses = {str((e.data or {})["response_id"]) for e in valid.values()}
        conn = await asyncpg.connect(asyncpg_dsn(platform.databases["skills"]))
        try:
            assessed = {r["response_id"]: r["id"] for r in await conn.fetch("SELECT id, response_id FROM assessments")}
        finally:
            await conn.close()
        conn = await asyncpg.connect(asyncpg_dsn(platform.databases["matchmaking"]))
        try:
            over_capacity = await conn.fetchval(
                "SELECT count(*) FROM (SELECT o.id FROM offers o JOIN matches m ON m.offer_id = o.id"
                " WHERE m.status IN ('proposed', 'accepted', 'completed') GROUP BY o.id, o.seats"
                " HAVING count(*) > o.seats) AS full_offers"
            )
            seated_twice = await conn.fetchval(
                "SELECT count(*) FROM (SELECT member_id, skill_code, period FROM matches"
                " WHERE status IN ('proposed', 'accepted', 'completed')"
                " GROUP BY member_id, skill_code, period HAVING count(*) > 1) AS twice"
            )
        finally:
            await conn.close()
        matched = await _records(platform.bootstrap, spec_for_model(PartnersMatched).topic(platform.prefix))
        runs: dict[str, set[str]] = defaultdict(set)  # assessment -> distinct matched events for it
        for record in matched:
            data = json.loads(record.value or b"{}")
            event_id = dict(record.headers or ()).get("ce_id", b"").decode()
            if data.get("reason") == "assessment":
                runs[str(data.get("assessment_id"))].add(event_id)
        reminders = reminders_of(await _records(platform.bootstrap, spec_for_model(ReviewDue).topic(platform.prefix)))
        dlq = await _records(platform.bootstrap, f"{spec_for_model(ResponseCompleted).topic(platform.prefix)}.dlq")
        dead = {_header(r, "ce_id"): _header(r, "trellis_error") for r in dlq}  # event id -> why it was refused
        arrivals = self.sink.snapshot()
        emailed = {Cluster.address("chaos", i) for i in range(self.args.members)}
        counts = [arrivals.get(address.lower(), []) for address in emailed]
        unsent = await self._unsent()
        lag = await self._lag()
        crashed = [self.nemesis.label(r) for name in CONSUMERS for r in self.replicas[name] if not r.running()]
        assessment_ids = set(assessed.values())
        self.lost = {  # to look for in the logs
            "responses not assessed": sorted(responses - assessed.keys())[:10],
            "members not emailed": sorted(a for a, c in zip(emailed, counts, strict=True) if not c)[:10],
        }
        figures = {
            "seed": self.run.seed,
            "settled": settled,
            "faults": Counter(f.kind for f in self.nemesis.faults),
            "responses": len(responses),
            "sent twice": self.run.duplicates,
            "malformed": len(self.run.malformed),
            "assessed: lost": len(responses - assessed.keys()),
            "assessed: doubled": len(assessed) - len(responses & assessed.keys()),
            "matched: lost": len(assessment_ids - runs.keys()),
            "matched: doubled": sum(1 for ids in runs.values() if len(ids) > 1),
            "seats: offers over capacity": int(over_capacity),
            "seats: gaps seated twice": int(seated_twice),
            "emails: lost": sum(1 for c in counts if not c),
            "emails: doubled (another Message-ID)": sum(1 for c in counts if len(set(c)) > 1),
            "emails: resent (same Message-ID, at-least-once window)": sum(1 for c in counts if len(c) > len(set(c))),
            "malformed: not in the DLQ": len(self.run.malformed - dead.keys()),
            "malformed: in the DLQ without its reason": sum(1 for reason in dead.values() if not reason),
            "malformed: dead-lettered again (a replica died before its commit)": len(dlq) - len(dead),
            "outbox: unsent rows": sum(unsent.values()),
            "consumer lag": lag,
            "replicas not running": len(crashed),
            "clock: moved ahead (days)": round(self.clock.shift.total_seconds() / 86_400, 1),
            "clock: replicas that never took a jump": self.clock.unreached,
            **await check_digests(platform, self.digests),
            **await check_schedules(platform, reminders, arrivals, self.clock),
        }
        return figures


async def _send(
    producer: KafkaBus, topic: str, value: bytes | None, key: str, headers: list[tuple[str, bytes]]
) -> None:
    """Send until the broker takes it, as a survey tool keeps trying while the broker restarts (a resend is the
    same event id, which the consumers drop as a duplicate)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            await producer.publish([OutgoingMessage(topic, key, value, headers)])
            return
        except TransientError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)  # backing off while the broker is away


def _header(record: Any, name: str) -> str:
    return bytes(dict(record.headers or ()).get(name, b"")).decode(errors="replace")


async def _records(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = await consumer.end_offsets(partitions)
        out: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()


async def _until(what: str, check: Any, within_s: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval)  # polling with a deadline
    raise TimeoutError(f"timed out waiting for {what}")


FAILING = (
    "assessed: lost",
    "assessed: doubled",
    "matched: lost",
    "matched: doubled",
    "seats: offers over capacity",
    "seats: gaps seated twice",
    "emails: lost",
    "emails: doubled (another Message-ID)",
    "malformed: not in the DLQ",
    "malformed: in the DLQ without its reason",
    "outbox: unsent rows",
    "consumer lag",
    "replicas not running",
    "clock: replicas that never took a jump",
    *SCHEDULE_FAILING,
)


def report(chaos: Chaos, figures: dict[str, Any]) -> int:
    print(f"\nChaos run, seed {chaos.run.seed}: {figures['responses']} responses over {chaos.args.minutes} min")
    print(f"logs: {chaos.platform.log_dir}\n\nFaults ({len(chaos.nemesis.faults)}):")
    for fault in chaos.nemesis.faults:
        print(f"  {fault}")
    print("\n| check | count |\n|---|---|")
    for name, value in figures.items():
        if name in ("seed", "faults", "recovery"):
            continue
        flag = " **FAILED**" if name in FAILING and value else ""
        print(f"| {name} | {value}{flag} |")
    print("\nRecovery, from a fault's start until the consumers' lag was back to its level before:")
    for kind, line in figures["recovery"].items():
        print(f"  {kind:<12} {line}")
    for what, ids in chaos.lost.items():
        if ids:
            print(f"  {what}: {', '.join(ids)}")
    failed = [name for name in FAILING if figures[name]] + ([] if figures["settled"] else ["settled"])
    print(f"\n{'FAILED: ' + ', '.join(failed) if failed else 'nothing lost, nothing doubled'}")
    return 1 if failed else 0


async def main() -> int:
    args = _arguments()
    pg_url = os.environ["TRELLIS_TEST_DATABASE_URL"]
    bootstrap = os.environ["TRELLIS_TEST_KAFKA_BOOTSTRAP"]
    chaos = Chaos(args, pg_url, bootstrap)
    try:
        await chaos.start()
        watch, watching = LagWatch(bootstrap, chaos.groups()), asyncio.Event()
        watcher = asyncio.create_task(watch.run(watching))
        chaos.started = time.monotonic()
        until = chaos.started + args.minutes * 60
        await asyncio.gather(chaos.stream(), chaos.nemesis.run(until, chaos.started))
        await chaos.nemesis.healed()
        settled = await chaos.settle()
        watching.set()
        await watcher
        figures = await chaos.check(settled)
        figures["recovery"] = summary(chaos.recoveries(watch))
        if args.json_out:
            args.json_out.write_text(json.dumps(figures, indent=2, default=str))
        return report(chaos, figures)
    finally:
        for name in CONSUMERS:
            for replica in chaos.replicas.get(name, []):
                with contextlib.suppress(ProcessLookupError):
                    if replica.process is not None and replica.process.poll() is None:
                        replica.process.send_signal(signal.SIGCONT)
                replica.stop()
        await chaos.platform.close()
        chaos.network.stop()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
