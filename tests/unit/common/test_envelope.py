from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_common.envelope import CloudEvent, from_kafka, to_binary, to_structured
from trellis_common.errors import ContractError


def _event(**overrides: object) -> CloudEvent:
    base: dict[str, object] = {
        "id": "e-1",
        "source": "/trellis/surveys",
        "type": "eu.trellis.surveys.response.completed.v1",
        "time": datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
        "subject": "m-1",
        "correlationid": "c-1",
        "causationid": "e-0",
        "data": {"a": 1, "text": "Grüße"},
    }
    return CloudEvent(**{**base, **overrides})


def test_binary_mode_puts_attributes_in_ce_headers() -> None:
    headers, value = to_binary(_event())
    names = dict(headers)
    assert names["ce_id"] == b"e-1"
    assert names["ce_specversion"] == b"1.0"
    assert names["ce_time"] == b"2026-05-01T12:00:00Z"
    assert names["ce_correlationid"] == b"c-1"
    assert names["content-type"] == b"application/json"
    assert json.loads(value or b"") == {"a": 1, "text": "Grüße"}


@given(
    data=st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.text(max_size=20), max_size=5),
    subject=st.none() | st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s),
)
def test_both_modes_round_trip(data: dict[str, object], subject: str | None) -> None:
    event = _event(data=data, subject=subject)
    assert from_kafka(*to_binary(event)) == event
    assert from_kafka(*to_structured(event)) == event


def test_unknown_extensions_are_kept() -> None:
    headers, value = to_binary(_event())
    received = from_kafka([*headers, ("ce_partnerref", b"x-9")], value)
    assert received.extensions == {"partnerref": "x-9"}


def test_tombstone_has_no_value() -> None:
    headers, value = to_binary(_event(data=None))
    assert value is None
    assert from_kafka(headers, None).data is None


@pytest.mark.parametrize(
    ("headers", "value", "message"),
    [
        ([], b"{}", re.escape("missing header(s) ce_id, ce_source, ce_type, ce_specversion")),
        (
            [("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t"), ("ce_specversion", b"0.3")],
            b"{}",
            "unsupported specversion",
        ),
        (
            [("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t"), ("ce_specversion", b"1.0")],
            b"[1]",
            "must be a JSON object",
        ),
        (
            [
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", b"t"),
                ("ce_specversion", b"1.0"),
                ("content-type", b"text/xml"),
            ],
            b"<a/>",
            "unsupported content-type",
        ),
        ([("content-type", b"application/cloudevents+json")], b'{"id": 1', "not valid JSON"),
        ([("ce_id", b"\xff")], b"{}", "not UTF-8"),
    ],
)
def test_defects_are_contract_errors_that_say_what_is_wrong(
    headers: list[tuple[str, bytes]], value: bytes, message: str
) -> None:
    with pytest.raises(ContractError, match=message):
        from_kafka(headers, value)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_a_contract_error(constant: str) -> None:
    attributes = '"specversion": "1.0", "id": "e-1", "source": "/t", "type": "eu.trellis.x.y.z.v1"'
    body = ("{" + attributes + ', "data": {"n": ' + constant + "}}").encode()
    with pytest.raises(ContractError, match="not a JSON value"):
        from_kafka([("content-type", b"application/cloudevents+json")], body)
