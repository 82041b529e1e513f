"""The network-policies component: deny by default, then the APIs' ingress and egress, the console's own
policy, and SMTP for the notifications service."""

from __future__ import annotations

from typing import Any

from trellis.manifests.apps import CONSOLE_COMPONENT, HTTP_PORT, PART_OF, Console, Service, labels, selector
from trellis_console.settings import SERVICES as CONSOLE_BACKENDS

DNS = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
INGRESS_CONTROLLER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}


def console_policy(app: Console) -> dict[str, Any]:
    """The console: reached through the ingress controller only; it reaches the APIs it calls, DNS, and HTTPS
    (the OIDC provider's discovery, JWKS and token endpoints), nothing else: no Kafka, no database."""
    apis = {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "api"},
            "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": list(CONSOLE_BACKENDS)}],
        }
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": app.name, "labels": labels(app.name, CONSOLE_COMPONENT)},
        "spec": {
            "podSelector": {"matchLabels": selector(app.name, CONSOLE_COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [INGRESS_CONTROLLER], "ports": [{"protocol": "TCP", "port": HTTP_PORT}]}],
            "egress": [
                DNS,
                {"to": [apis], "ports": [{"protocol": "TCP", "port": HTTP_PORT}]},
                # Like the APIs' HTTPS egress to the issuer: the provider's address is not known here.
                {"ports": [{"protocol": "TCP", "port": 443}]},
            ],
        },
    }


def network_policies(all_services: list[Service], app: Console) -> list[dict[str, Any]]:
    part_of = {"app.kubernetes.io/part-of": PART_OF}
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "trellis-default-deny", "labels": part_of},
            "spec": {"podSelector": {"matchLabels": part_of}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            # The APIs: from the ingress controller and Prometheus (both outside this namespace) and the pods of
            # Trellis (each other and the console).
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "trellis-allow-http", "labels": part_of},
            "spec": {
                "podSelector": {"matchLabels": {**part_of, "app.kubernetes.io/component": "api"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            INGRESS_CONTROLLER,
                            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
                            {"podSelector": {"matchLabels": part_of}},
                        ],
                        "ports": [{"protocol": "TCP", "port": HTTP_PORT}],
                    }
                ],
            },
        },
        {
            # The services and their migrations: DNS, Kafka (plain and TLS listeners), PostgreSQL and HTTPS (the
            # OIDC issuer's JWKS). The console has its own policy.
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "trellis-allow-egress", "labels": part_of},
            "spec": {
                "podSelector": {
                    "matchLabels": part_of,
                    "matchExpressions": [
                        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["api", "migration"]}
                    ],
                },
                "policyTypes": ["Egress"],
                "egress": [
                    DNS,
                    {"ports": [{"protocol": "TCP", "port": port} for port in (9092, 9093, 5432, 443)]},
                ],
            },
        },
        console_policy(app),
    ]
    if any(service.name == "notifications" for service in all_services):
        out.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "notifications-allow-smtp", "labels": labels("notifications", "api")},
                "spec": {
                    "podSelector": {"matchLabels": selector("notifications")},
                    "policyTypes": ["Egress"],
                    "egress": [{"ports": [{"protocol": "TCP", "port": port} for port in (25, 465, 587)]}],
                },
            }
        )
    return out
