"""The manager console in the rendered manifests: a stateless web app with its own Deployment, Service and
disruption budget, settings the console really reads (derived from ConsoleSettings), its secrets from
`console-secrets` with the keys the operator's guide tells operators to create, the five APIs called at their
Services' ports, the services' issuer and claims, and `/` of the prod Ingress."""

from __future__ import annotations

import re
from typing import Any, get_args
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from tests.deploy.conftest import OVERLAYS, setting_names
from tests.deploy.test_kafka_auth import env_of, workloads
from tests.deploy.test_kustomize import named, of_kind, pod_spec
from trellis.manifests.layout import ROOT
from trellis_common.settings import ServiceSettings
from trellis_console.settings import SERVICES as CONSOLE_BACKENDS
from trellis_console.settings import ConsoleSettings

Objects = list[dict[str, Any]]
CONSOLE = "console"
HTTP_PORT = 8000


def container_of(objects: Objects, name: str) -> dict[str, Any]:
    found: dict[str, Any] = pod_spec(named(objects, "Deployment", name))["containers"][0]
    return found


def values_of(objects: Objects, name: str) -> dict[str, str]:
    """The plain values of a Deployment's environment (ConfigMaps and literals), without the Secret references."""
    return {
        key: source["value"]
        for key, source in env_of(objects, container_of(objects, name)).items()
        if "value" in source
    }


def secret_settings() -> set[str]:
    """The console's settings typed as secrets (SecretStr): these must come from a Secret."""
    return {
        f"TRELLIS_CONSOLE_{name.upper()}"
        for name, field in ConsoleSettings.model_fields.items()
        if field.annotation is SecretStr or SecretStr in get_args(field.annotation)
    }


def documented_secrets() -> dict[str, set[str]]:
    """Secret name -> keys, as the `kubectl create secret generic` commands of docs/operations.md (Deploy,
    Kubernetes, step 1) create them; a `for s in a b c; do ... $s-secrets` loop stands for each of its names."""
    section = (ROOT / "docs" / "operations.md").read_text().split("### Kubernetes", 1)[1].split("\n### ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0].replace("\\\n", " ")

    def unroll(loop: re.Match[str]) -> str:
        return "\n".join(loop[3].replace(f"${loop[1]}", each) for each in loop[2].split())

    found: dict[str, set[str]] = {}
    for line in re.sub(r"for (\w+) in ([^;]+); do(.*?)done", unroll, block, flags=re.DOTALL).splitlines():
        for name in re.findall(r"create secret generic (\S+)", line):
            found.setdefault(name, set()).update(re.findall(r"--from-literal=([\w.-]+)=", line))
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_runs_like_the_services_but_keeps_no_data(rendered: dict[str, Objects], overlay: str) -> None:
    objects = rendered[overlay]
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"):
        named(objects, kind, CONSOLE)
    deployment = named(objects, "Deployment", CONSOLE)
    spec = pod_spec(deployment)
    container = container_of(objects, CONSOLE)
    assert container["command"] == ["trellis-console", "serve"]
    assert {port["name"]: port["containerPort"] for port in container["ports"]} == {"http": HTTP_PORT}
    probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("liveness", "readiness", "startup")}
    assert probes == {
        "liveness": {"path": "/healthz", "port": "http"},
        "readiness": {"path": "/readyz", "port": "http"},
        "startup": {"path": "/readyz", "port": "http"},
    }
    # The same hardening as the services: read-only root file system, with /tmp an emptyDir.
    surveys = named(objects, "Deployment", "surveys")
    assert container["securityContext"] == container_of(objects, "surveys")["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"] == pod_spec(surveys)["securityContext"]
    assert spec["automountServiceAccountToken"] is False and spec["serviceAccountName"] == CONSOLE
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert "emptyDir" in {volume["name"]: volume for volume in spec["volumes"]}[mounts["/tmp"]]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and container["resources"]["limits"]["memory"]
    # Scaled like an HTTP-only service: a fixed count (no service has an HPA), surging during a rollout.
    assert deployment["spec"]["replicas"] == (2 if overlay == "prod" else 1)
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    scalers = [obj for obj in objects if obj["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")]
    assert not [obj for obj in scalers if obj["spec"]["scaleTargetRef"]["name"] == CONSOLE]
    # Nothing of a service's data: no migration, no KafkaUser, no database or Kafka settings.
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    assert ("Job", f"{CONSOLE}-migrate") not in names and ("KafkaUser", f"trellis-{CONSOLE}") not in names
    held = [name for name in env_of(objects, container) if "DATABASE" in name or "KAFKA" in name]
    assert not held, f"the console is given {held}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_service_selects_the_console_pods_only(rendered: dict[str, Objects], overlay: str) -> None:
    objects = rendered[overlay]
    service = named(objects, "Service", CONSOLE)["spec"]
    selected = [
        deployment["metadata"]["name"]
        for deployment in of_kind(objects, "Deployment")
        if deployment["spec"]["template"]["metadata"]["labels"].items() >= service["selector"].items()
    ]
    assert selected == [CONSOLE]
    ports = {port["name"] for port in container_of(objects, CONSOLE)["ports"]}
    assert [port["targetPort"] for port in service["ports"]] == ["http"] and "http" in ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_calls_each_api_at_its_service(rendered: dict[str, Objects], overlay: str) -> None:
    objects = rendered[overlay]
    values = values_of(objects, CONSOLE)
    for api in CONSOLE_BACKENDS:
        url = urlsplit(values[f"TRELLIS_CONSOLE_{api.upper()}_URL"])
        assert (url.scheme, url.hostname) == ("http", api), f"{api}: {url.geturl()} is not its Service"
        service = named(objects, "Service", api)["spec"]
        port = url.port or 80
        listening = [item for item in service["ports"] if item["port"] == port]
        assert listening, f"{api}: the console calls port {port}, the Service listens on {service['ports']}"
        pods = {item["name"]: item["containerPort"] for item in container_of(objects, api)["ports"]}
        assert pods.get(listening[0]["targetPort"], listening[0]["targetPort"]) == HTTP_PORT


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_is_given_only_its_own_settings_and_its_secrets_from_a_secret(
    rendered: dict[str, Objects], overlay: str
) -> None:
    objects = rendered[overlay]
    env = env_of(objects, container_of(objects, CONSOLE))
    known = setting_names(CONSOLE)  # from ConsoleSettings' fields
    unknown = sorted(name for name in env if name not in known)
    assert not unknown, f"{overlay}: the console has no settings {unknown}"
    secrets = secret_settings()
    assert secrets >= {"TRELLIS_CONSOLE_SESSION_SECRET", "TRELLIS_CONSOLE_OIDC_CLIENT_SECRET"}
    for name in secrets & set(env):
        reference = env[name].get("secretKeyRef", {})
        assert reference.get("name") == f"{CONSOLE}-secrets", f"{overlay}: {name} must come from console-secrets"
    # Outside dev the console refuses to start without a session secret: it may never be optional.
    assert env["TRELLIS_CONSOLE_SESSION_SECRET"]["secretKeyRef"].get("optional") is not True
    assert values_of(objects, CONSOLE)["TRELLIS_CONSOLE_ENVIRONMENT"] == "prod"


def test_every_secret_key_a_pod_reads_is_in_the_operators_guide(rendered: dict[str, Objects]) -> None:
    documented = documented_secrets()
    assert documented.get(f"{CONSOLE}-secrets"), "docs/operations.md does not create console-secrets"
    referenced: dict[str, set[str]] = {}
    for workload in workloads(rendered["prod"]):
        for container in pod_spec(workload)["containers"]:
            for item in container.get("env", []):
                reference = item.get("valueFrom", {}).get("secretKeyRef")
                # <name>-secrets are the operator's; the KafkaUsers' Secrets are Strimzi's.
                if reference and reference["name"].endswith("-secrets"):
                    referenced.setdefault(reference["name"], set()).add(reference["key"])
    missing = {name: sorted(keys - documented.get(name, set())) for name, keys in referenced.items()}
    assert not {name: keys for name, keys in missing.items() if keys}, f"keys the guide does not create: {missing}"
    assert documented == referenced, "the guide creates Secrets or keys no pod reads"


def test_the_prod_ingress_sends_root_to_the_console(rendered: dict[str, Objects]) -> None:
    objects = rendered["prod"]
    ingress = named(objects, "Ingress", "trellis")["spec"]
    public = urlsplit(values_of(objects, CONSOLE)["TRELLIS_CONSOLE_PUBLIC_URL"])
    assert public.scheme == "https" and public.path in ("", "/"), "the console is served at / of its host"
    roots = [
        (rule.get("host"), path["pathType"], path["backend"])
        for rule in ingress["rules"]
        for path in rule["http"]["paths"]
        if path["path"] == "/"
    ]
    assert roots == [(public.hostname, "Prefix", {"service": {"name": CONSOLE, "port": {"name": "http"}}})]
    assert public.hostname in {host for tls in ingress["tls"] for host in tls["hosts"]}
    assert "http" in {port["name"] for port in named(objects, "Service", CONSOLE)["spec"]["ports"]}


def test_the_console_signs_in_at_the_issuer_the_services_trust(rendered: dict[str, Objects]) -> None:
    """The console passes the access token on: the APIs must accept its issuer and read the same claims."""
    objects = rendered["prod"]
    console = values_of(objects, CONSOLE)
    assert console["TRELLIS_CONSOLE_OIDC_ISSUER"].startswith("https://")
    assert console["TRELLIS_CONSOLE_OIDC_CLIENT_ID"]
    fields = ConsoleSettings.model_fields
    service_fields = ServiceSettings.model_fields
    for api in CONSOLE_BACKENDS:
        values = values_of(objects, api)
        assert values["TRELLIS_AUTH_ISSUER"] == console["TRELLIS_CONSOLE_OIDC_ISSUER"], api
        for claim in ("roles", "clusters"):
            console_claim = console.get(f"TRELLIS_CONSOLE_{claim.upper()}_CLAIM", fields[f"{claim}_claim"].default)
            service_claim = values.get(
                f"TRELLIS_AUTH_{claim.upper()}_CLAIM", service_fields[f"auth_{claim}_claim"].default
            )
            assert console_claim == service_claim, (
                f"{api} reads {claim} from {service_claim}, the console {console_claim}"
            )
