"""Importing the partner registry from CSV: every row is checked first; one bad row means nothing is imported.

One row per offer; the partner columns repeat on each of its offers (rows with the same ``partner_name``
belong to one partner and must agree on its other columns). A row without offer columns registers a partner
without offers. Rows are numbered as a spreadsheet shows them (the header is row 1). List cells (skill codes,
countries, …) are separated by ``;``, ``,`` or ``|``. The delimiter between cells may be ``,``, ``;`` or a tab.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from trellis_common.csv_upload import EXTRA_CELLS, CsvLayoutError, read_table
from trellis_matchmaking.schemas import OfferIn, PartnerFields, PartnerIn

PARTNER_COLUMNS = {
    "partner_name": "name",
    "partner_type": "partner_type",
    "partner_country": "country",
    "partner_website": "website",
    "partner_contact": "contact",
}
OFFER_COLUMNS = {
    "offer_title": "title",
    "skill_codes": "skill_codes",
    "max_level": "max_level",
    "format": "format",
    "delivery": "delivery",
    "countries": "countries",
    "regions": "regions",
    "languages": "languages",
    "sectors": "sectors",
    "target_markets": "target_markets",
    "seats": "seats",
    "cost_eur": "cost_eur",
    "funding": "funding",
    "offer_contact": "contact",
}
LIST_FIELDS = frozenset({"skill_codes", "countries", "regions", "languages", "sectors", "target_markets", "funding"})
REQUIRED_COLUMNS = ("partner_name", "partner_type")
KNOWN_COLUMNS = (*PARTNER_COLUMNS, *OFFER_COLUMNS)
_LIST_SEPARATOR = re.compile(r"[;,|]")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class PartnerImport:
    partners: list[PartnerIn] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_checked: int = 0

    @property
    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})

    @property
    def offers(self) -> int:
        return sum(len(p.offers) for p in self.partners)


def read_rows(content: bytes, max_rows: int) -> list[tuple[int, dict[str, str]]]:
    def check_header(header: list[str]) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise CsvLayoutError(f"the header lacks {', '.join(missing)}; columns are: {', '.join(KNOWN_COLUMNS)}")
        unknown = [h for h in header if h not in KNOWN_COLUMNS]
        if unknown:
            raise CsvLayoutError(f"unknown column(s): {', '.join(unknown)}; columns are: {', '.join(KNOWN_COLUMNS)}")

    rows = read_table(content, max_rows, check_header).rows
    if not rows:
        raise CsvLayoutError("the file has a header but no rows")
    return rows


def _body(values: Mapping[str, str], columns: Mapping[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for column, name in columns.items():
        value = values.get(column, "")
        if value:
            body[name] = (
                [p.strip() for p in _LIST_SEPARATOR.split(value) if p.strip()] if name in LIST_FIELDS else value
            )
    return body


def _errors(row: int, exc: ValidationError, columns: Mapping[str, str]) -> list[RowError]:
    by_field = {name: column for column, name in columns.items()}
    out = []
    for error in exc.errors():
        loc = error["loc"]
        column = by_field.get(str(loc[0]), str(loc[0])) if loc else "row"
        given = error.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int) and len(loc) > 1 else ""
        out.append(RowError(row, column, f"{error['msg']}{shown}"))
    return out


def check_partners(rows: list[tuple[int, dict[str, str]]], registered: Mapping[str, str]) -> PartnerImport:
    """Validate every row; ``registered``: case-folded names of partners already in the registry → their id."""
    result = PartnerImport(rows_checked=len(rows))
    partners: dict[str, tuple[int, PartnerFields, list[OfferIn]]] = {}
    for row, values in rows:
        if EXTRA_CELLS in values:
            result.errors.append(RowError(row, "row", values[EXTRA_CELLS]))
            continue
        problems: list[RowError] = []
        partner: PartnerFields | None = None
        offer: OfferIn | None = None
        try:
            partner = PartnerFields.model_validate(_body(values, PARTNER_COLUMNS))
        except ValidationError as exc:
            problems.extend(_errors(row, exc, PARTNER_COLUMNS))
        offer_body = _body(values, OFFER_COLUMNS)
        if offer_body:
            try:
                offer = OfferIn.model_validate(offer_body)
            except ValidationError as exc:
                problems.extend(_errors(row, exc, OFFER_COLUMNS))
        if partner is not None:
            key = partner.name.casefold()
            if key in registered:
                problems.append(
                    RowError(row, "partner_name", f"a partner with this name is registered already ({registered[key]})")
                )
            elif key in partners:
                first_row, first, _ = partners[key]
                differs = _first_difference(first, partner)
                if differs is not None:
                    problems.append(RowError(row, differs, f"differs from row {first_row} for the same partner_name"))
            else:
                partners[key] = (row, partner, [])
        if problems:
            result.errors.extend(problems)
        elif partner is not None and offer is not None:
            partners[partner.name.casefold()][2].append(offer)
    if not result.errors:
        result.partners = [
            PartnerIn.model_validate({**fields.model_dump(mode="json"), "offers": offers})
            for _, fields, offers in partners.values()
        ]
    return result


def _first_difference(first: BaseModel, other: BaseModel) -> str | None:
    for name, column in ((n, c) for c, n in PARTNER_COLUMNS.items()):
        if name != "name" and getattr(first, name) != getattr(other, name):
            return column
    return None
