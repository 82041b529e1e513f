"""Routes whose 422 answers can always be written: JSON has no NaN or Infinity, but Python's parser accepts them.

A body such as ``{"value": NaN}`` fails validation (our numbers must be finite), and the error echoes the input;
rendering that echo as strict JSON would fail with a 500. These routes spell such inputs as text instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def _printable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    return value


class FiniteInputRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                raise RequestValidationError([_printable(error) for error in exc.errors()]) from None

        return handler
