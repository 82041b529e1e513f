"""CPU of what the services lean on: PostgreSQL, the Kafka broker, this benchmark (producer and SMTP sink), and
the machine as a whole, read from /proc (Linux), so a run shows where the cores went besides the services.

PostgreSQL is found through one of its backends (its parent is the postmaster), the broker as the process that
listens on the bootstrap port. Exited children (PostgreSQL backends that closed) count through the parent's
``cutime``/``cstime`` once it has reaped them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    # Fields after the command name (which may contain spaces): state is [0], ppid [1], utime [11] ...
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _own_and_reaped(pid: int) -> float:
    fields = _stat(pid)
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _CLOCK_TICKS


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (all its threads)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, its reaped children and its live children."""
    total = _own_and_reaped(pid)
    for child in _children(pid):
        try:
            total += cpu_seconds(child)
        except (OSError, IndexError, ValueError):
            continue
    return total


async def postmaster_pid(pg_url: str) -> int | None:
    conn = await asyncpg.connect(pg_url)
    try:
        backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
        return int(_stat(backend)[1])  # read while the backend lives: it ends with the connection
    except OSError:
        return None  # a server on another machine
    finally:
        await conn.close()


def listener_pid(port: int) -> int | None:
    """The local process with a TCP socket listening on ``port``, if it is ours to see."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle, not waiting for I/O) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / _CLOCK_TICKS


@dataclass(frozen=True)
class Snapshot:
    wall: float
    parts: dict[str, float]


class MachineCpu:
    """CPU seconds of PostgreSQL, the broker, this process and the whole machine between two snapshots."""

    def __init__(self, postgres: int | None, broker: int | None) -> None:
        self.pids = {"PostgreSQL": postgres, "Kafka broker": broker}

    @classmethod
    async def find(cls, pg_url: str, bootstrap: str) -> MachineCpu:
        port = int(bootstrap.split(",")[0].rsplit(":", 1)[1])
        return cls(await postmaster_pid(pg_url), listener_pid(port))

    def snapshot(self) -> Snapshot:
        parts = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items() if pid is not None}
        parts["this benchmark (producer, SMTP sink)"] = time.process_time()
        parts["machine, all processes"] = machine_busy_seconds()
        return Snapshot(time.monotonic(), parts)

    @staticmethod
    def spent(before: Snapshot, after: Snapshot) -> dict[str, float]:
        spent = {name: round(after.parts[name] - before.parts[name], 1) for name in after.parts}
        spent["machine, available (cores × wall time)"] = round((os.cpu_count() or 1) * (after.wall - before.wall), 1)
        return spent
