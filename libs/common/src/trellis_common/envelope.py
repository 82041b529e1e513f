"""CloudEvents 1.0 envelope and its Kafka protocol binding.

We produce binary mode (``ce_*`` headers, the value is the JSON data) and accept both binary and
structured mode (``content-type: application/cloudevents+json``) on consume, deciding by content type as
the binding specifies. The binding is small and strict, so it lives here rather than behind a generic SDK
whose event class would not carry our typed data models.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trellis_common import json_codec
from trellis_common.errors import ContractError

SPEC_VERSION = "1.0"
JSON = "application/json"
STRUCTURED_JSON = "application/cloudevents+json"
BATCH_JSON = "application/cloudevents-batch+json"
# Attributes with a dedicated field; every other ce_* header is kept as an extension.
_CORE = ("id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema")
_OURS = ("correlationid", "causationid", "traceparent")
_REQUIRED = ("id", "source", "type", "specversion")  # the CloudEvents 1.0 required attributes

Headers = Sequence[tuple[str, bytes]]


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    specversion: str = SPEC_VERSION
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: str = JSON
    dataschema: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = None
    extensions: dict[str, str] = Field(default_factory=dict)
    data: dict[str, Any] | None = None

    def attributes(self) -> dict[str, str]:
        """Context attributes as CloudEvents strings (time in RFC 3339, UTC)."""
        out: dict[str, str] = {}
        for name in (*_CORE, *_OURS):
            value = getattr(self, name)
            if value is None or name == "datacontenttype":
                continue
            out[name] = _format_time(value) if isinstance(value, datetime) else str(value)
        out.update(self.extensions)
        return out


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_binary(event: CloudEvent) -> tuple[list[tuple[str, bytes]], bytes | None]:
    """Binary mode: attributes as ``ce_`` headers; a ``None`` data is a Kafka tombstone."""
    headers = [(f"ce_{name}", value.encode()) for name, value in event.attributes().items()]
    headers.append(("content-type", event.datacontenttype.encode()))
    value = None if event.data is None else json_codec.dumps(event.data)
    return headers, value


def to_structured(event: CloudEvent) -> tuple[list[tuple[str, bytes]], bytes]:
    body: dict[str, Any] = dict(event.attributes())
    body["datacontenttype"] = event.datacontenttype
    body["data"] = event.data
    return [("content-type", STRUCTURED_JSON.encode())], json.dumps(body, default=str).encode()


def from_kafka(headers: Headers | None, value: bytes | None) -> CloudEvent:
    """Decode either mode; any defect is a ``ContractError`` naming what is wrong."""
    header_map: dict[str, str] = {}
    for name, raw in headers or ():
        try:
            header_map[name.lower()] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError as exc:
            raise ContractError(f"header {name!r} is not UTF-8", code="contract.not_a_cloudevent") from exc
    content_type = header_map.get("content-type", "")
    if content_type.startswith(STRUCTURED_JSON):
        return _from_structured(value)
    return _from_binary(header_map, content_type, value)


def from_http(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """The CloudEvents HTTP binding: structured mode by content type, else binary mode (``ce-*`` headers)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    content_type = lowered.get("content-type", "")
    if content_type.startswith(BATCH_JSON):
        raise ContractError(
            "batched mode is not accepted: post one event per request", code="contract.not_a_cloudevent"
        )
    if content_type.startswith(STRUCTURED_JSON):
        return _from_structured(body)
    # Header values are percent-encoded in the HTTP binding (non-ASCII, quotes, percent signs).
    attributes = {f"ce_{name[3:]}": unquote(value) for name, value in lowered.items() if name.startswith("ce-")}
    if not body:
        raise ContractError(
            "the request has no body: binary mode carries the event data as the body", code="contract.not_json"
        )
    return _from_binary(attributes, content_type, body, header_prefix="ce-")


def _from_binary(
    header_map: dict[str, str], content_type: str, value: bytes | None, *, header_prefix: str = "ce_"
) -> CloudEvent:
    attrs = {name[3:]: v for name, v in header_map.items() if name.startswith("ce_")}
    missing = [a for a in _REQUIRED if not attrs.get(a)]
    if missing:
        named = ", ".join(header_prefix + m for m in missing)
        raise ContractError(f"not a CloudEvent: missing header(s) {named}", code="contract.not_a_cloudevent")
    data = None
    if value is not None:
        if content_type and not content_type.startswith(JSON) and "+json" not in content_type:
            raise ContractError(f"unsupported content-type {content_type!r}; expected {JSON}", code="contract.not_json")
        data = _json_object(value)
    return _build(attrs, content_type or JSON, data)


def _from_structured(value: bytes | None) -> CloudEvent:
    if value is None:
        raise ContractError("structured-mode event has no body", code="contract.not_json")
    body = _json_object(value, envelope=True)
    data = body.pop("data", None)
    if "data_base64" in body:
        raise ContractError(
            "data_base64 is not supported: our events carry JSON data", code="contract.not_a_cloudevent"
        )
    if data is not None and not isinstance(data, dict):
        raise ContractError(f"event data must be a JSON object, not {_json_kind(data)}", code="contract.not_an_object")
    attrs = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    missing = [a for a in _REQUIRED if not attrs.get(a)]
    if missing:
        raise ContractError(
            f"not a CloudEvent: missing attribute(s) {', '.join(missing)}", code="contract.not_a_cloudevent"
        )
    return _build(attrs, str(body.get("datacontenttype", JSON)), data)


def _build(attrs: dict[str, str], content_type: str, data: dict[str, Any] | None) -> CloudEvent:
    if attrs.get("specversion") != SPEC_VERSION:
        raise ContractError(
            f"unsupported specversion {attrs.get('specversion')!r}; expected {SPEC_VERSION}",
            code="contract.not_a_cloudevent",
        )
    known = {k: attrs[k] for k in (*_CORE, *_OURS) if k in attrs and k != "datacontenttype"}
    extensions = {k: v for k, v in attrs.items() if k not in _CORE and k not in _OURS}
    try:
        return CloudEvent(**known, datacontenttype=content_type, extensions=extensions, data=data)
    except ValidationError as exc:
        raise ContractError(
            f"invalid CloudEvent attributes: {exc.errors(include_url=False)}", code="contract.not_a_cloudevent"
        ) from exc


def _json_object(value: bytes, *, envelope: bool = False) -> dict[str, Any]:
    try:
        parsed = json_codec.loads(value)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContractError(f"body is not valid JSON: {exc}", code="contract.not_json") from exc
    if not isinstance(parsed, dict):
        # In binary mode the body is the event's data: a valid CloudEvent whose data is not an object.
        raise ContractError(
            f"event data must be a JSON object, not {_json_kind(parsed)}", code="contract.not_an_object"
        )
    return parsed


def _json_kind(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
