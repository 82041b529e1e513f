"""What a refusing Trellis API said, for the command line: its problem ``detail``, else the body's text."""

from __future__ import annotations

from typing import Any

import httpx


def refusal_detail(answer: httpx.Response) -> Any:
    try:
        return answer.json().get("detail", answer.text)
    except (ValueError, AttributeError):  # not JSON, or JSON that is not an object
        return answer.text
