"""A service's objection in the page's language: validation error types the console knows are worded by it;
anything else keeps the service's own message rather than hide the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trellis_console.messages import Messages

# error kind -> message key; the context names the placeholders (pydantic's ctx or the service's own).
_KINDS = {
    "missing": "err_missing",
    "string_too_short": "err_missing",
    "enum": "err_enum",
    "literal_error": "err_enum",
    "string_too_long": "err_too_long",
    "too_long": "err_too_many",
    "string_pattern_mismatch": "err_form",
    "duplicate_in_cluster": "err_duplicate_in_cluster",
    "duplicate_in_file": "err_duplicate_in_file",
    "extra_cells": "err_extra_cells",
}
_PLACEHOLDERS = {"err_enum": ("expected",), "err_too_long": ("max_length",), "err_too_many": ("max_length",),
                 "err_duplicate_in_file": ("row",)}  # fmt: skip


def worded(t: Messages, kind: str, message: str, context: Mapping[str, Any], field: str = "") -> str:
    if kind == "value_error" and field.split(".")[-1].endswith("email"):
        return t("err_email")
    key = _KINDS.get(kind)
    if key is None:
        return message
    values = {name: context.get(name) for name in _PLACEHOLDERS.get(key, ())}
    if isinstance(values.get("expected"), str):
        values["expected"] = str(values["expected"]).replace("' or '", "', '")  # pydantic's English "or"
    if any(value is None for value in values.values()):
        return message
    return t(key, **values)
