"""Checking a member-list CSV before anything is imported."""

from __future__ import annotations

import pytest

from trellis_common.csv_upload import CsvLayoutError
from trellis_surveys.domain.member_import import check_rows, read_rows
from trellis_surveys.schemas import MemberIn


def check(text: str, existing: set[str] | None = None) -> tuple[int, list[tuple[int, str]]]:
    result = check_rows(read_rows(text.encode(), 100), MemberIn, existing or set(), lambda m: m.name)
    return len(result.members), [(e.row, e.field) for e in result.errors]


def test_rows_are_numbered_as_in_a_spreadsheet_and_name_the_column() -> None:
    text = (
        "name,member_type,country,contact_name,contact_email,languages,jobs_to_be_done\n"
        "Alpha GmbH,sme,AT,Anna,anna@alpha.example,de;en,find staff;go abroad\n"
        "Beta,giant,AT,,,,\n"
        "\n"
        "Gamma,sme,Austria,Gus,not-an-email,,\n"
        "alpha gmbh,sme,AT,,,,\n"
    )
    good, errors = check(text)
    assert good == 1
    assert errors == [(3, "member_type"), (5, "country"), (5, "contact_email"), (6, "name")]


def test_a_name_already_in_the_cluster_is_reported() -> None:
    assert check("name\nAlpha\n", {"alpha"}) == (0, [(2, "name")])


def test_semicolon_files_and_lists_are_read() -> None:
    result = check_rows(
        read_rows(b"name;languages;pain_points\nAlpha;de,en;x\n", 10), MemberIn, set(), lambda m: m.name
    )
    assert result.errors == []
    assert result.members[0].languages == ["de", "en"] and result.members[0].pain_points == ["x"]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00bad", b"title,country\nx,AT\n", b"name,colour\nx,red\n"])
def test_unreadable_files_are_refused_as_a_whole(content: bytes) -> None:
    with pytest.raises(CsvLayoutError):
        read_rows(content, 10)


def test_too_many_rows() -> None:
    with pytest.raises(CsvLayoutError, match="more than 2 rows"):
        read_rows(b"name\na\nb\nc\n", 2)
