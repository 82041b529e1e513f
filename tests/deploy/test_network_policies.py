"""The prod network policies, evaluated as Kubernetes does: a pod some policy selects for a direction accepts
only what one of those policies' rules allows (peers and ports); a connection needs the source's egress and
the destination's ingress. The console is reached through the ingress controller only and reaches the APIs it
calls, DNS and HTTPS; every API it calls admits it; the services keep their Kafka, database and HTTPS egress.
The checks return their verdicts, so the last test also shows that they can fail.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from tests.deploy.test_kustomize import named, of_kind
from trellis_console.settings import SERVICES as CONSOLE_BACKENDS

Objects = list[dict[str, Any]]
CONSOLE = "console"
HTTP_PORT = 8000
NAMESPACE_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Outside:
    """An address outside the cluster (an OIDC provider, a managed database)."""

    ip: str


Peer = Pod | Outside
INGRESS_CONTROLLER = Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
KUBE_DNS = Pod("kube-system", {"k8s-app": "kube-dns"})
PROVIDER = Outside("203.0.113.10")


def pod_of(objects: Objects, kind: str, name: str) -> Pod:
    workload = named(objects, kind, name)
    return Pod(workload["metadata"]["namespace"], workload["spec"]["template"]["metadata"]["labels"])


def selects(selector: dict[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def peer_matches(rule_peer: dict[str, Any], peer: Peer, namespace: str) -> bool:
    """One entry of a rule's from/to; pods are not matched by ipBlock (meant for addresses outside)."""
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        if not isinstance(peer, Outside):
            return False
        address = ipaddress.ip_address(peer.ip)
        excepted = any(address in ipaddress.ip_network(cidr) for cidr in block.get("except", []))
        return address in ipaddress.ip_network(block["cidr"]) and not excepted
    if not isinstance(peer, Pod):
        return False
    namespaces = rule_peer.get("namespaceSelector")
    in_namespace = (
        peer.namespace == namespace if namespaces is None else selects(namespaces, {NAMESPACE_LABEL: peer.namespace})
    )
    return in_namespace and selects(rule_peer.get("podSelector", {}), peer.labels)


def port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports") or [{}]
    return any(item.get("protocol", "TCP") == protocol and item.get("port", port) == port for item in ports)


def policy_types(policy: dict[str, Any]) -> list[str]:
    spec = policy["spec"]
    default = ["Ingress"] + (["Egress"] if "egress" in spec else [])
    types: list[str] = spec.get("policyTypes") or default
    return types


def governing(objects: Objects, pod: Pod, direction: str) -> Objects:
    """The policies that isolate a pod in one direction."""
    return [
        policy
        for policy in of_kind(objects, "NetworkPolicy")
        if policy["metadata"]["namespace"] == pod.namespace
        and selects(policy["spec"]["podSelector"], pod.labels)
        and direction in policy_types(policy)
    ]


def allows(objects: Objects, pod: Pod, direction: str, peer: Peer, port: int, protocol: str = "TCP") -> bool:
    policies = governing(objects, pod, direction)
    if not policies:
        return True  # not isolated
    rules, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return any(
        port_matches(rule, port, protocol)
        and (not rule.get(peers) or any(peer_matches(item, peer, pod.namespace) for item in rule[peers]))
        for policy in policies
        for rule in policy["spec"].get(rules, [])
    )


def connects(objects: Objects, source: Peer, target: Peer, port: int, protocol: str = "TCP") -> bool:
    out = not isinstance(source, Pod) or allows(objects, source, "Egress", target, port, protocol)
    into = not isinstance(target, Pod) or allows(objects, target, "Ingress", source, port, protocol)
    return out and into


def console_problems(objects: Objects) -> list[str]:
    """What the console may reach or be reached by that it should not, and what it needs but cannot."""
    console = pod_of(objects, "Deployment", CONSOLE)
    problems = []
    for api in CONSOLE_BACKENDS:
        if not connects(objects, console, pod_of(objects, "Deployment", api), HTTP_PORT):
            problems.append(f"the console cannot reach {api} on {HTTP_PORT}")
    if not connects(objects, INGRESS_CONTROLLER, console, HTTP_PORT):
        problems.append("the ingress controller cannot reach the console")
    others = [PROMETHEUS, pod_of(objects, "Deployment", "surveys"), Pod("default", {})]
    for source in others:
        if connects(objects, source, console, HTTP_PORT):
            problems.append(f"{source} reaches the console")
    rules = [rule for policy in governing(objects, console, "Ingress") for rule in policy["spec"].get("ingress", [])]
    peers = [peer for rule in rules for peer in rule.get("from", [{}])]
    wanted = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: INGRESS_CONTROLLER.namespace}}}
    if peers != [wanted] or [rule.get("ports") for rule in rules] != [[{"protocol": "TCP", "port": HTTP_PORT}]]:
        problems.append(f"the console admits {rules}, not only the ingress controller on {HTTP_PORT}")
    if not (connects(objects, console, KUBE_DNS, 53, "UDP") and connects(objects, console, KUBE_DNS, 53, "TCP")):
        problems.append("the console cannot resolve names")
    if not connects(objects, console, PROVIDER, 443):
        problems.append("the console cannot reach the OIDC provider over HTTPS")
    kafka = Pod(console.namespace, {"strimzi.io/cluster": "trellis", "strimzi.io/kind": "Kafka"})
    for target, port in ((kafka, 9092), (kafka, 9093), (Outside("198.51.100.7"), 5432)):
        if connects(objects, console, target, port):
            problems.append(f"the console reaches {target} on {port}")
    ingress_api = pod_of(objects, "Deployment", "ingress")
    if "ingress" not in CONSOLE_BACKENDS and connects(objects, console, ingress_api, HTTP_PORT):
        problems.append("the console reaches the event ingress, which it does not call")
    return problems


def test_the_console_reaches_its_apis_and_is_reached_through_the_ingress_controller_only(
    rendered: dict[str, Objects],
) -> None:
    assert not console_problems(rendered["prod"]), "\n".join(console_problems(rendered["prod"]))


def test_every_api_the_console_calls_admits_its_pods(rendered: dict[str, Objects]) -> None:
    objects = rendered["prod"]
    console = pod_of(objects, "Deployment", CONSOLE)
    for api in CONSOLE_BACKENDS:
        target = pod_of(objects, "Deployment", api)
        assert governing(objects, target, "Ingress"), f"{api} is not isolated: no policy admits anyone in particular"
        assert allows(objects, target, "Ingress", console, HTTP_PORT), f"{api} does not admit the console"


def test_the_services_and_migrations_keep_their_traffic(rendered: dict[str, Objects]) -> None:
    """The console's own policy narrowed the shared egress policy to the services and their migrations."""
    objects = rendered["prod"]
    kafka = Pod("trellis", {"strimzi.io/kind": "Kafka"})
    database = Outside("198.51.100.7")
    for deployment in of_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        if name == CONSOLE:
            continue
        pod = pod_of(objects, "Deployment", name)
        for target, port in ((kafka, 9093), (database, 5432), (PROVIDER, 443)):
            assert connects(objects, pod, target, port), f"{name} cannot reach {target} on {port}"
        assert connects(objects, INGRESS_CONTROLLER, pod, HTTP_PORT) and connects(objects, PROMETHEUS, pod, HTTP_PORT)
    for job in of_kind(objects, "Job"):
        pod = pod_of(objects, "Job", job["metadata"]["name"])
        assert connects(objects, pod, database, 5432), f"{job['metadata']['name']} cannot reach its database"


def policy(objects: Objects, name: str) -> dict[str, Any]:
    return named(objects, "NetworkPolicy", name)


def apis_shut_out_trellis_pods(objects: Objects) -> None:
    rule = policy(objects, "trellis-allow-http")["spec"]["ingress"][0]
    rule["from"] = [peer for peer in rule["from"] if "podSelector" not in peer]


def console_open_to_monitoring(objects: Objects) -> None:
    rule = policy(objects, CONSOLE)["spec"]["ingress"][0]
    rule["from"].append({"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "monitoring"}}})


def console_open_to_all(objects: Objects) -> None:
    policy(objects, CONSOLE)["spec"]["ingress"][0].pop("from")


def console_under_the_services_egress(objects: Objects) -> None:
    policy(objects, "trellis-allow-egress")["spec"]["podSelector"].pop("matchExpressions")


def console_without_policy(objects: Objects) -> None:
    objects.remove(policy(objects, CONSOLE))


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (apis_shut_out_trellis_pods, "the console cannot reach surveys"),
        (console_open_to_monitoring, "reaches the console"),
        (console_open_to_all, "not only the ingress controller"),
        (console_under_the_services_egress, "the console reaches Pod"),
        (console_without_policy, "the ingress controller cannot reach the console"),
    ],
)
def test_the_console_check_catches(rendered: dict[str, Objects], change: Callable[[Objects], None], found: str) -> None:
    objects = copy.deepcopy(rendered["prod"])
    change(objects)
    problems = console_problems(objects)
    assert any(found in problem for problem in problems), problems
