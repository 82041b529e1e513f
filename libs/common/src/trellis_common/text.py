"""Input the services can store: text PostgreSQL accepts and integers its INTEGER columns hold.

PostgreSQL refuses the NUL character in text and JSON, and no encoding holds a lone surrogate (what a JSON
escape such as ``"\\ud800"`` without its pair decodes to). Stored or only compared in a query, either turns a
caller's mistake into a 500. Request bodies refuse them through :class:`StorableText`, path and query
parameters through :func:`storable_parameters`: both answer 422 naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, field_validator

INT4_MAX = 2**31 - 1
"""The largest value of a PostgreSQL INTEGER: the bound of any integer input that is stored or queried."""

_SURROGATE = re.compile("[\ud800-\udfff]")  # a pair decodes to one character: a surrogate left is a lone one


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "text must not contain the NUL character"
    if _SURROGATE.search(text):
        return "text must not contain lone surrogates (invalid Unicode)"
    return None


def unstorable_at(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """Where (the path of keys and indexes) and why some text in ``value`` cannot be stored: strings, lists and
    dicts however nested, keys included. None when all of it can."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if (problem := unstorable(item)) is not None:
                return path, problem
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and (problem := unstorable(key)) is not None:
                    return (*path, printable(key)), f"a key: {problem}"
                pending.append(((*path, key), inner))
        elif isinstance(item, list | tuple):
            pending.extend(((*path, index), inner) for index, inner in enumerate(item))
    return None


def first_unstorable(value: Any) -> str | None:
    """Why some text in ``value`` (strings, lists and dicts however nested, keys included) cannot be stored."""
    found = unstorable_at(value)
    return None if found is None else found[1]


def check_storable(value: Any) -> Any:
    """``value`` unchanged; a ValueError (a 422 in a model) when text in it cannot be stored."""
    if (problem := first_unstorable(value)) is not None:
        raise ValueError(problem)
    return value


def printable(text: str) -> str:
    """``text`` that can be written as UTF-8: lone surrogates spelt as escapes (to echo a caller's input)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class StorableText(BaseModel):
    """Base of request bodies: text in any field, however nested, must be storable."""

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return check_storable(value)


async def storable_parameters(request: Request) -> None:
    """App-wide dependency: a path or query parameter with text that cannot be stored is a 422."""
    errors = [
        {"type": "value_error", "loc": (where, name), "msg": problem, "input": printable(value)}
        for where, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items()))
        for name, value in items
        if isinstance(value, str) and (problem := unstorable(value)) is not None
    ]
    if errors:
        raise RequestValidationError(errors)
