"""Integrator commands: validate a file of events, emit it (Kafka or HTTP ingress), tail a topic, list and replay DLQs.

Files hold structured-mode CloudEvents (the committed ``contracts/examples/*.json`` are such events), as a
JSON array, one JSON object, or JSON lines. ``emit`` sends them in binary mode, as Trellis itself does: the
attributes as ``ce_`` headers, the data as the value, the catalogue's key field as the record key.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError
from rich.progress import Progress

from trellis.http_answers import refusal_detail
from trellis.topic_reading import (
    DLQ_HEADER_PREFIXES,
    Bootstrap,
    describe,
    header_texts,
    kafka_security,
    original_topic,
    read_topic,
)
from trellis_common.catalogue import EventSpec, spec_for_type
from trellis_common.command_errors import run_or_exit
from trellis_common.envelope import STRUCTURED_JSON, CloudEvent, from_kafka, to_binary, to_structured
from trellis_common.errors import ContractError


@dataclass(frozen=True)
class Checked:
    """One event of a file: where it is, and either the parsed event or what is wrong with it."""

    position: str
    event: CloudEvent | None = None
    spec: EventSpec | None = None
    errors: tuple[str, ...] = ()


def _data_errors(exc: ValidationError) -> tuple[str, ...]:
    return tuple(
        f"data.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else f"data: {err['msg']}"
        for err in exc.errors(include_url=False)
    )


def check_event(body: Any, position: str) -> Checked:
    """Validate one structured-mode CloudEvent: envelope, known type, data against the type's model."""
    if not isinstance(body, dict):
        return Checked(position, errors=("a structured CloudEvent must be a JSON object",))
    try:
        event = from_kafka([("content-type", STRUCTURED_JSON.encode())], json.dumps(body).encode())
    except ContractError as exc:
        return Checked(position, errors=(str(exc),))
    spec = spec_for_type(event.type)
    if spec is None:
        return Checked(position, event, errors=(f"type: unknown event type {event.type!r}",))
    if event.data is None:
        if spec.compacted:
            return Checked(position, event, spec)
        return Checked(position, event, spec, (f"data: {event.type} must carry data",))
    try:
        spec.model.model_validate(event.data)
    except ValidationError as exc:
        return Checked(position, event, spec, _data_errors(exc))
    return Checked(position, event, spec)


def check_text(text: str) -> list[Checked]:
    """Every event of a JSON array, a single JSON object, or JSON lines; blank lines are skipped."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            return [Checked("file", errors=(f"not valid JSON: {exc}",))]
        return [check_event(item, f"event {index}") for index, item in enumerate(items, 1)]
    try:
        return [check_event(json.loads(stripped), "event 1" if "\n" in stripped else "line 1")]
    except json.JSONDecodeError:
        pass  # not one JSON document: read it as JSON lines
    checked: list[Checked] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            checked.append(check_event(json.loads(line), f"line {number}"))
        except json.JSONDecodeError as exc:
            checked.append(Checked(f"line {number}", errors=(f"not valid JSON: {exc.msg} at column {exc.colno}",)))
    return checked


@dataclass(frozen=True)
class Sent:
    topic: str
    partition: int
    offset: int
    key: str
    event_id: str


async def emit(bootstrap: str, events: list[Checked], prefix: str = "") -> list[Sent]:
    """Publish valid events in binary mode to their topics, in file order, keyed by the catalogue's key."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, **kafka_security())
    await producer.start()
    sent: list[Sent] = []
    try:
        for item in events:
            if item.errors or item.event is None or item.spec is None:
                raise ValueError(f"{item.position} is invalid; validate the file first")
            data = item.event.data or {}
            key = str(data.get(item.spec.key_field) or item.event.subject or "")
            if not key:
                raise ValueError(f"{item.position}: no {item.spec.key_field} in data and no subject to key by")
            headers, value = to_binary(item.event)
            meta = await producer.send_and_wait(item.spec.topic(prefix), value, key=key.encode(), headers=headers)
            sent.append(Sent(meta.topic, meta.partition, meta.offset, key, item.event.id))
    finally:
        await producer.stop()
    return sent


@dataclass(frozen=True)
class Posted:
    event_id: str
    status: str  # accepted | duplicate
    topic: str


class IngressRefused(Exception):
    def __init__(self, position: str, status: int, detail: Any) -> None:
        super().__init__(f"{position}: HTTP {status}: {json.dumps(detail, ensure_ascii=False)}")


async def post_to_ingress(url: str, token: str, events: list[Checked]) -> list[Posted]:
    """POST valid events, structured mode, to the HTTP ingress; stops at the first refusal."""
    posted: list[Posted] = []
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30) as client:
        for item in events:
            if item.errors or item.event is None:
                raise ValueError(f"{item.position} is invalid; validate the file first")
            headers, body = to_structured(item.event)
            response = await client.post(
                "/events",
                content=body,
                headers={**{k: v.decode() for k, v in headers}, "Authorization": f"Bearer {token}"},
            )
            if response.status_code not in (200, 202):
                raise IngressRefused(item.position, response.status_code, refusal_detail(response))
            answer = response.json()
            posted.append(Posted(answer["id"], answer["status"], answer["topic"]))
    return posted


@dataclass(frozen=True)
class Replayed:
    replayed: int
    skipped: list[str]


async def replay(bootstrap: str, dlq_topic: str, *, on_progress: Callable[[int, int], None] | None = None) -> Replayed:
    """Re-publish every DLQ record to its original topic with its original key, value and headers.

    Consumers deduplicate on ``ce_id``, so replaying a record that was processed meanwhile is harmless.
    Records whose value was dropped (too large for the DLQ) cannot be replayed and are listed as skipped.
    """
    records = await read_topic(bootstrap, dlq_topic)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, **kafka_security())
    await producer.start()
    replayed, skipped = 0, []
    try:
        for done, record in enumerate(records, 1):
            if "trellis_value_dropped" in header_texts(record):
                skipped.append(f"{record.topic}@{record.partition}:{record.offset} (value dropped)")
            else:
                headers = [(n, v) for n, v in record.headers if not n.startswith(DLQ_HEADER_PREFIXES)]
                await producer.send_and_wait(original_topic(record), record.value, key=record.key, headers=headers)
                replayed += 1
            if on_progress:
                on_progress(done, len(records))
    finally:
        await producer.stop()
    return Replayed(replayed, skipped)


# ---- typer commands ----------------------------------------------------------------------------------------

Prefix = Annotated[str, typer.Option(envvar="TRELLIS_TOPIC_PREFIX", help="Topic name prefix of the deployment")]
dlq_app = typer.Typer(help="Dead-letter topics: list and replay", no_args_is_help=True)


def _checked_file(file: Path) -> list[Checked]:
    checked = check_text(file.read_text("utf-8"))
    bad = [item for item in checked if item.errors]
    for item in checked:
        if item.errors:
            for error in item.errors:
                typer.echo(f"{file}: {item.position}: {error}", err=True)
        elif item.event is not None:
            typer.echo(f"{file}: {item.position}: ok {item.event.type} id={item.event.id}")
    typer.echo(f"{len(checked) - len(bad)} valid, {len(bad)} invalid")
    if bad or not checked:
        raise typer.Exit(1)
    return checked


def validate_command(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate structured CloudEvents (JSON array, object or lines); exit 1 if any is invalid."""
    _checked_file(file)


def emit_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    prefix: Prefix = "",
    ingress: Annotated[
        str | None, typer.Option(help="Post to this HTTP ingress (its base URL) instead of Kafka")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="TRELLIS_TOKEN", help="Bearer token for the ingress", show_default=False)
    ] = None,
) -> None:
    """Validate, then publish every event in binary mode to its topic (or post it to the HTTP ingress)."""
    checked = _checked_file(file)
    if ingress is not None:
        if not token:
            typer.echo("the ingress needs a bearer token: --token or TRELLIS_TOKEN", err=True)
            raise typer.Exit(2)
        try:
            for posted in asyncio.run(post_to_ingress(ingress, token, checked)):
                typer.echo(f"{posted.status} {posted.event_id} for {posted.topic}")
        except (IngressRefused, httpx.HTTPError) as exc:
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(1) from None
        return
    for sent in run_or_exit(emit(bootstrap, checked, prefix), "emit"):
        typer.echo(f"sent {sent.event_id} to {sent.topic}[{sent.partition}]@{sent.offset} key={sent.key}")


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="The original topic or its .dlq topic")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
) -> None:
    """One line per dead-lettered record: where it came from, its type and why it failed."""
    dlq = topic if topic.endswith(".dlq") else f"{topic}.dlq"
    records = run_or_exit(read_topic(bootstrap, dlq), "dlq list")
    for record in records:
        info = describe(record)
        letter = info.get("dead_letter", {})
        where = f"{letter.get('trellis_original_topic', '?')}@{letter.get('trellis_original_offset', '?')}"
        kind = info["event"]["type"] if "event" in info else f"undecoded ({info['undecoded']['code']})"
        typer.echo(f"{record.offset:>6} {where} key={info['key']} {kind}: {letter.get('trellis_error', '')}")
    typer.echo(f"{len(records)} record(s) in {dlq}")


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="The original topic or its .dlq topic")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
) -> None:
    """Re-publish the DLQ's records to their original topic without the dead-letter headers."""
    dlq = topic if topic.endswith(".dlq") else f"{topic}.dlq"
    with Progress(transient=True) as progress:
        task = progress.add_task(f"replaying {dlq}", total=None)
        result = run_or_exit(
            replay(bootstrap, dlq, on_progress=lambda done, total: progress.update(task, completed=done, total=total)),
            "dlq replay",
        )
    typer.echo(f"replayed {result.replayed} record(s) from {dlq}")
    for item in result.skipped:
        typer.echo(f"skipped {item}", err=True)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
    app.command("emit")(emit_command)
    app.add_typer(dlq_app, name="dlq")
