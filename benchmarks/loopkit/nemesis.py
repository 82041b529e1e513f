"""The nemesis of the chaos runs: on a schedule drawn from the seed, it kills and freezes replicas, makes the mail
relay refuse or vanish, restarts the broker or PostgreSQL, and troubles the network in front of them; then it
undoes each fault and notes when, so the run can say how long the loop took to recover."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from loopkit.faults import FlakySink, Infrastructure
from loopkit.network import NETWORK_FAULTS, Toxiproxy
from loopkit.platform import Service
from loopkit.timeline import PlatformClock

# Replicas die and freeze most often in production; the relay, the infrastructure, the network and the
# schedulers' clock (jumping ahead: reviews and digests fall due) now and then.
KINDS = ("kill", "kill", "pause", "smtp_refuse", "smtp_down", "broker", "postgres", "network", "network", "clock")
PROXIED = ("kafka", "postgres", "smtp")
SESSION_TIMEOUT_S = 6  # the replicas' Kafka session timeout: a pause longer than this moves their partitions


@dataclass
class Fault:
    at_s: float
    kind: str
    target: str
    lasts_s: float
    started: float = field(default_factory=time.monotonic)
    wall: str = field(default_factory=lambda: datetime.now(UTC).strftime("%H:%M:%S"))  # to find it in the logs
    healed: float | None = None  # when the harness undid it (the process restarted, the broker accepting again)
    recovered_s: float | None = None  # from its start until the lag was back to its level before

    def __str__(self) -> str:
        recovery = "" if self.recovered_s is None else f"   lag back after {self.recovered_s:5.1f} s"
        return f"{self.at_s:7.1f} s  {self.wall}  {self.kind:<12} {self.target:<16} {self.lasts_s:5.1f} s{recovery}"


class Nemesis:
    def __init__(
        self,
        seed: int,
        fault_every: float,
        replicas: dict[str, list[Service]],
        sink: FlakySink,
        network: Toxiproxy,
        proxied: list[str],
        clock: PlatformClock,
    ) -> None:
        self.rng = random.Random(f"{seed}:nemesis")  # its own stream: the workload's draws never shift it
        self.fault_every = fault_every
        self.replicas = replicas
        self.sink = sink
        self.network = network
        self.proxied = proxied
        self.clock = clock
        self.infrastructure = Infrastructure()
        self.faults: list[Fault] = []
        self.healing: set[asyncio.Task[None]] = set()
        self.turns: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)  # one fault at a time on each thing

    def label(self, replica: Service) -> str:
        return f"{replica.name}-{self.replicas[replica.name].index(replica) + 1}"

    async def healed(self) -> None:
        """Wait until every fault is undone."""
        while self.healing:
            await asyncio.gather(*self.healing)

    async def run(self, until: float, started: float) -> None:
        rng = self.rng
        replicas = [r for group in self.replicas.values() for r in group]
        while time.monotonic() < until:
            # Every draw of a turn is made whatever happens next, so a seed replays the same schedule.
            delay, kind, replica, crash = (
                rng.expovariate(1 / self.fault_every),
                rng.choice(KINDS),
                rng.choice(replicas),
                rng.random() < 0.5,
            )
            kill_for, pause_for, relay_for, away_for = (
                rng.uniform(1, 5),
                rng.uniform(1, 4),
                rng.uniform(3, 10),
                rng.uniform(2, 8),
            )
            link, trouble, latency_ms = rng.choice(PROXIED), rng.choice(NETWORK_FAULTS), rng.randint(200, 1500)
            jump_days = rng.uniform(20, 60)
            await asyncio.sleep(delay)  # the schedule, from the seed
            if time.monotonic() >= until:
                break
            # A fault waits its turn on what it breaks (a replica, the relay, the infrastructure, the clock), so
            # the faults of a seed are the ones drawn, whatever the timing; one not started by the end is dropped.
            turn: tuple[str, str, float, Callable[[Fault], Awaitable[None]]]
            if kind in ("kill", "pause"):
                lasts = kill_for if kind == "kill" else SESSION_TIMEOUT_S + pause_for
                turn = (self.label(replica), self.label(replica), lasts, partial(self._process_fault, replica=replica))
            elif kind.startswith("smtp"):
                turn = ("smtp", "relay", relay_for, self._relay_fault)
            elif kind == "clock":
                turn = ("clock", f"+{jump_days:.1f} days", 0.0, partial(self._clock_jump, by=timedelta(days=jump_days)))
            elif kind == "network":
                if link not in self.proxied:
                    continue
                detail = f"{latency_ms} ms" if trouble == "latency" else trouble
                work = partial(self._network_fault, link=link, trouble=trouble, latency_ms=latency_ms)
                turn = ("smtp" if link == "smtp" else "infrastructure", f"{link} {detail}", away_for, work)
            else:  # broker or postgres, stopped or crashed: one of them at a time, as a single node fails
                turn = (
                    "infrastructure",
                    "killed" if crash else "stopped",
                    away_for,
                    partial(self._infrastructure_fault, crash=crash),
                )
            self._heal_later(self._in_turn(kind, *turn, started=started, until=until))

    async def _in_turn(
        self,
        kind: str,
        resource: str,
        target: str,
        lasts_s: float,
        work: Callable[[Fault], Awaitable[None]],
        *,
        started: float,
        until: float,
    ) -> None:
        async with self.turns[resource]:
            if time.monotonic() >= until:
                return
            fault = Fault(time.monotonic() - started, kind, target, lasts_s)
            self.faults.append(fault)
            try:
                await work(fault)
            finally:
                fault.healed = time.monotonic()

    def _heal_later(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.healing.add(task)
        task.add_done_callback(self.healing.discard)

    async def _process_fault(self, fault: Fault, replica: Service) -> None:
        process = replica.process
        if process is None or process.poll() is not None:
            return
        if fault.kind == "kill":
            process.send_signal(signal.SIGKILL)
            process.wait()
            await asyncio.sleep(fault.lasts_s)
            replica.start()
        else:
            process.send_signal(signal.SIGSTOP)
            await asyncio.sleep(fault.lasts_s)
            process.send_signal(signal.SIGCONT)

    async def _clock_jump(self, fault: Fault, by: timedelta) -> None:
        await self.clock.jump(by)

    async def _relay_fault(self, fault: Fault) -> None:
        if fault.kind == "smtp_refuse":
            self.sink.refusing = True
            try:
                await asyncio.sleep(fault.lasts_s)
            finally:
                self.sink.refusing = False
        else:
            await asyncio.to_thread(self.sink.down)
            try:
                await asyncio.sleep(fault.lasts_s)
            finally:
                await asyncio.to_thread(self.sink.up)

    async def _infrastructure_fault(self, fault: Fault, crash: bool) -> None:
        what = "kafka" if fault.kind == "broker" else "postgres"
        try:
            await asyncio.to_thread(self.infrastructure.stop, what, crash=crash)
            await asyncio.sleep(fault.lasts_s)
        finally:
            await asyncio.to_thread(self.infrastructure.start)  # waits until it accepts connections again

    async def _network_fault(self, fault: Fault, link: str, trouble: str, latency_ms: int) -> None:
        try:
            await self.network.inject(link, trouble, latency_ms=latency_ms)
            await asyncio.sleep(fault.lasts_s)
        finally:
            await self.network.heal(link, trouble)
