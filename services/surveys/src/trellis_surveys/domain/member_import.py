"""Importing a member list from CSV: every row is checked first; one bad row means nothing is imported.

Rows are numbered as a spreadsheet shows them (the header is row 1), so the report points at the line a
cluster manager must fix. Lists (languages, jobs-to-be-done, pain points, ambitions) are ``;``-separated
(``,``-separated in a file whose cells are separated by ``;``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from trellis_common.csv_upload import EXTRA_CELLS, CsvLayoutError, read_table

M = TypeVar("M", bound=BaseModel)

MEMBER_COLUMNS = (
    "name",
    "member_type",
    "sector",
    "size_class",
    "country",
    "region",
    "languages",
    "member_role",
    "jobs_to_be_done",
    "pain_points",
    "ambitions",
)
CONTACT_COLUMNS = {
    "contact_name": "name",
    "contact_email": "email",
    "contact_language": "language",
    "contact_role": "role",
}
LIST_COLUMNS = frozenset({"languages", "jobs_to_be_done", "pain_points", "ambitions"})
KNOWN_COLUMNS = frozenset(MEMBER_COLUMNS) | frozenset(CONTACT_COLUMNS)


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    message: str
    kind: str = "invalid"  # pydantic's error type, or one of ours (duplicate_in_cluster, …): clients word it
    context: dict[str, str | int | float] = dataclasses.field(default_factory=dict)  # "field" is a column here


@dataclass
class ImportCheck(Generic[M]):
    members: list[M] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})


def read_rows(content: bytes, max_rows: int) -> list[tuple[int, dict[str, str]]]:
    def check_header(header: list[str]) -> None:
        if "name" not in header:
            raise CsvLayoutError(
                f"the header must have a 'name' column; columns are: {', '.join(MEMBER_COLUMNS)}, "
                f"{', '.join(CONTACT_COLUMNS)}"
            )
        unknown = [h for h in header if h not in KNOWN_COLUMNS]
        if unknown:
            raise CsvLayoutError(f"unknown column(s): {', '.join(unknown)}")

    table = read_table(content, max_rows, check_header)
    if table.delimiter != ";":
        return table.rows
    # Lists in a ';'-separated file (Excel in many EU locales) use ','.
    return [
        (line, {k: v.replace(",", ";") if k in LIST_COLUMNS else v for k, v in values.items()})
        for line, values in table.rows
    ]


def row_to_body(values: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for column in MEMBER_COLUMNS:
        value = values.get(column, "")
        if not value:
            continue
        body[column] = [part.strip() for part in value.split(";") if part.strip()] if column in LIST_COLUMNS else value
    contact = {target: values[source] for source, target in CONTACT_COLUMNS.items() if values.get(source)}
    if contact:
        body["contacts"] = [contact]
    return body


def check_rows(
    rows: Iterable[tuple[int, dict[str, str]]],
    model: type[M],
    existing_names: set[str],
    name_of: Callable[[M], str],
) -> ImportCheck[M]:
    """Validate every row with ``model``; names must be new to the cluster and unique in the file."""
    check: ImportCheck[M] = ImportCheck()
    first_row_of: dict[str, int] = {}
    for row, values in rows:
        if EXTRA_CELLS in values:
            check.errors.append(RowError(row, "row", values[EXTRA_CELLS], "extra_cells"))
            continue
        try:
            member = model.model_validate(row_to_body(values))
        except ValidationError as exc:
            for error in exc.errors():
                context = {k: v for k, v in error.get("ctx", {}).items() if isinstance(v, str | int | float)}
                check.errors.append(RowError(row, _column(error["loc"]), error["msg"], error["type"], context))
            continue
        name = name_of(member).casefold()
        if name in existing_names:
            message = "a member with this name is already in the cluster"
            check.errors.append(RowError(row, "name", message, "duplicate_in_cluster"))
        elif name in first_row_of:
            message = f"the same name is on row {first_row_of[name]}"
            check.errors.append(RowError(row, "name", message, "duplicate_in_file", {"row": first_row_of[name]}))
        else:
            first_row_of[name] = row
            check.members.append(member)
    return check


def _column(loc: tuple[int | str, ...]) -> str:
    """The CSV column a validation error belongs to (``contacts.0.email`` is ``contact_email``)."""
    if loc and loc[0] == "contacts":
        target = str(loc[-1]) if len(loc) > 2 else "name"
        return next((src for src, dst in CONTACT_COLUMNS.items() if dst == target), "contact_name")
    return str(loc[0]) if loc else "row"
