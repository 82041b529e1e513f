"""Reading a partner registry from CSV: one row per offer, every problem reported with its row and column."""

from __future__ import annotations

import pytest

from trellis_common.csv_upload import CsvLayoutError
from trellis_matchmaking.partner_csv import check_partners, read_rows

HEADER = (
    "partner_name,partner_type,partner_country,offer_title,skill_codes,max_level,format,"
    "delivery,countries,languages,seats"
)


def rows(*lines: str, header: str = HEADER) -> list[tuple[int, dict[str, str]]]:
    return read_rows("\n".join([header, *lines]).encode(), max_rows=100)


def test_rows_of_one_partner_make_one_partner_with_its_offers() -> None:
    checked = check_partners(
        rows(
            'TU Danube,university,at,Data masterclass,"digcomp:5.2;digcomp:1.3",6,masterclass,hybrid,AT|DE,de,20',
            "TU Danube,university,AT,Security basics,digcomp:4.1,,training,online,,,10",
            "EEN Bavaria,enterprise_europe_network,DE,,,,,,,,",
        ),
        registered={},
    )
    assert checked.errors == []
    danube, een = checked.partners
    assert (danube.name, danube.country, [o.title for o in danube.offers]) == (
        "TU Danube",
        "AT",
        ["Data masterclass", "Security basics"],
    )
    assert danube.offers[0].skill_codes == ["digcomp:5.2", "digcomp:1.3"]
    assert danube.offers[0].countries == ["AT", "DE"] and danube.offers[1].max_level == 8
    assert een.offers == [] and checked.offers == 2


def test_a_partner_offers_workforce_green_skills() -> None:
    checked = check_partners(
        rows(
            "Green Minds,green_tech_consultant,AT,LCA and ecodesign clinic,"
            '"greenwork:life-cycle-assessment;greenwork:circular-design",4,workshop,online,,de,8'
        ),
        registered={},
    )
    assert checked.errors == []
    assert checked.partners[0].offers[0].skill_codes == ["greenwork:life-cycle-assessment", "greenwork:circular-design"]


def test_semicolon_files_from_spreadsheets_are_read() -> None:
    checked = check_partners(
        rows(
            "\ufeffTU Danube;university;AT;Data masterclass;digcomp:5.2,digcomp:1.3;6;masterclass;online;;;20",
            header=HEADER.replace(",", ";"),
        ),
        registered={},
    )
    assert checked.errors == [] and checked.partners[0].offers[0].skill_codes == ["digcomp:5.2", "digcomp:1.3"]


def test_every_bad_cell_is_reported_with_row_and_column() -> None:
    checked = check_partners(
        rows(
            "TU Danube,university,AT,Data masterclass,digcomp:5.2,6,masterclass,online,,,20",
            "Nowhere Inc,spaceport,AT,X,digcomp:5.2,6,masterclass,online,,,20",
            "TU Danube,training_provider,AT,Y,digital:5.2,9,lecture,on_site,,,0",
            "Known Org,cluster,FR,Z,intl:partner-search,,advisory,online,,,5",
        ),
        registered={"known org": "p-42"},
    )
    found = {(e.row, e.column) for e in checked.errors}
    assert found == {
        (3, "partner_type"),
        (4, "skill_codes"),
        (4, "max_level"),
        (4, "format"),
        (4, "seats"),
        (4, "countries"),  # on site: where?
        (4, "partner_type"),  # differs from row 2 for the same partner
        (5, "partner_name"),  # registered already
    }, checked.errors
    assert checked.partners == [], "one bad row: nothing to import"
    assert checked.bad_rows == [3, 4, 5]
    by_cell = {(e.row, e.column): e.reason for e in checked.errors}
    assert "'digital:5.2'" in by_cell[(4, "skill_codes")]
    assert by_cell[(4, "partner_type")] == "differs from row 2 for the same partner_name"
    assert "p-42" in by_cell[(5, "partner_name")]


def test_an_on_site_offer_must_name_its_countries() -> None:
    checked = check_partners(rows("A,university,AT,X,digcomp:5.2,6,masterclass,on_site,,,5"), registered={})
    assert [(e.row, e.column) for e in checked.errors] == [(2, "countries")]
    assert "on-site and hybrid offers must name the countries" in checked.errors[0].reason


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"name,partner_type\nA,university\n", "lacks partner_name"),
        (b"partner_name,partner_type,colour\nA,university,red\n", "unknown column(s): colour"),
        (b"partner_name,partner_type\n", "no rows"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(content: bytes, problem: str) -> None:
    with pytest.raises(CsvLayoutError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        read_rows(content, max_rows=10)


def test_too_many_rows_and_ragged_rows() -> None:
    with pytest.raises(CsvLayoutError, match="more than 2 rows"):
        read_rows(b"partner_name,partner_type\nA,cluster\nB,cluster\nC,cluster\n", max_rows=2)
    checked = check_partners(read_rows(b"partner_name,partner_type\nA,cluster,extra\n", max_rows=5), registered={})
    assert [(e.row, e.column) for e in checked.errors] == [(2, "row")]
