"""Another system's tools publish surveys.response.completed.v1, and the loop runs to the match email.

Every service runs as its own process on the real broker, PostgreSQL and an SMTP server, as in
test_loop_distributed (started once for the module; each test has its own cluster, member and partner). The one
event comes from outside Trellis' code: kcat in CloudEvents structured mode, confluent-kafka (librdkafka) in
binary mode.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest
from confluent_kafka import KafkaError, Message, Producer

from tests.e2e.foreign import (
    RESPONSE_TYPE,
    Loop,
    Prepared,
    check_correlated,
    check_processed,
    prepare_loop,
    running_loop,
    wait_for_match_email,
)
from tests.support import auth
from tests.support.kafka import read_all
from tests.support.polling import eventually
from trellis_common.envelope import from_kafka


@pytest.fixture(scope="module")
async def loop(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, pg_admin_url: str
) -> AsyncIterator[Loop]:
    async with running_loop(tmp_path_factory.mktemp("foreign"), kafka_bootstrap, pg_admin_url) as running:
        yield running


def kcat() -> str:
    found = shutil.which("kcat")
    if found is None:
        pytest.fail("kcat is not installed: scripts/ensure-kcat installs Debian's 'kcat' package")
    return found


async def the_record_sent(loop: Loop, prepared: Prepared) -> tuple[dict[str, str], bytes]:
    """The record carrying the prepared event, decoded as Trellis decodes it; returns its headers and value."""
    records = await read_all(loop.kafka_bootstrap, prepared.topic(loop.topic_prefix))
    ours = [r for r in records if r.key == prepared.member_id.encode()]
    assert len(ours) == 1, ours
    (record,) = ours
    assert record.value is not None
    event = from_kafka(record.headers, record.value)
    assert (event.type, event.id, event.source) == (RESPONSE_TYPE, prepared.event_id, prepared.source)
    assert event.data == prepared.event_data
    return {name: value.decode() for name, value in record.headers}, record.value


async def test_structured_mode_event_sent_with_kcat_reaches_the_member_as_a_match_email(
    loop: Loop, tmp_path_factory: pytest.TempPathFactory
) -> None:
    command = kcat()
    prepared = await prepare_loop(loop.clients, label="kcat")
    event_file = tmp_path_factory.mktemp("kcat") / "response-completed.json"
    event_file.write_text(json.dumps(prepared.structured(), indent=2), "utf-8")
    sent = await asyncio.to_thread(
        subprocess.run,
        [
            command,
            "-P",
            "-b",
            loop.kafka_bootstrap,
            "-t",
            prepared.topic(loop.topic_prefix),
            "-X",
            "topic.partitioner=murmur2_random",
            "-k",
            prepared.member_id,
            "-H",
            "content-type=application/cloudevents+json",
            str(event_file),  # the whole file is one message
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr

    mail = await wait_for_match_email(loop.smtp, prepared)
    await check_processed(loop.clients, prepared)
    headers, value = await the_record_sent(loop, prepared)
    assert headers == {"content-type": "application/cloudevents+json"}, "structured mode: no ce_ headers"
    assert json.loads(value)["id"] == prepared.event_id
    check_correlated(loop, prepared)
    print(f"\nkcat structured event {prepared.event_id} -> {mail.subject!r} to {mail.recipients}")


async def test_binary_mode_event_sent_with_confluent_kafka_reaches_the_member_as_a_match_email(loop: Loop) -> None:
    prepared = await prepare_loop(loop.clients, label="confluent")
    producer = Producer(
        {"bootstrap.servers": loop.kafka_bootstrap, "enable.idempotence": True, "partitioner": "murmur2_random"}
    )
    binary: list[tuple[str, str | bytes | None]] = [
        (f"ce_{name}", value.encode()) for name, value in prepared.attributes().items()
    ]
    binary.append(("content-type", b"application/json"))
    outcomes: list[KafkaError | None] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        outcomes.append(error)

    producer.produce(
        prepared.topic(loop.topic_prefix),
        value=json.dumps(prepared.event_data).encode(),
        key=prepared.member_id.encode(),
        headers=binary,
        on_delivery=delivered,
    )
    assert await asyncio.to_thread(producer.flush, 30) == 0, "the event was not delivered within 30 s"
    assert outcomes == [None], outcomes

    mail = await wait_for_match_email(loop.smtp, prepared)
    await check_processed(loop.clients, prepared)
    headers, value = await the_record_sent(loop, prepared)
    assert headers["content-type"] == "application/json"
    assert headers["ce_id"] == prepared.event_id
    assert json.loads(value) == prepared.event_data, "binary mode: the value is the data alone"
    check_correlated(loop, prepared)
    print(f"\nconfluent-kafka binary event {prepared.event_id} -> {mail.subject!r} to {mail.recipients}")


async def test_an_event_posted_to_the_http_ingress_reaches_the_member_as_a_match_email(loop: Loop) -> None:
    prepared = await prepare_loop(loop.clients, label="ingress")
    token = auth.bearer("integration", clusters=(prepared.cluster_id,), subject="survey-tool")
    ingress = loop.clients["ingress"]
    headers = {f"ce-{name}": value for name, value in prepared.attributes().items()}
    body = json.dumps(prepared.event_data)

    async def post() -> httpx.Response:
        return await ingress.post(
            "/events", content=body, headers={**headers, "content-type": "application/json", **token}
        )

    async def accepted() -> httpx.Response | None:
        # Until surveys' member event has reached the ingress, it refuses the cluster as unknown (422, saying so).
        posted = await post()
        if posted.status_code == 422 and "unknown cluster" in posted.text:
            return None
        return posted

    first = await eventually(accepted, timeout=30, what="the ingress to know the cluster")
    assert first.status_code == 202, first.text
    # The tool's own client retries on a timeout: the second post must not start a second loop.
    again = await post()
    assert again.status_code == 200, again.text

    mail = await wait_for_match_email(loop.smtp, prepared)  # exactly one email: the retry changed nothing
    await check_processed(loop.clients, prepared)
    record_headers, value = await the_record_sent(loop, prepared)
    assert record_headers["ce_id"] == prepared.event_id, "published with the sender's id"
    assert json.loads(value) == prepared.event_data
    check_correlated(loop, prepared)
    print(f"\ningress binary event {prepared.event_id} -> {mail.subject!r} to {mail.recipients}")
