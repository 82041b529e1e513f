"""A survey response from another system drives the loop: the setup it needs and the checks of its outcome.

Trellis' own surveys service is only one source of ``surveys.response.completed.v1``; a survey tool of the
cluster may publish it too (with kcat, a Kafka client library, or the HTTP ingress, which runs here as well).
These helpers are shared
by the tests of each way in:

    async with running_loop(directory, kafka_bootstrap, pg_admin_url) as loop:  # once per module (a fixture)
        prepared = await prepare_loop(loop.clients, label="kcat")  # once per test
        ...  # send prepared.event_data, prepared.structured(), or prepared.attributes() as headers
        mail = await wait_for_match_email(loop.smtp, prepared)
        await check_processed(loop.clients, prepared)
        check_correlated(loop, prepared)

``prepare_loop`` sets up, through the REST APIs, what the loop needs besides the event: a cluster and a member
with a contact in surveys (whose surveys.member.changed tells notifications where to write), and a partner in
matchmaking whose offer covers the gap the response reports. The event itself is built by hand, as a foreign
producer would, without Trellis' envelope code. Each preparation has its own cluster, member, contact and
partner, so several tests share one running platform (starting the five services is most of a test's time).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import databases
from tests.e2e.scenario import ok, to
from tests.support import auth
from tests.support.distributed import SERVICES, Distributed, start_services
from tests.support.polling import eventually
from trellis.mailsink import MailSink, ReceivedMail
from trellis_common.topics import create_topics

RESPONSE_TYPE = "eu.trellis.surveys.response.completed.v1"
RESPONSE_TOPIC = "surveys.response.completed.v1"
"""The topic without the deployment's prefix."""
SKILL_CODE = "digcomp:5.2"


@dataclass(frozen=True)
class Loop:
    """Every service running as its own process on real Kafka, PostgreSQL and an SMTP server."""

    distributed: Distributed
    clients: dict[str, httpx.AsyncClient]
    smtp: MailSink

    @property
    def kafka_bootstrap(self) -> str:
        return self.distributed.kafka_bootstrap

    @property
    def topic_prefix(self) -> str:
        return self.distributed.topic_prefix


@asynccontextmanager
async def running_loop(directory: Path, kafka_bootstrap: str, pg_admin_url: str) -> AsyncIterator[Loop]:
    """Fresh topics (own prefix), one fresh database per service, an SMTP server and the services; all torn down.

    The function-scoped fixtures of tests/conftest.py do the same per test; this serves a whole module.
    """
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(kafka_bootstrap, prefix, partitions=2)
    smtp = MailSink()
    smtp.start()
    distributed = Distributed(directory, kafka_bootstrap, prefix, smtp)
    clients: dict[str, httpx.AsyncClient] = {}
    async with databases(pg_admin_url) as new_database:
        try:
            await start_services(distributed, new_database, (*SERVICES, "ingress"))
            clients.update(
                {
                    s: httpx.AsyncClient(headers=auth.admin(), base_url=p.url, timeout=10)
                    for s, p in distributed.processes.items()
                }
            )
            yield Loop(distributed, clients, smtp)
        finally:
            for client in clients.values():
                await client.aclose()
            distributed.stop_all()
            smtp.stop()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Prepared:
    """Everything a foreign producer sends, and what the test expects to come out of it."""

    event_data: dict[str, Any]
    """The ``data`` of the ResponseCompleted event, JSON-ready."""
    event_id: str
    source: str
    correlation_id: str
    cluster_id: str
    member_id: str
    contact_email: str
    partner_name: str
    offer_title: str

    @property
    def response_id(self) -> str:
        return str(self.event_data["response_id"])

    def topic(self, prefix: str = "") -> str:
        return f"{prefix}{RESPONSE_TOPIC}"

    def attributes(self) -> dict[str, str]:
        """The CloudEvents context attributes (without ``datacontenttype``), as strings."""
        return {
            "specversion": "1.0",
            "id": self.event_id,
            "source": self.source,
            "type": RESPONSE_TYPE,
            "time": str(self.event_data["completed_at"]),
            "subject": self.member_id,
            "correlationid": self.correlation_id,
        }

    def structured(self) -> dict[str, Any]:
        """The whole event as a structured-mode CloudEvent (``application/cloudevents+json``)."""
        return {**self.attributes(), "datacontenttype": "application/json", "data": self.event_data}


async def prepare_loop(clients: Mapping[str, httpx.AsyncClient], *, label: str) -> Prepared:
    """A cluster, a member with one contact, and a partner covering the member's gap; ``label`` names them.

    ``clients`` are HTTP clients of the surveys and matchmaking services (keyed by service name).
    """
    surveys, matchmaking = clients["surveys"], clients["matchmaking"]
    tag = f"{label}-{uuid.uuid4().hex[:8]}"
    cluster = await ok(
        await surveys.post("/clusters", json={"name": f"Cluster fed by {label}", "country": "AT"}),
        201,
    )
    contact_email = f"{label}.{tag[-8:]}@foreign-member.example"
    member = await ok(
        await surveys.post(
            f"/clusters/{cluster['id']}/members",
            json={
                "name": f"SME answering through {label}",
                "member_type": "sme",
                "country": "AT",
                "region": "AT12",
                "size_class": "small",
                "languages": ["en"],
                "contacts": [{"name": f"Fran {label}", "email": contact_email, "language": "en"}],
            },
        ),
        201,
    )
    partner_name = f"Institute {tag}"
    offer_title = f"Choosing the right digital tools ({label} cohort)"
    await ok(
        await matchmaking.post(
            "/partners",
            json={
                "name": partner_name,
                "partner_type": "training_provider",
                "country": "AT",
                "offers": [
                    {
                        "title": offer_title,
                        "skill_codes": [SKILL_CODE],
                        "max_level": 6,
                        "format": "training",
                        "delivery": "online",
                        "seats": 10,
                    }
                ],
            },
        ),
        201,
    )
    data = {
        "response_id": f"foreign-{tag}",
        "cluster_id": cluster["id"],
        "member_id": member["id"],
        "template_id": "external-digital-check",
        "template_version": 1,
        "theme": "digital",
        "completed_at": _now(),
        "member_context": {
            "country": member["country"],
            "region": member["region"],
            "size_class": member["size_class"],
            "member_type": member["member_type"],
            "languages": member["languages"],
        },
        "skills": [
            {
                "skill_code": SKILL_CODE,
                "current_level": 2,
                "required_level": 5,
                "headcount_having": 1,
                "headcount_needed": 4,
                "importance": 5,
            }
        ],
        "answers": {"q-channel": label},
    }
    return Prepared(
        event_data=data,
        event_id=str(uuid.uuid4()),
        source=f"/external/survey-tool/{label}",
        correlation_id=f"corr-{tag}",
        cluster_id=cluster["id"],
        member_id=member["id"],
        contact_email=contact_email,
        partner_name=partner_name,
        offer_title=offer_title,
    )


async def wait_for_match_email(smtp_sink: MailSink, prepared: Prepared, timeout: float = 45) -> ReceivedMail:
    """The one match email to the member's contact, once the SMTP server has it; checks what it proposes."""

    async def arrived() -> list[ReceivedMail] | None:
        return to(prepared.contact_email, smtp_sink.messages) or None

    mails = await eventually(
        arrived, timeout=timeout, interval=0.1, what=f"the match email to {prepared.contact_email}"
    )
    assert len(mails) == 1, [m.summary() for m in mails]
    (mail,) = mails
    assert mail.recipients == [prepared.contact_email], mail.recipients
    body = mail.text()
    assert prepared.partner_name in body, body
    assert prepared.offer_title in body, body
    return mail


async def check_processed(clients: Mapping[str, httpx.AsyncClient], prepared: Prepared) -> None:
    """skills assessed exactly the foreign response, and matchmaking matched that assessment to the partner."""
    assessments = await ok(await clients["skills"].get(f"/members/{prepared.member_id}/assessments"))
    assert [a["response_id"] for a in assessments] == [prepared.response_id], assessments
    (assessment,) = assessments
    assert assessment["cluster_id"] == prepared.cluster_id
    assert [g["skill_code"] for g in assessment["gaps"]] == [SKILL_CODE]
    runs = await ok(await clients["matchmaking"].get(f"/members/{prepared.member_id}/matches"))
    assert [r["assessment_id"] for r in runs] == [assessment["id"]], runs
    assert prepared.partner_name in [o["partner_name"] for o in runs[0]["options"]], runs[0]["options"]


def check_correlated(
    loop: Loop, prepared: Prepared, services: tuple[str, ...] = ("skills", "matchmaking", "notifications")
) -> None:
    """The producer's ``correlationid`` is in the JSON logs of the services the event crossed."""
    for service in services:
        log = loop.distributed.processes[service].log_path.read_text()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any(line.get("correlation_id") == prepared.correlation_id for line in lines), f"{service} logs lack it"
