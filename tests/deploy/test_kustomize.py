"""The Kubernetes manifests, as `kubectl kustomize` renders the dev and prod overlays.

Built-in objects are validated against the Kubernetes JSON schemas that kubernetes-validate ships (strict:
an unknown field fails), custom resources against the schemas committed in deploy/k8s/crd-schemas. Then the
rules an operations team checks by hand: probes, resources and security settings of every workload, a
KafkaTopic for every topic of the event catalogue, and Kafka rights that follow from what each service
consumes and publishes, and nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.conftest import (
    ALL_SERVICES,
    OVERLAYS,
    granted_rights,
    scaled_by_lag,
    setting_names,
    wanted_rights,
)
from trellis.manifests.layout import K8S
from trellis_common.catalogue import CATALOGUE, DLQ_RETENTION_MS

# The oldest Kubernetes release whose schemas kubernetes-validate ships (offline); our manifests use nothing newer.
KUBERNETES_VERSION = "1.33.0"
CRD_GROUPS = ("kafka.strimzi.io/", "keda.sh/", "monitoring.coreos.com/")
WORKLOADS = ("Deployment", "Job")


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def config_map(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return named(objects, "ConfigMap", name)


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_its_objects(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    objects = rendered[overlay]
    for service in ALL_SERVICES:
        for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"):
            named(objects, kind, service)
        job = named(objects, "Job", f"{service}-migrate")
        assert pod_spec(job)["containers"][0]["command"] == [f"trellis-{service}", "migrate"]
        deployment = named(objects, "Deployment", service)
        assert pod_spec(deployment)["containers"][0]["command"] == [f"trellis-{service}", "serve"]
        assert [cm for cm in of_kind(objects, "ConfigMap") if cm["metadata"]["name"].startswith(f"{service}-config-")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_objects_validate_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    failures = []
    for obj in rendered[overlay]:
        if obj["apiVersion"].startswith(CRD_GROUPS):
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: no schema for {obj['apiVersion']}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_validate_against_the_committed_crd_schemas(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    failures = []
    custom = [obj for obj in rendered[overlay] if obj["apiVersion"].startswith(CRD_GROUPS)]
    for obj in custom:
        group, version = obj["apiVersion"].split("/")
        path = K8S / "crd-schemas" / f"{obj['kind'].lower()}-{group}-{version}.json"
        if not path.is_file():
            failures.append(f"{obj['kind']} {obj['apiVersion']}: no schema at {path.name}")
            continue
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        for error in jsonschema.Draft202012Validator(schema).iter_errors(obj):
            where = ".".join(str(part) for part in error.absolute_path)
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {where}: {error.message}")
    assert custom, "no custom resources rendered"
    assert not failures, "\n".join(failures)


def test_the_crd_schemas_refuse_an_unknown_field() -> None:
    schema = json.loads((K8S / "crd-schemas" / "kafkatopic-kafka.strimzi.io-v1beta2.json").read_text())
    topic = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {"name": "a.b", "labels": {"strimzi.io/cluster": "trellis"}},
        "spec": {"partitions": 3, "replicas": 3, "partition": 1},
    }
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(topic))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_have_probes_resources_and_security_settings(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    problems = []
    for workload in [obj for obj in rendered[overlay] if obj["kind"] in WORKLOADS]:
        where = f"{overlay}: {workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        pod_security = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: mounts a service account token it does not use")
        for container in containers(workload):
            name = f"{where} container {container['name']}"
            security = container.get("securityContext", {})
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                problems.append(f"{name}: may run as root (runAsNonRoot)")
            if security.get("runAsUser", pod_security.get("runAsUser")) in (None, 0):
                problems.append(f"{name}: no non-zero runAsUser")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{name}: root file system is writable")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: privilege escalation allowed")
            if security.get("privileged"):
                problems.append(f"{name}: privileged")
            if "ALL" not in security.get("capabilities", {}).get("drop", []) or security["capabilities"].get("add"):
                problems.append(f"{name}: capabilities not all dropped")
            resources = container.get("resources", {})
            for need in ("cpu", "memory"):
                if need not in resources.get("requests", {}):
                    problems.append(f"{name}: no {need} request")
            if "memory" not in resources.get("limits", {}):
                problems.append(f"{name}: no memory limit")
            if workload["kind"] != "Deployment":
                continue
            probes = {kind: container.get(f"{kind}Probe") for kind in ("liveness", "readiness", "startup")}
            wanted = {"liveness": "/healthz", "readiness": "/readyz", "startup": "/readyz"}
            ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}
            for kind, path in wanted.items():
                probe = probes[kind]
                if not probe or probe.get("httpGet", {}).get("path") != path:
                    problems.append(f"{name}: {kind} probe must GET {path}")
                elif probe["httpGet"]["port"] not in ports and probe["httpGet"]["port"] not in ports.values():
                    problems.append(f"{name}: {kind} probe port {probe['httpGet']['port']} is not a container port")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_catalogue_topic_and_its_dlq_has_a_kafka_topic(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    topics = {
        obj["spec"].get("topicName", obj["metadata"]["name"]): obj["spec"]
        for obj in of_kind(rendered[overlay], "KafkaTopic")
    }
    expected: set[str] = set()
    for spec in CATALOGUE:
        expected |= {spec.topic(), spec.dlq_topic()}
        assert spec.topic() in topics, f"{overlay}: no KafkaTopic for {spec.topic()}"
        topic = topics[spec.topic()]
        assert topic["partitions"] == spec.partitions, spec.topic()
        config = {key: str(value) for key, value in topic.get("config", {}).items()}
        assert config.items() >= spec.topic_config().items(), f"{spec.topic()}: {config} lacks {spec.topic_config()}"
        assert spec.dlq_topic() in topics, f"{overlay}: no KafkaTopic for {spec.dlq_topic()}"
        dlq = topics[spec.dlq_topic()]
        assert dlq["partitions"] == 1
        assert dlq["config"]["cleanup.policy"] == "delete"
        assert dlq["config"]["retention.ms"] == str(DLQ_RETENTION_MS)
        assert int(config["min.insync.replicas"]) <= topic["replicas"]
    assert set(topics) == expected, f"KafkaTopics outside the catalogue: {set(topics) - expected}"
    member_changed = topics["surveys.member.changed.v1"]["config"]
    assert member_changed["cleanup.policy"] == "compact"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_user_has_exactly_the_kafka_rights_it_needs(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    users = {obj["metadata"]["name"]: obj for obj in of_kind(objects, "KafkaUser")}
    for service in ALL_SERVICES:
        prefix = ""
        for cm in of_kind(objects, "ConfigMap"):
            if cm["metadata"]["name"].startswith(f"{service}-config-"):
                prefix = cm.get("data", {}).get("TRELLIS_TOPIC_PREFIX", "")
        wanted = wanted_rights(service, prefix)
        user = users.get(f"trellis-{service}")
        assert user is not None, f"{overlay}: no KafkaUser trellis-{service}"
        granted = granted_rights(user)
        assert granted == wanted, (
            f"{overlay}: trellis-{service} lacks {sorted(wanted - granted)} and has extra {sorted(granted - wanted)}"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_environment_names_only_real_settings_and_secrets_come_from_secrets(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    secret_settings = {
        "TRELLIS_DATABASE_URL",
        "TRELLIS_SURVEY_LINK_SECRET",
        "TRELLIS_UNSUBSCRIBE_SECRET",
        "TRELLIS_REPLY_LINK_SECRET",
        "TRELLIS_SMTP_PASSWORD",
        "TRELLIS_KAFKA_SASL_PASSWORD",
        "TRELLIS_CONSOLE_SESSION_SECRET",
        "TRELLIS_CONSOLE_OIDC_CLIENT_SECRET",
    }
    required = {service: {"TRELLIS_DATABASE_URL"} for service in ALL_SERVICES}
    required["console"] = {"TRELLIS_CONSOLE_SESSION_SECRET"}
    required["surveys"].add("TRELLIS_SURVEY_LINK_SECRET")
    required["notifications"].add("TRELLIS_UNSUBSCRIBE_SECRET")
    required["matchmaking"].add("TRELLIS_REPLY_LINK_SECRET")
    assert not of_kind(objects, "Secret"), "a Secret with values is part of the manifests"
    for workload in [obj for obj in objects if obj["kind"] in WORKLOADS]:
        service = workload["metadata"]["labels"]["app.kubernetes.io/name"]
        known = setting_names(service)
        for container in containers(workload):
            names: dict[str, str] = {}
            for source in container.get("envFrom", []):
                for key in config_map(objects, source["configMapRef"]["name"]).get("data", {}):
                    names[key] = "configmap"
            for item in container.get("env", []):
                names[item["name"]] = "secret" if "secretKeyRef" in item.get("valueFrom", {}) else "value"
            where = f"{overlay}: {workload['kind']}/{workload['metadata']['name']}"
            unknown = sorted(name for name in names if name.startswith("TRELLIS_") and name not in known)
            assert not unknown, f"{where}: settings {service} does not have: {unknown}"
            leaked = sorted(name for name, origin in names.items() if name in secret_settings and origin != "secret")
            assert not leaked, f"{where}: {leaked} must come from a Secret"
            missing = sorted(required[service] - set(names))
            assert not missing, f"{where}: {missing} not set"
            if service not in ALL_SERVICES:
                continue  # the console has no database to migrate
            assert names.get("TRELLIS_MIGRATE_ON_START") == "configmap", f"{where}: migrations must run as a Job"
            migrate = config_map(objects, container["envFrom"][0]["configMapRef"]["name"])["data"]
            assert migrate["TRELLIS_MIGRATE_ON_START"] == "false"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_consumers_never_outnumber_their_partitions(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    """/readyz needs a partition assignment: a consumer pod beyond the partitions would never be ready."""
    objects = rendered[overlay]
    scaled = {obj["spec"]["scaleTargetRef"]["name"]: obj["spec"] for obj in of_kind(objects, "ScaledObject")}
    for service in ALL_SERVICES:
        specs = scaled_by_lag(service)
        if not specs:
            assert service not in scaled
            continue
        partitions = sum(spec.partitions for spec in specs)
        deployment = named(objects, "Deployment", service)["spec"]
        assert deployment.get("replicas", 1) <= partitions
        assert deployment["strategy"]["rollingUpdate"]["maxSurge"] == 0, f"{service}: a surge pod may stay unassigned"
        if service in scaled:
            assert "replicas" not in deployment, f"{service}: KEDA and the Deployment both set replicas"
            assert scaled[service]["maxReplicaCount"] <= partitions
            triggers = {t["metadata"]["topic"] for t in scaled[service]["triggers"]}
            assert triggers == {spec.topic() for spec in specs}
            assert {t["metadata"]["consumerGroup"] for t in scaled[service]["triggers"]} == {f"trellis-{service}"}
    if overlay == "prod":
        assert set(scaled) == {service for service in ALL_SERVICES if scaled_by_lag(service)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_match_their_pods(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    objects = rendered[overlay]
    pods = [obj["spec"]["template"]["metadata"]["labels"] for obj in of_kind(objects, "Deployment")]
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in of_kind(objects, kind):
            labels = obj["spec"]["selector"].get("matchLabels", obj["spec"]["selector"])
            matching = [pod for pod in pods if pod.items() >= labels.items()]
            assert len(matching) == 1, f"{kind}/{obj['metadata']['name']} selects {len(matching)} Deployments"


def test_prod_wires_the_issuer_the_ingress_and_monitoring(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["prod"]
    auth = [cm for cm in of_kind(objects, "ConfigMap") if cm["metadata"]["name"].startswith("trellis-auth-")]
    assert len(auth) == 1
    assert {"TRELLIS_AUTH_ISSUER", "TRELLIS_AUTH_AUDIENCE", "TRELLIS_AUTH_JWKS_URL"} <= set(auth[0]["data"])
    assert auth[0]["data"]["TRELLIS_AUTH_ISSUER"].startswith("https://")
    backends = {
        path["backend"]["service"]["name"]
        for rule in named(objects, "Ingress", "trellis")["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert "ingress" in backends
    public = {
        (path["backend"]["service"]["name"], path["path"])
        for rule in named(objects, "Ingress", "trellis")["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    # Only the member pages, the event ingress and the console are public; APIs, /metrics and /docs stay inside.
    assert public == {
        ("ingress", "/events"),
        ("surveys", "/answer/"),
        ("matchmaking", "/reply/"),
        ("notifications", "/unsubscribe/"),
        ("console", "/"),
    }
    services = of_kind(objects, "Service")
    monitor = named(objects, "ServiceMonitor", "trellis")["spec"]
    selected = [s for s in services if s["metadata"]["labels"].items() >= monitor["selector"]["matchLabels"].items()]
    assert {s["metadata"]["name"] for s in selected} == set(ALL_SERVICES)
    for svc in selected:
        assert monitor["endpoints"][0]["port"] in {port["name"] for port in svc["spec"]["ports"]}
    exprs = " ".join(
        rule["expr"]
        for group in named(objects, "PrometheusRule", "trellis")["spec"]["groups"]
        for rule in group["rules"]
    )
    for metric in (
        "trellis_dlq_total",
        "trellis_outbox_oldest_age_seconds",
        "trellis_consumer_lag",
        "trellis_emails_total",
    ):
        assert metric in exprs, f"no alert on {metric}"
    assert [
        cm for cm in of_kind(objects, "ConfigMap") if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert of_kind(objects, "NetworkPolicy")
