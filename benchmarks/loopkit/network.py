"""Network faults between the services and Kafka, PostgreSQL and the mail relay: a Toxiproxy server (built by
``scripts/ensure-toxiproxy``) with one proxy in front of each, and the three faults a network deals out: latency,
a stall (the connection stays open, nothing gets through) and a cut (connections reset, new ones refused)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
NETWORK_FAULTS = ("latency", "stall", "cut")


class Toxiproxy:
    """The proxy server as a process of the run, driven over its HTTP API."""

    def __init__(self, api_port: int, log: Path) -> None:
        self.api = f"http://127.0.0.1:{api_port}"
        self.api_port = api_port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.listening: dict[str, int] = {}

    def launch(self) -> None:
        """Build (once) and start the server; ``wait_ready`` then waits for its API."""
        server = subprocess.run(  # noqa: S603 - our own script, no user input
            [str(ROOT / "scripts" / "ensure-toxiproxy")], capture_output=True, text=True, check=True, timeout=600
        ).stdout.strip()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - the server just built, no user input
                [server, "-host", "127.0.0.1", "-port", str(self.api_port)], stdout=out, stderr=subprocess.STDOUT
            )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=self.api) as client:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/version")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Toxiproxy did not start (log: {self.log})")
                await asyncio.sleep(0.2)  # polling its API with a deadline

    async def proxy(self, name: str, listen_port: int, upstream_port: int) -> int:
        """A proxy ``name`` on ``listen_port`` in front of ``upstream_port``; returns the port to connect to."""
        body = {
            "name": name,
            "listen": f"127.0.0.1:{listen_port}",
            "upstream": f"127.0.0.1:{upstream_port}",
            "enabled": True,
        }
        await self._call("POST", "/proxies", body)
        self.listening[name] = listen_port
        return listen_port

    async def inject(self, name: str, fault: str, *, latency_ms: int = 0) -> None:
        if fault == "cut":
            await self._call("POST", f"/proxies/{name}", {"enabled": False})
            return
        toxic: dict[str, object]
        if fault == "latency":
            toxic = {"type": "latency", "attributes": {"latency": latency_ms, "jitter": latency_ms // 4}}
        elif fault == "stall":  # a timeout toxic of 0: data is held back until the toxic goes, nothing closes
            toxic = {"type": "timeout", "attributes": {"timeout": 0}}
        else:
            raise ValueError(f"unknown network fault {fault}")
        for stream in ("upstream", "downstream"):
            await self._call(
                "POST", f"/proxies/{name}/toxics", {**toxic, "name": f"{fault}-{stream}", "stream": stream}
            )

    async def heal(self, name: str, fault: str) -> None:
        if fault == "cut":
            await self._call("POST", f"/proxies/{name}", {"enabled": True})
            return
        for stream in ("upstream", "downstream"):
            await self._call("DELETE", f"/proxies/{name}/toxics/{fault}-{stream}")

    async def _call(self, method: str, path: str, body: dict[str, object] | None = None) -> None:
        async with httpx.AsyncClient(base_url=self.api, timeout=10) as client:
            response = await client.request(method, path, json=body)
            if response.status_code >= 300:
                raise RuntimeError(f"Toxiproxy {method} {path}: {response.status_code} {response.text}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
