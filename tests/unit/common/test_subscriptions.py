"""Handlers registered with the event model they take: the type comes from the catalogue, the handler gets the data
parsed, a record of another shape is a contract error (DLQ), and a service cannot register one type twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest
from sqlalchemy import MetaData

from tests.support.fixtures import completed_response
from trellis_common.catalogue import spec_for_model
from trellis_common.consumer import Handling, Incoming
from trellis_common.envelope import CloudEvent
from trellis_common.errors import ContractError
from trellis_common.events import EventData, ResponseCompleted, SupplyReported
from trellis_common.runtime import ServiceDefinition
from trellis_common.subscriptions import Received, handles, handles_batch
from trellis_common.unit_of_work import UnitOfWork

UOW = cast(UnitOfWork, object())  # never touched by these handlers


def incoming(data: EventData) -> Incoming:
    envelope = CloudEvent(source="/tests", type=spec_for_model(type(data)).type, data=data.model_dump(mode="json"))
    return Incoming(envelope, data, "key-1")


async def test_a_handler_gets_the_event_parsed_and_its_envelope() -> None:
    seen: list[Received[ResponseCompleted]] = []

    @handles(ResponseCompleted)
    async def on_response(received: Received[ResponseCompleted]) -> None:
        seen.append(received)

    assert on_response.event_type == spec_for_model(ResponseCompleted).type
    record = incoming(completed_response())
    await on_response(UOW, record)
    [received] = seen
    assert received.event is record.data and received.envelope is record.envelope and received.key == "key-1"


async def test_a_batch_handler_gets_every_event_parsed() -> None:
    seen: list[str] = []

    @handles_batch(ResponseCompleted)
    async def on_responses(batch: Sequence[Received[ResponseCompleted]]) -> None:
        seen.extend(received.event.cluster_id for received in batch)

    await on_responses(
        [
            Handling(UOW, incoming(completed_response(cluster_id="c-1"))),
            Handling(UOW, incoming(completed_response(cluster_id="c-2"))),
        ]
    )
    assert seen == ["c-1", "c-2"]


async def test_data_of_another_model_is_a_contract_error() -> None:
    @handles(SupplyReported)
    async def on_supply(received: Received[SupplyReported]) -> None:
        raise AssertionError("never called")

    with pytest.raises(ContractError):
        await on_supply(UOW, incoming(completed_response()))


def test_one_event_type_is_registered_once() -> None:
    async def apply(received: Received[ResponseCompleted]) -> None:
        return None

    twice: list[Any] = [handles(ResponseCompleted)(apply), handles(ResponseCompleted)(apply)]
    with pytest.raises(ValueError, match="two handlers"):
        ServiceDefinition(name="demo", title="Demo", description="", metadata=MetaData(), migrations="", consumes=twice)
