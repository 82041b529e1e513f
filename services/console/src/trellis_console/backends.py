"""Calls to the services' REST APIs with the signed-in person's own token, so every access rule still applies.

A service's answer becomes an exception the pages know how to show: 401 (the token expired or was revoked)
ends the session, 403 and 404 are clear pages, anything else or no answer is "a service is not answering".
"""

from __future__ import annotations

from collections.abc import Mapping
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


_BY_STATUS: dict[int, type[ServiceProblem]] = {401: SignInAgain, 403: Forbidden, 404: NotFound}


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
        self, token: str, service: str, method: str, path: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = await self._clients[service].request(method, path, params=params, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("service_unreachable", service=service, path=path, error=repr(exc))
            raise Unavailable(503, service, path) from exc
        if response.is_success:
            return response.json()
        problem = _BY_STATUS.get(response.status_code, Unavailable)
        if problem is Unavailable:
            log.warning("service_error", service=service, path=path, status=response.status_code)
        raise problem(response.status_code, service, path)

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
