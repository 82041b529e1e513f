"""Creates every topic of the event catalogue explicitly (partitions, compaction, retention, DLQs).

Brokers run with ``auto.create.topics.enable=false``; the infrastructure script, docker-compose and the
Kubernetes deployment all run this command (or the equivalent Strimzi KafkaTopic objects).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import NoError, TopicAlreadyExistsError, for_code

from trellis_common.catalogue import CATALOGUE, DLQ_RETENTION_MS
from trellis_common.command_errors import run_or_exit
from trellis_common.kafka_security import KafkaSecurity

app = typer.Typer(help="Trellis Kafka topics", no_args_is_help=True)


def planned_topics(prefix: str, partitions: int | None, replication: int) -> list[NewTopic]:
    topics: list[NewTopic] = []
    for spec in CATALOGUE:
        count = partitions or spec.partitions
        topics.append(NewTopic(spec.topic(prefix), count, replication, topic_configs=spec.topic_config()))
        topics.append(
            NewTopic(
                spec.dlq_topic(prefix),
                1,
                replication,
                topic_configs={"cleanup.policy": "delete", "retention.ms": str(DLQ_RETENTION_MS)},
            )
        )
    return topics


async def create_topics(
    bootstrap: str,
    prefix: str = "",
    partitions: int | None = None,
    replication: int = 1,
    security: dict[str, Any] | None = None,
) -> list[str]:
    """Create missing topics; returns the names that were created (existing ones are left as they are).

    One request for all of them. The broker answers for each topic: created, already there (another replica's
    job may have made it meanwhile), or refused, e.g. a replication factor the cluster cannot give; a refusal
    raises ``TopicsRefused`` naming each refused topic and the broker's reason, never a silent success.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000, **(security or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in planned_topics(prefix, partitions, replication) if t.name not in existing]
        if not wanted:
            return []
        response = await admin.create_topics(wanted)
    finally:
        await admin.close()
    created: list[str] = []
    refused: dict[str, list[str]] = {}  # the broker's reason → the topics refused for it
    for entry in response.topic_errors:  # (topic, error code[, message]): older versions carry no message
        name, code = entry[0], entry[1]
        if code == NoError.errno:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:
            reason = (entry[2] if len(entry) > 2 else None) or for_code(code).__name__
            refused.setdefault(reason, []).append(name)
    if refused:
        raise TopicsRefused(refused)
    return created


class TopicsRefused(ValueError):
    """The broker refused to create some topics; the message gives its reasons and the topics of each."""

    def __init__(self, refused: dict[str, list[str]]) -> None:
        count = sum(len(names) for names in refused.values())
        reasons = "; ".join(f"{reason} ({', '.join(names)})" for reason, names in refused.items())
        super().__init__(f"the broker refused {count} topic(s): {reasons}")


@app.command()
def create(
    bootstrap: Annotated[str, typer.Option(envvar="TRELLIS_KAFKA_BOOTSTRAP_SERVERS")] = "127.0.0.1:9092",
    prefix: Annotated[str, typer.Option(envvar="TRELLIS_TOPIC_PREFIX")] = "",
    partitions: Annotated[int | None, typer.Option(help="Override every topic's partition count")] = None,
    replication_factor: Annotated[int, typer.Option(envvar="TRELLIS_TOPIC_REPLICATION_FACTOR")] = 1,
) -> None:
    """Create the catalogue's topics and their DLQs; safe to run again."""
    security = KafkaSecurity().client_options()  # TRELLIS_KAFKA_SECURITY_PROTOCOL, _SASL_*, _SSL_CAFILE
    created = run_or_exit(create_topics(bootstrap, prefix, partitions, replication_factor, security), "topics create")
    total = len(planned_topics(prefix, partitions, replication_factor))
    typer.echo(f"created {len(created)} topic(s), {total - len(created)} already existed")
    for name in created:
        typer.echo(f"  + {name}")


@app.command("list")
def list_topics(prefix: Annotated[str, typer.Option(envvar="TRELLIS_TOPIC_PREFIX")] = "") -> None:
    """Print the catalogue: topic, event type, key, settings."""
    for spec in CATALOGUE:
        cfg = ", ".join(f"{k}={v}" for k, v in spec.topic_config().items())
        typer.echo(f"{spec.topic(prefix):45} {spec.type:50} key={spec.key_field:12} {cfg}")


if __name__ == "__main__":
    app()
