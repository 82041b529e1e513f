"""Calls to the services' REST APIs with the signed-in person's own token, so every access rule still applies.

A service's answer becomes an exception the pages know how to show: 401 (the token expired or was revoked)
ends the session, 403 and 404 are clear pages, anything else or no answer is "a service is not answering".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from trellis_common.logging import get_logger

log = get_logger(__name__)


class ServiceProblem(Exception):
    def __init__(self, status: int, service: str, path: str) -> None:
        super().__init__(f"{service} {path} answered {status}")
        self.status, self.service, self.path = status, service, path


class SignInAgain(ServiceProblem):
    """The token is no longer accepted: the session ends and the person signs in again."""


class Forbidden(ServiceProblem):
    pass


class NotFound(ServiceProblem):
    pass


class Unavailable(ServiceProblem):
    pass


class Rejected(ServiceProblem):
    """The service refused the input (422, 409, 413): the page shows why, next to what the person typed."""

    def __init__(self, status: int, service: str, path: str, body: Any) -> None:
        super().__init__(status, service, path)
        self.body = body

    def field_errors(self) -> dict[str, Problem]:
        """FastAPI-shaped 422 details by field path (``contacts.0.email``); a plain detail under ``""``."""
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        if isinstance(detail, str):
            return {"": Problem("invalid", detail)}
        found: dict[str, Problem] = {}
        for item in detail if isinstance(detail, list) else []:
            if not isinstance(item, dict):
                continue
            loc = [str(part) for part in item.get("loc", []) if part != "body"]
            ctx = item.get("ctx")
            context: dict[str, Any] = ctx if isinstance(ctx, dict) else {}
            found.setdefault(
                ".".join(loc), Problem(str(item.get("type", "invalid")), str(item.get("msg", "")), context)
            )
        return found


@dataclass(frozen=True)
class Problem:
    """One objection of a service: its kind (a validation error type) lets the page word it in its language;
    the service's own message is the fallback."""

    kind: str
    message: str
    context: dict[str, Any] = field(default_factory=dict)


_BY_STATUS: dict[int, type[ServiceProblem]] = {401: SignInAgain, 403: Forbidden, 404: NotFound}
_REJECTIONS = (409, 413, 422)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Backends:
    """One HTTP client per service. ``transports`` (embedded mode) reach the services' apps in-process."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout_s: float = 10.0,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self._clients = {
            name: httpx.AsyncClient(
                base_url=url, timeout=timeout_s, transport=(transports or {}).get(name), follow_redirects=False
            )
            for name, url in urls.items()
        }

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def request(
        self,
        token: str,
        service: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = await self._clients[service].request(
                method, path, params=params, headers=headers, json=json, files=files
            )
        except httpx.HTTPError as exc:
            log.warning("service_unreachable", service=service, path=path, error=repr(exc))
            raise Unavailable(503, service, path) from exc
        if response.is_success:
            return response.json() if response.content else None
        if response.status_code in _REJECTIONS:
            raise Rejected(response.status_code, service, path, _json_or_none(response))
        problem = _BY_STATUS.get(response.status_code, Unavailable)
        if problem is Unavailable:
            log.warning("service_error", service=service, path=path, status=response.status_code)
        raise problem(response.status_code, service, path)

    async def text(self, token: str, service: str, path: str, params: Mapping[str, Any] | None = None) -> str:
        """A GET whose answer is not JSON (a CSV download): its text, or the same problems as ``request``."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self._clients[service].get(path, params=params, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("service_unreachable", service=service, path=path, error=repr(exc))
            raise Unavailable(503, service, path) from exc
        if response.is_success:
            return response.text
        raise _BY_STATUS.get(response.status_code, Unavailable)(response.status_code, service, path)

    async def get(self, token: str, service: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.request(token, service, "GET", path, params)

    async def optional(self, token: str, service: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """A part of a page that may be missing (no schedule yet) or unavailable: None, the page still shows.
        An expired token still ends the session."""
        try:
            return await self.get(token, service, path, params)
        except SignInAgain:
            raise
        except ServiceProblem:
            return None
