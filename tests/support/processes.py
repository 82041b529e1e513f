"""Service processes for end-to-end and crash tests: each service runs as its own OS process, as deployed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.polling import eventually


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    def __init__(self, service: str, env: dict[str, str], log_dir: Path) -> None:
        self.service = service
        self.port = free_port()
        self.env = {
            **os.environ,
            "TRELLIS_PUBLIC_BASE_URL": self.url,  # links in emails reach this process, unless env says otherwise
            **env,
            "TRELLIS_HTTP_PORT": str(self.port),
            "TRELLIS_HTTP_HOST": "127.0.0.1",
        }
        self.log_path = log_dir / f"{service}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"trellis_{self.service}", "serve"],
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def wait_ready(self, timeout: float = 60) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:

            async def ready() -> bool:
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(f"{self.service} exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            try:
                await eventually(ready, timeout=timeout, interval=0.1, what=f"{self.service} to be ready")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n--- {self.service} log ---\n{self.log_tail()}") from None

    async def wait_exit(self, timeout: float = 30) -> int:
        async def exited() -> int | None:
            assert self.process is not None
            code = self.process.poll()
            return None if code is None else code or -999  # 0 would read as "not yet"

        code = await eventually(exited, timeout=timeout, interval=0.05, what=f"{self.service} to exit")
        return 0 if code == -999 else code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), as Kubernetes does; SIGKILL if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
