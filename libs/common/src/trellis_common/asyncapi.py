"""Generates the AsyncAPI 3.0 document of every Trellis topic from the event catalogue.

``python -m trellis_common.asyncapi`` rewrites ``contracts/asyncapi.json``; a test fails when the committed
document differs, so other systems read exactly what the code produces. Each event's JSON Schema comes from
``trellis_common.schemas.schema_for``; its ``$defs`` move to ``components.schemas`` so that ``$ref``s resolve
inside one self-contained document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from trellis_common.catalogue import CATALOGUE, DLQ_RETENTION_MS, EventSpec
from trellis_common.envelope import SPEC_VERSION
from trellis_common.schemas import schema_for

ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEFAULT_PATH = Path("contracts/asyncapi.json")
DLQ_HEADERS = {
    "trellis_error_code": "What kind of failure: contract.* (the record is wrong) or rule.* (a rule refused it); "
    "the codes are listed in docs/integrating.md",
    "trellis_error": "Why the event could not be processed: <code>: <message>",
    "trellis_error_class": "The error's class, e.g. ContractError",
    "trellis_original_topic": "The topic the event was read from",
    "trellis_original_partition": "Its partition there",
    "trellis_original_offset": "Its offset there",
    "trellis_consumer": "The consumer group that dead-lettered it",
    "trellis_value_dropped": "Present when the value was too large even for the DLQ (the value is then null)",
}


def channel_id(spec: EventSpec) -> str:
    return spec.name


def dlq_channel_id(spec: EventSpec) -> str:
    return f"{spec.name}.dlq"


def message_id(spec: EventSpec) -> str:
    return spec.model.__name__


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def cloudevents_headers(spec: EventSpec) -> dict[str, Any]:
    """The CloudEvents Kafka binding in binary mode: context attributes as ``ce_`` headers."""
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0 Kafka protocol binding, binary mode. Structured mode (content-type "
            "application/cloudevents+json, the whole event as the value) is accepted as well."
        ),
        "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "content-type"],
        "properties": {
            "ce_id": _string("Unique per source; consumers deduplicate on it", minLength=1),
            "ce_source": _string("URI reference of the producing system, e.g. /services/surveys", minLength=1),
            "ce_type": _string("The event type", const=spec.type),
            "ce_specversion": _string("CloudEvents version", const=SPEC_VERSION),
            "ce_time": _string("When it happened, RFC 3339", format="date-time"),
            "ce_subject": _string("The entity the event is about"),
            "ce_dataschema": _string("URI of the data's JSON Schema"),
            "ce_correlationid": _string("Groups every event caused by one original request (extension)"),
            "ce_causationid": _string("The ce_id of the event that caused this one (extension)"),
            "ce_traceparent": _string("W3C trace context (distributed tracing extension)"),
            "content-type": _string("Content type of the value", enum=["application/json"]),
        },
        "additionalProperties": {"type": "string"},
    }


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace("#/$defs/", "#/components/schemas/")
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _payload(spec: EventSpec, shared: dict[str, Any]) -> dict[str, Any]:
    schema = schema_for(spec)
    for name, definition in schema.pop("$defs", {}).items():
        definition = _rewrite_refs(definition)
        if shared.setdefault(name, definition) != definition:
            raise ValueError(f"two event models define different schemas named {name!r}")
    # AsyncAPI's schema object is JSON Schema draft-07 based: the 2020-12 dialect and $id stay in the
    # committed per-event files, which remain the reference for validators.
    payload: dict[str, Any] = _rewrite_refs({k: v for k, v in schema.items() if k not in ("$schema", "$id")})
    return payload


def _message(spec: EventSpec, shared: dict[str, Any]) -> dict[str, Any]:
    tombstone = " A null value (tombstone) means the entity was deleted." if spec.compacted else ""
    return {
        "name": spec.type,
        "title": spec.model.__name__,
        "summary": spec.summary,
        "description": f"{spec.summary}.{tombstone} Committed example: contracts/examples/{spec.name}.json",
        "contentType": "application/json",
        "headers": cloudevents_headers(spec),
        "payload": _payload(spec, shared),
        "correlationId": {
            "description": "Correlation id of the request that started the chain",
            "location": "$message.header#/ce_correlationid",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"The event's {spec.key_field}; orders events per entity"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _topic_configuration(spec: EventSpec) -> dict[str, Any]:
    config = spec.topic_config()
    out: dict[str, Any] = {"cleanup.policy": [config["cleanup.policy"]]}
    for name in ("retention.ms", "delete.retention.ms"):
        if name in config:
            out[name] = int(config[name])
    return out


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    shared: dict[str, Any] = {}
    for spec in CATALOGUE:
        mid = message_id(spec)
        messages[mid] = _message(spec, shared)
        ref = {"$ref": f"#/components/messages/{mid}"}
        cid, dlq = channel_id(spec), dlq_channel_id(spec)
        channels[cid] = {
            "address": spec.name,
            "title": spec.type,
            "description": f"{spec.summary}. Deployments may prefix the topic name (TRELLIS_TOPIC_PREFIX).",
            "messages": {mid: ref},
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "topicConfiguration": _topic_configuration(spec),
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        channels[dlq] = {
            "address": spec.dlq_topic(),
            "title": f"{spec.type} dead letters",
            "description": (
                "Records of the original topic that a consumer could not process, unchanged, with headers "
                "saying why: " + "; ".join(f"{name}: {text}" for name, text in DLQ_HEADERS.items())
            ),
            "messages": {mid: ref},
            "bindings": {
                "kafka": {
                    "topic": spec.dlq_topic(),
                    "partitions": 1,
                    "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": DLQ_RETENTION_MS},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        operations[f"publish.{spec.name}"] = {
            "action": "send",
            "title": f"The {spec.service} service publishes {spec.type}",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{mid}"}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:eu:trellis:events",
        "info": {
            "title": "Trellis events",
            "version": CONTRACT_VERSION,
            "description": (
                "Every Kafka topic of Trellis, its CloudEvents envelope, its data schema and its key. Within a "
                "major version (the .vN suffix of topics and types) only optional fields are added."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(shared.items()))},
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def is_stale(path: Path) -> bool:
    return not path.exists() or path.read_text("utf-8") != render()


def write(path: Path) -> bool:
    """Rewrite the document; True when it changed."""
    changed = is_stale(path)
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), "utf-8")
    return changed


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    print(f"{'updated' if write(target) else 'unchanged'} {target}")
