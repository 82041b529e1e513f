"""JSON on the hot paths (event values, JSON columns, log lines): pydantic-core's codec, several times as fast as
the standard library's on the larger events every hop carries, with the standard library behind it for what
pydantic-core refuses that JSON allows (a lone surrogate escaped in a string), so nothing valid is turned away."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic_core


def _no_constants(constant: str) -> Any:
    # Python's parser accepts NaN and Infinity; JSON does not, and they could not be written back out.
    raise ValueError(f"{constant} is not a JSON value")


def loads(raw: bytes | str) -> Any:
    """The value of a JSON document; ``ValueError`` (a ``json.JSONDecodeError`` where the standard library can
    point at the fault) when it is not JSON. NaN and Infinity are refused, as JSON refuses them."""
    try:
        return pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError:
        return json.loads(raw, parse_constant=_no_constants)


def dumps(value: Any, *, fallback: Callable[[Any], Any] = str) -> bytes:
    """Compact UTF-8 JSON; ``fallback`` turns what JSON cannot hold into something it can."""
    try:
        return pydantic_core.to_json(value, fallback=fallback)
    except pydantic_core.PydanticSerializationError:
        return json.dumps(value, separators=(",", ":"), default=fallback).encode()


def dumps_text(value: Any, *, fallback: Callable[[Any], Any] = str) -> str:
    return dumps(value, fallback=fallback).decode()
