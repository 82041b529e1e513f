"""The OWASP API Security Top 10 (2023), one test (or a small group) per item, generated over the route
tables and OpenAPI documents of all six services running together (SQLite, one in-memory bus, the session's
token issuer; see ``platform.py``).

Routes are found from the apps, not listed by hand: a new route is walked by every check that applies to
it, and a route these tests cannot place (a write whose body they cannot make, an open route that is not a
known member page) fails them.

Rules these tests apply, besides what each docstring says:

- *Refusal before validation (API1).* A manager of cluster A aiming a write at cluster B must not learn
  whether B exists. The answer must be exactly the answer for a cluster that exists nowhere (status and
  detail, ids aside), and a 404. A route that validates the body before it looks up the cluster answers an
  empty body with a 422 that cannot depend on B; that is accepted only when identical to the unknown
  cluster's 422, and such a route is then called again with a minimal valid body (``VALID_BODIES``), which
  must give the 404.
- *API7 (SSRF)* cannot be proven by calling routes alone, since no route is meant to fetch anything. The test
  does two things that can fail: every URL-shaped input of every service (request bodies, query parameters,
  the events the services consume) must be one of the known inputs, each stored or mailed but never
  fetched; and each known input is then fed a URL of a local listener, through the API or the bus, and the
  listener must see no connection. Background workers (the SMTP sender, schedulers) are off here; they
  only talk to the configured relay and database.
- *API8, unhandled errors.* Failpoints kill the process (SIGKILL), so they cannot provoke a 500. Each
  service is instead given a database without its tables and asked for its audit log as a platform admin:
  the query fails inside the service's own code.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import structlog
from pydantic import ValidationError
from sqlalchemy import select

from tests.security.platform import (
    BODY_LIMIT,
    EMAIL_RATE,
    PUBLIC_RATE,
    Cluster,
    Platform,
    Service,
    committed_asyncapi,
    member_body,
    ok,
    running_platform,
    settings_for,
)
from tests.support import auth
from tests.support.polling import eventually
from tests.support.routes import Operation
from tests.support.runtime import runtime_for
from trellis.embedded import SERVICES
from trellis_common import auth_local
from trellis_common.app import create_app
from trellis_common.bus import OutgoingMessage
from trellis_common.catalogue import BY_TYPE, INGRESS, spec_for_model
from trellis_common.db import inbox
from trellis_common.envelope import STRUCTURED_JSON, CloudEvent, from_kafka, to_binary
from trellis_common.events import InvitationRequested
from trellis_common.logging import configure_logging
from trellis_common.settings import ServiceSettings
from trellis_ingress.models import accepted_events

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
# Routes with no account by design: members reach them through signed links (README, "Security").
MEMBER_PAGES = {
    "surveys": {"GET /answer/{token}", "POST /answer/{token}"},
    "notifications": {"GET /unsubscribe/{token}", "POST /unsubscribe/{token}"},
    "strategy": {"GET /clusters/{cluster_id}/reviews.ics"},
    "matchmaking": {"GET /reply/{token}", "POST /reply/{token}"},
}
# Of those, the ones left out of the OpenAPI document on purpose (the survey form is HTML for members).
UNDOCUMENTED = {"surveys": {"GET /answer/{token}", "POST /answer/{token}"}}
# Platform-wide operations no cluster role may call (at least these; any route depending on admin_scope too).
ADMIN_ONLY = {
    "surveys": {"GET /audit", "POST /clusters", "POST /admin/members/announce"},
    "skills": {"GET /audit", "GET /parked-events"},
    # Partners are a cluster's (its managers change them) or shared (platform admins'): test_partner_owners.
    "matchmaking": {"GET /audit", "GET /parked-events", "POST /rematch"},
    "strategy": {"GET /audit"},
    "notifications": {"GET /audit", "GET /suppressions", "DELETE /suppressions"},
    "ingress": {"GET /audit"},
}
# Routes that make Trellis send email, with a body that launches for real (the limit must stop real work).
# API6: each route that makes Trellis send email, with a body that does, and the status of a success.
EMAIL_ROUTES: dict[str, tuple[dict[str, Any] | None, int]] = {
    "surveys POST /clusters/{cluster_id}/campaigns": ({"template_id": "digital-skills"}, 201),
    "matchmaking POST /members/{member_id}/rematch": (None, 200),  # emails the member's contacts again
}
# API1: a minimal valid body for each cluster route that validates its body before it looks up the cluster.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "surveys POST /clusters/{cluster_id}/members": member_body("Intruder GmbH"),
    "surveys POST /clusters/{cluster_id}/templates": {
        "source_template_id": "digital-skills",
        "template_id": "intruder-digital",
    },
    "surveys POST /clusters/{cluster_id}/campaigns": {"template_id": "digital-skills"},
    "strategy PUT /clusters/{cluster_id}/schedule": {"cadence": "quarterly"},
    "strategy POST /clusters/{cluster_id}/strategies": {"type": "green_action_plan"},
}
# API3: property names that suggest a secret, and where a response shows one by design.
# ("digest" alone names the weekly match email here, so only a token's or key's digest counts.)
SECRET_NAME = re.compile(
    r"password|passwd|secret|private|jwk|api_?key|credential|^token$|^(hash|digest)$|(^|_)(token|key)_(hash|digest)$|_hash$"
)
SECRETS_BY_DESIGN = {
    # The calendar feed's secret, shown once to the manager who creates it (only its digest is stored).
    ("strategy", "POST /clusters/{cluster_id}/calendar-token", "token"),
    # The suppression list names addresses by their hash so that platform admins can look one up.
    ("notifications", "GET /suppressions", "address_hash"),
}
PAGE_SIZE = re.compile(r"^(limit|page_size|per_page|size|max_results|top|count)$")
MAX_PAGE = 500
# API7: inputs that hold a URL, and why the service never fetches it.
URL_SHAPED = re.compile(r"(url|uri|href|link|website|webhook|callback|endpoint|homepage)$", re.IGNORECASE)
URL_FORMATS = frozenset({"uri", "url", "iri", "uri-reference", "iri-reference", "uri-template"})
KNOWN_URL_INPUTS = {
    ("matchmaking", "website"): "a partner's web site, shown to managers and in match emails",
    ("event", "link"): "the signed survey link of surveys.invitation.requested, written into the email",
    ("event", "reply_link"): "the signed accept/decline link matchmaking puts on a proposal, written into the email",
}
PLACEHOLDERS = {"version": "1", "measured_on": "2026-01-15"}
CSV = b"name,country,contact_name,contact_email\nImported GmbH,AT,Ina Import,ina@imported.example\n"


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    async with running_platform(tmp_path_factory.mktemp("security")) as started:
        yield started


def fill(operation: Operation, known: dict[str, str] | None = None) -> str:
    """The operation's URL with known ids, or placeholders (refusals come before any lookup)."""
    values = {**PLACEHOLDERS, **(known or {})}
    return operation.url({name: values.get(name, f"some-{name}") for name in operation.params})


async def send(
    service: Service, operation: Operation, url: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    """Call an operation; a write without a given body sends ``{}`` (or a small CSV to an upload)."""
    kwargs: dict[str, Any] = {"headers": headers}
    if operation.writes and operation.method != "DELETE":
        if body is not None:
            kwargs["json"] = body
        elif "multipart/form-data" in service.body_kinds(operation):
            kwargs["files"] = {"file": ("upload.csv", CSV, "text/csv")}
        else:
            kwargs["json"] = {}
    return await service.client.request(operation.method, url, **kwargs)


def normalised(response: httpx.Response, ids: dict[str, str]) -> tuple[int, str]:
    text = response.text
    for name, value in sorted(ids.items(), key=lambda item: -len(item[1])):
        if value:
            text = text.replace(value, f"<{name}>")
    return response.status_code, text


def minted(**claims: Any) -> str:
    values: dict[str, Any] = {"subject": "forger", "roles": ["platform-admin"], "clusters": ["*"], **claims}
    return auth.keys().mint(**values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """A token MACed with ``secret``: the algorithm confusion attack when the secret is the public key."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def forged_tokens() -> dict[str, dict[str, str]]:
    """Tokens every service must refuse with 401, each of a platform admin so only its validity matters."""
    keys = auth.keys()
    good = jwt.decode(minted(), options={"verify_signature": False})
    impostor = auth_local.LocalKeys({**auth_local.generate().private_jwk, "kid": keys.kid})
    public_jwk = json.dumps(keys.jwks()["keys"][0]).encode()
    return {
        "no token": {},
        "not a JWT": bearer("not-a-token"),
        "basic scheme": {"Authorization": "Basic dGVzdDp0ZXN0"},
        "expired": bearer(minted(ttl=-timedelta(minutes=10))),
        "another key, same kid": bearer(
            impostor.mint(subject="forger", roles=["platform-admin"], clusters=["*"], ttl=timedelta(hours=1))
        ),
        "alg none": bearer(f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': keys.kid})}.{_b64(good)}."),
        "HS256 keyed with the public key": bearer(hs256(good, public_jwk, keys.kid)),
        "wrong audience": bearer(minted(audience="another-api")),
        "wrong issuer": bearer(minted(issuer=f"{auth_local.LOCAL_ISSUER}-impostor")),
    }


def manager(*clusters: str, subject: str = "manager") -> dict[str, str]:
    return auth.bearer("cluster-manager", clusters=clusters, subject=subject)


# --- API1: broken object level authorisation -------------------------------------------------------------


VOLATILE = frozenset({"computed_at"})  # the time of the request, not of the data


def stable(answer: httpx.Response) -> Any:
    """An answer without the fields that say when it was computed."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    if answer.headers.get("content-type", "").startswith("application/json"):
        return strip(answer.json())
    return answer.content


async def cluster_b_as_admin(platform: Platform) -> dict[str, Any]:
    """What a platform admin reads of cluster B through every cluster route, and every service's outbox."""
    seen: dict[str, Any] = {}
    for service in platform:
        for operation in service.protected():
            if operation.method == "GET" and "cluster_id" in operation.params:
                answer = await service.client.get(fill(operation, platform.b.values()), headers=auth.admin())
                assert answer.status_code == 200, f"{service.name} {operation}: cluster B must exist: {answer.text}"
                seen[f"{service.name} {operation}"] = stable(answer)
        seen[f"{service.name} outbox"] = await service.outbox_size()
    return seen


async def test_api1_a_manager_of_cluster_a_finds_nothing_of_cluster_b(platform: Platform) -> None:
    """Every protected operation of every service whose path names a cluster, called by a manager of A with
    cluster B (which exists in every service: made in surveys, assessed by skills, planned by strategy):
    404, worded as for a cluster that exists nowhere, and B unchanged."""
    a, b = platform.a, platform.b
    unknown = replace(b, id="no-such-cluster", member_id="no-such-member", template_id="no-such-template")
    intruder = manager(a.id, subject="manager-of-a")
    control = manager(a.id, subject="manager-of-a-control")  # its own email budget: the launch route counts
    before = await cluster_b_as_admin(platform)
    walked: dict[str, int] = {}
    validates_first = []
    for service in platform:
        for operation in service.protected():
            if "cluster_id" not in operation.params:
                continue
            name = f"{service.name} {operation}"
            aimed = await send(service, operation, fill(operation, b.values()), intruder)
            nowhere = await send(service, operation, fill(operation, unknown.values()), control)
            assert aimed.status_code in (404, 422), f"{name}: {aimed.status_code} {aimed.text[:300]}"
            assert normalised(aimed, b.values()) == normalised(nowhere, unknown.values()), (
                f"{name}: cluster B is answered differently from a cluster that does not exist"
            )
            if aimed.status_code == 422:
                assert name in VALID_BODIES, f"{name} validates before it looks up: add a body to VALID_BODIES"
                validates_first.append(name)
                body = VALID_BODIES[name]
                aimed = await send(service, operation, fill(operation, b.values()), intruder, body)
                nowhere = await send(service, operation, fill(operation, unknown.values()), control, body)
                assert aimed.status_code == 404, f"{name} with a valid body: {aimed.status_code} {aimed.text[:300]}"
                assert normalised(aimed, b.values()) == normalised(nowhere, unknown.values()), name
            walked[service.name] = walked.get(service.name, 0) + 1
    assert await cluster_b_as_admin(platform) == before, "cluster B changed"
    assert {"surveys", "skills", "matchmaking", "strategy"} <= walked.keys(), walked
    assert sum(walked.values()) >= 20, walked
    print(f"\nAPI1 cluster routes walked per service: {walked}; validating first: {validates_first}")


# --- API2: broken authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("service_name", [d.name for d in SERVICES])
async def test_api2_every_protected_operation_refuses_bad_tokens(platform: Platform, service_name: str) -> None:
    """No token, a malformed one, an expired one, one signed by another key under the same kid, alg none,
    an HMAC keyed with the public key, a wrong audience or issuer: 401 with WWW-Authenticate: Bearer."""
    service = platform[service_name]
    operations = service.protected()
    assert operations, f"{service_name}: no protected operation found"
    tokens = forged_tokens()
    for operation in operations:
        url = fill(operation, platform.a.values())
        for why, headers in tokens.items():
            answer = await send(service, operation, url, headers)
            assert answer.status_code == 401, f"{operation} with {why}: {answer.status_code} {answer.text[:200]}"
            assert answer.headers.get("www-authenticate", "").startswith("Bearer"), f"{operation} with {why}"
        if operation.method == "GET":  # the same call with a valid token is not refused: the 401s mean something
            answer = await send(service, operation, url, auth.admin())
            assert answer.status_code != 401, f"{operation} refuses a valid token: {answer.text[:200]}"
    print(f"\nAPI2 {service_name}: {len(operations)} operations x {len(tokens)} bad tokens")


async def test_api2_only_member_pages_are_open(platform: Platform) -> None:
    """Every route but the operations surface needs a bearer token, except the member pages (signed links)."""
    for service in platform:
        assert {str(op) for op in service.unauthenticated()} == MEMBER_PAGES.get(service.name, set()), service.name


# --- API3: broken object property level authorisation ------------------------------------------------------


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def property_names(document: dict[str, Any], schema: Any, seen: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    """Every (name, schema) of the properties a schema describes, nested ones included."""
    seen = set() if seen is None else seen
    if not isinstance(schema, dict):
        return
    schema = resolve(document, schema)
    if id(schema) in seen:
        return
    seen.add(id(schema))
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for part in schema.get(key, []):
            yield from property_names(document, part, seen)
    for key in ("items", "additionalProperties", "not"):
        yield from property_names(document, schema.get(key), seen)
    for name, part in schema.get("properties", {}).items():
        yield name, resolve(document, part) if isinstance(part, dict) else part
        yield from property_names(document, part, seen)


def documented(service: Service) -> Iterator[tuple[Operation, dict[str, Any]]]:
    for path, item in service.openapi()["paths"].items():
        for method, spec in item.items():
            yield Operation(method.upper(), path), spec


async def test_api3_no_response_schema_exposes_secrets(platform: Platform) -> None:
    """No response of any service documents a property named like a secret, but the documented exceptions;
    and no answer an admin reads of cluster A carries the services' signing secrets or the issuer's key."""
    found = set()
    for service in platform:
        document = service.openapi()
        for operation, spec in documented(service):
            for response in spec.get("responses", {}).values():
                for content in response.get("content", {}).values():
                    for name, _schema in property_names(document, content.get("schema")):
                        if SECRET_NAME.search(name):
                            found.add((service.name, str(operation), name))
    assert found <= SECRETS_BY_DESIGN, f"secret-like response properties: {sorted(found - SECRETS_BY_DESIGN)}"
    secrets = [
        service.runtime.settings.model_dump()[name].get_secret_value()
        for service in platform
        for name in ("survey_link_secret", "unsubscribe_secret")
        if name in service.runtime.settings.model_dump()
    ]
    secrets.append(auth.keys().private_jwk["d"])
    assert len(secrets) == 3
    read = 0
    for service in platform:
        for operation in service.protected():
            if operation.method == "GET":
                answer = await service.client.get(fill(operation, platform.a.values()), headers=auth.admin())
                assert not [s for s in secrets if s in answer.text], f"{service.name} {operation} shows a secret"
                read += answer.status_code == 200
    assert read >= 20, f"only {read} reads answered 200"


async def test_api3_mass_assignment_cannot_move_an_object_to_another_cluster(platform: Platform) -> None:
    """A manager of A sends cluster_id B in the body of a member replacement and a strategy change: refused
    (4xx) and the object stays in A; the same request without the field succeeds."""
    a, b = platform.a, platform.b
    headers = manager(a.id, subject="mass-assigner")
    surveys, strategy = platform["surveys"].client, platform["strategy"].client
    cases = [
        (surveys, "PUT", f"/members/{a.member_id}", member_body("Moved GmbH")),
        (strategy, "PATCH", f"/strategies/{a.strategy_id}", {"title": "Moved strategy"}),
    ]
    for client, method, path, body in cases:
        moved = await client.request(method, path, json={**body, "cluster_id": b.id}, headers=headers)
        assert 400 <= moved.status_code < 500, f"{method} {path}: {moved.status_code} {moved.text[:300]}"
        stays = await ok(await client.get(path, headers=auth.admin()))
        assert stays["cluster_id"] == a.id, f"{method} {path} moved the object to {stays['cluster_id']}"
        await ok(await client.request(method, path, json=body, headers=headers))
    listed = await ok(await surveys.get(f"/clusters/{b.id}/members", headers=auth.admin()))
    assert a.member_id not in {m["id"] for m in listed["items"]}


# --- API4: unrestricted resource consumption --------------------------------------------------------------


@pytest.mark.parametrize("service_name", [d.name for d in SERVICES])
async def test_api4_bodies_over_the_limit_are_413(platform: Platform, service_name: str) -> None:
    """Every operation with a request body refuses one over TRELLIS_HTTP_MAX_BODY_BYTES (declared or
    streamed without a length) with 413, even to a platform admin; a body at the limit is not refused so."""
    service = platform[service_name]
    with_body = [(op, kinds) for op, _r in service.routes() if (kinds := service.body_kinds(op))]
    assert with_body, f"{service_name}: no operation with a request body found"

    part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\n'

    async def chunks(form: bool) -> AsyncIterator[bytes]:
        if form:  # a well-formed start, so the form parser keeps reading
            yield part
        for _ in range(BODY_LIMIT // 1000 + 2):
            yield b" " * 1000

    for operation, kinds in with_body:
        url = fill(operation, platform.a.values())
        form = "multipart/form-data" in kinds
        content_type = {"content-type": "multipart/form-data; boundary=x" if form else kinds[0]}
        headers = {**auth.admin(), **content_type}
        declared = await service.client.request(operation.method, url, content=b" " * (BODY_LIMIT + 1), headers=headers)
        assert declared.status_code == 413, f"{operation}: {declared.status_code} {declared.text[:200]}"
        streamed = await service.client.request(operation.method, url, content=chunks(form), headers=headers)
        assert streamed.status_code == 413, f"{operation} streamed: {streamed.status_code}"
        at_limit = await service.client.request(operation.method, url, content=b" " * BODY_LIMIT, headers=headers)
        assert at_limit.status_code != 413, f"{operation} refuses a body at the limit"
    print(f"\nAPI4 {service_name}: {len(with_body)} operations with a body")


def page_size_parameters(service: Service) -> Iterator[tuple[Operation, str, dict[str, Any]]]:
    for operation, spec in documented(service):
        for parameter in spec.get("parameters", []):
            if parameter["in"] == "query" and PAGE_SIZE.match(parameter["name"]):
                yield operation, parameter["name"], parameter["schema"]


async def test_api4_page_sizes_are_capped(platform: Platform) -> None:
    """Every limit-like query parameter of every service documents a maximum of at most 500, and one more
    than its maximum is refused (422)."""
    checked = 0
    for service in platform:
        for operation, name, schema in page_size_parameters(service):
            parts = schema.get("anyOf", [schema])
            maxima = [part.get("maximum") for part in parts if part.get("type") != "null"]
            assert maxima and all(m is not None and m <= MAX_PAGE for m in maxima), (
                f"{service.name} {operation} ?{name}: {schema}"
            )
            url = fill(operation, platform.a.values())
            answer = await service.client.get(url, params={name: max(maxima) + 1}, headers=auth.admin())
            assert answer.status_code == 422, (
                f"{service.name} {operation} ?{name}={max(maxima) + 1}: {answer.status_code}"
            )
            checked += 1
    assert checked >= 12, checked
    print(f"\nAPI4 page-size parameters capped: {checked}")


async def test_api4_member_pages_answer_429_past_the_rate(platform: Platform) -> None:
    """Every open route (the member pages) answers 429 with Retry-After after TRELLIS_PUBLIC_RATE_PER_MINUTE
    requests of one client (one link, for the one-click unsubscribe, which mail providers share)."""
    flooded = 0
    for number, service in enumerate(platform):
        for index, operation in enumerate(service.unauthenticated()):
            url = fill(operation, {"token": "not-a-valid-link", "cluster_id": platform.a.id})
            async with service.client_from(f"10.4.{number}.{index + 1}") as client:
                statuses = []
                for _ in range(PUBLIC_RATE + 1):
                    answer = await client.request(
                        operation.method, url, data={"csrf": "x"} if operation.method == "POST" else None
                    )
                    statuses.append(answer.status_code)
            assert 429 not in statuses[:PUBLIC_RATE], f"{service.name} {operation}: {statuses}"
            assert statuses[-1] == 429 and int(answer.headers["retry-after"]) > 0, f"{service.name} {operation}"
            flooded += 1
    assert flooded == sum(len(pages) for pages in MEMBER_PAGES.values())


# --- API5: broken function level authorisation ---------------------------------------------------------------


async def test_api5_a_viewer_of_every_cluster_changes_nothing(platform: Platform) -> None:
    """Every protected write of every service, aimed at cluster A's real objects: 403 to a viewer of all
    clusters, and nothing published or stored."""
    viewer = auth.bearer("cluster-viewer", clusters=("*",), subject="viewer-of-everything")
    before = (platform.published(), [await s.outbox_size() for s in platform])
    walked: dict[str, int] = {}
    for service in platform:
        for operation in service.protected():
            if operation.writes:
                answer = await send(service, operation, fill(operation, platform.a.values()), viewer)
                assert answer.status_code == 403, f"{service.name} {operation}: {answer.status_code} {answer.text}"
                walked[service.name] = walked.get(service.name, 0) + 1
    assert (platform.published(), [await s.outbox_size() for s in platform]) == before
    assert len(walked) == 6 and sum(walked.values()) >= 40, walked
    print(f"\nAPI5 writes refused to a viewer, per service: {walked}")


async def test_api5_platform_operations_refuse_cluster_roles(platform: Platform) -> None:
    """Every platform-admin-only operation (the known ones, and any route depending on admin_scope): 403 to a
    manager, viewer or integration of all clusters."""
    tokens = {
        role: auth.bearer(role, clusters=("*",), subject=f"{role}-of-everything")
        for role in ("cluster-manager", "cluster-viewer", "integration")
    }
    walked = 0
    for service in platform:
        derived = {str(op) for op in service.admin_only()}
        assert ADMIN_ONLY[service.name] <= derived, (
            f"{service.name}: {ADMIN_ONLY[service.name] - derived} not admin-only"
        )
        for operation in service.admin_only():
            for role, headers in tokens.items():
                answer = await send(service, operation, fill(operation, platform.a.values()), headers)
                assert answer.status_code == 403, f"{service.name} {operation} as {role}: {answer.status_code}"
            walked += 1
    assert walked >= sum(len(ops) for ops in ADMIN_ONLY.values())
    print(f"\nAPI5 admin-only operations: {walked}")


# --- API6: unrestricted access to sensitive business flows -----------------------------------------------------


async def test_api6_routes_that_send_email_are_limited_per_caller(platform: Platform) -> None:
    """Every route that makes Trellis send email allows TRELLIS_EMAIL_TRIGGER_RATE_PER_HOUR real launches per
    caller, then 429 (and the refused launch invites nobody); another caller still gets through."""
    triggers = {f"{s.name} {op}": (s, op) for s in platform for op in s.email_triggers()}
    assert set(EMAIL_ROUTES) <= set(triggers), f"not rate limited: {set(EMAIL_ROUTES) - set(triggers)}"
    before = len(await campaigns_of(platform, platform.a))
    for name, (service, operation) in triggers.items():
        assert name in EMAIL_ROUTES, f"{name}: add a body that makes it send email to EMAIL_ROUTES"
        body, success = EMAIL_ROUTES[name]
        url = fill(operation, platform.a.values())
        flooder = manager(platform.a.id, subject=f"flooder-{uuid.uuid4().hex[:6]}")
        statuses = []
        for _ in range(EMAIL_RATE + 1):
            statuses.append((await send(service, operation, url, flooder, body)).status_code)
        assert statuses[:EMAIL_RATE] == [success] * EMAIL_RATE and statuses[-1] == 429, f"{name}: {statuses}"
        other = await send(service, operation, url, manager(platform.a.id, subject="patient"), body)
        assert other.status_code == success, f"{name} for another caller: {other.status_code}"
    launched = len(await campaigns_of(platform, platform.a)) - before
    assert launched == EMAIL_RATE + 1, f"{launched} campaigns: a refused launch made one"


async def campaigns_of(platform: Platform, cluster: Cluster) -> list[Any]:
    listed: list[Any] = await ok(
        await platform["surveys"].client.get(f"/clusters/{cluster.id}/campaigns", headers=auth.admin())
    )
    return listed


# --- API7: server side request forgery ----------------------------------------------------------------------


def url_inputs(platform: Platform) -> set[tuple[str, str]]:
    """(service, name) of every request property or query parameter, and (event, name) of every event property
    a service consumes, that is URL-shaped by its name or format."""
    found = set()
    for service in platform:
        document = service.openapi()
        for _operation, spec in documented(service):
            for content in spec.get("requestBody", {}).get("content", {}).values():
                for name, schema in property_names(document, content.get("schema")):
                    formats = {schema.get("format"), *(p.get("format") for p in schema.get("anyOf", []))}
                    if URL_SHAPED.search(name) or formats & URL_FORMATS:
                        found.add((service.name, name))
            for parameter in spec.get("parameters", []):
                if URL_SHAPED.search(parameter["name"]) or parameter["schema"].get("format") in URL_FORMATS:
                    found.add((service.name, parameter["name"]))
    consumed = {t for d in SERVICES for t in d.consumed_types} | {s.type for s in INGRESS}
    for event_type in consumed:
        schema = BY_TYPE[event_type].model.model_json_schema(ref_template="#/components/schemas/{model}")
        document = {"components": {"schemas": schema.get("$defs", {})}}
        for name, part in property_names(document, schema):
            if URL_SHAPED.search(name) or part.get("format") in URL_FORMATS:
                found.add(("event", name))
    return found


async def test_api7_url_inputs_are_known_and_never_fetched(platform: Platform) -> None:
    found = url_inputs(platform)
    assert found == set(KNOWN_URL_INPUTS), f"URL-shaped inputs: {sorted(found)}; known: {sorted(KNOWN_URL_INPUTS)}"
    connections: list[str] = []

    async def note(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(str(writer.get_extra_info("peername")))
        writer.close()

    listener = await asyncio.start_server(note, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    canary = f"http://127.0.0.1:{port}/canary"
    try:
        matchmaking = platform["matchmaking"].client
        offer = {"title": "Canary course", "skill_codes": ["digcomp:5.2"], "format": "masterclass", "seats": 3}
        body = {"name": "Canary Academy", "partner_type": "training_provider", "website": canary, "offers": [offer]}
        created = await ok(await matchmaking.post("/partners", json=body, headers=auth.admin()), 201)
        await ok(await matchmaking.patch(f"/partners/{created['id']}", json={"website": canary}, headers=auth.admin()))
        await ok(await matchmaking.post("/rematch", headers=auth.admin()), 200)
        invitation = InvitationRequested.model_validate(
            json.loads((CONTRACTS / "examples" / "surveys.invitation.requested.v1.json").read_text())["data"]
        ).model_copy(update={"link": canary, "invitation_id": f"inv-{uuid.uuid4().hex[:8]}"})
        event = CloudEvent(
            source="/tests/security",
            type=spec_for_model(InvitationRequested).type,
            data=invitation.model_dump(mode="json"),
        )
        headers, value = to_binary(event)
        await platform.broker.append(
            [OutgoingMessage(spec_for_model(InvitationRequested).topic(), "m", value, headers)]
        )
        await eventually(
            lambda: consumed(platform, "notifications", event.id), timeout=10, what="the invitation handled"
        )
        for service in platform:
            await eventually(functools.partial(drained, service), timeout=10, what=f"{service.name}'s outbox drained")
    finally:
        listener.close()
        await listener.wait_closed()
    assert connections == [], f"a service connected to a URL it was given: {connections}"


async def drained(service: Service) -> bool:
    from trellis_common.db import outbox

    async with service.runtime.db.sessions() as session:
        return (await session.execute(select(outbox.c.id).where(outbox.c.sent_at.is_(None)).limit(1))).first() is None


async def consumed(platform: Platform, service_name: str, event_id: str) -> bool:
    service = platform[service_name]
    async with service.runtime.db.sessions() as session:
        row = await session.execute(
            select(inbox.c.event_id).where(
                inbox.c.consumer == service.runtime.settings.consumer_group, inbox.c.event_id == event_id
            )
        )
        return row.first() is not None


# --- API8: security misconfiguration ----------------------------------------------------------------------


async def responses_of(platform: Platform, service: Service) -> list[tuple[str, httpx.Response]]:
    """A broad sample of one service's answers: every operation refused without a token, every read as an
    admin on cluster A's objects, the member pages, the operations surface, the docs, 404, 405 and 413."""
    seen = []
    for operation in service.protected():
        seen.append(
            (f"{operation} (no token)", await send(service, operation, fill(operation, platform.a.values()), {}))
        )
        if operation.method == "GET":
            answer = await service.client.get(fill(operation, platform.a.values()), headers=auth.admin())
            seen.append((f"{operation} (admin)", answer))
    async with service.client_from("10.8.0.1") as member:
        for operation in service.unauthenticated():
            url = fill(operation, {"token": "not-a-valid-link", "cluster_id": platform.a.id})
            seen.append((f"{operation} (member)", await member.request(operation.method, url)))
    for path in ("/healthz", "/readyz", "/metrics", "/asyncapi.json", "/openapi.json", "/docs", "/redoc", "/nowhere"):
        seen.append((path, await service.client.get(path)))
    seen.append(("DELETE /healthz", await service.client.delete("/healthz")))
    return seen


@pytest.mark.parametrize("service_name", [d.name for d in SERVICES])
async def test_api8_every_answer_carries_the_security_headers(platform: Platform, service_name: str) -> None:
    """nosniff, no-referrer, X-Frame-Options DENY and a Content-Security-Policy on every answer, the docs pages
    included (they load Swagger UI and ReDoc from the service itself)."""
    seen = await responses_of(platform, platform[service_name])
    for what, answer in seen:
        headers = answer.headers
        assert headers.get("x-content-type-options") == "nosniff", what
        assert headers.get("referrer-policy") == "no-referrer", what
        assert headers.get("x-frame-options") == "DENY", what
        assert "default-src 'none'" in headers.get("content-security-policy", ""), (what, headers)
    assert len({a.status_code for _w, a in seen}) >= 4


@pytest.mark.parametrize(
    "service_name",
    [d.name for d in SERVICES],
)
async def test_api8_no_answer_may_be_framed(platform: Platform, service_name: str) -> None:
    """Every answer's CSP forbids framing (frame-ancestors 'none'), pages with their own policy included:
    the survey form (a real invitation's link), the heatmaps and the KPI chart of cluster A, the API docs."""
    service = platform[service_name]
    seen = await responses_of(platform, service)
    if service_name == "surveys":
        seen.append(("the survey form", await survey_form(platform)))
    for what, answer in seen:
        policy = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, f"{what}: {policy!r}"


async def survey_form(platform: Platform) -> httpx.Response:
    surveys = platform["surveys"]
    launched = await ok(
        await surveys.client.post(
            f"/clusters/{platform.a.id}/campaigns", json={"template_id": "digital-skills"}, headers=auth.admin()
        ),
        201,
    )

    async def link() -> str | None:
        for record in platform.broker.topics.get(spec_for_model(InvitationRequested).topic(), []):
            data = from_kafka(record.headers, record.value).data
            if isinstance(data, dict) and data.get("campaign_id") == launched["id"]:
                return str(data["link"])
        return None

    path = (await eventually(link, timeout=10, what="the invitation")).split(".example", 1)[1]
    async with surveys.client_from("10.8.1.1") as member:
        form = await member.get(path)
    assert form.status_code == 200 and 'name="csrf"' in form.text, form.text[:200]
    return form


@pytest.fixture
def json_logs() -> Iterator[None]:
    """The services' production log format while an error is logged (the console renderer's rich traceback
    takes seconds per error); the earlier configuration afterwards."""
    saved = structlog.get_config()
    configure_logging(json=True)
    try:
        yield
    finally:
        structlog.configure(**saved)


async def internal_errors(definition_name: str, tmp_path: Path) -> httpx.Response:
    """GET /audit as a platform admin on a service whose database has no tables: the query fails inside the
    service."""
    definition = next(d for d in SERVICES if d.name == definition_name)
    runtime = runtime_for(
        definition,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
        migrate_on_start=False,
        **settings_for(definition),
    )
    app = create_app(definition, runtime=runtime, manage_runtime=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://broken") as client:
            return await client.get("/audit", headers={**auth.admin(), "X-Correlation-ID": "corr-500"})
    finally:
        await runtime.db.dispose()


@pytest.mark.parametrize("service_name", [d.name for d in SERVICES])
@pytest.mark.usefixtures("json_logs")
async def test_api8_an_unhandled_error_is_a_generic_500(service_name: str, tmp_path: Path) -> None:
    answer = await internal_errors(service_name, tmp_path)
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error; the operators have the details in the logs"}
    for leak in ("Traceback", "audit_log", "sqlite", "OperationalError", "SELECT", ".py"):
        assert leak not in answer.text


@pytest.mark.parametrize("service_name", [d.name for d in SERVICES])
@pytest.mark.usefixtures("json_logs")
async def test_api8_an_unhandled_error_carries_the_security_headers(service_name: str, tmp_path: Path) -> None:
    answer = await internal_errors(service_name, tmp_path)
    assert answer.status_code == 500
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert answer.headers.get("referrer-policy") == "no-referrer"
    assert "frame-ancestors 'none'" in answer.headers.get("content-security-policy", "")
    assert answer.headers.get("x-correlation-id") == "corr-500"


SIGNING_SECRETS = {
    "surveys": "TRELLIS_SURVEY_LINK_SECRET",
    "matchmaking": "TRELLIS_REPLY_LINK_SECRET",
    "notifications": "TRELLIS_UNSUBSCRIBE_SECRET",
}


@pytest.mark.parametrize("service_name", sorted(SIGNING_SECRETS))
def test_api8_outside_dev_default_secrets_are_refused(service_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With TRELLIS_ENVIRONMENT=prod a service refuses a missing, default or short signing secret and says which
    variable to set; a random 32+ character secret is accepted."""
    settings_class = next(d.settings_class for d in SERVICES if d.name == service_name)
    variable = SIGNING_SECRETS[service_name]
    monkeypatch.setenv("TRELLIS_ENVIRONMENT", "prod")
    monkeypatch.setenv("TRELLIS_DATABASE_URL", f"postgresql+asyncpg://db/{service_name}")  # named outside dev
    monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("TRELLIS_SECRETS_DIR", raising=False)
    default = settings_class.model_fields[variable.removeprefix("TRELLIS_").lower()].default
    candidates: list[str | None] = [None, "too-short-secret"]
    if default is not None:
        candidates.append(default.get_secret_value())
    for value in candidates:
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
        with pytest.raises(ValidationError) as refused:
            settings_class()
        assert variable.removeprefix("TRELLIS_").lower() in str(refused.value).lower(), str(refused.value)
    monkeypatch.setenv(variable, uuid.uuid4().hex + uuid.uuid4().hex)
    assert settings_class().environment == "prod"
    monkeypatch.setenv("TRELLIS_ENVIRONMENT", "dev")
    monkeypatch.delenv(variable)
    assert settings_class().environment == "dev", "dev runs without a secret (embedded mode, a newcomer's laptop)"


def test_api8_outside_dev_the_manual_clock_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRELLIS_ENVIRONMENT", "prod")
    monkeypatch.setenv("TRELLIS_CLOCK", "manual")
    with pytest.raises(ValidationError, match=r"(?i)clock"):
        ServiceSettings()


async def test_api8_cross_origin_requests_get_no_cors_grant(platform: Platform) -> None:
    """No service enables CORS: neither a simple cross-origin request nor a preflight gets
    Access-Control-Allow-Origin (browsers then keep other sites' scripts from reading the answers)."""
    origin = {"Origin": "https://attacker.example"}
    for service in platform:
        protected = service.protected()[0]
        url = fill(protected, platform.a.values())
        simple = await service.client.get(url, headers={**origin, **auth.admin()})
        preflight = await service.client.options(
            url,
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        for answer in (simple, preflight, await service.client.get("/healthz", headers=origin)):
            assert not [h for h in answer.headers if h.startswith("access-control-")], (service.name, answer.headers)
        assert preflight.status_code == 405, (service.name, preflight.status_code)


# --- API9: improper inventory management ---------------------------------------------------------------------


async def test_api9_every_route_is_documented_but_the_member_pages(platform: Platform) -> None:
    """What each service serves is what its OpenAPI document says, except the undocumented member pages
    (listed here); each service serves the committed AsyncAPI document of the events."""
    committed = committed_asyncapi()
    for service in platform:
        document = service.openapi()
        documented_ops = {str(op) for op, _spec in documented(service)} - {
            f"{m} {p}"
            for m in ("GET", "PUT")
            for p in ("/healthz", "/readyz", "/metrics", "/asyncapi.json", "/admin/clock")
        }
        served = {str(op) for op, _route in service.routes()}
        assert served - documented_ops == UNDOCUMENTED.get(service.name, set()), service.name
        assert documented_ops <= served, f"{service.name} documents what it does not serve"
        assert document["info"]["title"] and document["info"]["version"]
        for path in ("/healthz", "/readyz", "/metrics", "/asyncapi.json"):
            assert path in document["paths"], f"{service.name}: the operations surface is documented too"
        assert (await ok(await service.client.get("/asyncapi.json"))) == committed, service.name


# --- API10: unsafe consumption of APIs ---------------------------------------------------------------------


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CONTRACTS / "examples" / f"{name}.json").read_text("utf-8"))
    return loaded


async def ingress_state(platform: Platform) -> tuple[dict[str, int], int, int]:
    """What the bus holds and the ingress stored, once the platform has finished what earlier tests started."""
    await eventually(platform.settled, timeout=20, what="the platform to finish what earlier tests started")
    ingress = platform["ingress"]
    async with ingress.runtime.db.sessions() as session:
        accepted = len((await session.execute(select(accepted_events.c.event_id))).all())
    return platform.published(), await ingress.outbox_size(), accepted


async def test_api10_the_ingress_refuses_broken_events_without_side_effects(platform: Platform) -> None:
    """Events other systems post: a broken envelope or data that breaks the event's schema is a 4xx, and
    nothing is stored or published; a correct event then is (so the check can fail)."""
    ingress = platform["ingress"].client
    poster = auth.bearer("integration", clusters=("*",), subject="crm")
    good = example("skills.supply.reported.v1")
    good.update(id=f"sec-{uuid.uuid4().hex[:12]}", source="/tests/security")
    structured = {"content-type": "application/cloudevents+json", **poster}
    binary = {
        "content-type": "application/json",
        "ce-id": "sec-binary",
        "ce-source": "/tests/security",
        "ce-type": good["type"],
        "ce-specversion": "1.0",
        **poster,
    }
    broken_data = {**good["data"], "figures": [{"skill_code": "digcomp:5.2", "headcount": -3, "level": 99}]}
    cases: dict[str, tuple[dict[str, str], bytes]] = {
        "not JSON": (structured, b"{not json"),
        "a JSON array": (structured, b"[]"),
        "no specversion": (structured, json.dumps({k: v for k, v in good.items() if k != "specversion"}).encode()),
        "unknown specversion": (structured, json.dumps({**good, "specversion": "0.3"}).encode()),
        "unknown type": (structured, json.dumps({**good, "type": "eu.trellis.nobody.thing.done.v1"}).encode()),
        "another service's type": (structured, json.dumps({**example("skills.gaps.assessed.v1"), "id": "x1"}).encode()),
        "no data": (structured, json.dumps({k: v for k, v in good.items() if k != "data"}).encode()),
        "data breaking the schema": (structured, json.dumps({**good, "data": broken_data}).encode()),
        "data of the wrong shape": (structured, json.dumps({**good, "data": ["not", "an", "object"]}).encode()),
        "id too long": (structured, json.dumps({**good, "id": "x" * 300}).encode()),
        "binary without ce-type": (
            {k: v for k, v in binary.items() if k != "ce-type"},
            json.dumps(good["data"]).encode(),
        ),
        "binary with broken data": (binary, json.dumps(broken_data).encode()),
        "binary with no body": (binary, b""),
        "batched mode": (
            {**structured, "content-type": "application/cloudevents-batch+json"},
            json.dumps([good]).encode(),
        ),
        "XML": ({**binary, "content-type": "application/xml"}, b"<event/>"),
    }
    before = await ingress_state(platform)
    for why, (headers, body) in cases.items():
        answer = await ingress.post("/events", content=body, headers=headers)
        assert 400 <= answer.status_code < 500, f"{why}: {answer.status_code} {answer.text[:200]}"
        assert answer.status_code not in (401, 404), f"{why}: refused for the wrong reason: {answer.text[:200]}"
    assert await ingress_state(platform) == before, "a refused event left a trace"
    accepted = await ingress.post("/events", content=json.dumps(good).encode(), headers=structured)
    assert accepted.status_code == 202, accepted.text
    topic = BY_TYPE[good["type"]].topic()

    async def published() -> bool:
        return platform.published().get(topic, 0) == before[0].get(topic, 0) + 1

    await eventually(published, timeout=10, what="the accepted event on its topic")
    print(f"\nAPI10 ingress: {len(cases)} broken events refused")


EXAMPLES = {
    "surveys.response.completed.v1": "surveys.response.completed.v1",
    "skills.supply.reported.v1": "skills.supply.reported.v1",
    "skills.gaps.assessed.v1": "skills.gaps.assessed.v1",
    "matchmaking.partners.matched.v1": "matchmaking.partners.matched.v1",
    "strategy.review.due.v1": "strategy.review.due.v1",
    "surveys.invitation.requested.v1": "surveys.invitation.requested.v1",
    "surveys.member.changed.v1": "surveys.member.changed.v1",
}


def records_for(topic: str, tag: str) -> tuple[list[OutgoingMessage], dict[str, str]]:
    """Two poison records (a broken envelope, data breaking the schema) and then a correct event."""
    event = example(topic)
    event["source"] = "/tests/security"
    data = event["data"]
    key = str(data.get(BY_TYPE[event["type"]].key_field, "k"))
    ids = {kind: f"{tag}-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("envelope", "schema", "good")}
    good = CloudEvent.model_validate({**event, "id": ids["good"]})
    headers, value = to_binary(good)
    envelope = [(name, raw) for name, raw in headers if name not in ("ce_type", "ce_specversion", "ce_id")]
    envelope.append(("ce_id", ids["envelope"].encode()))
    broken = CloudEvent.model_validate({**event, "id": ids["schema"], "data": {"unexpected": True}})
    broken_headers, broken_value = to_binary(broken)
    return [
        OutgoingMessage(topic, key, value, envelope),
        OutgoingMessage(topic, key, broken_value, broken_headers),
        OutgoingMessage(topic, key, value, headers),
    ], ids


async def test_api10_consumers_dead_letter_broken_events_and_go_on(platform: Platform) -> None:
    """On every topic a service consumes: a record with a broken envelope and one whose data breaks the
    event's schema go to the topic's DLQ, once per consuming service, without being applied; the correct
    event after them is applied."""
    consumers: dict[str, list[Service]] = {}
    for service in platform:
        for event_type in service.definition.handlers:
            consumers.setdefault(BY_TYPE[event_type].topic(), []).append(service)
    assert consumers and set(consumers) <= set(EXAMPLES), sorted(set(consumers) - set(EXAMPLES))
    planted = {}
    for topic in consumers:
        messages, ids = records_for(topic, "sec")
        await platform.broker.append(messages)
        planted[topic] = ids
    for topic, services in consumers.items():
        ids = planted[topic]
        for service in services:
            group = service.runtime.settings.consumer_group

            async def dead_lettered(topic: str = topic, group: str = group) -> set[str]:
                return {
                    dict(r.headers).get("ce_id", b"").decode()
                    for r in platform.broker.topics.get(f"{topic}.dlq", [])
                    if dict(r.headers).get("trellis_consumer") == group.encode()
                }

            await eventually(
                functools.partial(consumed, platform, service.name, ids["good"]),
                timeout=10,
                what=f"{service.name} to apply the correct event on {topic}",
            )
            letters = await dead_lettered()
            assert {ids["envelope"], ids["schema"]} <= letters, f"{service.name} on {topic}: {letters}"
            for kind in ("envelope", "schema"):
                assert not await consumed(platform, service.name, ids[kind]), f"{service.name} applied {kind}"
    print(f"\nAPI10 consumers: {sum(len(s) for s in consumers.values())} (topic, service) pairs")


async def test_api10_the_ingress_refuses_an_event_without_an_id(platform: Platform) -> None:
    event = {k: v for k, v in example("skills.supply.reported.v1").items() if k != "id"}
    headers = {"content-type": "application/cloudevents+json", **auth.bearer("integration", clusters=("*",))}
    before = await ingress_state(platform)
    answer = await platform["ingress"].client.post("/events", content=json.dumps(event).encode(), headers=headers)
    assert answer.status_code == 400, f"{answer.status_code} {answer.text}"
    assert await ingress_state(platform) == before


async def test_api10_a_consumer_dead_letters_a_record_without_an_id(platform: Platform) -> None:
    """A structured-mode record (the whole CloudEvent as the value) without an id goes to the DLQ. (Binary
    mode already refuses a record without ce_id.)"""
    topic = "surveys.response.completed.v1"
    marker = f"noid-{uuid.uuid4().hex[:8]}"
    event = {k: v for k, v in example(topic).items() if k != "id"}
    event.update(source="/tests/security", correlationid=marker)
    without_id = OutgoingMessage(topic, "m", json.dumps(event).encode(), [("content-type", STRUCTURED_JSON.encode())])
    follower = records_for(topic, "after-noid")[0][2]
    follower_id = dict(follower.headers)["ce_id"].decode()
    await platform.broker.append([without_id, follower])
    await eventually(lambda: consumed(platform, "skills", follower_id), timeout=10, what="the record after it")
    letters = [r.value or b"" for r in platform.broker.topics.get(f"{topic}.dlq", [])]
    assert any(marker.encode() in value for value in letters), "the record without an id was applied"
