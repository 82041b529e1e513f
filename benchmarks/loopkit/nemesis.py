"""The nemesis of the chaos runs: on a schedule drawn from the seed, it kills and freezes replicas, makes the mail
relay refuse or vanish, restarts the broker or PostgreSQL, and troubles the network in front of them; then it
undoes each fault and notes when, so the run can say how long the loop took to recover."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta
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
    healed: float | None = None  # when the harness undid it (the process restarted, the broker accepting again)
    recovered_s: float | None = None  # from its start until the lag was back to its level before

    def __str__(self) -> str:
        recovery = "" if self.recovered_s is None else f"   lag back after {self.recovered_s:5.1f} s"
        return f"{self.at_s:7.1f} s  {self.kind:<12} {self.target:<16} {self.lasts_s:5.1f} s{recovery}"


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

    def label(self, replica: Service) -> str:
        return f"{replica.name}-{self.replicas[replica.name].index(replica) + 1}"

    async def healed(self) -> None:
        """Wait until every fault is undone."""
        while self.healing:
            await asyncio.gather(*self.healing)

    async def run(self, until: float, started: float) -> None:
        busy: set[str] = set()
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
            at = time.monotonic() - started
            if kind in ("kill", "pause"):
                label = self.label(replica)
                if label in busy:
                    continue
                fault = Fault(at, kind, label, kill_for if kind == "kill" else SESSION_TIMEOUT_S + pause_for)
                busy.add(label)
                self._heal_later(self._process_fault(fault, replica, busy))
            elif kind.startswith("smtp"):
                if "smtp" in busy:
                    continue
                fault = Fault(at, kind, "relay", relay_for)
                busy.add("smtp")
                self._heal_later(self._relay_fault(fault, busy))
            elif kind == "clock":
                if "clock" in busy:
                    continue
                fault = Fault(at, kind, f"+{jump_days:.1f} days", 0.0)
                busy.add("clock")
                self._heal_later(self._clock_jump(fault, timedelta(days=jump_days), busy))
            elif kind == "network":
                busy_key = "smtp" if link == "smtp" else "infrastructure"
                if link not in self.proxied or busy_key in busy:
                    continue
                detail = f"{latency_ms} ms" if trouble == "latency" else trouble
                fault = Fault(at, kind, f"{link} {detail}", away_for)
                busy.add(busy_key)
                self._heal_later(self._network_fault(fault, link, trouble, latency_ms, busy_key, busy))
            else:  # broker or postgres, stopped or crashed: one of them at a time, as a single node fails
                if "infrastructure" in busy:
                    continue
                fault = Fault(at, kind, "killed" if crash else "stopped", away_for)
                busy.add("infrastructure")
                self._heal_later(self._infrastructure_fault(fault, crash, busy))
            self.faults.append(fault)

    def _heal_later(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.healing.add(task)
        task.add_done_callback(self.healing.discard)

    async def _process_fault(self, fault: Fault, replica: Service, busy: set[str]) -> None:
        process = replica.process
        try:
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
        finally:
            fault.healed = time.monotonic()
            busy.discard(fault.target)

    async def _clock_jump(self, fault: Fault, by: timedelta, busy: set[str]) -> None:
        try:
            await self.clock.jump(by)
        finally:
            fault.healed = time.monotonic()
            busy.discard("clock")

    async def _relay_fault(self, fault: Fault, busy: set[str]) -> None:
        try:
            if fault.kind == "smtp_refuse":
                self.sink.refusing = True
                await asyncio.sleep(fault.lasts_s)
                self.sink.refusing = False
            else:
                await asyncio.to_thread(self.sink.down)
                await asyncio.sleep(fault.lasts_s)
                await asyncio.to_thread(self.sink.up)
        finally:
            fault.healed = time.monotonic()
            busy.discard("smtp")

    async def _infrastructure_fault(self, fault: Fault, crash: bool, busy: set[str]) -> None:
        what = "kafka" if fault.kind == "broker" else "postgres"
        try:
            await asyncio.to_thread(self.infrastructure.stop, what, crash=crash)
            await asyncio.sleep(fault.lasts_s)
        finally:
            await asyncio.to_thread(self.infrastructure.start)  # waits until it accepts connections again
            fault.healed = time.monotonic()
            busy.discard("infrastructure")

    async def _network_fault(
        self, fault: Fault, link: str, trouble: str, latency_ms: int, busy_key: str, busy: set[str]
    ) -> None:
        try:
            await self.network.inject(link, trouble, latency_ms=latency_ms)
            await asyncio.sleep(fault.lasts_s)
        finally:
            await self.network.heal(link, trouble)
            fault.healed = time.monotonic()
            busy.discard(busy_key)
