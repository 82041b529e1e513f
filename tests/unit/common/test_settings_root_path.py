"""TRELLIS_HTTP_ROOT_PATH: the prefix a reverse proxy strips, which uvicorn puts in front of every path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trellis_common.settings import ServiceSettings


@pytest.mark.parametrize(("given", "kept"), [("", ""), ("/", ""), ("/surveys", "/surveys"), ("/a/b/", "/a/b")])
def test_a_prefix_is_kept_without_its_trailing_slash(given: str, kept: str) -> None:
    assert ServiceSettings(http_root_path=given).http_root_path == kept


@pytest.mark.parametrize("given", ["surveys", "/sur veys", "/surveys?x=1", "https://host/surveys"])
def test_anything_but_a_path_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="not a path prefix"):
        ServiceSettings(http_root_path=given)
