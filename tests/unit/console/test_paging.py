"""Paging: a ?page= as typed never errors, and the links keep the filters chosen."""

from __future__ import annotations

import pytest

from trellis_console.context import page_number, pager


@pytest.mark.parametrize(
    ("raw", "page"), [(None, 1), ("", 1), ("x", 1), ("-2", 1), ("0", 1), ("3", 3), ("9" * 9, 100_000)]
)
def test_a_typed_page_number_is_read_without_errors(raw: str | None, page: int) -> None:
    assert page_number(raw) == page


def test_the_pager_links_keep_the_filters_and_stop_at_the_ends() -> None:
    middle = pager("/clusters/c/members", {"q": "a b"}, 2, total=120, size=50)
    assert middle["pages_total"] == 3
    assert middle["previous"] == "/clusters/c/members?q=a+b&page=1"
    assert middle["following"] == "/clusters/c/members?q=a+b&page=3"
    first, last = pager("/m", {}, 1, total=120, size=50), pager("/m", {}, 3, total=120, size=50)
    assert first["previous"] is None and last["following"] is None
    assert pager("/m", {}, 1, total=0, size=50)["pages_total"] == 1
