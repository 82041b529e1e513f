"""The integrator commands against the real broker: emit, tail, dlq list and replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from tests.support.kafka import header, produce, read_all
from trellis.cli import app
from trellis_common.catalogue import CATALOGUE, spec_for_type
from trellis_common.envelope import from_kafka

EXAMPLES = Path(__file__).resolve().parents[3] / "contracts" / "examples"


def _all_examples(tmp_path: Path) -> Path:
    target = tmp_path / "examples.json"
    target.write_text(json.dumps([json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]))
    return target


def test_emit_publishes_binary_mode_keyed_events_that_tail_shows(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    options = ["--bootstrap", kafka_bootstrap, "--prefix", topic_prefix]
    result = CliRunner().invoke(app, ["emit", str(_all_examples(tmp_path)), *options])
    assert result.exit_code == 0, result.output
    assert result.output.count("sent ") == len(CATALOGUE)

    for example in sorted(EXAMPLES.glob("*.json")):
        body = json.loads(example.read_text())
        spec = spec_for_type(body["type"])
        assert spec is not None
        records = asyncio.run(read_all(kafka_bootstrap, spec.topic(topic_prefix)))
        assert len(records) == 1
        record = records[0]
        assert record.key == body["data"][spec.key_field].encode()
        assert header(record, "ce_type") == spec.type
        assert header(record, "content-type") == "application/json"
        assert json.loads(record.value) == body["data"]
        assert from_kafka(record.headers, record.value).id == body["id"]

    topic = f"{topic_prefix}skills.supply.reported.v1"
    tail = CliRunner().invoke(app, ["tail", topic, "--bootstrap", kafka_bootstrap, "--limit", "5"])
    assert tail.exit_code == 0, tail.output
    shown = json.loads(tail.output)
    assert shown["topic"] == topic
    assert shown["key"] == "AT12"
    assert shown["event"]["type"] == "eu.trellis.skills.supply.reported.v1"
    assert shown["event"]["data"]["figures"][0]["headcount"] == 38


def test_emit_refuses_a_file_with_an_invalid_event(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> None:
    body = json.loads((EXAMPLES / "surveys.response.completed.v1.json").read_text())
    del body["data"]["member_id"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(body) + "\n")
    result = CliRunner().invoke(app, ["emit", str(bad), "--bootstrap", kafka_bootstrap, "--prefix", topic_prefix])
    assert result.exit_code == 1
    assert "line 1: data.member_id: Field required" in result.output
    assert asyncio.run(read_all(kafka_bootstrap, f"{topic_prefix}surveys.response.completed.v1")) == []


def test_dlq_list_and_replay_restore_the_original_records(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}surveys.response.completed.v1"
    body = json.loads((EXAMPLES / "surveys.response.completed.v1.json").read_text())
    original = [
        ("ce_id", body["id"].encode()),
        ("ce_source", b"/services/surveys"),
        ("ce_type", body["type"].encode()),
        ("ce_specversion", b"1.0"),
        ("content-type", b"application/json"),
    ]
    dead_letter = [
        ("trellis_error", b"contract.invalid_data: data.member_id: Field required"),
        ("trellis_error_code", b"contract.invalid_data"),
        ("trellis_error_class", b"ContractError"),
        ("trellis_original_topic", topic.encode()),
        ("trellis_original_partition", b"1"),
        ("trellis_original_offset", b"17"),
        ("trellis_consumer", b"skills"),
    ]
    value = json.dumps(body["data"]).encode()
    for _ in range(3):
        asyncio.run(produce(kafka_bootstrap, f"{topic}.dlq", value, key=b"m-0042", headers=original + dead_letter))

    listed = CliRunner().invoke(app, ["dlq", "list", topic, "--bootstrap", kafka_bootstrap])
    assert listed.exit_code == 0, listed.output
    reason = "contract.invalid_data: data.member_id: Field required"
    assert f"{topic}@17 key=m-0042 {body['type']}: {reason}" in listed.output
    assert f"3 record(s) in {topic}.dlq" in listed.output

    replayed = CliRunner().invoke(app, ["dlq", "replay", topic, "--bootstrap", kafka_bootstrap])
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed 3 record(s) from {topic}.dlq" in replayed.output
    records = asyncio.run(read_all(kafka_bootstrap, topic))
    assert len(records) == 3
    for record in records:
        assert record.key == b"m-0042"
        assert record.value == value
        assert list(record.headers) == original


def test_tail_shows_the_newest_records_unless_asked_for_the_first(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    body = json.loads((EXAMPLES / "skills.supply.reported.v1.json").read_text())
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6)]
    events = tmp_path / "five.jsonl"
    events.write_text("".join(json.dumps(body | {"id": event_id}) + "\n" for event_id in ids))
    sent = CliRunner().invoke(app, ["emit", str(events), "--bootstrap", kafka_bootstrap, "--prefix", topic_prefix])
    assert sent.exit_code == 0, sent.output
    topic = f"{topic_prefix}skills.supply.reported.v1"

    def shown(*options: str) -> list[str]:
        tail = CliRunner().invoke(app, ["tail", topic, "--bootstrap", kafka_bootstrap, *options])
        assert tail.exit_code == 0, tail.output
        records = [json.loads(chunk + "\n}") for chunk in tail.output.split("\n}\n") if chunk.strip()]
        return [str(record["event"]["id"]) for record in records]  # one indented JSON object per record

    assert shown("--limit", "2") == ids[-2:], "the newest two, oldest first"
    assert shown("--limit", "2", "--from-beginning") == ids[:2]
    assert shown() == ids, "ten at most by default: all five"


def test_a_missing_topic_or_an_unreachable_broker_is_one_line(kafka_bootstrap: str, topic_prefix: str) -> None:
    missing = CliRunner().invoke(app, ["tail", f"{topic_prefix}no.such.topic", "--bootstrap", kafka_bootstrap])
    assert missing.exit_code == 1
    assert missing.output.strip() == f"tail: topic {topic_prefix}no.such.topic does not exist"
    down = CliRunner().invoke(app, ["topics", "create", "--bootstrap", "127.0.0.1:1", "--prefix", topic_prefix])
    assert down.exit_code == 1 and len(down.output.strip().splitlines()) == 1, down.output
    assert down.output.startswith("topics create: cannot reach Kafka")
    assert "TRELLIS_KAFKA_BOOTSTRAP_SERVERS" in down.output


def test_topics_the_broker_refuses_are_named_not_reported_as_created(kafka_bootstrap: str) -> None:
    # The test broker is one node: it cannot give three replicas. The command used to say "created 18 topic(s)".
    prefix = f"r{uuid.uuid4().hex[:8]}."
    refused = CliRunner().invoke(
        app, ["topics", "create", "--bootstrap", kafka_bootstrap, "--prefix", prefix, "--replication-factor", "3"]
    )
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1, refused.output
    assert refused.output.startswith(f"topics create: the broker refused {len(CATALOGUE) * 2} topic(s): ")
    assert "replication factor of 3" in refused.output and f"{prefix}skills.supply.reported.v1" in refused.output
    created = CliRunner().invoke(app, ["topics", "create", "--bootstrap", kafka_bootstrap, "--prefix", prefix])
    assert created.exit_code == 0, created.output
    assert created.output.startswith(f"created {len(CATALOGUE) * 2} topic(s), 0 already existed")
    again = CliRunner().invoke(app, ["topics", "create", "--bootstrap", kafka_bootstrap, "--prefix", prefix])
    assert again.output.startswith(f"created 0 topic(s), {len(CATALOGUE) * 2} already existed"), again.output
