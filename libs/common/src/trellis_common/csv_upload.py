"""Reading an uploaded CSV file (member lists, partner directories) the way spreadsheets write them:
UTF-8 with or without a byte-order mark, ',', ';' or tab separated, stray carriage returns, blank lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

EXTRA_CELLS = "__extra_cells__"  # the key of a row that has more cells than the header has columns


class CsvLayoutError(ValueError):
    """The file as a whole cannot be read (encoding, header, size); no row numbers to report."""


@dataclass(frozen=True)
class CsvTable:
    delimiter: str
    rows: list[tuple[int, dict[str, str]]]  # (line number, stripped cells by column); blank lines left out


def read_table(content: bytes, max_rows: int, check_header: Callable[[list[str]], None]) -> CsvTable:
    """The rows of ``content``; ``check_header`` raises CsvLayoutError for a header the caller cannot use."""
    try:
        text = content.decode("utf-8-sig")  # spreadsheets often start UTF-8 files with a byte-order mark
    except UnicodeDecodeError as exc:
        raise CsvLayoutError("the file is not UTF-8 text") from exc
    dialect: type[csv.Dialect]
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # newline="": the csv module itself splits rows, so a lone CR ends a row and quoted cells keep theirs.
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = [h.strip() for h in reader.fieldnames or []]
        check_header(header)
        reader.fieldnames = header
        for raw in reader:
            if len(rows) >= max_rows:
                raise CsvLayoutError(f"the file has more than {max_rows} rows; split it")
            if None in raw:
                rows.append((reader.line_num, {EXTRA_CELLS: "more cells than the header has columns"}))
                continue
            values = {k: (v or "").strip() for k, v in raw.items()}
            if any(values.values()):
                rows.append((reader.line_num, values))
    except csv.Error as exc:  # e.g. a cell beyond the csv module's size limit
        raise CsvLayoutError(f"the file cannot be read as CSV: {exc}") from None
    return CsvTable(str(dialect.delimiter), rows)
