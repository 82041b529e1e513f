"""The route table of a service, for access tests generated over every route instead of hand-picked ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

OPERATIONS = ("/healthz", "/readyz", "/metrics", "/asyncapi.json", "/admin/clock")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM = re.compile(r"{([^}]+)}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, e.g. /strategies/{strategy_id}/kpis/{kpi_id}

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(_PARAM.findall(self.path))

    @property
    def writes(self) -> bool:
        return self.method in WRITES

    def url(self, values: dict[str, str]) -> str:
        missing = [name for name in self.params if name not in values]
        if missing:
            raise AssertionError(f"{self}: no value for {missing}; extend the test's id map")
        return _PARAM.sub(lambda m: values[m.group(1)], self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations(app: FastAPI, *, public: frozenset[str] = frozenset()) -> list[Operation]:
    """Every documented operation except the operations surface and ``public`` ones ("GET /path")."""
    found = []
    for path, item in app.openapi()["paths"].items():
        if path in OPERATIONS:
            continue
        for method in item:
            operation = Operation(method.upper(), path)
            if str(operation) not in public:
                found.append(operation)
    return found


async def call(
    client: httpx.AsyncClient,
    operation: Operation,
    values: dict[str, str],
    *,
    headers: dict[str, str],
    body: Any = None,
) -> httpx.Response:
    """Call one operation; writes send ``body`` (a plausible valid one, so only authorisation can refuse it)."""
    kwargs: dict[str, Any] = {"headers": headers}
    if operation.writes and operation.method != "DELETE":
        kwargs["json"] = body if body is not None else {}
    return await client.request(operation.method, operation.url(values), **kwargs)
