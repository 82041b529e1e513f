"""POST /events: one CloudEvent over HTTP, checked as strictly as a Kafka consumer would, then published."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import ValidationError

from trellis_common.app import Runtime
from trellis_common.auth import Caller, Principal, Role
from trellis_common.catalogue import INGRESS, EventSpec, spec_for_type
from trellis_common.envelope import BATCH_JSON, JSON, STRUCTURED_JSON, CloudEvent, from_http
from trellis_common.errors import ContractError
from trellis_common.events import EventData, SupplyReported, SupplyScope
from trellis_common.logging import get_logger
from trellis_common.parking import is_known_cluster
from trellis_common.runtime import ServiceRuntime
from trellis_common.text import unstorable_at
from trellis_ingress import repository
from trellis_ingress.models import NAMES
from trellis_ingress.settings import IngressSettings

log = get_logger(__name__)
router = APIRouter(tags=["ingress"])

MAX_ID_LENGTH = 64  # the outbox's and the consumers' inbox limit
POSTED = Counter("trellis_ingress_events_total", "Events posted to the HTTP ingress, by outcome", ["type", "outcome"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "Binary mode: the event data as the body with ce-id, ce-source, ce-type, ce-specversion "
        "(and optional ce-subject, ce-time, ce-correlationid) headers. Structured mode: the whole "
        "CloudEvent as the body.",
        "content": {
            JSON: {"schema": {"type": "object"}},
            STRUCTURED_JSON: {"schema": {"type": "object", "required": ["id", "source", "type", "specversion"]}},
        },
    }
}


def _refuse(status: int, detail: object, event_type: str = "unknown", outcome: str = "refused") -> HTTPException:
    POSTED.labels(event_type, outcome).inc()
    return HTTPException(status_code=status, detail=detail)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _refuse(413, f"the event is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():  # a chunked upload has no Content-Length: count as it arrives
        body.extend(chunk)
        if len(body) > limit:
            raise _refuse(413, f"the event is larger than {limit} bytes")
    return bytes(body)


def _spec(event: CloudEvent) -> EventSpec:
    spec = spec_for_type(event.type)
    accepted = [s.type for s in INGRESS]
    if spec is None:
        raise _refuse(400, {"message": f"unknown event type {event.type!r}", "accepted_types": accepted})
    if not spec.ingress:
        raise _refuse(
            403,
            {"message": f"{event.type} is published by the {spec.service} service only", "accepted_types": accepted},
            event.type,
        )
    return spec


def _validated(event: CloudEvent, spec: EventSpec) -> EventData:
    if event.data is None:
        raise _refuse(400, "the event has no data", event.type)
    if (found := unstorable_at(event.data)) is not None:  # checked first: the errors below echo the input
        loc, problem = found
        raise _refuse(422, [{"type": "value_error", "loc": ["data", *loc], "msg": problem}], event.type)
    try:
        return spec.model.model_validate(event.data)
    except ValidationError as exc:
        errors = [{**error, "loc": ["data", *error["loc"]]} for error in exc.errors(include_url=False)]
        raise _refuse(422, jsonable_encoder(errors, custom_encoder={ValueError: str}), event.type) from exc


def _cluster_of(data: EventData) -> str | None:
    """The cluster an event belongs to; ``None`` for platform-wide data (e.g. a region's supply figures)."""
    if isinstance(data, SupplyReported):
        return data.scope_id if data.scope is SupplyScope.CLUSTER else None
    cluster = getattr(data, "cluster_id", None)
    return str(cluster) if cluster is not None else None


def _authorise(caller: Principal, data: EventData, event_type: str) -> None:
    cluster = _cluster_of(data)
    if not caller.may(Role.INTEGRATION, cluster):
        where = f"cluster {cluster!r}" if cluster else "the whole platform (e.g. a region)"
        raise _refuse(403, f"{caller.subject!r} may not post events for {where}", event_type)


async def _require_known_cluster(runtime: ServiceRuntime, data: EventData, event_type: str) -> None:
    """An event for a cluster surveys never published would assess phantom members: refused here, where the
    sender learns it, rather than dead-lettered downstream."""
    cluster = _cluster_of(data)
    if cluster is None:
        return
    async with runtime.db.sessions() as session:
        known = await is_known_cluster(session, NAMES, cluster)
    if not known:
        field = "scope_id" if isinstance(data, SupplyReported) else "cluster_id"
        raise _refuse(
            422,
            [
                {
                    "type": "value_error",
                    "loc": ["data", field],
                    "msg": f"unknown cluster {cluster!r}: register the cluster and its members in the surveys "
                    "service first",
                }
            ],
            event_type,
        )


def _digest(event: CloudEvent) -> str:
    """What makes a post the same post: a retry must match it, the time the sender may omit is left out."""
    content = {"source": event.source, "type": event.type, "subject": event.subject, "data": event.data}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _answer(status: int, outcome: str, event: CloudEvent, spec: EventSpec, topic_prefix: str) -> JSONResponse:
    POSTED.labels(event.type, outcome).inc()
    body = {"status": outcome, "id": event.id, "type": event.type, "topic": spec.topic(topic_prefix)}
    return JSONResponse(body, status_code=status)


@router.post(
    "/events",
    status_code=202,
    summary="Publish one CloudEvent (HTTP binding, binary or structured mode)",
    openapi_extra=_BODY_DOC,
    responses={
        200: {"description": "The same event was accepted before (same id and content): nothing new published"},
        202: {"description": "Accepted: the event is stored and will be published to its topic"},
        400: {"description": "Not a CloudEvent, unknown type, or no data"},
        401: {"description": "No or invalid bearer token"},
        403: {"description": "The caller may not post this type, or for this cluster"},
        409: {"description": "The id was already used for a different event"},
        413: {"description": "The event is too large"},
        415: {"description": "Batched mode or a content type other than JSON"},
        422: {
            "description": "The data does not match the event's schema, or names a cluster surveys never "
            "published; each error names its field"
        },
    },
)
async def post_event(request: Request, caller: Caller, runtime: Runtime) -> JSONResponse:
    settings = runtime.settings
    limit = settings.ingress_max_body_bytes if isinstance(settings, IngressSettings) else 256 * 1024
    if not caller.roles & {Role.INTEGRATION, Role.PLATFORM_ADMIN}:
        raise _refuse(403, "posting events needs the integration role")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(BATCH_JSON):
        raise _refuse(415, "batched mode is not accepted: post one event per request")
    body = await _read_body(request, limit)
    try:
        event = from_http(request.headers, body)
    except ContractError as exc:
        status = 415 if "content-type" in str(exc) else 400
        raise _refuse(status, str(exc)) from exc
    if len(event.id) > MAX_ID_LENGTH:
        raise _refuse(400, f"the event id is longer than {MAX_ID_LENGTH} characters", event.type)
    if (found := unstorable_at(event.model_dump(exclude={"data"}))) is not None:
        raise _refuse(400, f"invalid CloudEvent attribute {found[0][0]}: {found[1]}")
    spec = _spec(event)
    data = _validated(event, spec)
    _authorise(caller, data, event.type)
    await _require_known_cluster(runtime, data, event.type)
    key = str(getattr(data, spec.key_field))
    # The data goes on as posted, once validated: fields a newer minor version adds reach the consumers that know
    # them (the models ignore what they do not know).
    normalised = event.model_copy(update={"subject": event.subject or key})
    digest = _digest(normalised)
    try:
        return await _accept(runtime, caller, normalised, spec, key, digest)
    except repository.EventIdTaken:
        # Another request with the same id won the race; answer as a retry of it.
        return await _accept(runtime, caller, normalised, spec, key, digest)


async def _accept(
    runtime: ServiceRuntime, caller: Principal, event: CloudEvent, spec: EventSpec, key: str, digest: str
) -> JSONResponse:
    prefix = runtime.settings.topic_prefix
    async with runtime.unit_of_work(correlation_id=event.correlationid) as uow:
        seen = await repository.accepted_digest(uow.session, event.id)
        if seen is not None:
            if seen != digest:
                raise _refuse(
                    409, f"event id {event.id!r} was already used for a different event; use a new id", event.type
                )
            return _answer(200, "duplicate", event, spec, prefix)
        await repository.record_accepted(
            uow.session,
            event_id=event.id,
            source=event.source,
            event_type=event.type,
            digest=digest,
            caller=caller.subject,
            accepted_at=uow.now,
        )
        uow.forward(event, spec, key)
    log.info("event_accepted", event_id=event.id, event_type=event.type, caller=caller.subject)
    return _answer(202, "accepted", event, spec, prefix)
