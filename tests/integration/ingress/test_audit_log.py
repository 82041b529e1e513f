"""The audit log every service keeps: successful changes through the API, queryable by platform admins only."""

from __future__ import annotations

from tests.integration.ingress.conftest import Ingress, example
from trellis_common.envelope import STRUCTURED_JSON


async def test_changes_are_audited_and_only_admins_read_the_log(ingress: Ingress) -> None:
    event = example("surveys.response.completed.v1")
    headers = {"content-type": STRUCTURED_JSON, "X-Correlation-ID": "corr-audit-1"}
    assert (await ingress.client.post("/events", json=event, headers={**headers, **ingress.auth()})).status_code == 202
    refused = await ingress.client.post("/events", json=event, headers={**headers, **ingress.auth("cluster-viewer")})
    assert refused.status_code == 403

    admin = {"Authorization": f"Bearer {ingress.token('platform-admin', clusters=())}"}
    entries = (await ingress.client.get("/audit", headers=admin)).json()
    assert [(e["actor"], e["method"], e["path"], e["status"], e["correlation_id"]) for e in entries] == [
        ("crm-connector", "POST", "/events", 202, "corr-audit-1")  # the refused attempt is not a change
    ]
    assert entries[0]["roles"] == "integration"
    assert (await ingress.client.get("/audit", headers=admin, params={"actor": "someone-else"})).json() == []

    assert (await ingress.client.get("/audit", headers=ingress.auth("cluster-manager"))).status_code == 403
    assert (await ingress.client.get("/audit")).status_code == 401


async def test_an_overlong_correlation_id_cannot_keep_a_change_out_of_the_audit_log(ingress: Ingress) -> None:
    event = example("surveys.response.completed.v1")
    headers = {"content-type": STRUCTURED_JSON, "X-Correlation-ID": "x" * 5000, **ingress.auth()}
    posted = await ingress.client.post("/events", json=event, headers=headers)
    assert posted.status_code == 202
    assert len(posted.headers["x-correlation-id"]) == 36, "replaced by a fresh id"
    admin = {"Authorization": f"Bearer {ingress.token('platform-admin', clusters=())}"}
    entries = (await ingress.client.get("/audit", headers=admin)).json()
    assert [e["correlation_id"] for e in entries] == [posted.headers["x-correlation-id"]]
