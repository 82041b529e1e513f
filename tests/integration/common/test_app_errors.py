"""The app factory turns a caller's mistake into a 4xx with a readable body, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field

from tests.support.runtime import runtime_for
from trellis_common.app import create_app
from trellis_common.db import new_metadata
from trellis_common.runtime import ServiceDefinition


class Measurement(BaseModel):
    value: float = Field(allow_inf_nan=False)


router = APIRouter()


@router.post("/measurements")
async def record(body: Measurement) -> dict[str, float]:
    return {"value": body.value}


DEMO = ServiceDefinition(
    name="demo", title="Demo", description="", metadata=new_metadata(), migrations="unused", routers=[router]
)


async def test_non_finite_numbers_are_a_readable_422(tmp_path: Path) -> None:
    runtime = runtime_for(DEMO, database_url=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}", migrate_on_start=False)
    app = create_app(DEMO, runtime=runtime, manage_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        for raw in (b'{"value": NaN}', b'{"value": Infinity}'):
            response = await client.post("/measurements", content=raw, headers={"content-type": "application/json"})
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["loc"] == ["body", "value"]
        assert (await client.post("/measurements", json={"value": 1.5})).json() == {"value": 1.5}
