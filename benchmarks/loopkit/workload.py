"""What the benchmark feeds the loop: a cluster of members, a partner directory, and survey responses.

Members and partners go in through the services' own import routes (as a cluster manager and a platform
admin would); responses go straight onto Kafka as another survey tool would put them there.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import statistics
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import MemberContext, ResponseCompleted, SkillAnswer, SurveyTheme

SKILLS = [f"digcomp:{c}" for c in ("1.1", "1.2", "1.3", "2.1", "2.4", "3.1", "3.4", "4.1", "4.2", "5.1", "5.2", "5.3")]
PARTNER_TYPES = ("university", "training_provider", "digital_innovation_hub", "cluster", "technology_provider")
FORMATS = ("training", "masterclass", "coaching", "mentoring")
SKILLS_PER_RESPONSE = 3


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    member_ids: list[str]
    group: str = ""

    @staticmethod
    def address(group: str, index: int) -> str:
        return f"{group}-{index:05d}@members.bench.example"


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


async def _ok(response: httpx.Response, status: int = 200) -> object:
    if response.status_code != status:
        request = response.request
        raise RuntimeError(f"{request.method} {request.url}: {response.status_code} {response.text[:500]}")
    return response.json()


async def seed_cluster(surveys: httpx.AsyncClient, group: str, members: int) -> Cluster:
    """A cluster with ``members`` member organisations, one contact each, imported from one CSV file."""
    cluster = await _ok(await surveys.post("/clusters", json={"name": f"Benchmark {group}", "country": "AT"}), 201)
    assert isinstance(cluster, dict)
    ids: list[str] = []
    for start in range(0, members, 5000):  # the import takes 5,000 rows at most
        rows = [
            (f"{group} member {i}", "sme", "AT", "AT13", "de;en", f"Contact {i}", Cluster.address(group, i), "en")
            for i in range(start, min(members, start + 5000))
        ]
        header = ("name", "member_type", "country", "region", "languages", "contact_name", "contact_email")
        body = _csv((*header, "contact_language"), rows)
        report = await _ok(
            await surveys.post(
                f"/clusters/{cluster['id']}/members/import", files={"file": ("members.csv", body, "text/csv")}
            ),
            201,
        )
        assert isinstance(report, dict)
        ids.extend(report["member_ids"])
    return Cluster(cluster["id"], ids, group)


async def seed_partners(matchmaking: httpx.AsyncClient, offers: int, seats: int, rng: random.Random) -> None:
    """``offers`` offers of ``offers // 5`` partners, each covering one or two of the benchmark's skills."""
    header = (
        "partner_name",
        "partner_type",
        "partner_country",
        "offer_title",
        "skill_codes",
        "max_level",
        "format",
        "delivery",
        "countries",
        "languages",
        "seats",
    )
    rows = []
    for i in range(offers):
        partner = i // 5
        codes = sorted(rng.sample(SKILLS, rng.choice((1, 2))))
        rows.append(
            (
                f"Partner {partner}",
                PARTNER_TYPES[partner % len(PARTNER_TYPES)],
                "AT",
                f"Offer {i}",
                ";".join(codes),
                rng.choice((6, 7, 8)),
                rng.choice(FORMATS),
                rng.choice(("online", "hybrid")),
                "AT",
                "de;en",
                seats,
            )
        )
    body = _csv(header, rows)
    await _ok(await matchmaking.post("/partners/import", files={"file": ("partners.csv", body, "text/csv")}), 201)


def response_event(cluster: Cluster, member_id: str, rng: random.Random) -> CloudEvent:
    skills = []
    for code in rng.sample(SKILLS, SKILLS_PER_RESPONSE):
        current = rng.randint(0, 4)
        having = rng.randint(0, 5)
        skills.append(
            SkillAnswer(
                skill_code=code,
                current_level=current,
                required_level=rng.randint(current + 1, 6),
                headcount_having=having,
                headcount_needed=having + rng.randint(1, 6),
                importance=rng.randint(2, 5),
            )
        )
    data = ResponseCompleted(
        response_id=str(uuid.uuid4()),
        cluster_id=cluster.cluster_id,
        member_id=member_id,
        template_id="digital-skills",
        template_version=1,
        theme=SurveyTheme.DIGITAL,
        completed_at=datetime.now(UTC),
        member_context=MemberContext(country="AT", region="AT13", languages=["de", "en"]),
        skills=skills,
    )
    event_id = str(uuid.uuid4())
    return CloudEvent(
        id=event_id,
        source="/benchmark/survey-tool",
        type=spec_for_model(ResponseCompleted).type,
        time=datetime.now(UTC),
        subject=member_id,
        correlationid=event_id,
        data=data.model_dump(mode="json"),
    )


class Producer:
    """Puts survey responses on Kafka as another system would (binary CloudEvents, keyed by member)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.topic = spec_for_model(ResponseCompleted).topic(prefix)
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)

    async def __aenter__(self) -> Producer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def burst(self, events: Sequence[tuple[str, CloudEvent]]) -> None:
        """All at once: sent without waiting for each acknowledgement, then flushed."""
        pending = [await self._send(member_id, event) for member_id, event in events]
        await asyncio.gather(*pending)

    async def paced(self, events: Sequence[tuple[str, CloudEvent]], rate: float) -> dict[str, float]:
        """At ``rate`` events per second; returns when each member's response went out (wall clock)."""
        sent_at: dict[str, float] = {}
        started = time.monotonic()
        for i, (member_id, event) in enumerate(events):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the load generator, not synchronising a test
            sent_at[member_id] = time.time()
            await (await self._send(member_id, event))
        return sent_at

    async def _send(self, member_id: str, event: CloudEvent) -> asyncio.Future[object]:
        headers, value = to_binary(event)
        future: asyncio.Future[object] = await self._producer.send(
            self.topic, value, key=member_id.encode(), headers=headers
        )
        return future


async def topic_stamps(
    bootstrap: str, topic: str, *, wanted: int, within_s: float
) -> list[tuple[float, dict[str, object]]]:
    """(create time in seconds, data) of the records on ``topic``: all there were when it started, and at least
    ``wanted`` (waiting up to ``within_s`` for them)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        out: list[tuple[float, dict[str, object]]] = []
        deadline = time.monotonic() + within_s
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        target = max(wanted, sum((await consumer.end_offsets(partitions)).values()))
        while len(out) < target and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for messages in batches.values():
                out.extend((m.timestamp / 1000, json.loads(m.value) if m.value else {}) for m in messages)
        return out
    finally:
        await consumer.stop()


async def group_lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Records of ``topics`` that the consumer group has not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None)  # subscribed: knows partitions
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not partitions:
            raise RuntimeError(f"no partitions found for {topics}")
        ends = await consumer.end_offsets(partitions)
        return sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0)) for tp in partitions)
    finally:
        await consumer.stop()
        await admin.close()


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def rate_between(stamps: Sequence[float]) -> float:
    """Events per second between the first and the last of ``stamps``."""
    if len(stamps) < 2:
        return 0.0
    span = max(stamps) - min(stamps)
    return (len(stamps) - 1) / span if span > 0 else float("inf")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
