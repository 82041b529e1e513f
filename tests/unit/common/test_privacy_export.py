"""``trellis privacy export``: one JSON document from every service asked, and a failure when one cannot answer."""

from __future__ import annotations

import json

import httpx
import pytest
import typer
from typer.testing import CliRunner

from trellis.cli import app
from trellis.privacy_cli import collect, failed_services, parse_urls


def handler(request: httpx.Request) -> httpx.Response:
    assert request.headers["authorization"] == "Bearer admin-token"
    if request.url.host == "surveys":
        assert request.url.path == "/privacy/contacts/c-1"
        return httpx.Response(200, json={"service": "surveys", "found": True, "data": {"contact": {"email": "a@b.eu"}}})
    return httpx.Response(503, text="unavailable")


async def test_collect_puts_each_services_answer_in_one_document() -> None:
    urls = parse_urls(["surveys=http://surveys/", "notifications=http://notifications"])
    document = await collect(
        "c-1", urls, {"Authorization": "Bearer admin-token"}, transport=httpx.MockTransport(handler)
    )
    assert document["found"] is True and document["contact_id"] == "c-1"
    assert document["services"]["surveys"]["data"]["contact"]["email"] == "a@b.eu"
    assert document["services"]["notifications"] == {"error": "HTTP 503: unavailable"}
    assert failed_services(document) == ["notifications"]


def test_urls_must_name_their_service() -> None:
    with pytest.raises(typer.BadParameter):
        parse_urls(["http://surveys"])


def test_the_command_fails_when_a_service_is_unreachable() -> None:
    result = CliRunner().invoke(
        app, ["privacy", "export", "c-1", "--url", "surveys=http://127.0.0.1:9", "--token", "t"]
    )
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["found"] is False and "error" in document["services"]["surveys"]
