"""``trellis up`` / ``trellis down``: the distributed topology on one machine, from a PostgreSQL server and a Kafka
broker already running (``scripts/infra up`` gives both): a database per service, the topics, the migrations,
every service as its own process on its own port, and a mail sink. ``down`` stops exactly what ``up`` started.

What ``up`` made lives in its state directory: the local token issuer's keys, the signing secrets (generated once,
kept), each process's log and a ``processes.json`` that ``down`` reads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import typer

from trellis_common import auth_local

SERVICES = ("surveys", "skills", "matchmaking", "strategy", "notifications", "ingress")
STATE = Path(".distributed")
RECORD = "processes.json"
SECRETS = (
    "TRELLIS_SURVEY_LINK_SECRET",
    "TRELLIS_REPLY_LINK_SECRET",
    "TRELLIS_UNSUBSCRIBE_SECRET",
    "TRELLIS_CONSOLE_SESSION_SECRET",
)


@dataclass(frozen=True)
class Started:
    name: str
    pid: int
    url: str
    log: str


def _bin(command: str) -> str:
    return str(Path(sys.executable).parent / command)


def database_name(prefix: str, service: str) -> str:
    """``surveys``, or with a prefix (a second copy of the platform on the same server) ``copy2_surveys``."""
    stem = re.sub(r"[^a-z0-9_]", "_", prefix.lower()).strip("_")
    return f"{stem}_{service}" if stem else service


def database_of(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server ``server_url`` names (its path replaced)."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


async def create_databases(server_url: str, names: list[str]) -> list[str]:
    """One database per service, as in production; those that exist are kept."""
    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(dsn)
    created = []
    try:
        existing = {row[0] for row in await connection.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await connection.execute(f'CREATE DATABASE "{name}"')
                created.append(name)
    finally:
        await connection.close()
    return created


def _taken(ports: list[int]) -> list[int]:
    taken = []
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.append(port)
    return taken


def _secrets(state: Path) -> dict[str, str]:
    """The signing secrets, generated on the first ``up`` and kept: links already emailed stay valid."""
    path = state / "secrets.json"
    found: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if missing := [name for name in SECRETS if name not in found]:
        found |= {name: secrets.token_urlsafe(32) for name in missing}
        path.write_text(json.dumps(found))
        path.chmod(0o600)
    return found


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    if done.returncode != 0:
        typer.echo(f"up: {what} failed: {(done.stderr or done.stdout).strip()[-2000:]}", err=True)
        raise typer.Exit(1)


def _wait_ready(started: list[Started], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = {s.name: s for s in started if s.url.startswith("http")}
    with httpx.Client(timeout=2) as client:
        while waiting:
            for name, process in list(waiting.items()):
                try:
                    if client.get(f"{process.url}/readyz").status_code == 200:
                        del waiting[name]
                except httpx.HTTPError:
                    pass
            if waiting and time.monotonic() > deadline:
                names = ", ".join(f"{n} (log {p.log})" for n, p in waiting.items())
                typer.echo(f"up: not ready after {timeout_s:.0f} s: {names}", err=True)
                raise typer.Exit(1)
            if waiting:
                time.sleep(0.3)


def service_environment(
    service: str,
    *,
    database_url: str,
    bootstrap: str,
    prefix: str,
    port: int,
    jwks_file: Path,
    smtp_port: int | None,
) -> dict[str, str]:
    """What one service process needs to take part in the platform on this machine: its database, the broker, the
    topic prefix, its port and public URL, the token issuer it trusts and where to send email (if anywhere).
    ``up`` and the end-to-end tests start their processes with it, so what the README documents is what the tests
    run."""
    env = {
        "TRELLIS_SERVICE_NAME": service,
        "TRELLIS_DATABASE_URL": database_url,
        "TRELLIS_BUS": "kafka",
        "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TRELLIS_TOPIC_PREFIX": prefix,
        "TRELLIS_HTTP_HOST": "127.0.0.1",
        "TRELLIS_HTTP_PORT": str(port),
        "TRELLIS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",  # links in emails reach this process
        "TRELLIS_AUTH_ISSUER": auth_local.LOCAL_ISSUER,
        "TRELLIS_AUTH_JWKS_FILE": str(jwks_file),
    }
    if smtp_port is not None:
        env |= {
            "TRELLIS_SMTP_HOST": "127.0.0.1",
            "TRELLIS_SMTP_PORT": str(smtp_port),
            "TRELLIS_SMTP_STARTTLS": "false",  # the local sink speaks plain SMTP
        }
    return env


def up(
    database: Annotated[
        str,
        typer.Option(
            envvar="TRELLIS_UP_DATABASE_URL",
            help="The PostgreSQL server, as a URL to any database on it (each service gets its own database)",
        ),
    ] = "postgresql+asyncpg://trellis:trellis@127.0.0.1:55432/trellis",
    bootstrap: Annotated[
        str, typer.Option(envvar="TRELLIS_KAFKA_BOOTSTRAP_SERVERS", help="The Kafka broker")
    ] = "127.0.0.1:59092",
    first_port: Annotated[int, typer.Option(help="Services on this port and the next five")] = 8101,
    console_port: Annotated[int, typer.Option(help="The manager console's port")] = 8100,
    smtp_port: Annotated[int, typer.Option(help="The mail sink's SMTP port")] = 1025,
    mail_port: Annotated[int, typer.Option(help="The mail sink's web viewer port")] = 8025,
    state: Annotated[Path, typer.Option(help="Keys, secrets, logs and the process list")] = STATE,
    prefix: Annotated[
        str, typer.Option(envvar="TRELLIS_TOPIC_PREFIX", help="Topic prefix, also of the database names: a second copy")
    ] = "",
) -> None:
    """Start every service as its own process on one machine (databases, topics and migrations first)."""
    state = state.resolve()
    if (state / RECORD).exists():
        typer.echo(f"up: already running (see {state / RECORD}); `trellis down --state {state}` first", err=True)
        raise typer.Exit(1)
    ports = [console_port, smtp_port, mail_port, *range(first_port, first_port + len(SERVICES))]
    if busy := _taken(ports):
        typer.echo(
            f"up: port(s) {', '.join(map(str, busy))} taken: choose others (--first-port, --smtp-port ...)", err=True
        )
        raise typer.Exit(1)
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    keys = state / "auth"
    if not (keys / auth_local.PRIVATE_FILE).exists():
        auth_local.write(auth_local.generate(), keys)

    try:
        names = [database_name(prefix, service) for service in SERVICES]
        created = asyncio.run(create_databases(database, names))
    except (OSError, asyncpg.PostgresError) as exc:
        typer.echo(f"up: cannot reach PostgreSQL at {urlsplit(database).netloc}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"databases: {', '.join(created) or 'all there already'} ({', '.join(names)})")
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    topics = [_bin("trellis"), "topics", "create", "--bootstrap", bootstrap, "--prefix", prefix]
    _run(topics, base, "creating the topics")
    started: list[Started] = []
    sink_log = logs / "mailsink.log"
    sink = subprocess.Popen(  # noqa: S603 - our own command
        [_bin("trellis"), "mailsink", "--smtp-port", str(smtp_port), "--http-port", str(mail_port), "--json"],
        stdout=sink_log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started.append(Started("mailsink", sink.pid, f"http://127.0.0.1:{mail_port}/mail", str(sink_log)))
    for offset, service in enumerate(SERVICES):
        port = first_port + offset
        env = (
            base
            | _secrets(state)
            | service_environment(
                service,
                database_url=database_of(database, database_name(prefix, service)),
                bootstrap=bootstrap,
                prefix=prefix,
                port=port,
                jwks_file=keys / auth_local.JWKS_FILE,
                smtp_port=smtp_port,
            )
            | {
                "TRELLIS_ENVIRONMENT": "test",  # not dev: secrets and the database are required, as in production
                "TRELLIS_MIGRATE_ON_START": "false",  # migrated just below, before it starts
            }
        )
        _run([_bin(f"trellis-{service}"), "migrate"], env, f"migrating {service}")
        log = logs / f"{service}.log"
        process = subprocess.Popen(  # noqa: S603 - our own command
            [_bin(f"trellis-{service}"), "serve"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(Started(service, process.pid, f"http://127.0.0.1:{port}", str(log)))
    console_log = logs / "console.log"
    console_env = base | {
        "TRELLIS_CONSOLE_ENVIRONMENT": "test",
        "TRELLIS_CONSOLE_SESSION_SECRET": _secrets(state)["TRELLIS_CONSOLE_SESSION_SECRET"],
        "TRELLIS_CONSOLE_COOKIE_SECURE": "false",  # plain HTTP on this machine
        "TRELLIS_CONSOLE_HTTP_HOST": "127.0.0.1",
        "TRELLIS_CONSOLE_HTTP_PORT": str(console_port),
        "TRELLIS_CONSOLE_LOCAL_ISSUER_KEYS": str(keys),
        **{f"TRELLIS_CONSOLE_{s.name.upper()}_URL": s.url for s in started if s.name in SERVICES},
    }
    console = subprocess.Popen(  # noqa: S603 - our own command
        [_bin("trellis-console"), "serve"],
        env=console_env,
        stdout=console_log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started.append(Started("console", console.pid, f"http://127.0.0.1:{console_port}", str(console_log)))
    (state / RECORD).write_text(json.dumps([s.__dict__ for s in started], indent=2))
    _wait_ready([s for s in started if s.name != "mailsink"], timeout_s=90)
    width = max(len(s.name) for s in started)
    for s in started:
        typer.echo(f"{s.name:<{width}}  {s.url}  (pid {s.pid}, log {s.log})")
    typer.echo(f"mail sink SMTP 127.0.0.1:{smtp_port}")
    typer.echo(f"a token: trellis auth token --keys {keys} --role platform-admin --cluster '*'")
    typer.echo(f"stop: trellis down --state {state}")


def down(state: Annotated[Path, typer.Option(help="The state directory `up` used")] = STATE) -> None:
    """Stop exactly the processes ``up`` started (SIGTERM, then SIGKILL after 30 s)."""
    record = state.resolve() / RECORD
    if not record.exists():
        typer.echo(f"down: nothing started here ({record} is missing)")
        return
    started = [Started(**entry) for entry in json.loads(record.read_text())]
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for process in started:
        while _alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        typer.echo(f"stopped {process.name} (pid {process.pid})")
    record.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a child of ours that exited is a zombie until reaped
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True
