"""Kafka authentication in the rendered manifests.

In prod every process that opens a Kafka client connects over TLS with SASL/SCRAM-SHA-512 as its service's
KafkaUser: the user name is a KafkaUser of the render whose ACLs are exactly that service's rights, the password
comes from the Secret Strimzi writes for that user, and the broker certificate is checked against the cluster CA
mounted read-only from Strimzi's `<cluster>-cluster-ca-cert`. KEDA's lag scaler authenticates the same way.
Processes that never talk to Kafka (the migration Jobs, the console) hold no Kafka credentials. The dev overlay
stays on the plain listener. The checks return their findings, so the tests below also show that each of them can
fail.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from tests.deploy.conftest import (
    ALL_SERVICES,
    granted_rights,
    read_settings,
    render,
    scaled_by_lag,
    wanted_rights,
)
from trellis.manifests.layout import K8S

Objects = list[dict[str, Any]]
# Does `trellis-<service> <command>` open a Kafka client? A command missing here fails the checks until classified.
KAFKA_COMMANDS = {"serve": True, "migrate": False}
HTTP_ONLY = {"trellis-console"}  # programs that never open a Kafka client: the console calls the services' APIs
MECHANISMS = {"scram-sha-512": "SCRAM-SHA-512", "scram-sha-256": "SCRAM-SHA-256"}  # KafkaUser type -> client
KEDA_SASL = {"SCRAM-SHA-512": "scram_sha512", "SCRAM-SHA-256": "scram_sha256"}
CREDENTIALS = ("TRELLIS_KAFKA_SASL_USERNAME", "TRELLIS_KAFKA_SASL_PASSWORD")
CLUSTER_FILE = K8S / "overlays" / "prod" / "kafka-cluster.yaml"


def kafka_cluster(path: Path = CLUSTER_FILE) -> dict[str, str]:
    data: dict[str, str] = yaml.safe_load(path.read_text())["data"]
    return data


def of_kind(objects: Objects, kind: str) -> Objects:
    return [obj for obj in objects if obj["kind"] == kind]


def workloads(objects: Objects) -> Objects:
    return [obj for obj in objects if obj["kind"] in ("Deployment", "Job")]


def env_of(objects: Objects, container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's environment as Kubernetes builds it: envFrom in order, then env (which wins)."""
    maps = {cm["metadata"]["name"]: cm.get("data", {}) for cm in of_kind(objects, "ConfigMap")}
    out: dict[str, dict[str, Any]] = {}
    for source in container.get("envFrom", []):
        for key, value in maps.get(source["configMapRef"]["name"], {}).items():
            out[key] = {"value": value}
    for item in container.get("env", []):
        out[item["name"]] = {"value": item["value"]} if "value" in item else dict(item["valueFrom"])
    return out


def uses_kafka(workload: dict[str, Any], container: dict[str, Any], env: dict[str, dict[str, Any]]) -> bool | None:
    """Whether the process opens a Kafka client; None when its command is not one we know."""
    service = workload["metadata"]["labels"]["app.kubernetes.io/name"]
    command = container.get("command", [])
    if command and command[0] in HTTP_ONLY:
        return False
    if len(command) != 2 or command[0] != f"trellis-{service}" or command[1] not in KAFKA_COMMANDS:
        return None
    return KAFKA_COMMANDS[command[1]] and env.get("TRELLIS_BUS", {}).get("value", "kafka") == "kafka"


def ca_secret_of(workload: dict[str, Any], container: dict[str, Any], cafile: str) -> tuple[str | None, str]:
    """The Secret (and key) a CA file path is mounted from, with what is wrong with the mount, if anything."""
    directory, name = posixpath.split(cafile)
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"].rstrip("/") == directory]
    if not mounts:
        return None, f"nothing is mounted at {directory}"
    mount = mounts[0]
    if mount.get("readOnly") is not True:
        return None, f"{directory} is mounted writable"
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}
    secret = volumes.get(mount["name"], {}).get("secret")
    if secret is None:
        return None, f"{directory} is not a Secret volume"
    items = {item["path"]: item["key"] for item in secret.get("items", [])}
    key = items.get(name, name if not items else "")
    return secret["secretName"], key


def client_problems(objects: Objects, tls_port: int) -> tuple[list[str], int]:
    """What is wrong with the Kafka settings of every workload, and how many Kafka clients were checked."""
    users = {user["metadata"]["name"]: user for user in of_kind(objects, "KafkaUser")}
    problems: list[str] = []
    clients = 0
    for workload in workloads(objects):
        service = workload["metadata"]["labels"]["app.kubernetes.io/name"]
        for container in workload["spec"]["template"]["spec"]["containers"]:
            where = f"{workload['kind']}/{workload['metadata']['name']} container {container['name']}"
            env = env_of(objects, container)
            kafka = uses_kafka(workload, container, env)
            if kafka is None:
                problems.append(f"{where}: command {container.get('command')} is not classified in KAFKA_COMMANDS")
                continue
            if not kafka:
                held = [name for name in CREDENTIALS if name in env]
                if held:
                    problems.append(f"{where}: does not talk to Kafka but holds {held}")
                continue
            clients += 1
            protocol = env.get("TRELLIS_KAFKA_SECURITY_PROTOCOL", {}).get("value", "PLAINTEXT")
            if protocol != "SASL_SSL":
                problems.append(f"{where}: TRELLIS_KAFKA_SECURITY_PROTOCOL is {protocol}, not SASL_SSL")
            username = env.get("TRELLIS_KAFKA_SASL_USERNAME", {}).get("value")
            user = users.get(username or "")
            if user is None:
                problems.append(f"{where}: TRELLIS_KAFKA_SASL_USERNAME {username!r} is no KafkaUser of the render")
                continue
            if granted_rights(user) != wanted_rights(service):
                problems.append(f"{where}: KafkaUser {username} does not hold the rights of {service}")
            auth_type = user["spec"].get("authentication", {}).get("type", "")
            mechanism = env.get("TRELLIS_KAFKA_SASL_MECHANISM", {}).get("value", "SCRAM-SHA-512")
            if MECHANISMS.get(auth_type) != mechanism:
                problems.append(f"{where}: SASL mechanism {mechanism} but KafkaUser {username} is {auth_type!r}")
            password = env.get("TRELLIS_KAFKA_SASL_PASSWORD", {}).get("secretKeyRef")
            wanted_ref = {"name": username, "key": "password"}
            if password is None or password.get("optional") or {k: password.get(k) for k in wanted_ref} != wanted_ref:
                problems.append(f"{where}: TRELLIS_KAFKA_SASL_PASSWORD must be a secretKeyRef to {wanted_ref}")
            cluster = user["metadata"]["labels"]["strimzi.io/cluster"]
            cafile = env.get("TRELLIS_KAFKA_SSL_CAFILE", {}).get("value")
            if not cafile:
                problems.append(f"{where}: no TRELLIS_KAFKA_SSL_CAFILE")
            else:
                secret, key = ca_secret_of(workload, container, cafile)
                if (secret, key) != (f"{cluster}-cluster-ca-cert", "ca.crt"):
                    problems.append(f"{where}: {cafile} is not ca.crt of {cluster}-cluster-ca-cert ({secret}, {key})")
            servers = env.get("TRELLIS_KAFKA_BOOTSTRAP_SERVERS", {}).get("value", "")
            # <cluster>-kafka-bootstrap[.<namespace>.svc...]:<port of the TLS listener>
            hosts = [server.rpartition(":") for server in servers.split(",") if server]
            if not hosts or any(
                (host.split(".")[0], port) != (f"{cluster}-kafka-bootstrap", str(tls_port)) for host, _, port in hosts
            ):
                problems.append(f"{where}: bootstrap {servers!r} is not the TLS listener {cluster}:{tls_port}")
    return problems, clients


def scaler_problems(objects: Objects) -> tuple[list[str], int]:
    """What is wrong with the authentication of the KEDA Kafka triggers, and how many triggers were checked."""
    auths = {ta["metadata"]["name"]: ta["spec"] for ta in of_kind(objects, "TriggerAuthentication")}
    users = {user["metadata"]["name"]: user for user in of_kind(objects, "KafkaUser")}
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    problems: list[str] = []
    triggers = 0
    for scaled in of_kind(objects, "ScaledObject"):
        deployment = deployments[scaled["spec"]["scaleTargetRef"]["name"]]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = env_of(objects, container)
        for trigger in [t for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]:
            triggers += 1
            meta = trigger["metadata"]
            where = f"ScaledObject/{scaled['metadata']['name']} trigger {meta.get('topic')}"
            if meta["bootstrapServers"] != env.get("TRELLIS_KAFKA_BOOTSTRAP_SERVERS", {}).get("value"):
                problems.append(f"{where}: bootstrapServers {meta['bootstrapServers']} differs from the Deployment's")
            mechanism = env.get("TRELLIS_KAFKA_SASL_MECHANISM", {}).get("value", "SCRAM-SHA-512")
            if meta.get("sasl") != KEDA_SASL[mechanism] or meta.get("tls") != "enable":
                problems.append(
                    f"{where}: sasl={meta.get('sasl')} tls={meta.get('tls')}, not {KEDA_SASL[mechanism]}/enable"
                )
            ref = trigger.get("authenticationRef", {})
            auth = (
                auths.get(ref.get("name", ""))
                if ref.get("kind", "TriggerAuthentication") == "TriggerAuthentication"
                else None
            )
            if auth is None:
                problems.append(f"{where}: no TriggerAuthentication {ref.get('name')!r} in the render")
                continue
            secrets = {item["parameter"]: (item["name"], item["key"]) for item in auth.get("secretTargetRef", [])}
            password = env.get("TRELLIS_KAFKA_SASL_PASSWORD", {}).get("secretKeyRef", {})
            if secrets.get("password") != (password.get("name"), "password"):
                problems.append(f"{where}: password {secrets.get('password')} is not the service's KafkaUser Secret")
            volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
            ca = [v["secret"]["secretName"] for v in volumes.values() if v["name"] == "kafka-ca" and "secret" in v]
            if not ca or secrets.get("ca") != (ca[0], "ca.crt"):
                problems.append(f"{where}: ca {secrets.get('ca')} is not the cluster CA the Deployment trusts")
            names = {item["parameter"]: item for item in auth.get("env", [])}
            user_env = names.get("username", {})
            if (
                user_env.get("name") != "TRELLIS_KAFKA_SASL_USERNAME"
                or user_env.get("containerName") != container["name"]
            ):
                problems.append(f"{where}: username must come from the Deployment's TRELLIS_KAFKA_SASL_USERNAME")
                continue
            username = env.get("TRELLIS_KAFKA_SASL_USERNAME", {}).get("value", "")
            user = users.get(username)
            needed = {("group", meta["consumerGroup"], "Read"), ("topic", meta["topic"], "Describe")}
            if user is None or not needed <= granted_rights(user):
                problems.append(f"{where}: {username!r} cannot read the offsets of group {meta['consumerGroup']}")
    return problems, triggers


def test_prod_kafka_clients_connect_as_their_own_kafka_user(rendered: dict[str, Objects]) -> None:
    problems, clients = client_problems(rendered["prod"], int(kafka_cluster()["tlsListenerPort"]))
    assert not problems, "\n".join(problems)
    assert clients == len(ALL_SERVICES), f"{clients} Kafka clients checked, expected one Deployment per service"


def test_migration_jobs_get_no_kafka_settings(rendered: dict[str, Objects]) -> None:
    jobs = [job for job in of_kind(rendered["prod"], "Job") if job["metadata"]["name"].endswith("-migrate")]
    assert len(jobs) == len(ALL_SERVICES)
    for job in jobs:
        env = env_of(rendered["prod"], job["spec"]["template"]["spec"]["containers"][0])
        assert not [name for name in env if name.startswith("TRELLIS_KAFKA_")], job["metadata"]["name"]


def test_prod_lag_scaler_authenticates_as_the_consumer(rendered: dict[str, Objects]) -> None:
    problems, triggers = scaler_problems(rendered["prod"])
    assert not problems, "\n".join(problems)
    assert triggers == sum(len(scaled_by_lag(service)) for service in ALL_SERVICES)


def test_dev_stays_on_the_plain_listener(rendered: dict[str, Objects]) -> None:
    objects = rendered["dev"]
    assert not of_kind(objects, "TriggerAuthentication")
    for deployment in of_kind(objects, "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = env_of(objects, container)
        kafka = uses_kafka(deployment, container, env)
        assert kafka is not None, f"{container.get('command')} is not classified"
        if not kafka:
            assert not [name for name in env if "KAFKA" in name], deployment["metadata"]["name"]
            continue
        assert env.get("TRELLIS_KAFKA_SECURITY_PROTOCOL", {}).get("value", "PLAINTEXT") == "PLAINTEXT"
        assert env["TRELLIS_KAFKA_BOOTSTRAP_SERVERS"]["value"].endswith(":9092")
        assert not [name for name in CREDENTIALS if name in env]


def first(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name)


def env_item(objects: Objects, kind: str, name: str, variable: str) -> dict[str, Any]:
    container = first(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]
    return next(item for item in container["env"] if item["name"] == variable)


def drop_password(objects: Objects) -> None:
    container = first(objects, "Deployment", "skills")["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [item for item in container["env"] if item["name"] != "TRELLIS_KAFKA_SASL_PASSWORD"]


def foreign_user(objects: Objects) -> None:
    env_item(objects, "Deployment", "skills", "TRELLIS_KAFKA_SASL_USERNAME")["value"] = "trellis-matchmaking"


def unknown_user(objects: Objects) -> None:
    env_item(objects, "Deployment", "skills", "TRELLIS_KAFKA_SASL_USERNAME")["value"] = "skills"


def password_from_elsewhere(objects: Objects) -> None:
    ref = env_item(objects, "Deployment", "skills", "TRELLIS_KAFKA_SASL_PASSWORD")["valueFrom"]["secretKeyRef"]
    ref["name"] = "skills-secrets"


def literal_password(objects: Objects) -> None:
    item = env_item(objects, "Deployment", "skills", "TRELLIS_KAFKA_SASL_PASSWORD")
    del item["valueFrom"]
    item["value"] = "a-password-in-the-manifest"


def plaintext(objects: Objects) -> None:
    container = first(objects, "Deployment", "skills")["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "TRELLIS_KAFKA_SECURITY_PROTOCOL", "value": "PLAINTEXT"})


def plain_listener(objects: Objects) -> None:
    container = first(objects, "Deployment", "skills")["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "TRELLIS_KAFKA_BOOTSTRAP_SERVERS", "value": "trellis-kafka-bootstrap:9092"})


def writable_ca(objects: Objects) -> None:
    container = first(objects, "Deployment", "skills")["spec"]["template"]["spec"]["containers"][0]
    for mount in container["volumeMounts"]:
        mount.pop("readOnly", None)


def credentials_in_a_job(objects: Objects) -> None:
    container = first(objects, "Job", "skills-migrate")["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "TRELLIS_KAFKA_SASL_USERNAME", "value": "trellis-skills"})


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (drop_password, "TRELLIS_KAFKA_SASL_PASSWORD must be a secretKeyRef"),
        (literal_password, "TRELLIS_KAFKA_SASL_PASSWORD must be a secretKeyRef"),
        (password_from_elsewhere, "TRELLIS_KAFKA_SASL_PASSWORD must be a secretKeyRef"),
        (foreign_user, "does not hold the rights of skills"),
        (unknown_user, "is no KafkaUser of the render"),
        (plaintext, "not SASL_SSL"),
        (plain_listener, "is not the TLS listener"),
        (writable_ca, "mounted writable"),
        (credentials_in_a_job, "does not talk to Kafka but holds"),
    ],
)
def test_the_client_check_catches(rendered: dict[str, Objects], change: Callable[[Objects], None], found: str) -> None:
    objects = copy.deepcopy(rendered["prod"])
    change(objects)
    problems, _ = client_problems(objects, int(kafka_cluster()["tlsListenerPort"]))
    assert any(found in problem for problem in problems), problems


def no_authentication_ref(objects: Objects) -> None:
    first(objects, "ScaledObject", "skills")["spec"]["triggers"][0].pop("authenticationRef")


def scaler_with_another_password(objects: Objects) -> None:
    first(objects, "TriggerAuthentication", "skills-kafka")["spec"]["secretTargetRef"][0]["name"] = "trellis-strategy"


def scaler_without_tls(objects: Objects) -> None:
    first(objects, "ScaledObject", "skills")["spec"]["triggers"][0]["metadata"].pop("tls")


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (no_authentication_ref, "no TriggerAuthentication"),
        (scaler_with_another_password, "is not the service's KafkaUser Secret"),
        (scaler_without_tls, "tls=None"),
    ],
)
def test_the_scaler_check_catches(rendered: dict[str, Objects], change: Callable[[Objects], None], found: str) -> None:
    objects = copy.deepcopy(rendered["prod"])
    change(objects)
    problems, _ = scaler_problems(objects)
    assert any(found in problem for problem in problems), problems


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_workload_starts_with_its_rendered_settings(
    rendered: dict[str, Objects], overlay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The settings class accepts each container's environment: e.g. SASL_SSL always comes with its credentials."""
    monkeypatch.chdir(tmp_path)  # no .env file
    for name in [name for name in os.environ if name.startswith("TRELLIS_")]:
        monkeypatch.delenv(name)
    objects = rendered[overlay]
    started = 0
    for workload in workloads(objects):
        service = workload["metadata"]["labels"]["app.kubernetes.io/name"]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        values: dict[str, str] = {}
        for variable, source in env_of(objects, container).items():
            if "value" in source:
                values[variable] = source["value"]
            elif not source.get("secretKeyRef", {}).get("optional"):
                values[variable] = "postgresql+asyncpg://u:p@db/x" if variable.endswith("DATABASE_URL") else "s" * 48
        with monkeypatch.context() as scoped:
            for variable, value in values.items():
                scoped.setenv(variable, value)
            try:
                read_settings(service)
            except ValidationError as exc:
                pytest.fail(f"{overlay}: {workload['kind']}/{workload['metadata']['name']} would not start: {exc}")
        started += 1
    assert started == 2 * len(ALL_SERVICES) + 1, "a Deployment and a migration Job per service, and the console"


def test_the_kafka_cluster_is_named_in_one_place(tmp_path: Path) -> None:
    """Renaming the cluster and its TLS port in kafka-cluster.yaml moves every reference, and nothing else."""
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    cluster_file = tree / "overlays" / "prod" / "kafka-cluster.yaml"
    text = cluster_file.read_text()
    default = kafka_cluster()
    text = text.replace(f"name: {default['name']}\n", "name: platform-kafka\n")
    text = text.replace(f'tlsListenerPort: "{default["tlsListenerPort"]}"', 'tlsListenerPort: "9443"')
    cluster_file.write_text(text)
    assert kafka_cluster(cluster_file) == {"name": "platform-kafka", "tlsListenerPort": "9443"}
    objects = render(tree / "overlays" / "prod")
    problems, clients = client_problems(objects, 9443)
    assert not problems, "\n".join(problems)
    assert clients == len(ALL_SERVICES)
    problems, _ = scaler_problems(objects)
    assert not problems, "\n".join(problems)
    labels = {obj["metadata"]["labels"]["strimzi.io/cluster"] for obj in objects if obj["kind"].startswith("Kafka")}
    assert labels == {"platform-kafka"}
    leftovers = [
        f"{obj['kind']}/{obj['metadata']['name']}"
        for obj in objects
        if f"{default['name']}-kafka-bootstrap" in yaml.safe_dump(obj)
        or f"{default['name']}-cluster-ca-cert" in yaml.safe_dump(obj)
    ]
    assert not leftovers, f"still naming the old cluster: {leftovers}"
    assert not [obj for obj in objects if obj["metadata"]["name"] == "kafka-cluster"], "local-config was applied"


def test_the_trigger_authentication_schema_refuses_unknown_or_incomplete_fields(rendered: dict[str, Objects]) -> None:
    schema = json.loads((K8S / "crd-schemas" / "triggerauthentication-keda.sh-v1alpha1.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    auth = copy.deepcopy(first(rendered["prod"], "TriggerAuthentication", "skills-kafka"))
    assert not list(validator.iter_errors(auth))
    auth["spec"]["secretTargetRef"][0].pop("key")
    assert list(validator.iter_errors(auth))
    auth = copy.deepcopy(first(rendered["prod"], "TriggerAuthentication", "skills-kafka"))
    auth["spec"]["secretTargetRefs"] = auth["spec"].pop("secretTargetRef")
    assert list(validator.iter_errors(auth))
