"""The workloads of each app under ``base/<name>``: its Deployment (hardened containers and pods, probes,
rolling updates), a service's migration Job, and the Service, ServiceAccount and disruption budget every HTTP
workload has."""

from __future__ import annotations

from typing import Any

from trellis.manifests.apps import (
    CONSOLE_COMPONENT,
    HTTP_PORT,
    IMAGE,
    SERVICE_PORT,
    UID,
    App,
    Console,
    Service,
    labels,
    selector,
)
from trellis.manifests.kafka import KAFKA_CONFIG


def container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def env(service: App) -> list[dict[str, Any]]:
    out = []
    for secret in service.secrets:
        ref: dict[str, Any] = {"name": f"{service.name}-secrets", "key": secret.key}
        if secret.optional:
            ref["optional"] = True
        out.append({"name": secret.env, "valueFrom": {"secretKeyRef": ref}})
    return out


def env_from(service: Service, kafka: bool) -> list[dict[str, Any]]:
    """The ConfigMaps of a container; only the processes that talk to Kafka get its connection settings."""
    refs = [{"configMapRef": {"name": f"{service.name}-config"}}, {"configMapRef": {"name": "trellis-auth"}}]
    if kafka:
        refs.append({"configMapRef": {"name": KAFKA_CONFIG}})
    return refs


TMP_VOLUME = {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108 - an emptyDir: the root file system is read-only


def http_probe(path: str, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def http_container(
    name: str, command: list[str], env_from: list[dict[str, Any]], env: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """An HTTP server on port 8000 answering /healthz and /readyz; ``extra``: resources and the start-up probe."""
    return {
        "name": name,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "envFrom": env_from,
        "env": env,
        **extra,
        "livenessProbe": http_probe("/healthz", 10, 3, 3),
        "readinessProbe": http_probe("/readyz", 10, 4, 3),
        "securityContext": container_security(),
        "volumeMounts": [TMP_MOUNT],
    }


def http_deployment(
    name: str, component: str, container: dict[str, Any], rolling: dict[str, int], grace_s: int
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(name, component)},
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(name, component)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling},
            "template": {
                "metadata": {"labels": labels(name, component)},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": grace_s,
                    "securityContext": pod_security(),
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(name, component)},
                        }
                    ],
                    "containers": [container],
                    "volumes": [TMP_VOLUME],
                },
            },
        },
    }


SURGE = {"maxSurge": 1, "maxUnavailable": 0}


def deployment(service: Service) -> dict[str, Any]:
    # A consumer never surges: one pod more than partitions would stay unassigned and so unready.
    rolling = {"maxSurge": 0, "maxUnavailable": 1} if service.scales_by_lag else SURGE
    container = http_container(
        service.name,
        [f"trellis-{service.name}", "serve"],
        env_from(service, kafka=True),
        env(service),
        resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        # Start-up allows five minutes for the database, Kafka and the first partition assignment.
        startupProbe=http_probe("/readyz", 5, 3, 60),
    )
    # SIGTERM: stop consuming, finish the handler (TRELLIS_SHUTDOWN_TIMEOUT_S=45), flush the outbox.
    return http_deployment(service.name, "api", container, rolling, 60)


def console_deployment(app: Console) -> dict[str, Any]:
    container = http_container(
        app.name,
        [f"trellis-{app.name}", "serve"],
        [{"configMapRef": {"name": f"{app.name}-config"}}],
        env(app),
        resources={"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
        # Nothing to wait for at start: no database, no Kafka.
        startupProbe=http_probe("/readyz", 2, 3, 30),
    )
    # SIGTERM: uvicorn answers the requests in flight, each waiting at most TRELLIS_CONSOLE_HTTP_TIMEOUT_S.
    return http_deployment(app.name, CONSOLE_COMPONENT, container, SURGE, 30)


def migration_job(service: Service) -> dict[str, Any]:
    container = {
        "name": "migrate",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": [f"trellis-{service.name}", "migrate"],
        # Migrations touch the database only: no Kafka settings, hence no Kafka credentials either.
        "envFrom": env_from(service, kafka=False),
        "env": env(service),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": container_security(),
        "volumeMounts": [TMP_MOUNT],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{service.name}-migrate", "labels": labels(service.name, "migration")},
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": labels(service.name, "migration")},
                "spec": {
                    "serviceAccountName": service.name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "restartPolicy": "Never",
                    "securityContext": pod_security(),
                    "containers": [container],
                    "volumes": [TMP_VOLUME],
                },
            },
        },
    }


def http_objects(name: str, component: str) -> dict[str, Any]:
    """What every HTTP workload has beside its Deployment: its Service, ServiceAccount and disruption budget."""
    return {
        "service.yaml": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels(name, component)},
            "spec": {
                "type": "ClusterIP",
                "selector": selector(name, component),
                "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        "serviceaccount.yaml": {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "labels": labels(name, component)},
            "automountServiceAccountToken": False,
        },
        "pdb.yaml": {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": labels(name, component)},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(name, component)}},
        },
    }


def service_objects(service: Service) -> dict[str, Any]:
    return {
        "deployment.yaml": deployment(service),
        "migrate-job.yaml": migration_job(service),
        **http_objects(service.name, "api"),
    }


def console_objects(app: Console) -> dict[str, Any]:
    return {"deployment.yaml": console_deployment(app), **http_objects(app.name, CONSOLE_COMPONENT)}
