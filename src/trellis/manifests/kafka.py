"""Kafka on Kubernetes: the Strimzi topics (from the event catalogue), each service's KafkaUser with the ACLs its
handlers and published events need, the operator's user, the KEDA scalers on consumer lag, and the
``kafka-auth`` component that moves every Kafka client to the TLS listener with SASL/SCRAM."""

from __future__ import annotations

from typing import Any

from trellis.manifests.apps import PART_OF, Service, labels
from trellis_common.catalogue import CATALOGUE, DLQ_RETENTION_MS

# The Strimzi Kafka resource; its bootstrap Service is <cluster>-kafka-bootstrap. The prod overlay renames it in
# one place (overlays/prod/kafka-cluster.yaml), together with the port of the TLS listener.
KAFKA_CLUSTER = "trellis"
KAFKA_PLAIN_PORT = 9092  # Strimzi's conventional `plain` listener (no TLS, no authentication)
KAFKA_TLS_PORT = 9093  # Strimzi's conventional `tls` listener: TLS, here with SCRAM-SHA-512 authentication
KAFKA_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap:{KAFKA_PLAIN_PORT}"
KAFKA_TLS_BOOTSTRAP = f"{KAFKA_CLUSTER}-kafka-bootstrap:{KAFKA_TLS_PORT}"
KAFKA_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"  # Strimzi's public cluster CA certificate (key ca.crt)
KAFKA_CA_DIR = "/etc/trellis/kafka-ca"
KAFKA_CONFIG = "trellis-kafka"  # the ConfigMap with the connection settings every Kafka client of Trellis shares
TOPIC_REPLICAS = 3
MIN_INSYNC_REPLICAS = "2"
OPERATOR_USER = "trellis-operator"  # runs `trellis dlq replay`


def kafka_topic(name: str, partitions: int, config: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {
            "name": name,
            "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, "app.kubernetes.io/part-of": PART_OF},
        },
        "spec": {
            "topicName": name,
            "partitions": partitions,
            "replicas": TOPIC_REPLICAS,
            "config": {**config, "min.insync.replicas": MIN_INSYNC_REPLICAS},
        },
    }


def topics() -> list[dict[str, Any]]:
    out = []
    for spec in CATALOGUE:
        out.append(kafka_topic(spec.topic(), spec.partitions, spec.topic_config()))
        out.append(
            kafka_topic(spec.dlq_topic(), 1, {"cleanup.policy": "delete", "retention.ms": str(DLQ_RETENTION_MS)})
        )
    return out


def acl(kind: str, name: str, operations: list[str]) -> dict[str, Any]:
    return {"resource": {"type": kind, "name": name, "patternType": "literal"}, "operations": operations}


def kafka_user(name: str, acls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaUser",
        "metadata": {
            "name": name,
            "labels": {"strimzi.io/cluster": KAFKA_CLUSTER, "app.kubernetes.io/part-of": PART_OF},
        },
        "spec": {"authentication": {"type": "scram-sha-512"}, "authorization": {"type": "simple", "acls": acls}},
    }


def service_acls(service: Service) -> list[dict[str, Any]]:
    acls = [acl("topic", spec.topic(), ["Read", "Describe"]) for spec in service.consumes]
    if service.consumes:
        acls.append(acl("group", f"trellis-{service.name}", ["Read"]))
    # Since Kafka 3.0, Write on a topic also allows the idempotent producer: no cluster-wide right is needed.
    acls += [acl("topic", spec.topic(), ["Write", "Describe"]) for spec in service.publishes]
    acls += [acl("topic", spec.dlq_topic(), ["Write", "Describe"]) for spec in service.consumes]
    return acls


def kafka_user_name(service: Service) -> str:
    """The service's KafkaUser; Strimzi's User Operator writes its password to a Secret of the same name."""
    return f"trellis-{service.name}"


def users(all_services: list[Service]) -> list[dict[str, Any]]:
    out = [kafka_user(kafka_user_name(service), service_acls(service)) for service in all_services]
    consumed = {spec.name for service in all_services for spec in service.consumes}
    # `trellis dlq list|replay` reads a DLQ without a consumer group and writes the records back to its topic.
    operator = [acl("topic", spec.dlq_topic(), ["Read", "Describe"]) for spec in CATALOGUE if spec.name in consumed]
    operator += [acl("topic", spec.topic(), ["Write", "Describe"]) for spec in CATALOGUE if spec.name in consumed]
    out.append(kafka_user(OPERATOR_USER, operator))
    return out


def scaled_object(service: Service) -> dict[str, Any]:
    triggers = [
        {
            "type": "kafka",
            "metadata": {
                "bootstrapServers": KAFKA_BOOTSTRAP,
                "consumerGroup": f"trellis-{service.name}",
                "topic": spec.topic(),
                "lagThreshold": "100",
                "activationLagThreshold": "10",
                "offsetResetPolicy": "earliest",
                "allowIdleConsumers": "false",
            },
        }
        for spec in service.consumes
    ]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": service.name, "labels": labels(service.name, "autoscaling")},
        "spec": {
            "scaleTargetRef": {"name": service.name},
            "minReplicaCount": 2,
            "maxReplicaCount": service.max_replicas,
            "pollingInterval": 30,
            "cooldownPeriod": 300,
            "triggers": triggers,
        },
    }


KAFKA_CA_VOLUME = "kafka-ca"


def kafka_auth_patch(service: Service) -> dict[str, Any]:
    """Strategic merge patch: the service connects as its KafkaUser and trusts the cluster CA, read-only."""
    user = kafka_user_name(service)
    password = {"secretKeyRef": {"name": user, "key": "password"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": service.name,
                            "env": [
                                {"name": "TRELLIS_KAFKA_SASL_USERNAME", "value": user},
                                {"name": "TRELLIS_KAFKA_SASL_PASSWORD", "valueFrom": password},
                            ],
                            "volumeMounts": [{"name": KAFKA_CA_VOLUME, "mountPath": KAFKA_CA_DIR, "readOnly": True}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": KAFKA_CA_VOLUME,
                            "secret": {"secretName": KAFKA_CA_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
                        }
                    ],
                }
            }
        },
    }


def trigger_authentication_name(service: Service) -> str:
    return f"{service.name}-kafka"


def trigger_authentication(service: Service) -> dict[str, Any]:
    """KEDA's lag scaler reads the consumer group's offsets as the service's own KafkaUser."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": trigger_authentication_name(service), "labels": labels(service.name, "autoscaling")},
        "spec": {
            # Strimzi's Secret holds the password only: the user name is the one the Deployment connects with.
            "env": [{"parameter": "username", "name": "TRELLIS_KAFKA_SASL_USERNAME", "containerName": service.name}],
            "secretTargetRef": [
                {"parameter": "password", "name": kafka_user_name(service), "key": "password"},
                {"parameter": "ca", "name": KAFKA_CA_SECRET, "key": "ca.crt"},
            ],
        },
    }


def scaled_object_auth(service: Service) -> list[dict[str, Any]]:
    """JSON patch: every trigger of the service's ScaledObject goes to the TLS listener and authenticates."""
    ops: list[dict[str, Any]] = []
    for index, spec in enumerate(service.consumes):
        trigger = f"/spec/triggers/{index}"
        ops += [
            {"op": "test", "path": f"{trigger}/metadata/topic", "value": spec.topic()},
            {"op": "replace", "path": f"{trigger}/metadata/bootstrapServers", "value": KAFKA_TLS_BOOTSTRAP},
            {"op": "add", "path": f"{trigger}/metadata/sasl", "value": "scram_sha512"},
            {"op": "add", "path": f"{trigger}/metadata/tls", "value": "enable"},
            {
                "op": "add",
                "path": f"{trigger}/authenticationRef",
                "value": {"name": trigger_authentication_name(service)},
            },
        ]
    return ops


def kafka_auth_settings() -> list[str]:
    return [
        f"TRELLIS_KAFKA_BOOTSTRAP_SERVERS={KAFKA_TLS_BOOTSTRAP}",
        "TRELLIS_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        "TRELLIS_KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
        f"TRELLIS_KAFKA_SSL_CAFILE={KAFKA_CA_DIR}/ca.crt",
    ]
