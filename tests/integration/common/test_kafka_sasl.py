"""SASL/SCRAM-SHA-512 against the real broker: a service's bus, the topic command and the integrator connect
as a Kafka user (as with a Strimzi KafkaUser); a wrong password is refused, not retried silently forever."""

from __future__ import annotations

import os
import uuid

import pytest
from pydantic import ValidationError

from tests.conftest import _required
from tests.support.polling import eventually
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.kafka import KafkaBus
from trellis_common.errors import TransientError
from trellis_common.kafka_security import KafkaSecurity
from trellis_common.topics import create_topics

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def sasl_bootstrap() -> str:
    return _required("TRELLIS_TEST_KAFKA_SASL_BOOTSTRAP")


def security(password: str | None = None) -> KafkaSecurity:
    return KafkaSecurity(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username=_required("TRELLIS_TEST_KAFKA_SASL_USERNAME"),
        kafka_sasl_password=password or _required("TRELLIS_TEST_KAFKA_SASL_PASSWORD"),
    )


async def test_a_scram_user_publishes_and_consumes(sasl_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    options = security().client_options()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    created = await create_topics(sasl_bootstrap, prefix, partitions=1, security=options)
    topic = f"{prefix}skills.supply.reported.v1"
    assert topic in created
    bus = KafkaBus(sasl_bootstrap, "trellis-sasl-test", security=options)
    await bus.start()
    consumer = bus.consumer(f"{prefix}group", [topic])
    await consumer.start()
    try:
        await bus.publish([OutgoingMessage(topic, "AT12", b"{}", [("ce_id", b"sasl-1")])])

        async def received() -> list[object]:
            return list(await consumer.fetch(1.0, 10))

        records = await eventually(received, what="the record over SASL")
        assert [r.key for r in records] == [b"AT12"]  # type: ignore[attr-defined]
    finally:
        await consumer.stop()
        await bus.stop()


async def test_a_wrong_password_is_refused(sasl_bootstrap: str) -> None:
    bus = KafkaBus(sasl_bootstrap, "trellis-sasl-test", security=security("not-the-password").client_options())
    with pytest.raises(TransientError, match="Kafka unreachable"):
        await bus.ping()
    await bus.stop()


def test_sasl_without_credentials_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRELLIS_KAFKA_SASL_USERNAME", "TRELLIS_KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError, match="TRELLIS_KAFKA_SASL_USERNAME"):
        KafkaSecurity(kafka_security_protocol="SASL_SSL")
    assert "ssl_context" in KafkaSecurity(kafka_security_protocol="SSL").client_options()
    assert os.environ.get("TRELLIS_KAFKA_SECURITY_PROTOCOL") in (None, "PLAINTEXT")
