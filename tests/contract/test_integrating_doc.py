"""Every example in docs/integrating.md runs as written against the real broker, and shows what it prints."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import NewDatabase
from tests.support import auth
from tests.support.distributed import service_env
from tests.support.fixtures import completed_response, introduction
from tests.support.kafka import produce_event, read_all
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from trellis_common.envelope import CloudEvent, from_kafka
from trellis_ingress.models import NAMES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrating.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
EXAMPLES = ROOT / "contracts" / "examples"
RESPONSES = "surveys.response.completed.v1"


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(DOC.read_text("utf-8")) if lang == language]


def _env(kafka_bootstrap: str, topic_prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TRELLIS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TRELLIS_TOPIC_PREFIX": topic_prefix,
        "COLUMNS": "200",
    }


def _sessions(block: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each ``$ `` line of a console block.

    A command line ending in a backslash continues on the next line, as in the shell.
    """
    sessions: list[tuple[str, list[str]]] = []
    continued = False
    for line in block.splitlines():
        if line.startswith("$ ") or continued:
            if continued:
                command, _ = sessions.pop()
                sessions.append((f"{command}\n{line}", []))
            else:
                sessions.append((line[2:], []))
            continued = line.endswith("\\")
        elif sessions:
            sessions[-1][1].append(line)
    return sessions


def _java_partition(key: bytes | None, partitions: int) -> int:
    """The partition Trellis' own producers (murmur2, as the Java client) choose for ``key``."""
    assert key is not None, "Trellis' events are keyed"
    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))


async def _records(kafka_bootstrap: str, topic: str) -> list[tuple[int, bytes | None, CloudEvent]]:
    """(partition, key, event as Trellis decodes it) of every record in ``topic``."""
    records = await read_all(kafka_bootstrap, topic)
    return [(r.partition, r.key, from_kafka(r.headers, r.value)) for r in records]


def test_console_sessions_are_parsed_with_continuation_lines() -> None:
    block = "$ kcat -P \\\n    -k m-1 file.json\n$ echo hi\nhi\n"
    assert _sessions(block) == [("kcat -P \\\n    -k m-1 file.json", []), ("echo hi", ["hi"])]


def test_the_golden_example_shown_is_the_committed_one() -> None:
    shown = [json.loads(block) for block in _blocks("json")]
    committed = json.loads((ROOT / "contracts" / "examples" / "skills.supply.reported.v1.json").read_text())
    assert shown == [committed]


def _console(*, ingress: bool) -> list[tuple[str, list[str]]]:
    """The console sessions of the guide: those against the HTTP ingress, or all the others."""
    sessions = [session for block in _blocks("console") for session in _sessions(block)]
    return [(command, out) for command, out in sessions if ("TRELLIS_INGRESS_URL" in command) == ingress]


def _run(command: str, expected: list[str], env: dict[str, str], topic_prefix: str) -> str:
    script = command.replace("python -m", f"{sys.executable} -m", 1)
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    printed = done.stdout.splitlines()
    for line in expected:
        assert line.replace("${TRELLIS_TOPIC_PREFIX}", topic_prefix) in printed, (command, done.stdout)
    return done.stdout


def test_console_examples_print_what_the_doc_shows(kafka_bootstrap: str, topic_prefix: str) -> None:
    env = _env(kafka_bootstrap, topic_prefix)
    commands = _console(ingress=False)
    assert len(commands) >= 8
    if any(command.startswith("kcat ") for command, _ in commands) and shutil.which("kcat") is None:
        pytest.fail("the guide's kcat examples need kcat: scripts/ensure-kcat installs Debian's 'kcat' package")
    for command, expected in commands:
        printed = _run(command, expected, env, topic_prefix)
        if command.startswith("trellis tail"):
            assert json.loads(printed)["event"]["id"] == "e9b3d2f8-6a41-4c07-9e5d-3b8f1a2c6d90"
    # What kcat sent (structured mode) is the golden example, as Trellis reads it, on the key's partition.
    golden = json.loads((EXAMPLES / f"{RESPONSES}.json").read_text())
    ((partition, key, event),) = asyncio.run(_records(kafka_bootstrap, f"{topic_prefix}{RESPONSES}"))
    assert (event.type, event.id, event.data) == (golden["type"], golden["id"], golden["data"])
    assert event.correlationid == golden["correlationid"]
    assert key == golden["data"]["member_id"].encode()
    assert partition == _java_partition(key, 2)


def test_python_examples_publish_events_trellis_reads(kafka_bootstrap: str, topic_prefix: str) -> None:
    blocks = _blocks("python")
    assert len(blocks) == 3
    printed: list[str] = []
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", block],
            cwd=ROOT,
            env=_env(kafka_bootstrap, topic_prefix),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        printed.extend(done.stdout.splitlines())
    records = asyncio.run(read_all(kafka_bootstrap, f"{topic_prefix}skills.supply.reported.v1"))
    events = [from_kafka(r.headers, r.value) for r in records]
    assert sorted(e.data["report_id"] for e in events if e.data) == ["ams-noe-2026-02", "ams-noe-2026-03"]
    assert all(r.key == b"AT12" for r in records)
    # The confluent-kafka example (binary mode) says where its event went; Trellis reads it from there.
    ((partition, key, event),) = asyncio.run(_records(kafka_bootstrap, f"{topic_prefix}{RESPONSES}"))
    assert f"sent {event.id} to {topic_prefix}{RESPONSES}[{partition}]@0" in printed, printed
    assert event.type == f"eu.trellis.{RESPONSES}"
    assert event.source == "/survey-tools/cluster-survey"
    assert event.data is not None and event.data["response_id"] == "ext-2026-03-0048"
    assert key == b"m-0048"
    assert partition == _java_partition(key, 2), "the example hashes keys as Trellis does"


async def test_ingress_examples_print_what_the_doc_shows_and_publish_the_events(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str, new_database: NewDatabase
) -> None:
    commands = _console(ingress=True)
    assert len(commands) >= 4
    database_url = await new_database("ingress")
    env = {
        **service_env("ingress", database_url, kafka_bootstrap, topic_prefix, smtp=None),
        "TRELLIS_RELAY_POLL_INTERVAL_S": "0.05",
    }
    ingress = ServiceProcess("ingress", env, tmp_path).start()
    try:
        await ingress.wait_ready()
        # The guide's cluster exists: surveys published its members (the ingress refuses unknown clusters).
        await produce_event(
            kafka_bootstrap, topic_prefix, introduction(completed_response(cluster_id="cl-mechatronics"))
        )
        engine = create_async_engine(database_url)

        async def known() -> bool:
            async with engine.connect() as conn:
                return bool(await conn.scalar(select(func.count()).select_from(NAMES.members)))

        try:
            await eventually(known, timeout=60, what="the guide's cluster known to the ingress")
        finally:
            await engine.dispose()
        shell = {
            **_env(kafka_bootstrap, topic_prefix),
            "TRELLIS_INGRESS_URL": ingress.url,
            "TRELLIS_TOKEN": auth.token("integration", clusters=("*",), subject="regional-agency"),
        }
        for command, expected in commands:
            await asyncio.to_thread(_run, command, expected, shell, topic_prefix)

        async def published() -> list[tuple[int, bytes | None, CloudEvent]] | None:
            responses = await _records(kafka_bootstrap, f"{topic_prefix}{RESPONSES}")
            supply = await _records(kafka_bootstrap, f"{topic_prefix}skills.supply.reported.v1")
            return responses + supply if len(responses) + len(supply) >= 2 else None

        records = await eventually(published, what="the posted events on their topics")
    finally:
        ingress.stop()
    golden = json.loads((EXAMPLES / f"{RESPONSES}.json").read_text())
    assert [(key, event.id) for _, key, event in records] == [
        (golden["data"]["member_id"].encode(), golden["id"]),  # once, though posted three times
        (b"AT12", "ams-noe-2026-04-report"),
    ]
    assert records[0][2].data == golden["data"]
    assert all(partition == _java_partition(key, 2) for partition, key, _ in records)


def _java_project(where: Path) -> Path:
    """The guide's dependencies in a Maven project, and the guide's class beside it."""
    (dependencies,) = _blocks("xml")
    (source,) = _blocks("java")
    (where / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>example</groupId><artifactId>send-response</artifactId><version>1</version>"
        f"{dependencies}</project>\n"
    )
    (where / "SendResponse.java").write_text(source)
    return where


def test_the_java_example_sends_in_both_modes_and_trellis_reads_it(
    tmp_path: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """The CloudEvents Java SDK with the Apache Kafka client: the guide's class, run as the guide says (Java 17's
    single-file launch, the dependencies resolved from Maven Central), sends one event in binary and in
    structured mode; Trellis decodes both as the same event, keyed and partitioned as its own producers would."""
    project = _java_project(tmp_path)
    resolved = subprocess.run(
        ["mvn", "-q", "-B", "dependency:build-classpath", "-Dmdep.outputFile=classpath.txt"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resolved.returncode == 0, resolved.stdout[-3000:] + resolved.stderr[-3000:]
    classpath = (project / "classpath.txt").read_text().strip()
    done = subprocess.run(
        ["java", "-cp", classpath, "SendResponse.java"],
        cwd=project,
        env=_env(kafka_bootstrap, topic_prefix),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    records = asyncio.run(read_all(kafka_bootstrap, f"{topic_prefix}{RESPONSES}"))
    assert len(records) == 2, records
    binary, structured = sorted(records, key=lambda r: r.offset)
    assert any(name == "ce_id" for name, _ in binary.headers), "binary mode: attributes in ce_ headers"
    assert dict(structured.headers)["content-type"].startswith(b"application/cloudevents+json")
    events = [from_kafka(r.headers, r.value) for r in (binary, structured)]
    assert events[0].id == events[1].id and events[0].data == events[1].data, "the same event twice"
    assert events[0].type == f"eu.trellis.{RESPONSES}" and events[0].source == "/survey-tools/java-survey"
    assert events[0].data is not None and events[0].data["member_id"] == "m-0049"
    assert {r.key for r in records} == {b"m-0049"}
    assert {r.partition for r in records} == {_java_partition(b"m-0049", 2)}
    printed = done.stdout.splitlines()
    assert printed == [
        f"sent {events[0].id} {mode} to {topic_prefix}{RESPONSES}[{r.partition}]@{r.offset}"
        for mode, r in (("binary", binary), ("structured", structured))
    ], printed
