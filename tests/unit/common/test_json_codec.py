"""The hot paths' JSON codec: pydantic-core's speed, and nothing JSON allows turned away."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_common import json_codec

# Lone surrogates drawn often: ``st.text()`` alone never draws them, and they are what pydantic-core refuses.
TEXT = st.text(st.characters(exclude_categories=[]) | st.sampled_from(["\ud800", "\udfff"]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_json_value_reads_back_as_the_standard_library_reads_it(value: object) -> None:
    """Lone surrogates included: pydantic-core refuses to write or read them, the standard library behind it
    does both."""
    written = json_codec.dumps(value)
    assert json_codec.loads(written) == json.loads(written) == value


def test_a_lone_surrogate_escape_is_read_and_written() -> None:
    assert json_codec.loads(b'{"skill": "digcomp:\\ud8005.2"}') == {"skill": "digcomp:\ud8005.2"}
    assert json_codec.dumps({"skill": "digcomp:\ud8005.2"}) == b'{"skill":"digcomp:\\ud8005.2"}'


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant: str) -> None:
    with pytest.raises(ValueError, match="not a JSON value"):
        json_codec.loads(f'{{"n": {constant}}}'.encode())


def test_what_is_not_json_says_where() -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        json_codec.loads(b'{"id": 1')
    assert raised.value.pos == 8


def test_what_json_cannot_hold_goes_through_the_fallback() -> None:
    assert json.loads(json_codec.dumps({"n": math.pi, "x": object()}, fallback=lambda _: "?")) == {
        "n": math.pi,
        "x": "?",
    }
